package auth

import (
	"testing"
	"time"
)

func TestNoLeewayMeansExact(t *testing.T) {
	if got := (Config{NoLeeway: true, Leeway: 10 * time.Second}).withDefaults().Leeway; got != 0 {
		t.Fatalf("NoLeeway gave leeway %v", got)
	}
	if got := (Config{}).withDefaults().Leeway; got != DefaultLeeway {
		t.Fatalf("zero Leeway gave %v, want the default", got)
	}
}
