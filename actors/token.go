package actors

import (
	"strconv"

	"github.com/parley-chat/parley/errcode"
)

// A revoked API token ends the sessions it authenticated, on every node, within the bus's
// latency (ADR 0035). The revocation travels like an access change (access.go): a user
// event on an internal destination, to the nodes holding the owner's bus topic, where the
// owner's sessions compare it with the token id they connected with (SessionInfo.TokenID).

// tokenDest marks a userEvent that is a token revocation; its body is the token id.
const tokenDest = "\x00token"

// ErrTokenRevoked ends a session whose API token was revoked.
var ErrTokenRevoked = &CodedError{Code: errcode.TokenRevoked, Text: "token revoked"}

// TokenRevoked implements api.Events: userID's API token tokenID is revoked. Call it after
// the revocation is committed.
func (s *System) TokenRevoked(userID, tokenID int64) {
	s.publishUserMust(&userEvent{userID: userID, dest: tokenDest, ev: event{
		msgID: s.nextEventID(), body: strconv.AppendInt(nil, tokenID, 10)}})
}

// tokenRevoked closes the session, after an ERROR token_revoked, when it connected with
// the revoked token.
func (c *connActor) tokenRevoked(body []byte) {
	id, err := strconv.ParseInt(string(body), 10, 64)
	if err != nil || id == 0 || id != c.info.TokenID {
		return
	}
	c.out.CloseAfter(ErrorFrame(ErrTokenRevoked, "", ""))
}
