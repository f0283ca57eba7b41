// Package logtest records slog output, for tests that count what a component logs.
package logtest

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// Recorder is a slog.Handler that keeps every record at every level. Loggers derived with
// With share the recorder and add their attributes to each record; groups are ignored.
// The zero value is ready to use and safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

// Enabled reports true: a Recorder keeps every level.
func (r *Recorder) Enabled(context.Context, slog.Level) bool { return true }

// Handle keeps a clone: the caller may reuse the record after Handle returns.
func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

// WithAttrs returns a handler that records into r with as added to each record.
func (r *Recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r, slices.Clone(as)}
}

// WithGroup returns r: group names are not recorded.
func (r *Recorder) WithGroup(string) slog.Handler { return r }

// Records returns a copy of the records kept so far, in the order they were logged.
func (r *Recorder) Records() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]slog.Record, len(r.recs))
	for i, rec := range r.recs {
		out[i] = rec.Clone()
	}
	return out
}

// Messages returns the message of every record, in order.
func (r *Recorder) Messages() []string {
	var out []string
	for _, rec := range r.Records() {
		out = append(out, rec.Message)
	}
	return out
}

// Warnings returns the messages of the records at WARN or above, in order.
func (r *Recorder) Warnings() []string {
	var out []string
	for _, rec := range r.Records() {
		if rec.Level >= slog.LevelWarn {
			out = append(out, rec.Message)
		}
	}
	return out
}

// Count returns how many records have msg.
func (r *Recorder) Count(msg string) int {
	n := 0
	for _, rec := range r.Records() {
		if rec.Message == msg {
			n++
		}
	}
	return n
}

// CountAttr returns how many records have msg and an attribute key whose value prints as
// value.
func (r *Recorder) CountAttr(msg, key, value string) int {
	n := 0
	for _, rec := range r.Records() {
		if rec.Message != msg {
			continue
		}
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == key && a.Value.String() == value {
				n++
				return false
			}
			return true
		})
	}
	return n
}

// withAttrs is a Recorder seen through a logger's With attributes.
type withAttrs struct {
	*Recorder
	as []slog.Attr
}

func (w *withAttrs) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(w.as...)
	return w.Recorder.Handle(ctx, rec)
}

func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{w.Recorder, append(slices.Clone(w.as), as...)}
}

func (w *withAttrs) WithGroup(string) slog.Handler { return w }
