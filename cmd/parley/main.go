// Command parley is the one binary of the parley chat server: serve, migrate, token, bench
// and version. It only turns flags and PARLEY_* environment into configuration and runs the
// packages that do the work.
package main

import (
	"fmt"
	"os"
	"strings"
	// The IANA zone database in the binary: profiles' timezones are checked against it
	// (persistence.ValidateTimezone), and the image (distroless) is not to be relied on.
	_ "time/tzdata"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `parley — a real-time team-chat server

usage: parley <command> [flags]

commands:
  serve     run a node (embedded Redis and Kafka unless configured; see parley serve --help)
  migrate   apply or roll back the database schema: up | down | status
  token     print a dev JWT: parley token --user alice [--ttl 24h]
  bench     load and correctness harness (see parley bench --help)
  kafka     run the embedded Kafka broker as its own process (for make cluster)
  healthcheck
            exit 0 when a node's /readyz answers 200 (container healthchecks)
  version   print the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var code int
	switch cmd {
	case "serve":
		code = runServe(args)
	case "migrate":
		code = runMigrate(args)
	case "token":
		code = runToken(args)
	case "bench":
		code = runBench(args)
	case "kafka":
		code = runKafka(args)
	case "healthcheck":
		code = runHealthcheck(args)
	case "version", "--version", "-v":
		fmt.Println("parley", version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "parley: unknown command %q\n\n%s", cmd, usage)
		code = 2
	}
	os.Exit(code)
}

// oneLine flattens joined errors so that a configuration problem prints as one line.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
