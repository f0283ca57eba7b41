package main

import (
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/parley-chat/parley/internal/pprofmux"
)

// servePprof serves net/http/pprof on addr from a mux of its own (never the default mux,
// so nothing else can expose it by accident) and returns the function that stops it. The
// harness uses it to profile its clients live: a heap or goroutine profile taken at the end
// of a run misses what the load looked like.
func servePprof(addr string) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	pprofmux.Register(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr(), func() { _ = srv.Close() }, nil
}

// harnessMemoryLimit bounds each harness process's heap when its GC runs rarely; a 50,000
// connection run has three worker processes of about 1 GiB live heap each.
const harnessMemoryLimit = 4 << 30

// harnessGC makes the harness's collector run less often. The harness is the instrument:
// at 10,000 users its heap (about 400 MB live, 20 MB/s allocated) was collected every 12–14
// s, each cycle taking the harness to 1.3 cores for half a second, and the seconds with a
// cycle were the ones whose P99 jumped from ~60 to ~250 ms (docs/BENCHMARKS.md, ADR 0012).
// A larger GOGC spaces the cycles out; the soft memory limit keeps a big run from growing
// without bound. An explicit $GOGC or $GOMEMLIMIT wins.
func harnessGC(percent int) {
	if percent > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(harnessMemoryLimit)
	}
}
