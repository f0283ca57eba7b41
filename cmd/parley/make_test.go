package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The Makefile and CI build with the Go release that fixes the standard library's known
// vulnerabilities (issue 21), and every .PHONY name is a target that exists.
func TestMakefilePinsToolchainAndNamesRealTargets(t *testing.T) {
	const toolchain = "go1.27.3"
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^export GOTOOLCHAIN \??= ?` + regexp.QuoteMeta(toolchain) + `$`).Match(mk) {
		t.Errorf("Makefile does not export GOTOOLCHAIN=%s", toolchain)
	}
	if !regexp.MustCompile(`(?m)^export GOTOOLCHAIN=` + regexp.QuoteMeta(toolchain) + `$`).Match(ci) {
		t.Errorf(".ci/run does not export GOTOOLCHAIN=%s", toolchain)
	}

	targets := map[string]bool{}
	var phony []string
	rule := regexp.MustCompile(`^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*:([^=]|$)`)
	for _, line := range strings.Split(string(mk), "\n") {
		if rest, ok := strings.CutPrefix(line, ".PHONY:"); ok {
			phony = append(phony, strings.Fields(rest)...)
			continue
		}
		if m := rule.FindStringSubmatch(line); m != nil {
			for _, name := range strings.Fields(m[1]) {
				targets[name] = true
			}
		}
	}
	if len(phony) == 0 {
		t.Fatal("no .PHONY line found")
	}
	for _, name := range phony {
		if !targets[name] {
			t.Errorf(".PHONY names %q, which is not a target", name)
		}
	}
}
