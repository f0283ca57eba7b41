package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// span is one round's time: probe messages sent in [from, to) belong to it.
type span struct{ from, to time.Time }

// measure sets up the world, starts the probe and runs every selected attack's rounds,
// appending to rep.Attacks. The probe's windows are summarised only at the end, so that
// the deliveries of every round's last messages are in.
func measure(ctx context.Context, t *target, o options, rep *report, progress io.Writer) error {
	selected, err := selectAttacks(o.attacks)
	if err != nil {
		return err
	}
	rep.Settings = map[string]any{
		"pairs": o.pairs, "round": o.round.String(), "settle": o.settle.String(), "probeInterval": o.probeInterval.String(),
		"attackerAddr": o.attackerAddr, "sockets": o.sockets, "idleChecks": fmt.Sprint(o.idleChecks),
		"slowConns": o.slowConns, "slowHold": o.slowHold.String(), "seed": o.seed, "replaySubs": o.replaySubs, "resendRate": o.resendRate, "workers": o.workers, "attackerProc": o.attackerProc,
	}
	setupStart := time.Now()
	w, err := newWorld(ctx, t, o.seed, probeSenders(o.probeInterval))
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(progress, "setup: %.1f s (seeded %d messages)\n", time.Since(setupStart).Seconds(), w.seededCount)
	e, err := newEnv(t, w, o)
	if err != nil {
		return err
	}
	p, err := startProbe(ctx, t, w, o.probeInterval)
	if err != nil {
		return err
	}
	defer p.close()
	if !sleepCtx(ctx, o.settle) { // the probe's first messages open the channel's actor
		return ctx.Err()
	}
	type pending struct {
		result      *attackResult
		base, under []span
	}
	var all []pending
	for _, a := range selected {
		res := &attackResult{Name: a.name, Promise: a.promise}
		pd := pending{result: res}
		if a.skip != nil {
			if why := a.skip(e); why != "" {
				res.Skipped = why
				all = append(all, pd)
				fmt.Fprintf(progress, "%s: skipped: %s\n", a.name, why)
				continue
			}
		}
		for pair := 1; pair <= o.pairs && ctx.Err() == nil; pair++ {
			b := span{from: time.Now()}
			sleepCtx(ctx, o.round)
			b.to = time.Now()
			before, _ := sampleProc(t.pid)
			watch := watchProc(t.pid, 250*time.Millisecond)
			u := span{from: time.Now()}
			figs, notes := runAttack(ctx, a, e, o.round)
			u.to = time.Now()
			rr := roundResult{Pair: pair, Outcome: figs, Notes: notes, NodeMax: watch.end()}
			if rr.NodeMax != nil {
				rr.NodeBefore = &before
			}
			if rr.NodeMax != nil && a.nodeFigures {
				rr.Outcome = append(rr.Outcome,
					figure{"node fds before", float64(before.FDs)}, figure{"node fds max", float64(rr.NodeMax.FDs)},
					figure{"node RSS MiB before", before.RSSMiB}, figure{"node RSS MiB max", rr.NodeMax.RSSMiB})
			}
			res.Rounds = append(res.Rounds, rr)
			pd.base, pd.under = append(pd.base, b), append(pd.under, u)
			fmt.Fprintf(progress, "%s pair %d: %s (%.1f s)\n", a.name, pair, summariseOutcome([]roundResult{rr}), u.to.Sub(u.from).Seconds())
			sleepCtx(ctx, o.settle)
		}
		all = append(all, pd)
	}
	// The last round's messages: the RECEIPT timeout is the longest any may take to count.
	sleepCtx(ctx, min(receiptTimeout, max(o.settle, time.Second)))
	for _, pd := range all {
		for i := range pd.result.Rounds {
			pd.result.Rounds[i].Baseline = p.window(pd.base[i].from, pd.base[i].to)
			pd.result.Rounds[i].Attacked = p.window(pd.under[i].from, pd.under[i].to)
		}
		if pd.result.Skipped == "" {
			pd.result.finish()
		}
		rep.Attacks = append(rep.Attacks, *pd.result)
	}
	return ctx.Err()
}
