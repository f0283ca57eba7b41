package bench

import (
	"context"
	"math/rand/v2"
	"sort"
	"time"
)

// scenario is one load shape. Adding one (issue 9's soak, say) is a value in scenarios:
// its defaults, how clients are laid out over channels, the load model, and an optional
// analysis that adds a section to the report.
type scenario struct {
	name  string
	about string
	// defaults fills the zero fields of cfg that this scenario cares about.
	defaults func(cfg *Config)
	// join makes each client a member of the channels it subscribes to (REST), as a real
	// user is; public channels can be read without it.
	join bool
	// subscriptions returns the channel indexes (0..Channels-1) client i subscribes to.
	subscriptions func(cfg *Config, i int, rng *rand.Rand) []int
	// load is the worker's load model.
	load func(cfg *Config) LoadModel
	// analyse, when set, runs after the checker with every worker's results.
	analyse func(ctx context.Context, r *runner, rep *Report) error
	// prepare, when set, runs at the end of the setup with the channels made.
	prepare func(ctx context.Context, r *runner, owner ClientSpec, channels []int64) error
	// place, when set, is client i's node (index in URLs); default spreadNode.
	place func(cfg *Config, i int) int
	// probe: client 0's deliveries are also timed on their own (ClientSpec.Probe).
	probe bool
}

var scenarios = map[string]*scenario{
	"fanout": {
		name:  "fanout",
		about: "C connections over K channels, S senders at R msg/s for D (K = 1: one hot channel)",
		defaults: func(c *Config) {
			setInt(&c.Connections, 100)
			setInt(&c.Channels, 10)
			setInt(&c.Senders, min(10, c.Connections))
			setFloat(&c.Rate, 10)
			setDur(&c.Duration, 10*time.Second)
		},
		subscriptions: consecutive,
		load:          func(*Config) LoadModel { return LoadModel{} },
	},
	"connections": {
		name:  "connections",
		about: "open and hold N idle connections for D; server memory per connection",
		defaults: func(c *Config) {
			setInt(&c.Connections, 1000)
			setDur(&c.Duration, 10*time.Second)
		},
		subscriptions: consecutive,
		load:          func(*Config) LoadModel { return LoadModel{} },
	},
	"users": {
		name: "users",
		about: "realistic users: each subscribed to ~20 channels, posting every ~60 s, marking read, " +
			"fetching history and unreads now and then, 1 % reconnecting per minute",
		defaults: func(c *Config) {
			setInt(&c.Connections, 1000)
			// Each user in 20 of C/10 channels: channels of ~200 members, a busy workspace.
			setInt(&c.Channels, max(20, c.Connections/10))
			setInt(&c.SubsPerConn, min(20, c.Channels))
			setInt(&c.Senders, c.Connections)
			setDur(&c.PostInterval, 60*time.Second)
			if c.Rate == 0 {
				c.Rate = 1 / c.PostInterval.Seconds()
			}
			setDur(&c.ReadInterval, 30*time.Second)
			setDur(&c.RESTInterval, 120*time.Second)
			if c.ReconnectPerMin == 0 {
				c.ReconnectPerMin = 0.01
			}
			setDur(&c.Duration, 60*time.Second)
			setDur(&c.Warmup, 10*time.Second)
		},
		join: true,
		subscriptions: func(c *Config, _ int, rng *rand.Rand) []int {
			picked := sample(rng, c.Channels, c.SubsPerConn)
			sort.Ints(picked)
			return picked
		},
		load: func(c *Config) LoadModel {
			return LoadModel{Poisson: true, ReadInterval: c.ReadInterval, RESTInterval: c.RESTInterval, ReconnectPerMin: c.ReconnectPerMin}
		},
	},
	"ordering": {
		name: "ordering",
		about: "senders on every node post to the same channels while receivers on every node record " +
			"arrival order: inversions against seq, against timestamp ids under clock skew, and agreement",
		defaults: func(c *Config) {
			setInt(&c.Connections, max(6, 4*len(c.URLs)))
			setInt(&c.Channels, 2)
			setInt(&c.SubsPerConn, c.Channels)
			setInt(&c.Senders, c.Connections)
			setFloat(&c.Rate, 10)
			setDur(&c.Duration, 20*time.Second)
		},
		subscriptions: consecutive,
		load:          func(*Config) LoadModel { return LoadModel{} },
		analyse:       analyseOrdering,
	},
	"soak": {
		name: "soak",
		about: "steady fan-out load with churn (clients reconnect with since-seq, --reconnect-per-min) for 10 min, " +
			"sampling each node's RSS, goroutines and open files every --sample-every: they must stay flat",
		defaults: func(c *Config) {
			setInt(&c.Connections, 500)
			setInt(&c.Channels, 10)
			setInt(&c.Senders, min(50, c.Connections))
			setFloat(&c.Rate, 5)
			if c.ReconnectPerMin == 0 {
				c.ReconnectPerMin = 1
			}
			setDur(&c.Duration, 10*time.Minute)
			setDur(&c.Warmup, 30*time.Second)
		},
		subscriptions: consecutive,
		load:          func(c *Config) LoadModel { return LoadModel{ReconnectPerMin: c.ReconnectPerMin} },
		analyse:       analyseSoak,
	},
	"receipts": {
		name: "receipts",
		about: "read-event load: receivers mark read what they saw every --read-interval (with RECEIPT); " +
			"read events timed at the other subscribers; final markers checked through the REST API",
		defaults: func(c *Config) {
			setInt(&c.Connections, 200)
			setInt(&c.Channels, 10)
			setInt(&c.Senders, min(10, c.Connections))
			setFloat(&c.Rate, 5)
			setDur(&c.ReadInterval, time.Second)
			setDur(&c.Duration, 20*time.Second)
		},
		join:          true,
		subscriptions: consecutive,
		load: func(c *Config) LoadModel {
			return LoadModel{ReadInterval: c.ReadInterval, ReadAll: true, ReadEvents: true}
		},
		analyse: analyseReceipts,
	},
	"outgoing": {
		name:  "outgoing",
		about: "fanout with an outgoing webhook on each of K channels to a receiver on loopback (node: --webhook-allow-private); deliveries/s, send→delivery latency",
		defaults: func(c *Config) {
			setInt(&c.Connections, 20)
			setInt(&c.Channels, 4)
			setInt(&c.Senders, min(4, c.Connections))
			setFloat(&c.Rate, 20)
			setDur(&c.Duration, 10*time.Second)
		},
		subscriptions: consecutive,
		load:          func(*Config) LoadModel { return LoadModel{} },
		prepare:       prepareOutgoing,
		analyse:       analyseOutgoing,
	},
	"incoming": {
		name: "incoming",
		about: "fanout whose senders post through an incoming webhook per channel (HTTP) instead of STOMP SEND " +
			"(node: raise --incoming-webhook-limit and --unauthenticated-limit); posts/s, send→deliver; reference: fanout, same flags",
		defaults: func(c *Config) {
			setInt(&c.Connections, 20)
			setInt(&c.Channels, 4)
			setInt(&c.Senders, min(4, c.Connections))
			setFloat(&c.Rate, 20)
			setDur(&c.Duration, 10*time.Second)
		},
		subscriptions: consecutive,
		load:          func(*Config) LoadModel { return LoadModel{IncomingHooks: true} },
		prepare:       prepareIncoming,
		analyse:       analyseIncoming,
	},
}

// ScenarioNames lists the scenarios, sorted.
func ScenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ScenarioHelp describes each scenario, one per line, for --help.
func ScenarioHelp() string {
	var s string
	for _, n := range ScenarioNames() {
		s += "  " + n + ": " + scenarios[n].about + "\n"
	}
	return s
}

// consecutive subscribes client i to SubsPerConn channels starting at i mod Channels, so
// clients (and the senders among the first ones) spread evenly over channels.
func consecutive(c *Config, i int, _ *rand.Rand) []int {
	if c.Channels == 0 {
		return nil
	}
	out := make([]int, c.SubsPerConn)
	for j := range out {
		out[j] = (i + j) % c.Channels
	}
	return out
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setFloat(p *float64, v float64) {
	if *p == 0 {
		*p = v
	}
}

func setDur(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}

// sample picks k distinct ints of [0, n) uniformly (Floyd's algorithm): rng.Perm(n)[:k]
// allocated n ints per user, 320 MB of garbage for 10,000 users over 4,000 channels.
func sample(rng *rand.Rand, n, k int) []int {
	k = min(k, n)
	picked := make([]int, 0, k)
	seen := make(map[int]bool, k)
	for j := n - k; j < n; j++ {
		t := rng.IntN(j + 1)
		if seen[t] {
			t = j
		}
		seen[t] = true
		picked = append(picked, t)
	}
	return picked

}
