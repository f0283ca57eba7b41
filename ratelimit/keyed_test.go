package ratelimit

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestKeyedAllowsBurstThenRetryAfter(t *testing.T) {
	k, err := New[string](2, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := k.AllowAt("a", 1, now); !ok {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	ok, wait := k.AllowAt("a", 1, now)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("past the burst: ok=%v wait=%v, want refused with 500ms", ok, wait)
	}
	if ok, _ := k.AllowAt("b", 1, now); !ok {
		t.Fatal("another key was limited by the first one's bucket")
	}
	if ok, _ := k.AllowAt("a", 1, now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after the refill it was told to wait for")
	}
	if ok, wait := k.AllowAt("a", 4, now.Add(time.Hour)); ok || wait < time.Hour {
		t.Fatalf("more than the burst at once: ok=%v wait=%v, want never", ok, wait)
	}
}

// A bucket that has filled up again is dropped, and the store never holds more than
// MaxKeys buckets however many keys pass through it.
func TestKeyedMemoryIsBounded(t *testing.T) {
	k, err := New[int](10, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for i := range 10_000 {
		k.AllowAt(i, 1, now)
		if n := k.Len(); n > 100 {
			t.Fatalf("%d buckets held after %d keys, cap 100", n, i+1)
		}
	}
	k.AllowAt(-1, 1, now.Add(2*time.Second)) // every other bucket is full again
	if n := k.Len(); n != 1 {
		t.Fatalf("%d buckets held after the others refilled, want 1", n)
	}
	// A bucket not yet full again survives a sweep: dropping it would reset the limit.
	k, err = New[int](1, 10, 100) // refills in 10 s, swept every 10 s
	if err != nil {
		t.Fatal(err)
	}
	k.AllowAt(1, 1, now) // sweeps, next sweep at +10 s
	k.AllowAt(2, 10, now.Add(5*time.Second))
	k.AllowAt(3, 1, now.Add(10100*time.Millisecond)) // sweeps: 2 holds 5.1 tokens
	if k.Len() != 2 {
		t.Fatalf("%d buckets after the sweep, want 2 (the refilled one dropped)", k.Len())
	}
	if ok, _ := k.AllowAt(2, 6, now.Add(10100*time.Millisecond)); ok {
		t.Fatal("a bucket not yet refilled was dropped by the sweep")
	}
}

func TestNewRejectsBadLimits(t *testing.T) {
	for _, c := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {1, 0}} {
		if _, err := New[int](c.rate, c.burst, 0); err == nil {
			t.Errorf("New(%g, %d) accepted", c.rate, c.burst)
		}
	}
}

func TestNewCounterShared(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := NewCounter(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewCounter(reg)
	if err != nil {
		t.Fatal(err)
	}
	a.WithLabelValues("x").Inc()
	b.WithLabelValues("x").Inc()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetMetric()[0].GetCounter().GetValue() != 2 {
		t.Fatalf("second counter not shared: %v", mfs)
	}
}
