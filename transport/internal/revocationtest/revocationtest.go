// Package revocationtest measures how soon a user's STOMP sessions stop posting once the
// user loses access to a channel (issue 21, finding 6). The single-node attack tests and the
// multi-node tests both drive it; only tests import it.
package revocationtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// Bound is how soon after a removal's 204 a session's sends must be refused.
const Bound = 100 * time.Millisecond

// Outcome is one SEND of SendsAcrossRemoval: when it was issued, counted from the
// removal's 204, and whether it was accepted.
type Outcome struct {
	At       time.Duration
	Accepted bool
}

// SendsAcrossRemoval has each session send to cid once (accepted: its access is now cached),
// calls remove (a REST call answering 204) and from its answer on has every session send,
// one SEND after another, until three in a row were refused for access, for at most 5 s.
// It returns each session's sends after the 204.
func SendsAcrossRemoval(t testing.TB, cid int64, remove func(), sessions ...*stompclient.Client) [][]Outcome {
	t.Helper()
	for _, c := range sessions {
		if err := TrySend(c, cid); err != nil {
			t.Fatalf("send to %d before the removal: %v", cid, err)
		}
	}
	remove()
	start := time.Now()
	out := make([][]Outcome, len(sessions))
	errs := make(chan error, len(sessions))
	for i, c := range sessions {
		go func() {
			refused := 0
			for refused < 3 && time.Since(start) < 5*time.Second {
				at := time.Since(start)
				err := TrySend(c, cid)
				switch {
				case err == nil:
					out[i] = append(out[i], Outcome{At: at, Accepted: true})
					refused = 0
				case RefusedForAccess(err):
					out[i] = append(out[i], Outcome{At: at})
					refused++
				default:
					errs <- fmt.Errorf("session %d, %v after the 204: %w", i, at, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range sessions {
		if err := <-errs; err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	return out
}

// Check fails the test when a send issued later than Bound after the 204 was accepted, or
// none was refused, and logs when the first refused and the last accepted send were issued
// (-1ns: none accepted after the 204).
func Check(t testing.TB, who string, outcomes []Outcome) {
	t.Helper()
	first, late, accepted := time.Duration(-1), 0, 0
	var lastLate time.Duration
	lastAccepted := time.Duration(-1) // none
	for _, o := range outcomes {
		switch {
		case o.Accepted && o.At > Bound:
			late++
			lastLate = o.At
			fallthrough
		case o.Accepted:
			accepted++
			lastAccepted = o.At
		case first < 0:
			first = o.At
		}
	}
	if late > 0 {
		t.Errorf("%s: %d sends issued more than %v after the removal's 204 were accepted, the last %v after it",
			who, late, Bound, lastLate.Round(time.Millisecond))
	}
	if first < 0 {
		t.Fatalf("%s: no send refused within 5 s of the removal", who)
	}
	t.Logf("revocation: %s: first refused send issued %v after the 204; %d accepted after it, the last issued %v after it",
		who, first, accepted, lastAccepted)
}

// TrySend sends a message to channel cid and waits up to 10 s for its receipt.
func TrySend(c *stompclient.Client, cid int64) error {
	body, err := json.Marshal(map[string]string{
		"channelId": strconv.FormatInt(cid, 10),
		"content":   "revocation " + strconv.FormatInt(time.Now().UnixNano(), 10),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.SendWithReceipt(ctx, actors.DestMessageSend, body)
	return err
}

// RefusedForAccess tells a SEND refused because the sender may not post there.
func RefusedForAccess(err error) bool {
	var se *stompclient.ServerError
	if !errors.As(err, &se) {
		return false
	}
	code := se.Frame.Value("code")
	return code == "forbidden" || code == "not_found"
}
