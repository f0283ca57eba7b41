package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// CompareConfig adds references to a run (ADR 0047): every figure of parley is printed as a
// ratio against a reference measured in the same invocation, in interleaved rounds.
type CompareConfig struct {
	// Rounds is how many rounds of each system run. Default 3.
	Rounds int
	// Peer is the server compared against on the same workload: "centrifugo" or "" (none).
	Peer string
	// CentrifugoPath is the centrifugo binary. Default: FindCentrifugo's search.
	CentrifugoPath string
	// Floor measures PostgreSQL's own commit latency for the append at the run's rate, on the
	// server of Config.DatabaseURL (required with it).
	Floor bool
	// FloorClients is how many connections the floor spreads its channels over. Default:
	// one per channel, at most 16 (the node's default pool).
	FloorClients int
}

// Comparison is what Compare measured.
type Comparison struct {
	Command  string         `json:"command,omitempty"`
	Date     string         `json:"date"`
	Machine  Machine        `json:"machine"`
	Config   ConfigSummary  `json:"config"`
	Rounds   []CompareRound `json:"rounds"`
	Notes    []string       `json:"notes"`
	Failures []string       `json:"failures,omitempty"`
}

// CompareRound is one round: each system once, in the round's order.
type CompareRound struct {
	Order   []string       `json:"order"`
	LoadAvg [2]float64     `json:"loadAvg"` // 1-minute, at the round's start and end
	Parley  *ParleyFigures `json:"parley,omitempty"`
	Peer    *PeerRound     `json:"peer,omitempty"`
	Floor   *FloorRound    `json:"floor,omitempty"`
}

// ParleyFigures are the parley round's figures the comparison reads.
type ParleyFigures struct {
	Deliver          Percentiles `json:"sendToDeliver"`
	Receipt          Percentiles `json:"sendToReceipt"`
	SendsPerSec      float64     `json:"sendsPerSec"`
	DeliveriesPerSec float64     `json:"deliveriesPerSec"`
	Lost             int64       `json:"lost"`
	Duplicated       int64       `json:"duplicated"`
	Connected        int         `json:"connected"`
	RSSPerConn       float64     `json:"rssPerConnectionBytes"`
	HeapStackPerConn float64     `json:"heapStackPerConnectionBytes"`
	ServerCPU        float64     `json:"serverCpuSeconds"`
	Failures         []string    `json:"failures,omitempty"`
}

const (
	sysParley = "parley"
	sysFloor  = "pg-floor"
)

// Compare runs cfg's workload against the parley nodes and the references of cc, round by
// round, alternating the order (A B C, then C B A) so that a drift of the machine's speed
// during the run falls on every system alike. A missing centrifugo skips the peer with a
// note rather than failing the run.
func Compare(ctx context.Context, cfg Config, cc CompareConfig) (*Comparison, error) {
	dc, _, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if cc.Rounds == 0 {
		cc.Rounds = 3
	}
	out := dc.Out
	cmp := &Comparison{Command: dc.Command, Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(),
		Config: newReport(&dc, "").Config}
	if err := validateCompare(&dc, &cc); err != nil {
		return nil, err
	}
	systems := []string{sysParley}
	var bin string
	if cc.Peer != "" {
		bin, err = FindCentrifugo(cc.CentrifugoPath)
		switch {
		case errors.Is(err, ErrNoCentrifugo):
			msg := "peer skipped: " + err.Error()
			fmt.Fprintln(out, msg)
			cmp.Notes = append(cmp.Notes, msg)
		case err != nil:
			return nil, err
		default:
			systems = append(systems, cc.Peer)
			cmp.Notes = append(cmp.Notes, "Centrifugo keeps no message (in-memory broker, no history): its latency "+
				"has no PostgreSQL commit in it; parley persists every message before delivering it")
		}
	}
	var floor *pgFloor
	if cc.Floor {
		if cc.FloorClients == 0 {
			cc.FloorClients = min(max(1, dc.Channels), 16)
		}
		if floor, err = openFloor(ctx, dc.DatabaseURL, dc.Channels, cc.FloorClients); err != nil {
			return nil, err
		}
		defer floor.close()
		systems = append(systems, sysFloor)
	}
	// The parley rounds run with the caller's Config (Run applies the defaults itself) and
	// write nothing of their own: the comparison prints one line per system and round.
	pc := cfg
	pc.Out, pc.JSONPath, pc.PlotPath = io.Discard, "", ""
	for i := range cc.Rounds {
		order := slices.Clone(systems)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		rd := CompareRound{Order: order}
		rd.LoadAvg[0] = loadAvg()
		for _, sys := range order {
			switch sys {
			case sysParley:
				rep, err := Run(ctx, pc)
				if rep == nil {
					return cmp, fmt.Errorf("round %d, parley: %w", i+1, err)
				}
				rd.Parley = parleyFigures(rep)
				fmt.Fprintf(out, "round %d  %-10s %s\n", i+1, sys, rd.Parley.line())
			case sysFloor:
				if rd.Floor, err = floor.run(ctx, &dc); err != nil {
					return cmp, fmt.Errorf("round %d, pg floor: %w", i+1, err)
				}
				fmt.Fprintf(out, "round %d  %-10s %s\n", i+1, sys, rd.Floor.line())
			default:
				if rd.Peer, err = runPeerRound(ctx, &dc, bin); err != nil {
					return cmp, fmt.Errorf("round %d, %s: %w", i+1, sys, err)
				}
				fmt.Fprintf(out, "round %d  %-10s %s\n", i+1, sys, rd.Peer.line())
			}
		}
		rd.LoadAvg[1] = loadAvg()
		cmp.Rounds = append(cmp.Rounds, rd)
	}
	cmp.Machine.LoadAvgEnd = loadAvg()
	cmp.judge()
	fmt.Fprint(out, cmp.Summary())
	if p := dc.JSONPath; p != "" {
		b, err := json.MarshalIndent(cmp, "", "  ")
		if err != nil {
			return cmp, err
		}
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			return cmp, fmt.Errorf("--json: %w", err)
		}
	}
	if len(cmp.Failures) > 0 {
		return cmp, fmt.Errorf("%w: %s", ErrFailed, cmp.Failures[0])
	}
	return cmp, nil
}

func validateCompare(c *Config, cc *CompareConfig) error {
	var errs []error
	if cc.Rounds < 1 {
		errs = append(errs, fmt.Errorf("--rounds %d: want at least 1", cc.Rounds))
	}
	if cc.Peer != "" && cc.Peer != "centrifugo" {
		errs = append(errs, fmt.Errorf("--peer %q: the only peer is centrifugo", cc.Peer))
	}
	if cc.Peer != "" && c.Scenario != "fanout" && c.Scenario != "connections" {
		errs = append(errs, fmt.Errorf("--peer: scenario %s has no peer workload (fanout and connections do)", c.Scenario))
	}
	if cc.Floor && c.DatabaseURL == "" {
		errs = append(errs, errors.New("--pg-floor needs --db-url (the floor runs on the node's PostgreSQL server)"))
	}
	if cc.Floor && c.Senders == 0 {
		errs = append(errs, errors.New("--pg-floor needs senders"))
	}
	if cc.FloorClients < 0 {
		errs = append(errs, fmt.Errorf("--floor-clients %d: must not be negative", cc.FloorClients))
	}
	return errors.Join(errs...)
}

func parleyFigures(rep *Report) *ParleyFigures {
	p := &ParleyFigures{Deliver: rep.Latency.Deliver, Receipt: rep.Latency.Receipt, SendsPerSec: rep.Run.SendsPerSec,
		DeliveriesPerSec: rep.Run.DeliveriesPerSec, Lost: rep.Check.Lost, Duplicated: rep.Check.Duplicated,
		Connected: rep.Connect.Connected, Failures: rep.Failures}
	var rss, hs float64
	var conns int
	for _, n := range rep.Server {
		if n.Connected != nil && n.Before != nil {
			rss += n.Connected["process_resident_memory_bytes"] - n.Before["process_resident_memory_bytes"]
			hs += heapStackPerConn(n, 1)
			conns += n.Connections
		}
	}
	if conns > 0 {
		p.RSSPerConn, p.HeapStackPerConn = rss/float64(conns), hs/float64(conns)
	}
	for _, c := range rep.Run.ServerCPU {
		p.ServerCPU += c
	}
	return p
}
