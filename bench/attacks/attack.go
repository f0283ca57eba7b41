package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// attack is one way of abusing a node. run performs one attacked round, however long the
// attack's own timeline needs (the floods: round), and reports what happened; it must
// return only once everything it opened is closed.
type attack struct {
	name    string
	promise string // what issue 21 asks of the node, for the report
	// nodeFigures puts the node's open files and RSS into the outcome (the JSON has them
	// for every attack).
	nodeFigures bool
	// skip says why this attack cannot run against e (empty: it can).
	skip func(e *env) string
	run  func(ctx context.Context, e *env, round time.Duration) ([]figure, []string)
}

// env is what every attack gets: the node, the world, the settings and a dialer bound to
// the attacker's source address (so that the node's per-address limits, once there, fall
// on the attacker and not on the probe).
type env struct {
	t      *target
	w      *world
	o      options
	dialer *net.Dialer
}

func newEnv(t *target, w *world, o options) (*env, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if o.attackerAddr != "" {
		ip := net.ParseIP(o.attackerAddr)
		if ip == nil {
			return nil, fmt.Errorf("--attacker-addr %q: not an IP address", o.attackerAddr)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip} // port 0: the system's choice
	}
	return &env{t: t, w: w, o: o, dialer: d}, nil
}

// hostPort is the node's address for raw TCP attacks.
func (e *env) hostPort() string {
	u, _ := url.Parse(e.t.base)
	return u.Host
}

// httpClient is a client of workers connections from the attacker's address.
func (e *env) httpClient(workers int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: nil, DialContext: e.dialer.DialContext,
		MaxIdleConns: workers, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers,
	}}
}

// attacks lists every attack in the order they run.
func attacks() []*attack {
	return []*attack{
		{name: "idle-sockets", run: idleSockets, nodeFigures: true,
			promise: "CONNECT deadline from the upgrade, no frame extends it; unauthenticated sockets capped per IP and in total (503 past the cap)"},
		{name: "slow-body", run: slowBody, nodeFigures: true,
			promise: "a request body arrives within --body-timeout (30 s) or 408"},
		{name: "replay-loop", run: replayLoop, skip: needsSeed,
			promise: "replayed messages count against a per-connection budget (10,000/min); past it ERROR rate_limited"},
		{name: "resend-loop", run: resendLoop, skip: needsSeed,
			promise: "/app/message.resend replays count against the same budget; past it ERROR rate_limited"},
		{name: "rest-posts", run: restPosts,
			promise: "REST writes per user at the STOMP send rate (20/s, burst 50); over it 429 rate_limited"},
		{name: "search", run: searchFlood,
			promise: "searches per user limited; over it 429 rate_limited"},
		{name: "dev-login", run: devLoginFlood, skip: needsDev,
			promise: "dev login per IP limited (and off unless asked for); over it 429 rate_limited"},
	}
}

func needsSeed(e *env) string {
	if e.w.seededCount == 0 {
		return "no seeded channel (give --db-url with --url, or --seed > 0)"
	}
	return ""
}

func needsDev(e *env) string {
	if !e.t.devLogin {
		return "dev mode is off on the node"
	}
	return ""
}

// selectAttacks picks the attacks named in list (comma-separated; "all": every one).
func selectAttacks(list string) ([]*attack, error) {
	all := attacks()
	if list == "" || list == "all" {
		return all, nil
	}
	var out []*attack
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(all, func(a *attack) bool { return a.name == name })
		if i < 0 {
			var names []string
			for _, a := range all {
				names = append(names, a.name)
			}
			return nil, fmt.Errorf("unknown attack %q (want %s)", name, strings.Join(names, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// sleepCtx waits d or until ctx ends, reporting whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
