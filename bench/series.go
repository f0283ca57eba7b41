package bench

import (
	"sort"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// SeriesPoint is one second of the run over all workers: what happened in it and the
// latencies of the deliveries and receipts that arrived in it.
type SeriesPoint struct {
	// Second k covers [k-1, k) seconds after the start.
	Second  int         `json:"second"`
	Phase   string      `json:"phase"` // warmup | run | drain
	Counts  Counts      `json:"counts"`
	Deliver Percentiles `json:"deliver"`
	Receipt Percentiles `json:"receipt"`
}

// seriesAcc merges the workers' ticks into seconds.
type seriesAcc struct {
	mu      sync.Mutex
	slots   map[int]*seriesSlot
	connect *hdr.Histogram
}

type seriesSlot struct {
	counts           Counts
	deliver, receipt *hdr.Histogram
	workers          int
}

func newSeriesAcc() *seriesAcc {
	return &seriesAcc{slots: make(map[int]*seriesSlot), connect: newHist()}
}

func (s *seriesAcc) mergeConnect(enc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = mergeEncoded(s.connect, enc)
}

func (s *seriesAcc) addTick(_ int, t *Tick) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slots[t.Second]
	if sl == nil {
		sl = &seriesSlot{deliver: newHist(), receipt: newHist()}
		s.slots[t.Second] = sl
	}
	sl.counts.add(t.Counts)
	sl.workers++
	if err := mergeEncoded(sl.deliver, t.Deliver); err != nil {
		return err
	}
	return mergeEncoded(sl.receipt, t.Receipt)
}

// latest is the newest second every worker has reported, for the progress bar.
func (s *seriesAcc) latest(workers int) (int, *SeriesPoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := 0
	for sec, sl := range s.slots {
		if sl.workers >= workers && sec > best {
			best = sec
		}
	}
	if best == 0 {
		return 0, nil
	}
	sl := s.slots[best]
	return best, &SeriesPoint{Second: best, Counts: sl.counts, Deliver: percentilesOf(sl.deliver)}
}

// points returns the whole series in order, each second labelled with its phase.
func (s *seriesAcc) points(warmup, duration time.Duration) []SeriesPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SeriesPoint, 0, len(s.slots))
	for sec, sl := range s.slots {
		phase := "drain"
		switch at := time.Duration(sec) * time.Second; {
		case at <= warmup:
			phase = "warmup"
		case at <= warmup+duration:
			phase = "run"
		}
		out = append(out, SeriesPoint{Second: sec, Phase: phase, Counts: sl.counts,
			Deliver: percentilesOf(sl.deliver), Receipt: percentilesOf(sl.receipt)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Second < out[j].Second })
	return out
}
