package actors

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-chat/parley/errcode"
)

// A channel or connection actor that panics is restarted as a fresh instance: its producer
// builds a new actor from what is safe to rebuild (the System, the channel id or the
// session), never hands back the instance that crashed, whose state a panic may have left
// half-changed. Before the new instance starts, the crashed one (sent Restarting) ends
// what it owned, visibly: its queued posts are answered with errRestarted, its subscribers'
// sessions and its own session get ERROR and close, so their clients reconnect and resume
// with since-seq. The mailbox is kept, so what was sent to the actor after the crash is
// handled by the new instance; only the message being handled is lost (ADR 0029).

// errRestarted answers what a crashed actor held. It is an errcode.ErrUnavailable: the
// request never reached the store and is safe to retry.
var errRestarted error = &restarted{}

type restarted struct{}

func (*restarted) Error() string {
	return "internal error: retry (with the same clientMsgId), or reconnect and resubscribe with since-seq"
}

func (*restarted) Unwrap() error { return errcode.ErrUnavailable }

// restartFresh is the System's supervisor strategy (the guardian of its root context):
// always restart. protoactor's default gives up after ten failures in ten seconds and stops
// the actor, which leaves the messages in its mailbox unanswered for good; every restart
// here drops the message that failed, so a poisoned message cannot loop.
type restartFresh struct {
	log *slog.Logger
	met *metrics
}

func (s *restartFresh) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID,
	_ *actor.RestartStatistics, reason, message any) {
	s.met.restarts.Inc()
	s.log.Error("actor panicked: restarting it fresh", "actor", child.Id, "reason", fmt.Sprint(reason),
		"message", fmt.Sprintf("%T", message))
	sup.RestartChildren(child)
}

// channelProps builds a fresh channel actor for every incarnation.
func (s *System) channelProps(channelID int64, e *channelEntry) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return newChannelActor(s, channelID, e) },
		actor.WithDispatcher(s.disp))
}

// connProps builds a fresh connection actor for every incarnation. One made by a restart is
// born disconnecting: the crash failed its session (connActor.crashed), so it handles no
// more frames, only the answers still on their way and the session's close.
func (s *System) connProps(sess *Session, info SessionInfo) *actor.Props {
	incarnations := 0 // the producer runs on the spawn, then on the actor's own goroutine
	return actor.PropsFromProducer(func() actor.Actor {
		c := newConnActor(s, sess, info)
		c.disconnecting = incarnations > 0
		c.closing = c.disconnecting // crashed already closed the session
		incarnations++
		return c
	}, actor.WithDispatcher(s.disp))
}

// crashed ends what a channel actor that panicked owned, before its fresh instance starts.
func (a *channelActor) crashed() {
	a.disarmIdle()
	for _, r := range a.cl.waiting { // subscribers waiting for the channel's baseline
		r.out.CloseAfter(ErrorFrame(errRestarted, "", a.dest))
	}
	a.stopCluster()
	if n := len(a.queue); n > 0 {
		for _, r := range a.queue {
			r.answer(a.sys.root, &postResult{err: errRestarted})
		}
		a.queue = nil
		a.sys.met.queuedSends.Sub(float64(n))
		a.sys.pendingPosts.Add(-int64(n))
	}
	// A batch being committed is answered by the fresh instance: its commitDone is in the
	// mailbox, which the restart keeps.
	for i := range a.subs {
		a.subs[i].out.CloseAfter(ErrorFrame(errRestarted, "", a.dest))
	}
	a.subs = nil
}

// crashed ends what a connection actor that panicked owned: its session gets ERROR and
// closes, and its subscriptions end.
func (c *connActor) crashed() {
	if c.cancel != nil {
		c.cancel()
	}
	c.out.CloseAfter(ErrorFrame(errRestarted, "", ""))
	for _, sub := range c.subs.list {
		if sub.channelID != 0 && sub.sent {
			c.sys.toLiveChannel(sub.channelID, &unsubscribeReq{out: c.out, subID: sub.id})
		}
	}
	c.subs = connSubs{}
}
