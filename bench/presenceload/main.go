// Command presenceload measures presence on one node (issue 23, ADR 0033): N users, each
// with one session watching W others, a fraction of the users changing status per minute.
// It runs the node's presence path in process — the actor system's sessions and hub,
// cluster.Presence and the bus on a Redis of its own (a redis-server it starts, so that
// INFO commandstats count presence alone) — and reports, per round, the process's CPU and
// Redis's commands per second, from getrusage and commandstats deltas.
//
// Rounds alternate "idle" (no change: renewal and sweeping only) and "churn" (the configured
// change rate), so the churn's cost reads against an idle reference measured in the same
// run. Sessions are driven through actors.Session.Handle with STOMP frames, as the
// WebSocket reader would; their sockets are counting stand-ins, and the watch lists'
// workspace check is an allow-all stand-in for PostgreSQL (it runs at set-up only).
//
//	go run ./bench/presenceload -users 10000 -watch 100 -churn 0.01,0.1 -round 60s -rounds 2
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

func main() {
	users := flag.Int("users", 10_000, "users, one session each")
	watch := flag.Int("watch", 100, "users each session watches")
	churnList := flag.String("churn", "0.01", "fractions of users changing status per minute, comma-separated: each round pair runs idle, then each in turn")
	round := flag.Duration("round", 30*time.Second, "length of one round")
	rounds := flag.Int("rounds", 2, "idle+churn round pairs")
	flag.Parse()
	var churn []float64
	for _, s := range strings.Split(*churnList, ",") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			fmt.Fprintln(os.Stderr, "presenceload: bad -churn", s)
			os.Exit(2)
		}
		churn = append(churn, f)
	}
	if err := run(*users, *watch, churn, *round, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "presenceload:", err)
		os.Exit(1)
	}
}

func run(users, watch int, churn []float64, round time.Duration, rounds int) error {
	addr, stop, err := startRedis()
	if err != nil {
		return err
	}
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32})
	defer rdb.Close()
	ctx := context.Background()

	bus, err := cluster.NewRedisBus(rdb, cluster.BusConfig{}, nil, nil)
	if err != nil {
		return err
	}
	defer bus.Close()
	pres, err := cluster.NewPresence(rdb, bus, cluster.PresenceConfig{}, nil, nil)
	if err != nil {
		return err
	}
	defer pres.Close(ctx)
	ids, err := cluster.NewIDGenerator(1, nil)
	if err != nil {
		return err
	}
	sys, err := actors.New(actors.Config{NodeID: 1, NoHeartBeat: true, SendRate: 1000, SendBurst: 1000, MaxPresenceWatch: watch},
		actors.Deps{Store: noStore{}, ReadMarks: noMarks{}, IDs: ids, Presence: actors.ClusterPresence(pres), Peers: allPeers{}})
	if err != nil {
		return err
	}
	defer sys.Shutdown(ctx)

	// Set-up: every user connects, subscribes to its presence queue and watches W others.
	var frames atomic.Int64
	sessions := make([]*actors.Session, users)
	t0 := time.Now()
	for i := range users {
		s, err := sys.Open(actors.SessionInfo{UserID: int64(i + 1), Username: "u" + strconv.Itoa(i+1)}, &countingWire{n: &frames})
		if err != nil {
			return err
		}
		sessions[i] = s
		s.Handle(&stomp.Frame{Command: stomp.CmdSubscribe, Headers: []stomp.Header{{Key: "id", Value: "p"}, {Key: "destination", Value: actors.QueuePresence}}})
		list := make([]string, 0, watch)
		for len(list) < watch {
			if j := rand.IntN(users); j != i {
				list = append(list, strconv.Itoa(j+1))
			}
		}
		s.Handle(&stomp.Frame{Command: stomp.CmdSend, Headers: []stomp.Header{{Key: "destination", Value: actors.DestPresenceWatch}},
			Body: []byte(`{"userIds":[` + strings.Join(list, ",") + `]}`)})
	}
	// Settled: every user online and every watch's initial status delivered.
	for deadline := time.Now().Add(5 * time.Minute); ; {
		n, _ := rdb.Keys(ctx, "parley:presence:u:*").Result()
		if len(n) >= users && frames.Load() >= int64(users*watch*9/10) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("set-up did not settle: %d users in Redis, %d frames", len(n), frames.Load())
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Printf("set-up: %d users x %d watched in %s, %d initial statuses delivered\n", users, watch, time.Since(t0).Round(time.Millisecond), frames.Load())
	fmt.Printf("%-9s %8s %10s %10s %12s %s\n", "round", "changes", "CPU %core", "redis op/s", "frames/s", "top commands (calls/s)")
	away := make([]bool, users)
	per := len(churn) + 1
	for r := range rounds * per {
		rate := 0.0
		name := "idle"
		if k := r % per; k > 0 {
			rate, name = churn[k-1]*float64(users)/60, fmt.Sprintf("%g%%/min", churn[k-1]*100)
		}
		before, err := commandStats(ctx, rdb)
		if err != nil {
			return err
		}
		cpu0, f0, start := cpuTime(), frames.Load(), time.Now()
		changes := 0
		for time.Since(start) < round {
			if rate == 0 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			time.Sleep(time.Duration(rand.ExpFloat64() / rate * float64(time.Second)))
			i := rand.IntN(users)
			away[i] = !away[i]
			st := "online"
			if away[i] {
				st = "away"
			}
			sessions[i].Handle(&stomp.Frame{Command: stomp.CmdSend, Headers: []stomp.Header{{Key: "destination", Value: actors.DestPresenceSet}},
				Body: []byte(`{"status":"` + st + `"}`)})
			changes++
		}
		el := time.Since(start).Seconds()
		cpu := (cpuTime() - cpu0).Seconds() / el * 100
		after, err := commandStats(ctx, rdb)
		if err != nil {
			return err
		}
		total, top := diff(before, after, el)
		fmt.Printf("%-9s %8d %10.2f %10.1f %12.1f %s\n", name, changes, cpu, total, float64(frames.Load()-f0)/el, top)
	}
	return nil
}

// startRedis runs a redis-server of the harness's own on a free port.
func startRedis() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); rdb.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("redis-server did not answer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, stop, nil
}

// commandStats reads INFO commandstats: calls per command.
func commandStats(ctx context.Context, rdb *redis.Client) (map[string]int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, _ := strconv.ParseInt(calls, 10, 64)
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out, nil
}

// diff is the commands per second between two commandstats, less the harness's own INFO.
func diff(a, b map[string]int64, secs float64) (float64, string) {
	var total float64
	var parts []string
	for name, n := range b {
		if name == "info" {
			continue
		}
		d := float64(n-a[name]) / secs
		if d <= 0 {
			continue
		}
		total += d
		parts = append(parts, fmt.Sprintf("%s=%.2f", name, d))
	}
	return total, strings.Join(parts, " ")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countingWire struct{ n *atomic.Int64 }

func (w *countingWire) WriteFrames(frames [][]byte, _ time.Time) error {
	w.n.Add(int64(len(frames)))
	return nil
}

func (w *countingWire) Close() error { return nil }

type allPeers struct{}

func (allPeers) WorkspacePeers(_ context.Context, _ int64, ids []int64) ([]int64, error) {
	return ids, nil
}

var errNoStore = errors.New("presenceload: no store")

type noStore struct{}

func (noStore) AppendMessages(context.Context, int64, []persistence.NewMessage) ([]persistence.AppendResult, error) {
	return nil, errNoStore
}

func (noStore) MessagesAfter(context.Context, int64, int64, int) ([]persistence.Message, error) {
	return nil, errNoStore
}

func (noStore) ChannelAccess(context.Context, int64, int64) (persistence.Access, error) {
	return persistence.Access{}, errNoStore
}

type noMarks struct{}

func (noMarks) MarkRead(context.Context, int64, int64, int64) (int64, error) { return 0, errNoStore }
