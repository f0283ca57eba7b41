package main

import (
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/parley-chat/parley/transport"
)

// composeFile is what the tests read of docker-compose.yml.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Configs  map[string]struct {
		Content string `yaml:"content"`
	} `yaml:"configs"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Networks    yaml.Node         `yaml:"networks"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc composeFile
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc, string(raw)
}

// kafkaBrokers are the Kafka services (kafka1, kafka2, …).
func kafkaBrokers(doc composeFile) []string {
	var bs []string
	for name := range doc.Services {
		if strings.HasPrefix(name, "kafka") {
			bs = append(bs, name)
		}
	}
	slices.Sort(bs)
	return bs
}

// parleyNodes are the services running parley serve.
func parleyNodes(doc composeFile) []string {
	var nodes []string
	for name := range doc.Services {
		if strings.HasPrefix(name, "parley") {
			nodes = append(nodes, name)
		}
	}
	slices.Sort(nodes)
	return nodes
}

// Docker cannot run on the test machine, so docker-compose.yml is checked by reading it:
// the services the README promises exist, and every parley variable it sets is one that
// `parley serve` reads, so a renamed setting cannot leave the file silently stale.
func TestDockerComposeMatchesConfiguration(t *testing.T) {
	doc, _ := readCompose(t)
	known := map[string]bool{}
	cfg := transport.DefaultConfig()
	var lo logOptions
	var gc gcOptions
	f := serveFlags(&cfg, &gc, &lo)
	for _, env := range f.env {
		known[env] = true
	}
	for _, name := range []string{"postgres", "redis", "kafka1", "kafka2", "kafka3", "parley1", "parley2", "parley3", "nginx", "prometheus", "grafana"} {
		if _, ok := doc.Services[name]; !ok {
			t.Errorf("service %q missing", name)
		}
	}
	wantImage := map[string]string{"postgres": "postgres:16", "redis": "redis:7", "kafka1": "apache/kafka:3.", "kafka2": "apache/kafka:3.", "kafka3": "apache/kafka:3.", "grafana": "grafana/grafana:"}
	for svc, prefix := range wantImage {
		if img := doc.Services[svc].Image; !strings.HasPrefix(img, prefix) {
			t.Errorf("service %s image %q, want %s*", svc, img, prefix)
		}
	}
	for _, b := range kafkaBrokers(doc) {
		if doc.Services[b].Environment["KAFKA_PROCESS_ROLES"] != "broker,controller" {
			t.Errorf("%s is not in KRaft combined mode", b)
		}
	}
	nodes := parleyNodes(doc)
	for _, name := range nodes {
		svc := doc.Services[name]
		for k := range svc.Environment {
			if !known[k] {
				t.Errorf("service %s sets %s, which parley serve does not read", name, k)
			}
		}
		for _, need := range []string{"DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS", "PARLEY_NODE_ID", "PARLEY_JWT_SECRET", "PARLEY_METRICS_ADDR", "PARLEY_TRUSTED_PROXIES"} {
			if svc.Environment[need] == "" {
				t.Errorf("service %s does not set %s", name, need)
			}
		}
	}
	metricsPort := port(t, doc.Services["parley1"].Environment["PARLEY_METRICS_ADDR"])
	appPort := port(t, doc.Services["parley1"].Environment["PARLEY_ADDR"])
	if metricsPort == appPort {
		t.Fatalf("metrics on the main port %s", appPort)
	}
	for _, n := range nodes {
		if !strings.Contains(doc.Configs["prometheus"].Content, `"`+n+":"+metricsPort+`"`) {
			t.Errorf("prometheus does not scrape %s on the metrics port %s", n, metricsPort)
		}
		if !strings.Contains(doc.Configs["nginx"].Content, "server "+n+":"+appPort+";") {
			t.Errorf("nginx does not route to %s:%s", n, appPort)
		}
	}
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

// The production wiring: healthchecks everywhere, start order by health, no dev mode, the
// secret from the environment, persistence and WAL settings, and nothing but nginx (and
// Grafana on localhost) published.
func TestDockerComposeWiring(t *testing.T) {
	doc, raw := readCompose(t)
	for name, svc := range doc.Services {
		if len(svc.Healthcheck.Test) < 2 || (svc.Healthcheck.Test[0] != "CMD" && svc.Healthcheck.Test[0] != "CMD-SHELL") {
			t.Errorf("service %s has no healthcheck", name)
		}
		for dep, d := range svc.DependsOn {
			if d.Condition != "service_healthy" {
				t.Errorf("%s starts after %s is %q, want service_healthy", name, dep, d.Condition)
			}
		}
		for _, p := range svc.Ports {
			switch {
			case name == "nginx":
			case name == "grafana" && strings.HasPrefix(p, "127.0.0.1:"):
			default:
				t.Errorf("service %s publishes %q: only nginx is public (Grafana on 127.0.0.1)", name, p)
			}
		}
	}
	if strings.Contains(raw, "PARLEY_DEV") {
		t.Error("the compose file turns dev mode on")
	}
	nodes := parleyNodes(doc)
	for _, n := range nodes {
		svc := doc.Services[n]
		for _, dep := range append([]string{"postgres", "redis"}, kafkaBrokers(doc)...) {
			if svc.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("%s does not wait for %s to be healthy", n, dep)
			}
		}
		if hc := strings.Join(svc.Healthcheck.Test, " "); !strings.Contains(hc, "/parley healthcheck") || !strings.Contains(hc, "/readyz") {
			t.Errorf("%s healthcheck %q is not parley healthcheck on /readyz", n, hc)
		}
		if !regexp.MustCompile(`^\$\{PARLEY_JWT_SECRET:\?.+\}$`).MatchString(svc.Environment["PARLEY_JWT_SECRET"]) {
			t.Errorf("%s: PARLEY_JWT_SECRET %q, want ${PARLEY_JWT_SECRET:?…} from the environment", n, svc.Environment["PARLEY_JWT_SECRET"])
		}
		if doc.Services["nginx"].DependsOn[n].Condition != "service_healthy" {
			t.Errorf("nginx does not wait for %s to be healthy", n)
		}
	}
	if !slices.Contains(doc.Services["redis"].Command, "--appendonly") || !strings.Contains(strings.Join(doc.Services["redis"].Command, " "), "--appendonly yes") {
		t.Errorf("redis command %q: want --appendonly yes", doc.Services["redis"].Command)
	}
	pg := strings.Join(doc.Services["postgres"].Command, " ")
	for _, want := range []string{"min_wal_size=1GB", "wal_init_zero=off"} {
		if !strings.Contains(pg, want) {
			t.Errorf("postgres command %q lacks %s (README, ADR 0023)", pg, want)
		}
	}

	// nginx: never proxies /metrics, and names the client for parley's per-IP limits.
	ngx := doc.Configs["nginx"].Content
	if !regexp.MustCompile(`location /metrics \{\s*return 404;\s*\}`).MatchString(ngx) {
		t.Error("nginx does not refuse /metrics")
	}
	if !strings.Contains(ngx, "proxy_set_header X-Forwarded-For $$remote_addr;") {
		t.Error("nginx does not set X-Forwarded-For to the client's address")
	}
	var nginxNets map[string]struct {
		IPv4 string `yaml:"ipv4_address"`
	}
	nginx := doc.Services["nginx"]
	if err := nginx.Networks.Decode(&nginxNets); err != nil {
		t.Fatalf("nginx networks: %v", err)
	}
	trusted := doc.Services["parley1"].Environment["PARLEY_TRUSTED_PROXIES"]
	found := false
	for _, n := range nginxNets {
		found = found || (n.IPv4 != "" && n.IPv4 == trusted)
	}
	if !found {
		t.Errorf("PARLEY_TRUSTED_PROXIES %q is not nginx's address %+v", trusted, nginxNets)
	}

	// Prometheus loads the alert rules from the file in the repository.
	prom := doc.Configs["prometheus"].Content
	if !strings.Contains(prom, "/etc/prometheus/alerts.yml") || !slices.Contains(doc.Services["prometheus"].Volumes, "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro") {
		t.Error("prometheus does not load deploy/prometheus/alerts.yml")
	}
	for _, v := range doc.Services["grafana"].Volumes {
		if src, _, _ := strings.Cut(v, ":"); strings.HasPrefix(src, "./") {
			if _, err := os.Stat("../../" + src); err != nil {
				t.Errorf("grafana mounts %s: %v", src, err)
			}
		}
	}

	// The image: a Dockerfile in the repository, on the Go release the project builds with.
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^FROM golang:1\.27\.3 AS build$`).Match(df) {
		t.Error("Dockerfile's build stage is not golang:1.27.3")
	}
}

// compose refuses to start without each ${VAR:?…}; .env.example must name every one.
func TestEnvExampleListsEveryRequiredVariable(t *testing.T) {
	_, raw := readCompose(t)
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	required := regexp.MustCompile(`\$\{([A-Z0-9_]+):\?`).FindAllStringSubmatch(raw, -1)
	if len(required) == 0 {
		t.Fatal("the compose file requires no variable: where does the JWT secret come from?")
	}
	for _, m := range required {
		if !regexp.MustCompile(`(?m)^` + m[1] + `=`).Match(example) {
			t.Errorf(".env.example does not list %s", m[1])
		}
	}
}
