package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The server figures read from each node's /metrics (Prometheus text format): memory, the
// Go heap and goroutine stacks, goroutines and open files. Memory per connection is the
// growth of these between the scrape before the clients connect and the one after.
var scrapedMetrics = []string{
	"process_resident_memory_bytes",
	"go_memstats_heap_inuse_bytes",
	"go_memstats_stack_inuse_bytes",
	"go_memstats_sys_bytes",
	"go_goroutines",
	"process_open_fds",
	"process_cpu_seconds_total",
	// Which process answered: a node restarted mid-run has another start time (cpuacct.go).
	"process_start_time_seconds",
}

// NodeMetrics is one node's figures.
type NodeMetrics struct {
	URL string `json:"url"`
	// Connections are the clients connected to this node at the connected scrape.
	Connections int                `json:"connections"`
	Before      map[string]float64 `json:"before,omitempty"`
	Connected   map[string]float64 `json:"connected,omitempty"` // all clients connected and subscribed, before the load
	After       map[string]float64 `json:"after,omitempty"`     // after the run and drain, connections still open
	// PerConnection is (Connected − Before) / Connections for each metric; PerConnectionAfter
	// uses After (connections held for the whole run).
	PerConnection      map[string]float64 `json:"perConnection,omitempty"`
	PerConnectionAfter map[string]float64 `json:"perConnectionAfter,omitempty"`
	Error              string             `json:"error,omitempty"`
}

// scrapeAll reads every node; with set nil it returns fresh NodeMetrics holding Before,
// otherwise it hands each node's figures to set.
func (r *runner) scrapeAll(ctx context.Context, set func(*NodeMetrics, map[string]float64)) []NodeMetrics {
	if set == nil {
		r.nodes = make([]NodeMetrics, len(r.cfg.URLs))
		for i, u := range r.cfg.URLs {
			r.nodes[i].URL = u
			m, err := scrape(ctx, r.rest, u)
			if err != nil {
				r.nodes[i].Error = err.Error()
				continue
			}
			r.nodes[i].Before = m
		}
		return r.nodes
	}
	for i := range r.nodes {
		m, err := scrape(ctx, r.rest, r.nodes[i].URL)
		if err != nil {
			r.nodes[i].Error = err.Error()
			continue
		}
		set(&r.nodes[i], m)
	}
	return r.nodes
}

func scrape(ctx context.Context, c *restClient, base string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s/metrics: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s/metrics: %s", base, resp.Status)
	}
	return parseMetrics(resp.Body, scrapedMetrics)
}

// parseMetrics reads the unlabelled samples of names from Prometheus text format (a
// labelled series is summed over its labels).
func parseMetrics(r io.Reader, names []string) (map[string]float64, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, " {")
		if end < 0 || !want[line[:end]] {
			continue
		}
		name := line[:end]
		rest := line[end:]
		if rest[0] == '{' {
			close := strings.LastIndexByte(rest, '}')
			if close < 0 {
				continue
			}
			rest = rest[close+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, sc.Err()
}

// perConnection divides the growth of each metric by conns.
func perConnection(before, after map[string]float64, conns int) map[string]float64 {
	if before == nil || after == nil || conns <= 0 {
		return nil
	}
	out := make(map[string]float64)
	for k, a := range after {
		if b, ok := before[k]; ok {
			out[k] = (a - b) / float64(conns)
		}
	}
	return out
}
