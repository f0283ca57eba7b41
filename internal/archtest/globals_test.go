package archtest

import (
	"strings"
	"testing"
)

// actors/actorsystem.go sets concurrent-map's package variable SHARD_COUNT to 1 to shrink
// protoactor's process registry (ADR 0029). That is sound only while protoactor is the
// package's one user in the binary: a new importer would get one-shard maps unknowingly.
func TestConcurrentMapHasOnlyProtoactorAsUser(t *testing.T) {
	const cmap = "github.com/orcaman/concurrent-map"
	users := 0
	for path, imports := range listImports(t, true) {
		for _, imp := range imports {
			if imp != cmap && !strings.HasPrefix(imp, cmap+"/") {
				continue
			}
			if path == module+"/actors" {
				continue // the setter, actors/actorsystem.go
			}
			users++
			if !strings.HasPrefix(path, "github.com/asynkron/protoactor-go/") {
				t.Errorf("%s imports %s, whose SHARD_COUNT the node sets to 1 for protoactor (ADR 0029)", path, imp)
			}
		}
	}
	if users == 0 {
		t.Fatalf("nothing imports %s: drop the SHARD_COUNT setting in actors/actorsystem.go", cmap)
	}
}
