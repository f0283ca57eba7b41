package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-chat/parley/persistence"
)

// runKafka runs the embedded Kafka broker (kfake) as a process of its own, so that several
// parley nodes on one machine (make cluster) can share one broker without Docker.
func runKafka(args []string) int {
	var port int
	var dataDir string
	f := newEnvFlags("kafka", "Run the embedded Kafka broker (kfake) on its own, with parley's topics, until SIGINT/SIGTERM.\nFor local multi-node runs only: it is a test broker, not a production Kafka.")
	f.integer(&port, "port", "PARLEY_KAFKA_PORT", 9092, "listen port on 127.0.0.1")
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
	k, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{Port: port, DataDir: dataDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley kafka:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "parley kafka: listening on", k.Addrs())
	<-ctx.Done()
	k.Close()
	return 0
}
