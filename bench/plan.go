package bench

import "time"

// Plan is what one worker runs: its clients and the load model. It crosses the pipe to a
// worker process as one JSON line, so it holds only data.
type Plan struct {
	Worker   int
	RunID    string
	Scenario string
	Clients  []ClientSpec
	// Ramp is this worker's share of --ramp, connections/s; 0: unlimited.
	Ramp            float64
	DialConcurrency int
	HeartBeat       time.Duration
	// GoroutineReaders: Config.GoroutineReaders.
	GoroutineReaders bool
	Warmup           time.Duration
	Duration         time.Duration
	Drain            time.Duration
	MessageBytes     int
	ReceiptTimeout   time.Duration
	MaxInflight      int
	Load             LoadModel
	// Hooks are the incoming webhooks' paths (/hooks/{id}/{secret}) by channel id, with
	// Load.IncomingHooks.
	Hooks map[int64]string `json:",omitempty"`
	// URLs are every node's base URL, in --url order: ClientSpec.Node indexes them, and a
	// client whose node goes away resumes on another (Resume).
	URLs   []string
	Resume ResumePolicy
}

// LoadModel is what clients do once the run starts, beyond receiving.
type LoadModel struct {
	// Poisson makes each sender's posts a Poisson process of mean rate Rate to a random one
	// of its channels (the users model); otherwise a steady rate, round-robin over them.
	Poisson bool
	// ReadInterval: every client marks read, with a RECEIPT, the highest seq it has seen in
	// a channel that advanced since its last mark: in every such channel with ReadAll (the
	// receipts load), else in one of them at random, the channel the user is looking at
	// (a read is broadcast to the channel's every member, so marking all twenty channels
	// every interval would be a read storm no real client makes). 0: never.
	ReadInterval time.Duration
	ReadAll      bool
	// RESTInterval is the mean time between a client's REST fetches (history of one of its
	// channels, or its unreads, alternately). 0: never.
	RESTInterval time.Duration
	// ReconnectPerMin is the probability per minute that a client closes its connection and
	// resumes on a new one with since-seq.
	ReconnectPerMin float64
	// ReadEvents: receivers time the `read` events they see against the mark that caused
	// them (receipts scenario).
	ReadEvents bool
	// IncomingHooks: senders post through their channel's incoming webhook (Plan.Hooks,
	// HTTP on the client's node) instead of a STOMP SEND (incoming scenario).
	IncomingHooks bool
}

// ClientSpec is one client: a user with its token, where it connects, what it subscribes to
// and whether it sends.
type ClientSpec struct {
	Index    int
	Username string
	UserID   int64 `json:",omitempty"`
	Token    string
	// URL is the node's base HTTP URL; the WebSocket is URL + /ws.
	URL string
	// Source is the local IP to bind (port 0); "" for the system's choice.
	Source string `json:",omitempty"`
	// Channels are the client's channels: it posts to them and, when Subscribe, subscribes to
	// each as /topic/channel.{id} from the start (every message of the channel is expected).
	Channels  []int64 `json:",omitempty"`
	Subscribe bool    `json:",omitempty"`
	// UserQueue subscribes /user/queue/notifications (an idle client's only subscription).
	UserQueue bool `json:",omitempty"`
	// Rate > 0 makes the client a sender of Rate messages/s to its Channels.
	Rate float64 `json:",omitempty"`
	// Node is URL's index in Plan.URLs.
	Node int `json:",omitempty"`
	// Probe: the client's deliveries are also timed on their own (the storm's "normal
	// client" on the survivor).
	Probe bool `json:",omitempty"`
}
