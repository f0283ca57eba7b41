package actors

import (
	"context"
	"fmt"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// Slash commands (ADR 0038). A SEND to /app/message.send (or a REST post) whose content is
// a command call (persistence.ParseSlash) is not posted: the connection actor checks that
// the caller may post in the channel, then runs the command off the actor (goWork): the
// Commands implementation (integrations/slash) POSTs it, signed, to the command's URL and
// returns the receiver's response, which RunCommand delivers — "channel": posted as the
// command's bot through the channel actor like any message (seq, fan-out, mentions);
// "ephemeral": a user event on QueueEphemeral, which reaches every session of the caller on
// every node (the user's bus topic, as mentions do). The outcome comes back to the actor
// as a commandDone, which answers the SEND: RECEIPT with a command header, or ERROR
// unknown_command / command_failed, to the caller only.

// Commands runs slash commands over HTTP; integrations/slash implements it. Its methods
// do I/O: call them off the actors only.
type Commands interface {
	// Invoke sends call to its command's receiver and returns the response (content and
	// visibility already valid, persistence.ValidateCommandReply). A name the channel's
	// workspace does not have: an error wrapping ErrUnknownCommand; a receiver that fails,
	// times out or answers nonsense: one wrapping ErrCommandFailed.
	Invoke(ctx context.Context, call CommandCall) (CommandReply, error)
	// Redeem spends one use of a response URL's token and returns the call it answers
	// and the command's bot user: unknown persistence.ErrNotFound, expired or used up
	// persistence.ErrGone.
	Redeem(ctx context.Context, token string) (CommandCall, int64, error)
}

// CommandCall is one call of a command.
type CommandCall struct {
	Command                     string // "/deploy", lower case
	Text                        string // what followed the name
	UserID, ChannelID, ParentID int64  // the caller, where it was sent, its thread (0: none)
}

// CommandReply is a command's response.
type CommandReply struct {
	Content    string // "" says nothing
	Visibility string // persistence.VisibilityEphemeral or VisibilityChannel
	BotUserID  int64  // who posts a "channel" response
}

// Errors of slash commands; both go to the caller only.
var (
	ErrUnknownCommand error = errcode.New(errcode.UnknownCommand, "unknown command")
	ErrCommandFailed  error = errcode.New(errcode.CommandFailed, "command failed")
)

// commandDone is a command run by a session, finished off the actor.
type commandDone struct {
	receipt string
	out     persistence.CommandOutcome
	err     error
}

// RunCommand runs content's command for userID in channelID (parentID: its thread) and
// delivers the response. The caller has checked that userID may post there. It does I/O:
// REST handlers call it, the actors only through goWork.
func (s *System) RunCommand(ctx context.Context, userID, channelID, parentID int64, content string) (persistence.CommandOutcome, error) {
	name, text, ok := persistence.ParseSlash(content)
	if !ok {
		return persistence.CommandOutcome{}, &persistence.ValidationError{Field: "content", Reason: "not a slash command"}
	}
	if s.commands == nil {
		return persistence.CommandOutcome{}, fmt.Errorf("%w: %s: slash commands are not enabled on this server (start with // to post it as text)", ErrUnknownCommand, name)
	}
	if s.draining.Load() {
		return persistence.CommandOutcome{}, ErrShuttingDown
	}
	call := CommandCall{Command: name, Text: text, UserID: userID, ChannelID: channelID, ParentID: parentID}
	reply, err := s.commands.Invoke(ctx, call)
	if err != nil {
		// Anything but ErrUnknownCommand and ErrCommandFailed (whose texts are written for
		// the caller) is ours, PostgreSQL's say: its code, not its text, reaches the client.
		return persistence.CommandOutcome{Command: name}, err
	}
	return s.deliverReply(ctx, call, reply)
}

// CommandResponse delivers a response POSTed later to a response URL (token), as
// RunCommand delivers the first: content and visibility are already valid.
func (s *System) CommandResponse(ctx context.Context, token, content, visibility string) (persistence.CommandOutcome, error) {
	if s.commands == nil {
		return persistence.CommandOutcome{}, fmt.Errorf("response URL: %w", persistence.ErrNotFound)
	}
	call, bot, err := s.commands.Redeem(ctx, token)
	if err != nil {
		return persistence.CommandOutcome{}, err
	}
	return s.deliverReply(ctx, call, CommandReply{Content: content, Visibility: visibility, BotUserID: bot})
}

// deliverReply posts a "channel" response as the command's bot, in the call's thread, or
// sends an "ephemeral" one to the caller's QueueEphemeral.
func (s *System) deliverReply(ctx context.Context, call CommandCall, r CommandReply) (persistence.CommandOutcome, error) {
	out := persistence.CommandOutcome{Command: call.Command, Visibility: r.Visibility, Content: r.Content}
	if r.Content == "" {
		return out, nil
	}
	if r.Visibility == persistence.VisibilityChannel {
		res, err := s.Post(ctx, r.BotUserID, call.ChannelID, persistence.NewMessage{Content: r.Content, ParentID: call.ParentID})
		if err != nil {
			return out, fmt.Errorf("%s: posting its response: %w", call.Command, err)
		}
		out.Message = &res.Message
		return out, nil
	}
	s.UserEvent(call.UserID, persistence.QueueEphemeral, persistence.EphemeralEvent{Type: "ephemeral",
		ID: s.nextEventID(), ChannelID: call.ChannelID, ParentID: call.ParentID, Command: call.Command, Content: r.Content})
	return out, nil
}

// command runs a session's command call: access as for a post, then the call off the
// actor; commandDone answers the SEND.
func (c *connActor) command(channelID, parentID int64, content, receipt string) {
	c.begin()
	c.withAccess(channelID, func(acc persistence.Access, err error) {
		if err == nil {
			err = acc.CanPost()
		}
		if err != nil {
			c.fail(err, receipt, DestMessageSend)
			c.end()
			return
		}
		sys, self, ctx, uid := c.sys, c.sess.pid, c.opCtx(), c.info.UserID
		sys.goWork(func() {
			out, err := sys.RunCommand(ctx, uid, channelID, parentID, content)
			// After the ephemeral user event (deliverUser sent it to this mailbox first),
			// so the caller's session sees the response before the RECEIPT.
			sys.root.Send(self, &commandDone{receipt: receipt, out: out, err: err})
		})
	})
}

// commandDone answers a command's SEND: RECEIPT with headers command and visibility (and
// message-id and seq of a "channel" post), or ERROR to this session only.
func (c *connActor) commandDone(m *commandDone) {
	defer c.end()
	if m.err != nil {
		c.fail(m.err, m.receipt, DestMessageSend)
		return
	}
	if m.receipt == "" {
		return
	}
	hs := []stomp.Header{{Key: "command", Value: m.out.Command}, {Key: "visibility", Value: m.out.Visibility}}
	if msg := m.out.Message; msg != nil {
		hs = append(hs, stomp.Header{Key: stomp.HdrMessageID, Value: fmt.Sprint(msg.ID)},
			stomp.Header{Key: hdrSeq, Value: fmt.Sprint(msg.Seq)})
	}
	c.out.Frame(stomp.AppendReceipt(nil, m.receipt, hs...))
}
