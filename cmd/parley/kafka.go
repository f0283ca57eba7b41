package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/parley-chat/parley/persistence"
)

// runKafka runs the embedded Kafka (kfake) as a process of its own, so that several parley
// nodes on one machine (make cluster) can share one broker, or a three-broker cluster with
// replicated topics (ADR 0045), without Docker.
func runKafka(args []string) int {
	var port, brokers int
	var dataDir string
	f := newEnvFlags("kafka", "Run the embedded Kafka (kfake) on its own, with parley's topics, until SIGINT/SIGTERM.\nFor local multi-node runs only: it is a test broker, not a production Kafka.")
	f.integer(&port, "port", "PARLEY_KAFKA_PORT", 9092, "listen port of the first broker on 127.0.0.1; broker i listens on port+i")
	f.integer(&brokers, "brokers", "PARLEY_KAFKA_BROKERS", 1, "brokers in the cluster (1..9); with 3 or more, topics get replication factor 3 and min.insync.replicas 2")
	f.str(&dataDir, "data-dir", "PARLEY_KAFKA_DATA_DIR", "", "keep the log and committed offsets here across restarts; empty: in memory")
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "parley kafka:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	k, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{Port: port, Brokers: brokers, DataDir: dataDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley kafka:", err)
		return 1
	}
	// The address list is the whole line, for scripts: KAFKA_BROKERS=$(… | tail -1).
	fmt.Fprintln(os.Stderr, "parley kafka: listening on", strings.Join(k.Addrs(), ","))
	<-ctx.Done()
	k.Close()
	return 0
}
