package main

import (
	"os/exec"
	"strings"
	"testing"
)

// Issue 21: an unreachable or malformed REDIS_URL stopped the start after four lines of
// go-redis's own logging; the operator gets one line naming the setting.
func TestServeBadRedisURLIsOneLine(t *testing.T) {
	t.Parallel()
	closed := freeAddr(t) // listened on, then closed: the dial is refused
	for _, c := range []struct{ url, want string }{
		{"redis://" + closed + "/0", "connect to redis at " + closed},
		{"redis://127.0.0.1:6379/abc", "redis url"},
		{"redis://127.0.0.1:x/0", "redis url"},
	} {
		cmd := exec.Command(binary, "serve")
		cmd.Env = append(cleanEnv(), "REDIS_URL="+c.url, "PARLEY_ADDR=127.0.0.1:0",
			"DATABASE_URL=postgres://postgres@127.0.0.1:1/unused?sslmode=disable")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("REDIS_URL=%s: started", c.url)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
			t.Errorf("REDIS_URL=%s: want one line naming %q, got %d:\n%s", c.url, c.want, len(lines), out)
		}
	}
}

// ADR 0043: exactly one of REDIS_URL, REDIS_CLUSTER_ADDRS and REDIS_SENTINEL_ADDRS (with
// REDIS_SENTINEL_MASTER); anything else stops the start with one line naming the settings.
func TestServeRedisModesAreExclusive(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"REDIS_URL=redis://127.0.0.1:6379/0", "REDIS_CLUSTER_ADDRS=127.0.0.1:7000"}, "exactly one"},
		{[]string{"REDIS_CLUSTER_ADDRS=127.0.0.1:7000", "REDIS_SENTINEL_ADDRS=127.0.0.1:26379", "REDIS_SENTINEL_MASTER=m"}, "exactly one"},
		{[]string{"REDIS_SENTINEL_ADDRS=127.0.0.1:26379"}, "redis-sentinel-master"},
		{[]string{"REDIS_CLUSTER_ADDRS=127.0.0.1"}, "redis-cluster-addrs"},
	} {
		cmd := exec.Command(binary, "serve")
		cmd.Env = append(append(cleanEnv(), c.env...), "PARLEY_ADDR=127.0.0.1:0",
			"DATABASE_URL=postgres://postgres@127.0.0.1:1/unused?sslmode=disable")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v: started", c.env)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
			t.Errorf("%v: want one line naming %q, got %d:\n%s", c.env, c.want, len(lines), out)
		}
	}
}

// ADR 0045: a min.insync.replicas above the replication factor would fail every acks=all
// write once a topic exists; the node refuses it at start, naming both settings.
func TestServeBadKafkaReplicationIsOneLine(t *testing.T) {
	t.Parallel()
	for _, env := range [][]string{
		{"KAFKA_REPLICATION_FACTOR=2", "KAFKA_MIN_INSYNC_REPLICAS=3"},
		{"KAFKA_REPLICATION_FACTOR=-5"},
		{"KAFKA_MIN_INSYNC_REPLICAS=-1"},
	} {
		cmd := exec.Command(binary, "serve")
		cmd.Env = append(append(cleanEnv(), env...), "PARLEY_ADDR=127.0.0.1:0", "KAFKA_BROKERS=127.0.0.1:1",
			"DATABASE_URL=postgres://postgres@127.0.0.1:1/unused?sslmode=disable")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v: started", env)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "kafka-replication-factor") {
			t.Errorf("%v: want one line naming kafka-replication-factor, got %d:\n%s", env, len(lines), out)
		}
	}
}
