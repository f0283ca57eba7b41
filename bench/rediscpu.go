package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// What the Redis servers behind the bus spend on the load (issue 26): with --redis-stats the
// harness reads every server's INFO at the start and at the end of the measured window and
// divides the growth by the messages acknowledged and delivered in it. CPU is INFO's
// used_cpu_sys + used_cpu_user (getrusage: every thread of the process).

// RedisReport is the Redis servers' share of the measured window.
type RedisReport struct {
	// Window is the seconds between the two samples (the measured window, about).
	Window  float64            `json:"windowSeconds"`
	Servers []RedisServerDelta `json:"servers"`
	// All sums every server given; Masters only those whose role is master (a Redis
	// Cluster's replicas replay every SPUBLISH of their shard).
	All     RedisTotals `json:"all"`
	Masters RedisTotals `json:"masters"`
	// Bus is the nodes' own bus counters over the same window.
	Bus BusTraffic `json:"bus"`
	// CrossNode is the share of expected deliveries whose receiver is connected to another
	// node than the message's sender, from the clients' placement.
	CrossNode CrossNodeShare `json:"crossNode"`
	Errors    []string       `json:"errors,omitempty"`
}

// RedisServerDelta is one server's growth over the window.
type RedisServerDelta struct {
	Addr       string  `json:"addr"`
	Role       string  `json:"role"`
	CPUSeconds float64 `json:"cpuSeconds"`
	// Calls are INFO commandstats calls by command (INFO itself, the harness's, left out).
	Calls     map[string]int64 `json:"calls"`
	NetInput  int64            `json:"netInputBytes"`
	NetOutput int64            `json:"netOutputBytes"`
	// ReplInput/Output are the replication stream's bytes (a part of NetInput/Output).
	ReplInput  int64 `json:"replInputBytes"`
	ReplOutput int64 `json:"replOutputBytes"`
	// ClusterMsgs are cluster-bus messages sent plus received (CLUSTER INFO); a plain
	// PUBLISH on a cluster is one per other node.
	ClusterMsgs int64 `json:"clusterBusMessages,omitempty"`
	// ClusterPublish are those that carried a PUBLISH (to every node) or an SPUBLISH (to
	// the shard's replicas), sent plus received; their bytes are in no INFO counter.
	ClusterPublish int64 `json:"clusterBusPublishMessages,omitempty"`
}

// RedisTotals sums servers and divides by the window's messages.
type RedisTotals struct {
	Servers     int              `json:"servers"`
	CPUSeconds  float64          `json:"cpuSeconds"`
	Calls       int64            `json:"calls"`
	ByCommand   map[string]int64 `json:"byCommand"`
	NetBytes    int64            `json:"netBytes"` // input + output
	ReplBytes   int64            `json:"replBytes"`
	ClusterMsgs int64            `json:"clusterBusMessages"`
	ClusterPub  int64            `json:"clusterBusPublishMessages"`
	// Per message the nodes published to the bus between the samples (Bus.Published), and
	// per delivery those messages implied (the run's expected deliveries per message).
	CPUMicrosPerMessage  float64 `json:"cpuMicrosPerMessage"`
	CPUMicrosPerDelivery float64 `json:"cpuMicrosPerDelivery"`
	CallsPerMessage      float64 `json:"callsPerMessage"`
	CallsPerDelivery     float64 `json:"callsPerDelivery"`
	NetBytesPerMessage   float64 `json:"netBytesPerMessage"`
	NetBytesPerDelivery  float64 `json:"netBytesPerDelivery"`
}

// redisSample is one server's INFO at one moment.
type redisSample struct {
	role                           string
	cpu                            float64
	calls                          map[string]int64
	netIn, netOut, replIn, replOut int64
	clusterMsgs, clusterPub        int64
}

// ValidateRedisStats checks --redis-stats addresses (host:port).
func validateRedisStats(addrs []string) error {
	var errs []error
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("--redis-stats %q: want host:port: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// redisWatch samples at the window's start and end on a goroutine of its own.
type redisWatch struct {
	done   chan struct{}
	cancel context.CancelFunc
	window float64
	before []redisSample
	after  []redisSample
	busA   BusTraffic
	busB   BusTraffic
	errs   []string
}

// startRedisWatch samples cfg.RedisStats and the nodes' bus counters Warmup after now and
// Duration later; nil without --redis-stats.
func (r *runner) startRedisWatch(ctx context.Context) *redisWatch {
	addrs := r.cfg.RedisStats
	if len(addrs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &redisWatch{done: make(chan struct{}), cancel: cancel}
	start := time.Now().Add(r.cfg.Warmup)
	end := start.Add(r.cfg.Duration)
	go func() {
		defer close(w.done)
		sleep(ctx, time.Until(start))
		t0 := time.Now()
		w.before = sampleRedis(ctx, addrs, &w.errs)
		w.busA = r.scrapeBus(ctx, &w.errs)
		sleep(ctx, time.Until(end))
		w.after = sampleRedis(ctx, addrs, &w.errs)
		w.busB = r.scrapeBus(ctx, &w.errs)
		w.window = time.Since(t0).Seconds()
		if ctx.Err() != nil {
			w.errs = append(w.errs, "the run ended before the measured window did")
		}
	}()
	return w
}

// finish waits for the samples and divides them by the window's counts.
func (w *redisWatch) finish(rep *Report, specs []ClientSpec) *RedisReport {
	if w == nil {
		return nil
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		w.cancel()
		<-w.done
	}
	w.cancel()
	out := &RedisReport{Window: w.window, Errors: w.errs, CrossNode: crossNodeShare(specs)}
	// Messages are those the nodes published to the bus between the two samples (their
	// counters are read with Redis's, so a server running seconds behind its clients does
	// not skew the ratio); deliveries are as many times more as the run's fan-out.
	msgs := w.busB.minus(w.busA).Published
	dels := msgs
	if ck := rep.Check; ck.Acked > 0 {
		dels = msgs * ck.Expected / ck.Acked
	}
	out.All.ByCommand, out.Masters.ByCommand = map[string]int64{}, map[string]int64{}
	for i := range w.before {
		a, b := w.before[i], w.after[i]
		if a.calls == nil || b.calls == nil {
			continue // its error is in errs
		}
		d := RedisServerDelta{Addr: rep.redisAddr(i), Role: b.role, CPUSeconds: b.cpu - a.cpu, Calls: map[string]int64{},
			NetInput: b.netIn - a.netIn, NetOutput: b.netOut - a.netOut, ReplInput: b.replIn - a.replIn,
			ReplOutput: b.replOut - a.replOut, ClusterMsgs: b.clusterMsgs - a.clusterMsgs,
			ClusterPublish: b.clusterPub - a.clusterPub}
		for k, v := range b.calls {
			if n := v - a.calls[k]; n > 0 {
				d.Calls[k] = n
			}
		}
		out.Servers = append(out.Servers, d)
		out.All.add(d)
		if d.Role == "master" {
			out.Masters.add(d)
		}
	}
	out.All.divide(msgs, dels)
	out.Masters.divide(msgs, dels)
	out.Bus = w.busB.minus(w.busA)
	return out
}

func (rep *Report) redisAddr(i int) string {
	if i < len(rep.Config.RedisStats) {
		return rep.Config.RedisStats[i]
	}
	return ""
}

func (t *RedisTotals) add(d RedisServerDelta) {
	t.Servers++
	t.CPUSeconds += d.CPUSeconds
	t.NetBytes += d.NetInput + d.NetOutput
	t.ReplBytes += d.ReplInput + d.ReplOutput
	t.ClusterMsgs += d.ClusterMsgs
	t.ClusterPub += d.ClusterPublish
	for k, v := range d.Calls {
		t.Calls += v
		t.ByCommand[k] += v
	}
}

func (t *RedisTotals) divide(msgs, dels int64) {
	if msgs > 0 {
		t.CPUMicrosPerMessage = t.CPUSeconds * 1e6 / float64(msgs)
		t.CallsPerMessage = float64(t.Calls) / float64(msgs)
		t.NetBytesPerMessage = float64(t.NetBytes) / float64(msgs)
	}
	if dels > 0 {
		t.CPUMicrosPerDelivery = t.CPUSeconds * 1e6 / float64(dels)
		t.CallsPerDelivery = float64(t.Calls) / float64(dels)
		t.NetBytesPerDelivery = float64(t.NetBytes) / float64(dels)
	}
}

// sampleRedis reads every server; a server that fails leaves a zero sample and an error.
func sampleRedis(ctx context.Context, addrs []string, errs *[]string) []redisSample {
	out := make([]redisSample, len(addrs))
	for i, a := range addrs {
		s, err := sampleOne(ctx, a)
		if err != nil {
			*errs = append(*errs, err.Error())
			continue
		}
		out[i] = s
	}
	return out
}

func sampleOne(ctx context.Context, addr string) (redisSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	text, err := c.Info(ctx, "cpu", "stats", "replication", "commandstats", "cluster").Result()
	if err != nil {
		return redisSample{}, fmt.Errorf("redis %s: INFO: %w", addr, err)
	}
	s := redisSample{calls: map[string]int64{}}
	clusterOn := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "role":
			s.role = v
		case "used_cpu_sys", "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			s.cpu += f
		case "total_net_input_bytes":
			s.netIn = n
		case "total_net_output_bytes":
			s.netOut = n
		case "total_net_repl_input_bytes":
			s.replIn = n
		case "total_net_repl_output_bytes":
			s.replOut = n
		case "cluster_enabled":
			clusterOn = v == "1"
		default:
			// cmdstat_spublish:calls=12,usec=…; INFO is the harness's own.
			if cmd, ok := strings.CutPrefix(k, "cmdstat_"); ok && cmd != "info" && cmd != "cluster|info" {
				calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
				s.calls[cmd], _ = strconv.ParseInt(calls, 10, 64)
			}
		}
	}
	if clusterOn {
		ci, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return redisSample{}, fmt.Errorf("redis %s: CLUSTER INFO: %w", addr, err)
		}
		for _, l := range strings.Split(ci, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(l), ":")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch {
			case k == "cluster_stats_messages_sent" || k == "cluster_stats_messages_received":
				s.clusterMsgs += n
			case strings.HasPrefix(k, "cluster_stats_messages_publish"): // publish, publishshard
				s.clusterPub += n
			}
		}
	}
	return s, nil
}

// summary is the report's redis lines.
func (rr *RedisReport) summary() string {
	var b strings.Builder
	line := func(name string, t RedisTotals) {
		fmt.Fprintf(&b, "          %s (%d): CPU %.2fs = %.1f µs/message, %.2f µs/delivery; %.2f calls/message, %.3f calls/delivery; %.0f bytes/message in+out",
			name, t.Servers, t.CPUSeconds, t.CPUMicrosPerMessage, t.CPUMicrosPerDelivery, t.CallsPerMessage, t.CallsPerDelivery, t.NetBytesPerMessage)
		if t.ClusterMsgs > 0 {
			fmt.Fprintf(&b, "; %d cluster-bus messages (%d carrying a publish)", t.ClusterMsgs, t.ClusterPub)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "redis     over %.1fs of the measured window:\n", rr.Window)
	line("all servers", rr.All)
	line("masters", rr.Masters)
	fmt.Fprintf(&b, "          calls: %s\n", topCalls(rr.All.ByCommand, 6))
	bt := rr.Bus
	fmt.Fprintf(&b, "bus       %d published, %d received from other nodes (%.2f per message), %d echoes; %.1f%% of expected deliveries cross nodes (placement)\n",
		bt.Published, bt.Remote(), bt.RemotePerPublished(), bt.Echo, 100*rr.CrossNode.Share)
	for _, e := range rr.Errors {
		fmt.Fprintf(&b, "          ! %s\n", e)
	}
	return b.String()
}

func topCalls(m map[string]int64, n int) string { return strings.Join(topKinds(m, n), ", ") }

// RedisCPU is the CPU seconds every server of addrs has used so far, and those of its
// masters alone, for a caller timing an idle window to set against the measured one.
func RedisCPU(ctx context.Context, addrs []string) (all, masters float64, err error) {
	for _, a := range addrs {
		s, err := sampleOne(ctx, a)
		if err != nil {
			return 0, 0, err
		}
		all += s.cpu
		if s.role == "master" {
			masters += s.cpu
		}
	}
	return all, masters, nil
}
