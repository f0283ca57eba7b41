package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley/stomp"
)

// Config configures a System. Zero fields take the defaults; New validates the result.
type Config struct {
	// NodeID is written in CONNECTED's server header ("parley/node-N").
	NodeID int

	// MaxBatch caps the messages one group commit writes. Default 500.
	MaxBatch int
	// CommitTimeout bounds one AppendMessages transaction. Default 10 s.
	CommitTimeout time.Duration
	// ChannelIdle is how long a channel actor with no subscribers and no work lives on.
	// Default 2 min.
	ChannelIdle time.Duration
	// ReplayPageSize is how many messages a since-seq replay reads per query. Default 200.
	ReplayPageSize int
	// ReplayTimeout bounds a whole since-seq or resend replay. Default 60 s.
	ReplayTimeout time.Duration
	// ReplayBudget is how many messages since-seq resumes and /app/message.resend may
	// replay for one user on this node per minute, a token bucket that holds as many: a
	// resume of up to that many is served whole, a longer one up to it and then ERROR
	// rate_limited (ADR 0026). Default 10,000 messages.
	ReplayBudget int
	// GapWait is how long a channel actor holds back messages behind a missing seq before
	// reading the missing ones from PostgreSQL (messages from several nodes cross on the
	// bus, so a short gap is normal). Default 100 ms.
	GapWait time.Duration
	// AnnounceInterval is how often, after a failed publish, a channel actor announces its
	// channel's latest seq to the other nodes until an announcement gets through. Default 1 s.
	AnnounceInterval time.Duration

	// SendRate is the sustained rate of SEND frames per session, per second. Default 20.
	SendRate float64
	// SendBurst is how many SEND frames a session may send at once above SendRate. Default 50.
	SendBurst int
	// MaxSubscriptions per session. Default 100.
	MaxSubscriptions int
	// AccessTTL is how long a session trusts a channel access check before asking PostgreSQL
	// again: losing access takes effect within it. Default 2 s.
	AccessTTL time.Duration
	// MaxInflightFrames bounds client frames read but not yet handled by the connection actor;
	// the read goroutine waits beyond it, so a flooding client fills its TCP window, not our
	// memory. Default 64.
	MaxInflightFrames int
	// HeartBeat is what the server offers in CONNECTED: Send is how often it can send
	// heart-beats, Recv how often it wants them. Default 10 s both ways.
	HeartBeat stomp.HeartBeat
	// NoHeartBeat turns heart-beats off entirely (HeartBeat is then ignored).
	NoHeartBeat bool
	// AwayAfter is how long a session may go without user activity (a client frame other
	// than a heart-beat or a presence frame) before it counts as away; its user is away
	// once every session is. Default 10 min.
	AwayAfter time.Duration
	// MaxPresenceWatch is the most users one /app/presence.watch may name. Default 500.
	MaxPresenceWatch int

	// Coalesce is the node-wide commit coalescer (commit_coalescer.go, ADR 0046).
	Coalesce CoalesceConfig
}

// Defaults of Config.
const (
	DefaultMaxBatch          = 500
	DefaultCommitTimeout     = 10 * time.Second
	DefaultChannelIdle       = 2 * time.Minute
	DefaultReplayPageSize    = 200
	DefaultReplayTimeout     = 60 * time.Second
	DefaultReplayBudget      = 10_000
	DefaultGapWait           = 100 * time.Millisecond
	DefaultAnnounceInterval  = time.Second
	DefaultSendRate          = 20
	DefaultSendBurst         = 50
	DefaultMaxSubscriptions  = 100
	DefaultAccessTTL         = 2 * time.Second
	DefaultMaxInflightFrames = 64
	DefaultHeartBeat         = 10 * time.Second
	DefaultAwayAfter         = 10 * time.Minute
	DefaultMaxPresenceWatch  = 500
)

func (c Config) withDefaults() Config {
	setDefault(&c.MaxBatch, DefaultMaxBatch)
	setDefault(&c.CommitTimeout, DefaultCommitTimeout)
	setDefault(&c.ChannelIdle, DefaultChannelIdle)
	setDefault(&c.ReplayPageSize, DefaultReplayPageSize)
	setDefault(&c.ReplayTimeout, DefaultReplayTimeout)
	setDefault(&c.ReplayBudget, DefaultReplayBudget)
	setDefault(&c.GapWait, DefaultGapWait)
	setDefault(&c.AnnounceInterval, DefaultAnnounceInterval)
	setDefault(&c.SendRate, DefaultSendRate)
	setDefault(&c.SendBurst, DefaultSendBurst)
	setDefault(&c.MaxSubscriptions, DefaultMaxSubscriptions)
	setDefault(&c.AccessTTL, DefaultAccessTTL)
	setDefault(&c.MaxInflightFrames, DefaultMaxInflightFrames)
	setDefault(&c.AwayAfter, DefaultAwayAfter)
	setDefault(&c.MaxPresenceWatch, DefaultMaxPresenceWatch)
	c.Coalesce = c.Coalesce.withDefaults()
	if c.NoHeartBeat {
		c.HeartBeat = stomp.HeartBeat{}
	} else if c.HeartBeat == (stomp.HeartBeat{}) {
		c.HeartBeat = stomp.HeartBeat{Send: DefaultHeartBeat, Recv: DefaultHeartBeat}
	}
	return c
}

func setDefault[T int | float64 | time.Duration](p *T, def T) {
	if *p == 0 {
		*p = def
	}
}

func (c Config) validate() error {
	var errs []error
	positive := func(name string, ok bool) {
		if !ok {
			errs = append(errs, fmt.Errorf("actors: %s must be positive", name))
		}
	}
	positive("MaxBatch", c.MaxBatch > 0)
	positive("CommitTimeout", c.CommitTimeout > 0)
	positive("ChannelIdle", c.ChannelIdle > 0)
	positive("ReplayPageSize", c.ReplayPageSize > 0)
	positive("ReplayTimeout", c.ReplayTimeout > 0)
	positive("ReplayBudget", c.ReplayBudget > 0)
	positive("GapWait", c.GapWait > 0)
	positive("AnnounceInterval", c.AnnounceInterval > 0)
	positive("SendRate", c.SendRate > 0)
	positive("SendBurst", c.SendBurst > 0)
	positive("MaxSubscriptions", c.MaxSubscriptions > 0)
	positive("AccessTTL", c.AccessTTL > 0)
	positive("MaxInflightFrames", c.MaxInflightFrames > 0)
	positive("AwayAfter", c.AwayAfter > 0)
	positive("MaxPresenceWatch", c.MaxPresenceWatch > 0)
	if err := c.Coalesce.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.HeartBeat.Send < 0 || c.HeartBeat.Recv < 0 {
		errs = append(errs, errors.New("actors: HeartBeat intervals must not be negative"))
	}
	return errors.Join(errs...)
}
