package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/parley-chat/parley/transport"
)

// Docker cannot run on the test machine, so docker-compose.yml is checked by reading it:
// the services the README promises exist, and every parley variable it sets is one that
// `parley serve` reads, so a renamed setting cannot leave the file silently stale.
func TestDockerComposeMatchesConfiguration(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
		Configs map[string]struct {
			Content string `yaml:"content"`
		} `yaml:"configs"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	cfg := transport.DefaultConfig()
	var lo logOptions
	var gcMinHeap int
	f := serveFlags(&cfg, &gcMinHeap, &lo)
	for _, env := range f.env {
		known[env] = true
	}
	for _, name := range []string{"postgres", "redis", "kafka", "parley1", "parley2", "parley3", "nginx", "prometheus"} {
		if _, ok := doc.Services[name]; !ok {
			t.Errorf("service %q missing", name)
		}
	}
	wantImage := map[string]string{"postgres": "postgres:16", "redis": "redis:7", "kafka": "apache/kafka:3."}
	for svc, prefix := range wantImage {
		if img := doc.Services[svc].Image; !strings.HasPrefix(img, prefix) {
			t.Errorf("service %s image %q, want %s*", svc, img, prefix)
		}
	}
	if doc.Services["kafka"].Environment["KAFKA_PROCESS_ROLES"] != "broker,controller" {
		t.Error("kafka is not in KRaft mode")
	}
	var nodes []string
	for name, svc := range doc.Services {
		if !strings.HasPrefix(name, "parley") {
			continue
		}
		nodes = append(nodes, name)
		for k := range svc.Environment {
			if !known[k] {
				t.Errorf("service %s sets %s, which parley serve does not read", name, k)
			}
		}
		for _, need := range []string{"DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS", "PARLEY_NODE_ID"} {
			if svc.Environment[need] == "" {
				t.Errorf("service %s does not set %s", name, need)
			}
		}
	}
	slices.Sort(nodes)
	for _, n := range nodes {
		if !strings.Contains(doc.Configs["prometheus"].Content, n+":9000") {
			t.Errorf("prometheus does not scrape %s", n)
		}
		if !strings.Contains(doc.Configs["nginx"].Content, "server "+n+":9000") {
			t.Errorf("nginx does not route to %s", n)
		}
	}
}
