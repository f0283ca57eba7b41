package main

import (
	"fmt"
	"slices"
	"strings"
)

// summarize is the runs' table (Markdown) and each mode's medians, with the per-round
// ratio cluster/single of Redis CPU per message: rounds are interleaved, so each ratio
// compares two runs minutes apart on the same machine.
func summarize(o options, results []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d nodes, %d connections, %d channels, %d senders × %g msg/s, %s measured after %s warmup\n\n",
		o.nodes, o.connections, o.channels, o.senders, o.rate, o.duration, o.warmup)
	b.WriteString("| round | mode | load avg | acks/s | deliveries/s | lost/dup/reord | cross-node | Redis idle CPU ms/s (all / masters) | Redis CPU µs/msg (all / masters) | above idle µs/msg (all / masters) | µs/delivery (all) | calls/msg | calls/delivery | bytes/msg | top calls/msg | bus remote/msg | p99 deliver |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	per := map[string]map[string][]float64{}
	add := func(mode, k string, v float64) {
		if per[mode] == nil {
			per[mode] = map[string][]float64{}
		}
		per[mode][k] = append(per[mode][k], v)
	}
	byRound := map[int]map[string]float64{}
	for _, r := range results {
		rep := r.Report
		if rep == nil || rep.Redis == nil {
			fmt.Fprintf(&b, "| %d | %s | — | error: %s |\n", r.Round, r.Mode, r.Error)
			continue
		}
		rr, ck := rep.Redis, rep.Check
		msgs := float64(rr.Bus.Published)
		marg := func(t float64, idle float64) float64 { return (t - idle*rr.Window) * 1e6 / msgs }
		mAll, mM := marg(rr.All.CPUSeconds, r.IdleAll), marg(rr.Masters.CPUSeconds, r.IdleMasters)
		fmt.Fprintf(&b, "| %d | %s | %.1f→%.1f | %.0f | %.0f | %d/%d/%d | %.1f%% | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f | %.2f | %.2f | %.3f | %.0f | %s | %.2f | %.1f ms |\n",
			r.Round, r.Mode, rep.Machine.LoadAvgStart, rep.Machine.LoadAvgEnd, rep.Run.AcksPerSec, rep.Run.DeliveriesPerSec,
			ck.Lost, ck.Duplicated, ck.Reordered, 100*rr.CrossNode.Share, 1e3*r.IdleAll, 1e3*r.IdleMasters,
			rr.All.CPUMicrosPerMessage, rr.Masters.CPUMicrosPerMessage, mAll, mM, rr.All.CPUMicrosPerDelivery,
			rr.All.CallsPerMessage, rr.All.CallsPerDelivery, rr.All.NetBytesPerMessage,
			topPerMsg(rr.All.ByCommand, msgs), rr.Bus.RemotePerPublished(), rep.Latency.Deliver.P99)
		if r.Error != "" {
			// A failed run's figures are shown, not counted in the medians and ratios.
			fmt.Fprintf(&b, "| | | ! %s |\n", r.Error)
			continue
		}
		add(r.Mode, "cpu", rr.All.CPUMicrosPerMessage)
		add(r.Mode, "cpuM", rr.Masters.CPUMicrosPerMessage)
		add(r.Mode, "cpuD", rr.All.CPUMicrosPerDelivery)
		add(r.Mode, "marg", mAll)
		add(r.Mode, "margM", mM)
		add(r.Mode, "calls", rr.All.CallsPerMessage)
		add(r.Mode, "callsM", rr.Masters.CallsPerMessage)
		add(r.Mode, "callsD", rr.All.CallsPerDelivery)
		add(r.Mode, "bytes", rr.All.NetBytesPerMessage)
		add(r.Mode, "bytesM", rr.Masters.NetBytesPerMessage)
		add(r.Mode, "bytesD", rr.All.NetBytesPerDelivery)
		if byRound[r.Round] == nil {
			byRound[r.Round] = map[string]float64{}
		}
		byRound[r.Round][r.Mode] = rr.All.CPUMicrosPerMessage
		byRound[r.Round][r.Mode+"M"] = rr.Masters.CPUMicrosPerMessage
		byRound[r.Round][r.Mode+"X"] = mAll
	}
	b.WriteString("\nmedians per mode:\n\n| mode | Redis CPU µs/msg all (masters) | above idle µs/msg all (masters) | µs/delivery | calls/msg all (masters) | calls/delivery | bytes/msg all (masters) | bytes/delivery |\n|---|---|---|---|---|---|---|---|\n")
	for _, m := range []string{"single", "cluster"} {
		v := per[m]
		if v == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f (%.1f) | %.1f (%.1f) | %.2f | %.2f (%.2f) | %.3f | %.0f (%.0f) | %.1f |\n", m, median(v["cpu"]), median(v["cpuM"]), median(v["marg"]), median(v["margM"]), median(v["cpuD"]),
			median(v["calls"]), median(v["callsM"]), median(v["callsD"]), median(v["bytes"]), median(v["bytesM"]), median(v["bytesD"]))
	}
	var ratios, ratiosM, ratiosX []string
	for round := o.firstRound; round < o.firstRound+o.rounds; round++ {
		x := byRound[round]
		if x == nil || x["single"] == 0 || x["cluster"] == 0 {
			continue
		}
		ratios = append(ratios, fmt.Sprintf("%.2f", x["cluster"]/x["single"]))
		ratiosM = append(ratiosM, fmt.Sprintf("%.2f", x["clusterM"]/x["singleM"]))
		ratiosX = append(ratiosX, fmt.Sprintf("%.2f", x["clusterX"]/x["singleX"]))
	}
	fmt.Fprintf(&b, "\nRedis CPU per message, cluster / single, per round: all processes %s; masters only %s; above idle (all) %s\n",
		strings.Join(ratios, ", "), strings.Join(ratiosM, ", "), strings.Join(ratiosX, ", "))
	return b.String()
}

// topPerMsg lists the three most called commands per message.
func topPerMsg(m map[string]int64, msgs float64) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	slices.SortFunc(all, func(a, b kv) int { return int(b.v - a.v) })
	var out []string
	for i, e := range all {
		if i == 3 || msgs == 0 {
			break
		}
		out = append(out, fmt.Sprintf("%s %.2f", e.k, float64(e.v)/msgs))
	}
	return strings.Join(out, ", ")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
