package bench

import (
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"strings"
	"time"
)

// ResumeReport is how the clients came through the loss of their node (issue 27, ADR
// 0048): how many resumed, how long it took, what was not sent meanwhile, and the share of
// deliveries that crossed nodes.
type ResumeReport struct {
	Enabled bool `json:"enabled"`
	// Drops are connections that ended unasked; Resumed came back with since-seq; Unresumed
	// did not within the policy's GiveUp or the drain (a FAILURE).
	Drops          int64 `json:"drops"`
	Resumed        int64 `json:"resumed"`
	Unresumed      int64 `json:"unresumed"`
	Attempts       int64 `json:"attempts"`
	FailedAttempts int64 `json:"failedAttempts"`
	// TimeToResume is from a client seeing its connection end to its every SUBSCRIBE's
	// RECEIPT on the new node.
	TimeToResume Percentiles `json:"timeToResume"`
	// SkippedDisconnected are sends not made because the sender had no connection;
	// Unacked are sends whose connection ended before their RECEIPT (not losses: only
	// acknowledged messages must arrive).
	SkippedDisconnected int64 `json:"skippedDisconnected"`
	Unacked             int64 `json:"unacked"`
	// CrossNode of CrossNode+SameNode deliveries had a sender on another node than the
	// receiver's.
	CrossNode      int64   `json:"crossNode"`
	SameNode       int64   `json:"sameNode"`
	CrossNodeShare float64 `json:"crossNodeShare"`
	// FaultAt is when the harness signalled a node (spawned nodes); AllResumedSeconds is
	// from then (else from the first drop) to the last resume.
	FaultAt           time.Time   `json:"faultAt,omitzero"`
	AllResumedSeconds float64     `json:"allResumedSeconds,omitempty"`
	Probe             Percentiles `json:"probe,omitzero"`
	// ProbeBefore and ProbeAfter split the probe's deliveries at the first drop: sent
	// before it (the reference) and from it on (the storm and after).
	ProbeBefore Percentiles      `json:"probeBefore,omitzero"`
	ProbeAfter  Percentiles      `json:"probeAfter,omitzero"`
	Errors      map[string]int64 `json:"errors,omitempty"`
}

// combineResume folds the workers' resume figures into rep.Resume.
func (r *runner) combineResume(rep *Report) {
	rr := &ResumeReport{Enabled: !r.cfg.NoResume, FaultAt: r.faultAt}
	lat, probe, before, after := newHist(), newHist(), newHist(), newHist()
	var firstDrop, lastResumed time.Time
	for _, res := range r.results {
		s := res.Resume
		rr.Drops += s.Drops
		rr.Resumed += s.Resumed
		rr.Unresumed += s.Unresumed
		rr.Attempts += s.Attempts
		rr.FailedAttempts += s.FailedAttempts
		rr.SkippedDisconnected += s.SkippedDisconnected
		rr.Unacked += s.Unacked
		rr.CrossNode += s.CrossNode
		rr.SameNode += s.SameNode
		rr.Errors = mergeTally(rr.Errors, s.Errors)
		if err := mergeEncoded(lat, s.Time); err != nil {
			rep.Failures = append(rep.Failures, fmt.Sprintf("worker %d: %v", res.Worker, err))
		}
		for _, pair := range []struct {
			dst *hdr.Histogram
			src string
		}{{before, s.ProbeBefore}, {after, s.ProbeAfter}} {
			if err := mergeEncoded(pair.dst, pair.src); err != nil {
				rep.Failures = append(rep.Failures, fmt.Sprintf("worker %d: %v", res.Worker, err))
			}
		}
		if err := mergeEncoded(probe, s.Probe); err != nil {
			rep.Failures = append(rep.Failures, fmt.Sprintf("worker %d: %v", res.Worker, err))
		}
		if !s.FirstDrop.IsZero() && (firstDrop.IsZero() || s.FirstDrop.Before(firstDrop)) {
			firstDrop = s.FirstDrop
		}
		if s.LastResumed.After(lastResumed) {
			lastResumed = s.LastResumed
		}
	}
	rr.TimeToResume = percentilesOf(lat)
	rr.Probe = percentilesOf(probe)
	rr.ProbeBefore, rr.ProbeAfter = percentilesOf(before), percentilesOf(after)
	if n := rr.CrossNode + rr.SameNode; n > 0 {
		rr.CrossNodeShare = float64(rr.CrossNode) / float64(n)
	}
	from := firstDrop
	if !r.faultAt.IsZero() {
		from = r.faultAt
	}
	if !from.IsZero() && !lastResumed.IsZero() && rr.Unresumed == 0 {
		rr.AllResumedSeconds = lastResumed.Sub(from).Seconds()
	}
	rep.Resume = rr
	if rr.Enabled && rr.Unresumed > 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("%d of %d dropped clients did not resume", rr.Unresumed, rr.Drops))
	}
}

func (rr *ResumeReport) summary() string {
	var b strings.Builder
	if rr.Drops > 0 || rr.Resumed > 0 {
		fmt.Fprintf(&b, "resume    %d dropped, %d resumed with since-seq (%d attempts, %d failed), %d not resumed; time to resume %s\n",
			rr.Drops, rr.Resumed, rr.Attempts, rr.FailedAttempts, rr.Unresumed, rr.TimeToResume)
		fmt.Fprintf(&b, "          %d sends skipped while disconnected, %d unacknowledged when their connection ended (not losses)", rr.SkippedDisconnected, rr.Unacked)
		if rr.AllResumedSeconds > 0 {
			since := "the first drop"
			if !rr.FaultAt.IsZero() {
				since = "the fault"
			}
			fmt.Fprintf(&b, "; all resumed %.2fs after %s", rr.AllResumedSeconds, since)
		}
		b.WriteString("\n")
		for _, e := range topKinds(rr.Errors, 3) {
			fmt.Fprintf(&b, "          ! %s\n", e)
		}
	}
	if n := rr.CrossNode + rr.SameNode; n > 0 {
		fmt.Fprintf(&b, "nodes     %.1f%% of %d deliveries crossed nodes (sender's node ≠ receiver's)\n", 100*rr.CrossNodeShare, n)
	}
	if rr.Probe.Count > 0 {
		fmt.Fprintf(&b, "probe     send→deliver of the survivor's normal client, whole run: %s\n", rr.Probe)
		fmt.Fprintf(&b, "          sent before the first drop: %s\n          sent from it on:            %s\n", rr.ProbeBefore, rr.ProbeAfter)
		if rr.ProbeBefore.P99 > 0 && rr.ProbeAfter.Count > 0 {
			fmt.Fprintf(&b, "          P99 from the first drop on / before it: %.2f\n", rr.ProbeAfter.P99/rr.ProbeBefore.P99)
		}
	}
	return b.String()
}
