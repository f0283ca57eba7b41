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

func runMigrate(args []string) int {
	var url string
	var logOpts logOptions
	f := newEnvFlags("migrate", "Apply or roll back parley's schema: parley migrate [flags] up | down | status.\nSafe to run while nodes start: a PostgreSQL advisory lock serialises migrations.")
	f.str(&url, "database-url", "DATABASE_URL", persistence.DefaultDatabaseURL, "PostgreSQL URL")
	logOpts.register(f)
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "parley migrate:", err)
		return 2
	}
	if f.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "parley migrate: want one of up, down, status")
		return 2
	}
	logger, err := logOpts.logger()
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley migrate:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: url, CreateDatabase: f.Arg(0) == "up"}, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley migrate:", err)
		return 1
	}
	defer pool.Close()
	m, err := persistence.NewMigrator(pool, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley migrate:", err)
		return 1
	}
	defer m.Close()
	switch f.Arg(0) {
	case "up":
		res, err := m.Up(ctx)
		for _, r := range res {
			fmt.Printf("applied %s (%s)\n", r.Source.Path, r.Duration)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley migrate:", err)
			return 1
		}
		if len(res) == 0 {
			fmt.Println("nothing to apply")
		}
	case "down":
		r, err := m.Down(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley migrate:", err)
			return 1
		}
		fmt.Printf("rolled back %s\n", r.Source.Path)
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley migrate:", err)
			return 1
		}
		for _, s := range st {
			at := ""
			if !s.AppliedAt.IsZero() {
				at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Printf("%-8s %-40s %s\n", s.State, s.Source.Path, at)
		}
	default:
		fmt.Fprintf(os.Stderr, "parley migrate: unknown action %q: want up, down or status\n", f.Arg(0))
		return 2
	}
	return 0
}
