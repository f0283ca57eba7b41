package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/parley-chat/parley/transport"
	"github.com/parley-chat/parley/transport/auth"
)

// runToken prints a dev JWT signed with the same secret a dev server uses, so
// `curl -H "Authorization: Bearer $(parley token --user alice)"` works against `make run`.
func runToken(args []string) int {
	var user, secret, issuer, audience string
	var ttl time.Duration
	f := newEnvFlags("token", "Print a signed HS256 JWT for a user (dev and tests).")
	f.str(&user, "user", "", "", "username (required), e.g. alice")
	f.duration(&ttl, "ttl", "", 24*time.Hour, "token lifetime")
	f.str(&secret, "jwt-secret", "PARLEY_JWT_SECRET", "", "HS256 secret; empty: the dev server's built-in one")
	f.str(&issuer, "jwt-issuer", "PARLEY_JWT_ISSUER", "", "iss claim (must match the server's --jwt-issuer)")
	f.str(&audience, "jwt-audience", "PARLEY_JWT_AUDIENCE", "", "aud claim (must match the server's --jwt-audience)")
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "parley token:", err)
		return 2
	}
	if user == "" {
		fmt.Fprintln(os.Stderr, "parley token: --user is required")
		return 2
	}
	if secret == "" {
		secret = transport.DevJWTSecret
	}
	v, err := auth.New(auth.Config{HS256Secret: secret, Issuer: issuer, Audience: audience},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley token:", err)
		return 2
	}
	defer v.Close()
	tok, _, err := v.Issue(user, ttl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley token:", err)
		return 2
	}
	fmt.Println(tok)
	return 0
}
