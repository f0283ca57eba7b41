package persistence_test

import (
	"os"
	"testing"

	"github.com/parley-chat/parley/persistence/pgtest"
)

// TestMain stops the primary the replica tests share (pgtest.SharedPrimary), if any started.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}
