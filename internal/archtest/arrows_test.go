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

const module = "github.com/parley-chat/parley"

// core are the packages (and everything under them) that must not reach the transport,
// directly or through any other package of the module.
var core = []string{"actors", "persistence", "cluster", "internal", "ratelimit", "errcode", "integrations", "files"}

// allowed are edges into the transport that still exist, each to be deleted by the change
// that removes it. None is left.
var allowed = map[[2]string]bool{}

func TestCoreDoesNotImportTransport(t *testing.T) {
	imports := listImports(t, false)
	for pkg := range imports {
		if !under(pkg, core...) {
			continue
		}
		if path := pathToTransport(pkg, imports); path != nil {
			t.Errorf("%s reaches the transport: %s", rel(pkg), strings.Join(path, " -> "))
		}
	}
}

// pathToTransport is the shortest import chain from pkg to a package under transport/,
// through the module's own packages and skipping the allowed edges; nil when there is none.
func pathToTransport(pkg string, imports map[string][]string) []string {
	prev := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range imports[p] {
			if _, seen := prev[q]; seen || allowed[[2]string{p, q}] || !under(q, "") {
				continue
			}
			prev[q] = p
			if under(q, "transport") {
				var path []string
				for n := q; n != ""; n = prev[n] {
					path = append([]string{rel(n)}, path...)
				}
				return path
			}
			queue = append(queue, q)
		}
	}
	return nil
}

// listImports runs go list over the module: each package's non-test imports, and with deps
// those of every package the module's packages depend on as well.
func listImports(t *testing.T, deps bool) map[string][]string {
	t.Helper()
	args := []string{"list", "-json=ImportPath,Imports", module + "/..."}
	if deps {
		args = []string{"list", "-deps", "-json=ImportPath,Imports", module + "/..."}
	}
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	imports := map[string][]string{}
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
		imports[p.ImportPath] = p.Imports
	}
	if len(imports) < 10 {
		t.Fatalf("go list found %d packages; is the module path %s?", len(imports), module)
	}
	return imports
}

// under reports whether pkg is one of the module's dirs (or below one); "" is the module.
func under(pkg string, dirs ...string) bool {
	for _, d := range dirs {
		p := strings.TrimSuffix(module+"/"+d, "/")
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

func rel(pkg string) string { return strings.TrimPrefix(pkg, module+"/") }
