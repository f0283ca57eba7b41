// Command searchload measures search at size (issue 25, ADR 0039): it seeds one workspace
// with N messages (COPY, indexes built after the load, then ANALYZE) into a database of its
// own, once, and then runs each query mix of the search language through
// persistence.Store.SearchMessages (the REST handler's whole database path: readable
// channels, filter look-ups, the ranked query and the highlight) for a number of rounds,
// reporting per round and mix the median and P99 latency. With -explain it prints
// EXPLAIN (ANALYZE, BUFFERS) of each mix's main query instead.
//
// Latencies are wall time of one call with one client on an otherwise idle database, so the
// figures read against each other and against the "readable channels" reference mix (the
// fixed cost of every search), measured in the same rounds.
//
//	go run ./bench/searchload -db-url postgres://postgres@127.0.0.1:5432/parley_search_bench?sslmode=disable -messages 1000000 -rounds 3
//	go run ./bench/searchload -db-url … -drop   # remove the database
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/persistence"
)

func main() {
	dbURL := flag.String("db-url", "postgres://postgres@127.0.0.1:5432/parley_search_bench?sslmode=disable", "the database to seed (created when missing) and search")
	messages := flag.Int("messages", 1_000_000, "messages to seed when the database has none")
	rounds := flag.Int("rounds", 3, "rounds of every mix")
	perRound := flag.Int("n", 40, "searches per mix per round")
	explain := flag.Bool("explain", false, "print EXPLAIN (ANALYZE, BUFFERS) of each mix's search query instead of timing")
	drop := flag.Bool("drop", false, "drop the database and exit")
	windows := flag.String("windows", "", "relevance rank windows to compare, interleaved per round, e.g. 0,1000 (0: the store's rule; default 0)")
	flag.Parse()
	ctx := context.Background()
	var ws []int
	for _, f := range strings.Split(*windows, ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 {
				fmt.Fprintln(os.Stderr, "searchload: bad -windows", f)
				os.Exit(2)
			}
			ws = append(ws, n)
		}
	}
	if len(ws) == 0 {
		ws = []int{0}
	}
	if err := run(ctx, *dbURL, *messages, *rounds, *perRound, *explain, *drop, ws); err != nil {
		fmt.Fprintln(os.Stderr, "searchload:", err)
		os.Exit(1)
	}
}

// mix is one query shape of the language; the words are picked by their frequency in the
// seeded vocabulary (rank 0 is the most common word).
type mix struct {
	name, q string
	sort    string
}

func mixes() []mix {
	return []mix{
		{"reference: readable channels only", "", ""},
		{"rare word", w(3000), ""},
		{"medium word", w(300), ""},
		{"common word (rank 3)", w(3), ""},
		{"common word, newest", w(3), persistence.SortNewest},
		{"two words", w(20) + " " + w(40), ""},
		{"phrase", `"` + w(1) + " " + w(2) + `"`, ""},
		{"word -exclude", w(30) + " -" + w(5), ""},
		{"from:@user", "from:@user7", ""},
		{"word from:@user", w(100) + " from:@user7", ""},
		{"in:#channel", "in:#chan-3", ""},
		{"word in:#channel", w(50) + " in:#chan-3", ""},
		{"in:@user (DM)", "in:@user2", ""},
		{"has:link", "has:link", ""},
		{"word has:link", w(10) + " has:link", ""},
		{"is:thread", "is:thread", ""},
		{"word is:thread", w(10) + " is:thread", ""},
		{"before: (old half)", "before:" + seedStart.AddDate(0, 0, seedDays/2).Format("2006-01-02"), ""},
		{"word on:", w(10) + " on:" + seedStart.AddDate(0, 0, seedDays/3).Format("2006-01-02"), ""},
		{"word after: before:", w(10) + " after:" + seedStart.AddDate(0, 0, 30).Format("2006-01-02") + " before:" + seedStart.AddDate(0, 0, 60).Format("2006-01-02"), ""},
		{"everything", w(10) + " -" + w(11) + " from:@user7 in:#chan-3 has:link after:" + seedStart.Format("2006-01-02"), ""},
	}
}

func run(ctx context.Context, url string, n, rounds, perRound int, explain, drop bool, windows []int) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if drop {
		return dropDatabase(ctx, url)
	}
	pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: url, CreateDatabase: true, MaxConns: 4}, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := persistence.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	s, err := seed(ctx, pool, n)
	if err != nil {
		return err
	}
	store := persistence.NewStore(pool, nil, persistence.StoreConfig{})
	wa, err := store.WorkspaceAccess(ctx, s.searcher, s.workspace)
	if err != nil {
		return err
	}
	if explain {
		return explainAll(ctx, store, pool, wa)
	}
	ms := mixes()
	// lat[window][mix] holds every round's samples; windows alternate inside each round so
	// that the machine's drift hits them alike.
	lat := make([][][][]time.Duration, len(windows))
	for wi := range windows {
		lat[wi] = make([][][]time.Duration, len(ms))
	}
	fmt.Printf("%d messages; %d rounds of %d searches per mix, as a member of every public channel\n", s.messages, rounds, perRound)
	for r := 0; r < rounds; r++ {
		for i, m := range ms {
			for wi, win := range windows {
				var d []time.Duration
				for k := 0; k < perRound; k++ {
					t0 := time.Now()
					if m.q == "" {
						_, err = store.ReadableChannels(ctx, wa)
					} else {
						var q persistence.SearchQuery
						if q, err = persistence.ParseSearch(m.q); err == nil {
							_, err = store.SearchMessages(ctx, wa, q, persistence.SearchOptions{Sort: m.sort, Limit: 21, Window: win})
						}
					}
					if err != nil {
						return fmt.Errorf("%s %q: %w", m.name, m.q, err)
					}
					d = append(d, time.Since(t0))
				}
				lat[wi][i] = append(lat[wi][i], d)
			}
		}
	}
	for wi, win := range windows {
		label := strconv.Itoa(win)
		if win == 0 {
			label = fmt.Sprintf("the store's (%d; %d with is:thread or has:link)", persistence.RankWindow, persistence.RankWindowSparse)
		}
		fmt.Printf("\nrank window %s\n%-36s %-50s %s\n", label, "mix", "q", "per round: median / P99 (ms)")
		for i, m := range ms {
			var cells []string
			for _, d := range lat[wi][i] {
				cells = append(cells, fmt.Sprintf("%.1f / %.1f", ms2(pct(d, 50)), ms2(pct(d, 99))))
			}
			q := m.q
			if m.sort != "" {
				q += " (sort=" + m.sort + ")"
			}
			fmt.Printf("%-36s %-50s %s\n", m.name, q, strings.Join(cells, "  "))
		}
	}
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func ms2(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// explainAll prints the plan of each mix's main search statement, captured by running it
// through the store with a tracer that EXPLAINs the statement beginning WITH hits.
func explainAll(ctx context.Context, store *persistence.Store, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, wa persistence.WorkspaceAccess) error {
	for _, m := range mixes() {
		if m.q == "" {
			continue
		}
		q, err := persistence.ParseSearch(m.q)
		if err != nil {
			return err
		}
		sql, args, err := store.SearchSQL(ctx, wa, q, persistence.SearchOptions{Sort: m.sort, Limit: 21})
		if err != nil {
			return err
		}
		rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+sql, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		fmt.Printf("### %s: %s\n", m.name, m.q)
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			fmt.Println(line)
		}
		rows.Close()
		fmt.Println()
	}
	return nil
}

func dropDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}
