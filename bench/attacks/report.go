package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// figure is one outcome number of an attack round ("open at 15 s" 2000).
type figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// roundResult is one pair: a baseline round, then an attacked round.
type roundResult struct {
	Pair     int      `json:"pair"`
	Baseline window   `json:"baseline"`
	Attacked window   `json:"attacked"`
	Outcome  []figure `json:"outcome"`
	Notes    []string `json:"notes,omitempty"`
	// Node is the node process before and during the attack (child node only).
	NodeBefore *procSample `json:"nodeBefore,omitempty"`
	NodeMax    *procSample `json:"nodeMax,omitempty"`
}

// attackResult is every round of one attack and the pooled probe figures.
type attackResult struct {
	Name     string        `json:"name"`
	Promise  string        `json:"promise"`
	Skipped  string        `json:"skipped,omitempty"`
	Rounds   []roundResult `json:"rounds,omitempty"`
	Unloaded window        `json:"unloaded"`
	Attacked window        `json:"attacked"`
	P50Ratio float64       `json:"p50Ratio"`
	P99Ratio float64       `json:"p99Ratio"`
	Outcome  string        `json:"outcome"`
}

// report is the whole run.
type report struct {
	Command  string         `json:"command"`
	Date     string         `json:"date"`
	Commit   string         `json:"commit,omitempty"`
	Machine  string         `json:"machine"`
	Node     string         `json:"node"`
	LoadAvg  string         `json:"loadAvgAtStart,omitempty"`
	Settings map[string]any `json:"settings"`
	Attacks  []attackResult `json:"attacks"`
}

// finish pools the rounds and writes the outcome summary.
func (a *attackResult) finish() {
	var base, att []window
	for _, r := range a.Rounds {
		base = append(base, r.Baseline)
		att = append(att, r.Attacked)
	}
	a.Unloaded, a.Attacked = pool(base), pool(att)
	a.P50Ratio = ratio(a.Attacked.P50ms, a.Unloaded.P50ms)
	a.P99Ratio = ratio(a.Attacked.P99ms, a.Unloaded.P99ms)
	a.Outcome = summariseOutcome(a.Rounds)
}

// summariseOutcome lists each figure once, in the order of the first round, as one value
// when every round agrees and as min–max otherwise; then the distinct notes.
func summariseOutcome(rounds []roundResult) string {
	var order []string
	vals := map[string][]float64{}
	var notes []string
	for _, r := range rounds {
		for _, f := range r.Outcome {
			if _, ok := vals[f.Name]; !ok {
				order = append(order, f.Name)
			}
			vals[f.Name] = append(vals[f.Name], f.Value)
		}
		for _, n := range r.Notes {
			if !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
		}
	}
	parts := make([]string, 0, len(order)+len(notes))
	for _, name := range order {
		v := vals[name]
		lo, hi := slices.Min(v), slices.Max(v)
		if lo == hi {
			parts = append(parts, name+" "+num(lo))
		} else {
			parts = append(parts, name+" "+num(lo)+"–"+num(hi))
		}
	}
	return strings.Join(append(parts, notes...), "; ")
}

// num prints a figure with thousands separators and at most one decimal.
func num(v float64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	whole, frac, _ := strings.Cut(s, ".")
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	if frac != "" {
		whole += "." + frac
	}
	if neg {
		whole = "-" + whole
	}
	return whole
}

func msOrDash(v float64) string {
	if v == 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func ratioOrDash(v float64) string {
	if v == 0 {
		return "–"
	}
	return "×" + strconv.FormatFloat(v, 'f', 2, 64)
}

// writeTable writes the human table: one row per attack.
func writeTable(w io.Writer, r *report) {
	fmt.Fprintf(w, "date %s, commit %s, %s, node: %s\n", r.Date, r.Commit, r.Machine, r.Node)
	if r.LoadAvg != "" {
		fmt.Fprintf(w, "load average at start: %s\n", r.LoadAvg)
	}
	fmt.Fprintf(w, "command: %s\n\n", r.Command)
	fmt.Fprintln(w, "| attack | outcome | probe P50 ms unloaded → attacked | ratio | probe P99 ms unloaded → attacked | ratio | probe sent / errors / missing (attacked) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, a := range r.Attacks {
		if a.Skipped != "" {
			fmt.Fprintf(w, "| %s | skipped: %s | | | | | |\n", a.Name, a.Skipped)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s → %s | %s | %s → %s | %s | %d / %d%s / %d |\n", a.Name, a.Outcome,
			msOrDash(a.Unloaded.P50ms), msOrDash(a.Attacked.P50ms), ratioOrDash(a.P50Ratio),
			msOrDash(a.Unloaded.P99ms), msOrDash(a.Attacked.P99ms), ratioOrDash(a.P99Ratio),
			a.Attacked.Sent, a.Attacked.Errors, codes(a.Attacked.ErrorCodes), a.Attacked.Missing)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "per pair, probe P50 ms baseline → attacked:")
	for _, a := range r.Attacks {
		if a.Skipped != "" {
			continue
		}
		var ps []string
		for _, rr := range a.Rounds {
			ps = append(ps, msOrDash(rr.Baseline.P50ms)+" → "+msOrDash(rr.Attacked.P50ms))
		}
		fmt.Fprintf(w, "  %s: %s\n", a.Name, strings.Join(ps, ", "))
	}
}

func codes(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func writeJSON(w io.Writer, r *report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
