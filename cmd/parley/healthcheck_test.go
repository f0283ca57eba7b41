package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHealthcheckExitsZeroOnlyOn200(t *testing.T) {
	code := http.StatusOK
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
	}))
	defer ts.Close()
	if got := runHealthcheck([]string{"--url", ts.URL + "/readyz"}); got != 0 {
		t.Fatalf("200: exit %d", got)
	}
	code = http.StatusServiceUnavailable
	if got := runHealthcheck([]string{"--url", ts.URL + "/readyz"}); got != 1 {
		t.Fatalf("503: exit %d", got)
	}
	if err := healthcheck("http://127.0.0.1:1/readyz", time.Second); err == nil {
		t.Fatal("nothing listening: no error")
	}
}
