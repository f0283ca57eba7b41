package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// actors/actorsystem.go sets concurrent-map's package variable SHARD_COUNT to 1 to shrink
// protoactor's process registry (ADR 0029). That is sound only while protoactor is the
// package's one user in the binary: a new importer would get one-shard maps unknowingly.
func TestConcurrentMapHasOnlyProtoactorAsUser(t *testing.T) {
	const cmap = "github.com/orcaman/concurrent-map"
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	users := 0
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		for _, imp := range p.Imports {
			if imp != cmap && !strings.HasPrefix(imp, cmap+"/") {
				continue
			}
			if p.ImportPath == module+"/actors" {
				continue // the setter, actors/actorsystem.go
			}
			users++
			if !strings.HasPrefix(p.ImportPath, "github.com/asynkron/protoactor-go/") {
				t.Errorf("%s imports %s, whose SHARD_COUNT the node sets to 1 for protoactor (ADR 0029)", p.ImportPath, imp)
			}
		}
	}
	if users == 0 {
		t.Fatalf("nothing imports %s: drop the SHARD_COUNT setting in actors/actorsystem.go", cmap)
	}
}
