// Package pprofmux registers net/http/pprof's handlers on a mux of the caller's, never on
// http.DefaultServeMux, so that nothing else can expose them by accident.
package pprofmux

import (
	"net/http"
	"net/http/pprof"
)

// Register serves /debug/pprof/ (and its cmdline, profile, symbol and trace endpoints) on mux.
func Register(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
