package persistence

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err means that PostgreSQL could not be reached or that the
// connection broke under a statement (refused, reset, closed, timed out, the server shutting
// down or out of connections), rather than that PostgreSQL refused the statement. Callers
// answer the first kind "unavailable, retry later" (503), not "internal error" (500): the
// request was fine, a dependency was not, and nothing was committed unless the connection
// broke during COMMIT itself.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false // the caller gave up: not PostgreSQL's doing
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableCode(pgErr.Code)
	}
	if pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// A bare io.EOF means a closed connection only when pgconn reported it (its errors carry
	// a SafeToRetry method, whatever it answers).
	var fromConn interface{ SafeToRetry() bool }
	return errors.Is(err, io.EOF) && errors.As(err, &fromConn)
}

// unavailableCode: connection exceptions (class 08), the server shutting down or starting
// (57P01–57P03), too many connections (53300).
func unavailableCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", "53300":
		return true
	}
	return strings.HasPrefix(code, "08")
}
