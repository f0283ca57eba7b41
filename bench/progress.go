package bench

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is the bar on stderr: one bar per phase (setup, connect, run), replaced as the
// run moves on. A nil writer or quiet run draws nothing.
type progress struct {
	mu  sync.Mutex
	w   io.Writer
	off bool
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, off: quiet || w == nil || w == io.Discard}
}

// phase finishes the current bar and starts one counting to total (-1: a spinner).
func (p *progress) phase(desc string, total int64) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		_, _ = io.WriteString(p.w, "\n")
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(28),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
}

func (p *progress) add(n int64) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Add64(n)
	}
}

func (p *progress) set(n int64, desc string) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		if desc != "" {
			p.bar.Describe(desc)
		}
		_ = p.bar.Set64(n)
	}
}

// done finishes the last bar and ends its line.
func (p *progress) done() {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		_, _ = io.WriteString(p.w, "\n")
		p.bar = nil
	}
}
