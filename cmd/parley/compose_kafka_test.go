package main

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Issue 26, ADR 0045: the compose file's Kafka is three KRaft brokers in combined mode,
// one cluster, each a controller voter under its own id and address with its own volume;
// topics default to replication factor 3 and min.insync.replicas 2 (the internal topics
// too), and every node bootstraps from all three and creates its topics the same way.
// No Docker daemon here: the file is read, not run.
func TestDockerComposeKafkaIsThreeKRaftBrokers(t *testing.T) {
	doc, _ := readCompose(t)
	brokers := kafkaBrokers(doc)
	if len(brokers) != 3 {
		t.Fatalf("kafka services %v, want 3", brokers)
	}
	var voters []string
	ids, vols, clusterIDs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, b := range brokers {
		env := doc.Services[b].Environment
		id := env["KAFKA_NODE_ID"]
		if id == "" || ids[id] {
			t.Errorf("%s: node id %q missing or taken", b, id)
		}
		ids[id] = true
		voters = append(voters, id+"@"+b+":9093")
		clusterIDs[env["CLUSTER_ID"]] = true
		if env["KAFKA_ADVERTISED_LISTENERS"] != "PLAINTEXT://"+b+":9092" {
			t.Errorf("%s advertises %q, not itself", b, env["KAFKA_ADVERTISED_LISTENERS"])
		}
		for k, want := range map[string]string{
			"KAFKA_PROCESS_ROLES":                            "broker,controller",
			"KAFKA_DEFAULT_REPLICATION_FACTOR":               "3",
			"KAFKA_MIN_INSYNC_REPLICAS":                      "2",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "3",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "2",
			"KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE":           "false",
		} {
			if env[k] != want {
				t.Errorf("%s: %s=%q, want %q", b, k, env[k], want)
			}
		}
		if len(doc.Services[b].Volumes) != 1 || vols[doc.Services[b].Volumes[0]] {
			t.Errorf("%s volumes %v: want one of its own", b, doc.Services[b].Volumes)
		}
		for _, v := range doc.Services[b].Volumes {
			vols[v] = true
		}
	}
	if len(clusterIDs) != 1 || clusterIDs[""] {
		t.Errorf("cluster ids %v: want one, set", clusterIDs)
	}
	for _, b := range brokers {
		got := strings.Split(doc.Services[b].Environment["KAFKA_CONTROLLER_QUORUM_VOTERS"], ",")
		if !slices.Equal(got, voters) {
			t.Errorf("%s quorum voters %v, want %v", b, got, voters)
		}
	}

	for _, n := range parleyNodes(doc) {
		env := doc.Services[n].Environment
		var boot []string
		for _, a := range strings.Split(env["KAFKA_BROKERS"], ",") {
			host, p, err := net.SplitHostPort(a)
			if err != nil || p != "9092" {
				t.Errorf("%s: KAFKA_BROKERS entry %q", n, a)
			}
			boot = append(boot, host)
		}
		if !slices.Equal(boot, brokers) {
			t.Errorf("%s bootstraps from %v, want all of %v", n, boot, brokers)
		}
		rf, err1 := strconv.Atoi(env["KAFKA_REPLICATION_FACTOR"])
		isr, err2 := strconv.Atoi(env["KAFKA_MIN_INSYNC_REPLICAS"])
		if err1 != nil || err2 != nil || rf != 3 || isr != 2 {
			t.Errorf("%s creates topics with replication factor %q and min.insync.replicas %q, want 3 and 2",
				n, env["KAFKA_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"])
		}
	}
}
