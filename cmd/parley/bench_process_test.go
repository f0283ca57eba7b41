package main

import (
	"io"
	"math"
	"net/http"
	"runtime/debug"
	"testing"
)

func TestHarnessGCSpacesCyclesUnlessTheEnvironmentSays(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	harnessGC(400)
	if got := debug.SetGCPercent(100); got != 400 {
		t.Fatalf("GOGC after harnessGC(400) = %d, want 400", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != harnessMemoryLimit {
		t.Fatalf("memory limit = %d, want %d", got, int64(harnessMemoryLimit))
	}

	t.Setenv("GOGC", "50") // an operator's setting wins (the runtime read it at start)
	t.Setenv("GOMEMLIMIT", "1GiB")
	harnessGC(400)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC with $GOGC set = %d, want it left alone (100)", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Fatalf("memory limit with $GOMEMLIMIT set = %d, want it left alone", got)
	}
}

func TestServePprofUsesItsOwnMux(t *testing.T) {
	addr, stop, err := servePprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/debug/pprof/goroutine?debug=1"); code != http.StatusOK || len(body) == 0 {
		t.Fatalf("goroutine profile: %d %q", code, body)
	}
	if code, _ := get("/"); code != http.StatusNotFound {
		t.Fatalf("GET / = %d, want 404: only /debug/pprof is served", code)
	}
	http.HandleFunc("/leak-check", func(http.ResponseWriter, *http.Request) {})
	if code, _ := get("/leak-check"); code != http.StatusNotFound {
		t.Fatalf("the default mux is served (GET /leak-check = %d)", code)
	}
}
