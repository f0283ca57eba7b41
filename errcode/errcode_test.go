package errcode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// Clients match on these strings: a change here breaks them.
func TestCodesAreStable(t *testing.T) {
	want := map[string]string{
		Unauthorized: "unauthorized", Forbidden: "forbidden", NotFound: "not_found",
		Validation: "validation_failed", Conflict: "conflict", Archived: "archived", Gone: "gone",
		TooManyReactions: "too_many_reactions", RateLimited: "rate_limited",
		PayloadTooLarge: "payload_too_large", MethodNotAllowed: "method_not_allowed",
		RequestTimeout: "request_timeout", Unavailable: "unavailable",
		OutcomeUnknown: "outcome_unknown", Internal: "internal",
		SlowConsumer: "slow-consumer", TooManySubscriptions: "too_many_subscriptions",
		UnknownDestination: "unknown_destination", Protocol: "protocol_error",
		ShuttingDown:   "shutting_down",
		UnknownCommand: "unknown_command", CommandFailed: "command_failed",
	}
	for got, w := range want {
		if got != w {
			t.Errorf("code %q, want %q", got, w)
		}
	}
	if len(want) != 22 {
		t.Fatalf("%d distinct codes, want 22 (two constants share a string?)", len(want))
	}
}

func TestOf(t *testing.T) {
	inDoubt := New(OutcomeUnknown, "outcome unknown")
	forbidden := New(Forbidden, "forbidden")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain", errors.New("boom"), ""},
		{"sentinel", forbidden, Forbidden},
		{"wrapped", fmt.Errorf("post: %w", ErrRateLimited), RateLimited},
		// The table's order decides, not the chain's: a commit in doubt is never "unavailable".
		{"ranked", fmt.Errorf("%w: %w", ErrUnavailable, inDoubt), OutcomeUnknown},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), Unavailable},
		{"coded beats deadline", fmt.Errorf("%w: %w", context.DeadlineExceeded, forbidden), Forbidden},
		{"within", New(Gone, "gone").Within(forbidden), Forbidden},
	} {
		if got := Of(tc.err); got != tc.want {
			t.Errorf("%s: Of = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	if s, _ := Status(NotFound); s != http.StatusNotFound {
		t.Errorf("not_found: %d", s)
	}
	if s, title := Status("no-such-code"); s != http.StatusInternalServerError || title != "Internal server error" {
		t.Errorf("unknown code: %d %q", s, title)
	}
}

func TestDetail(t *testing.T) {
	invalid := New(Unauthorized, "auth: invalid token").Public("invalid token")
	expired := New(Unauthorized, "auth: invalid token: expired").Public("token expired").Within(invalid)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"text", fmt.Errorf("channel 3: %w", New(NotFound, "not found")), "channel 3: not found"},
		{"public", fmt.Errorf("%w: signature is invalid", invalid), "invalid token"},
		{"outermost public", fmt.Errorf("%w: jwt: token is expired", expired), "token expired"},
		{"5xx hides text", fmt.Errorf("dial 10.0.0.1: %w", ErrUnavailable), "Service unavailable"},
	} {
		if got := Detail(tc.err, Of(tc.err)); got != tc.want {
			t.Errorf("%s: Detail = %q, want %q", tc.name, got, tc.want)
		}
	}
	if !errors.Is(expired, invalid) {
		t.Error("Within: expired does not match invalid")
	}
}
