// Package integrations holds what parley's outgoing integrations share: the signature on
// every request parley sends to a receiver (outgoing webhooks, slash commands) and the HTTP
// client that sends it, which refuses private destinations unless the operator allows them.
// It imports nothing of parley's transport.
package integrations

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The headers of a signed request (SPEC "Integrations").
const (
	// HeaderDelivery is unique per event and the same on every retry of it.
	HeaderDelivery = "X-Parley-Delivery"
	// HeaderTimestamp is the unix time in seconds when the request was signed.
	HeaderTimestamp = "X-Parley-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of "{timestamp}.{body}".
	HeaderSignature = "X-Parley-Signature"
)

// Sign is the X-Parley-Signature value of body sent at unix time ts: "sha256=" and the hex
// HMAC-SHA256, keyed with secret, of the decimal timestamp, a dot and the body. Signing the
// timestamp with the body lets a receiver refuse replays of an old request.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is Sign(secret, ts, body), in constant time. Receivers
// written in Go (and parley's tests of its own receivers) may use it.
func Verify(secret []byte, ts int64, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig))
}

// NewSecret is a fresh signing secret: 256 random bits, hex. It is stored as it is, since
// parley needs it to sign.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("signing secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// NewRequest is a signed JSON POST of body to url: X-Parley-Timestamp is now, the
// signature covers it and body, and X-Parley-Delivery is deliveryID (left out when "").
func NewRequest(ctx context.Context, url string, secret []byte, deliveryID string, body []byte, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "parley-integrations/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	if deliveryID != "" {
		req.Header.Set(HeaderDelivery, deliveryID)
	}
	return req, nil
}
