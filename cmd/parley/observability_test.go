package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/transport"
)

// alertRules is deploy/prometheus/alerts.yml as Prometheus reads it.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type dashboard struct {
	UID    string `json:"uid"`
	Panels []struct {
		Title      string          `json:"title"`
		Datasource json.RawMessage `json:"datasource"`
		Targets    []struct {
			Expr       string          `json:"expr"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

func readAlerts(t *testing.T) alertRules {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var r alertRules
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // Prometheus rejects unknown keys in a rules file; so does this test
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	return r
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/grafana/dashboards/parley.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("parley.json: %v", err)
	}
	return d
}

var durationRE = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

// The rules file has the structure Prometheus loads, with the four alerts issue 21 asks for;
// the dashboard parses and names only the provisioned data source.
func TestAlertRulesAndDashboardAreWellFormed(t *testing.T) {
	r := readAlerts(t)
	var alerts []string
	for _, g := range r.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, rule := range g.Rules {
			alerts = append(alerts, rule.Alert)
			if rule.Alert == "" || strings.TrimSpace(rule.Expr) == "" {
				t.Errorf("rule %q: alert and expr are required", rule.Alert)
			}
			if rule.For != "" && !durationRE.MatchString(rule.For) {
				t.Errorf("rule %s: for %q is not a duration", rule.Alert, rule.For)
			}
			if rule.Labels["severity"] == "" || rule.Annotations["summary"] == "" {
				t.Errorf("rule %s: wants a severity label and a summary", rule.Alert)
			}
			if n := strings.Count(rule.Expr, "(") - strings.Count(rule.Expr, ")"); n != 0 {
				t.Errorf("rule %s: unbalanced parentheses in %q", rule.Alert, rule.Expr)
			}
		}
	}
	for _, want := range []string{"ParleyNodeNotReady", "ParleyReceiptsBackingUp", "ParleySlowConsumersSpiking", "ParleyBusDisconnected"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alert %s missing (have %v)", want, alerts)
		}
	}

	raw, err := os.ReadFile("../../deploy/grafana/provisioning/datasources/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &prov); err != nil {
		t.Fatal(err)
	}
	uids := map[string]bool{}
	for _, ds := range prov.Datasources {
		uids[ds.UID] = ds.Type == "prometheus" && strings.Contains(ds.URL, "prometheus:9090")
	}
	d := readDashboard(t)
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatal("dashboard without uid or panels")
	}
	checkDS := func(where string, raw json.RawMessage) {
		var ds struct{ Type, UID string }
		if err := json.Unmarshal(raw, &ds); err != nil || !uids[ds.UID] {
			t.Errorf("%s: data source %s is not a provisioned Prometheus (%v)", where, raw, uids)
		}
	}
	for _, p := range d.Panels {
		checkDS("panel "+p.Title, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("panel %s has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkDS("panel "+p.Title, tg.Datasource)
		}
	}
}

// metricNames extracts the metric names a PromQL expression reads: identifiers that are not
// functions, keywords, label names (inside {…} or by/without/on/ignoring/group_x (…)),
// durations or strings. It is no parser, but parley's expressions stay within what it reads.
func metricNames(expr string) []string {
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`),                           // strings
		regexp.MustCompile(`\{[^}]*\}`),                                                     // label matchers
		regexp.MustCompile(`\[[^\]]*\]`),                                                    // ranges and subqueries
		regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`), // label lists
		regexp.MustCompile(`\boffset\s+-?[0-9]+[a-z]+`),                                     // offsets
	} {
		expr = re.ReplaceAllString(expr, " ")
	}
	// Numbers, keeping the character before them (an opening parenthesis makes a function).
	expr = regexp.MustCompile(`(^|[^A-Za-z_:0-9.])[0-9][0-9.]*(?:e[+-]?[0-9]+)?`).ReplaceAllString(expr, "${1} ")
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "Inf": true, "NaN": true}
	var out []string
	for _, m := range regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`).FindAllString(expr, -1) {
		if strings.HasSuffix(m, "(") || keywords[m] {
			continue // a function or an aggregation
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func TestMetricNamesExtraction(t *testing.T) {
	got := metricNames(`histogram_quantile(0.99, sum by (instance, le) (rate(parley_read_receipts_lag_seconds_bucket{job="x",le!="+Inf"}[5m] offset 1h))) > 30
		or parley_ready == 0 or up{job="parley"} == bool 0 unless on(instance) group_left(node_id) parley_build_info * 1e3
		or sum without (dependency) (parley_dependency_up) / ignoring(x) max_over_time(parley_ws_connections[1m:10s])`)
	want := []string{"parley_read_receipts_lag_seconds_bucket", "parley_ready", "up", "parley_build_info", "parley_dependency_up", "parley_ws_connections"}
	if !slices.Equal(got, want) {
		t.Fatalf("metricNames = %q, want %q", got, want)
	}
}

// Every metric the Grafana dashboard and the alert rules read is one a running node exports
// (histograms by their _bucket, _sum and _count series), so a renamed metric cannot leave a
// panel empty or an alert silent. `up` is Prometheus's own.
func TestDashboardAndAlertMetricsAreExported(t *testing.T) {
	used := map[string][]string{} // metric → where
	for _, g := range readAlerts(t).Groups {
		for _, r := range g.Rules {
			for _, m := range metricNames(r.Expr) {
				used[m] = append(used[m], "alert "+r.Alert)
			}
		}
	}
	for _, p := range readDashboard(t).Panels {
		for _, tg := range p.Targets {
			for _, m := range metricNames(tg.Expr) {
				used[m] = append(used[m], "panel "+p.Title)
			}
		}
	}
	delete(used, "up")
	if len(used) < 10 {
		t.Fatalf("only %d metrics found in the dashboard and rules: %v", len(used), used)
	}

	exported := scrapeRunningNode(t)
	for m, where := range used {
		if !exported[m] {
			t.Errorf("%s (used by %s) is not exported by a node", m, strings.Join(where, ", "))
		}
	}
}

// scrapeRunningNode starts a node on a metrics listener of its own, posts one message so that
// the labelled counters have a series, and returns the sample names of its /metrics.
func scrapeRunningNode(t *testing.T) map[string]bool {
	t.Helper()
	cfg := transport.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	srv, err := transport.New(context.Background(), cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(context.Background()) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-errc
		http.DefaultClient.CloseIdleConnections()
	}()
	base := "http://" + srv.Addr().String()
	tok, _, err := srv.Verifier().Issue("metrics-check", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string, body, out any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}
	var ws struct {
		ID string `json:"id"`
	}
	call(http.MethodPost, "/api/workspaces", map[string]string{"name": "metrics"}, &ws)
	var chans struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	call(http.MethodGet, "/api/workspaces/"+ws.ID+"/channels", nil, &chans)
	if len(chans.Items) == 0 {
		t.Fatal("new workspace has no channel")
	}
	call(http.MethodPost, fmt.Sprintf("/api/channels/%s/messages", chans.Items[0].ID), map[string]string{"content": "hello"}, nil)

	resp, err := http.Get("http://" + srv.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
