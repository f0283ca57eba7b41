package main

import (
	"math"
	"slices"
	"time"
)

// probeRecord is one probe message: when it was sent, acknowledged and delivered (zero:
// not yet), and why it failed if it did.
type probeRecord struct {
	sent, acked, delivered time.Time
	err                    string // ERROR code, "timeout", "closed", …; empty: no error
}

// window is the probe's figures over the messages sent in one span of time.
type window struct {
	Sent      int     `json:"sent"`
	Acked     int     `json:"acked"`
	Delivered int     `json:"delivered"`
	Errors    int     `json:"errors"`
	Missing   int     `json:"missing"` // acknowledged, never delivered
	P50ms     float64 `json:"p50Ms"`
	P99ms     float64 `json:"p99Ms"`
	MaxMs     float64 `json:"maxMs"`
	// ErrorCodes counts the errors by kind.
	ErrorCodes map[string]int `json:"errorCodes,omitempty"`

	lat []time.Duration // send → deliver of every delivered message, for pooling rounds
}

// summarise takes the records sent in [from, to) (one round).
func summarise(recs []probeRecord, from, to time.Time) window {
	var w window
	for _, r := range recs {
		if r.sent.Before(from) || !r.sent.Before(to) {
			continue
		}
		w.Sent++
		if !r.acked.IsZero() {
			w.Acked++
		}
		switch {
		case !r.delivered.IsZero():
			w.Delivered++
			w.lat = append(w.lat, r.delivered.Sub(r.sent))
		case r.err != "":
			w.Errors++
			if w.ErrorCodes == nil {
				w.ErrorCodes = map[string]int{}
			}
			w.ErrorCodes[r.err]++
		case !r.acked.IsZero():
			w.Missing++
		}
	}
	w.fillQuantiles()
	return w
}

// pool adds the rounds of one kind (every baseline, or every attacked round) together.
func pool(ws []window) window {
	var p window
	for _, w := range ws {
		p.Sent += w.Sent
		p.Acked += w.Acked
		p.Delivered += w.Delivered
		p.Errors += w.Errors
		p.Missing += w.Missing
		p.lat = append(p.lat, w.lat...)
		for k, v := range w.ErrorCodes {
			if p.ErrorCodes == nil {
				p.ErrorCodes = map[string]int{}
			}
			p.ErrorCodes[k] += v
		}
	}
	p.fillQuantiles()
	return p
}

func (w *window) fillQuantiles() {
	slices.Sort(w.lat)
	w.P50ms = ms(quantile(w.lat, 0.50))
	w.P99ms = ms(quantile(w.lat, 0.99))
	if n := len(w.lat); n > 0 {
		w.MaxMs = ms(w.lat[n-1])
	}
}

// quantile is the nearest-rank quantile of sorted durations (0 when there are none).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// ratio is attacked/unloaded rounded to two decimals; 0 when either is missing (JSON has
// no NaN).
func ratio(attacked, unloaded float64) float64 {
	if unloaded <= 0 || attacked <= 0 {
		return 0
	}
	return math.Round(attacked/unloaded*100) / 100
}
