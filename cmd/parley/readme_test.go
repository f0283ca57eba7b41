package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's "Reaching the API" examples are run as written against a real node in its
// embedded default (issue 21: they had drifted into 400s), with only the address and the
// binary's path substituted. Each way of getting a TOKEN runs with the commands after it.
func TestReadmeExamplesRun(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Reaching the API\n")
	if !ok {
		t.Fatal(`README has no "## Reaching the API" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var tokens, commands []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		for _, line := range strings.Split(block[1], "\n") {
			switch line = strings.TrimSpace(line); {
			case line == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "TOKEN="):
				tokens = append(tokens, line)
			default:
				commands = append(commands, line)
			}
		}
	}
	if len(tokens) == 0 || len(commands) == 0 {
		t.Fatalf("no TOKEN line or no command in the section's sh blocks:\n%s", section)
	}

	base, logs := startServe(t, nil)
	addr := strings.TrimPrefix(base, "http://")
	for _, tok := range tokens {
		script := "set -euo pipefail\n" + tok + "\n" + `test -n "$TOKEN"` + "\n" + strings.Join(commands, "\n") + "\n"
		script = strings.NewReplacer("localhost:9000", addr, "bin/parley", binary).Replace(script)
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("README example failed (%v):\n%s\noutput:\n%s\nnode log:\n%s", err, script, out, logs.String())
			continue
		}
		for _, want := range []string{`"username":"alice"`, `"name":"acme"`, `"isBot":true`, `"content":"deployed v1.2 to production"`} {
			if !strings.Contains(string(out), want) {
				t.Errorf("README example's output lacks %s:\n%s\n%s", want, script, out)
			}
		}
	}
}

// The README and the docs it sends a reader to link only to files of the repository
// (issue 21: it linked to ../shared/…, which a clone does not have).
func TestReadmeLinksStayInTheRepo(t *testing.T) {
	t.Parallel()
	link := regexp.MustCompile(`\]\(([^)#\s]+)[^)]*\)`)
	for _, doc := range []string{"README.md", "docs/PROTOCOL.md", "docs/GUARANTEES.md"} {
		raw, err := os.ReadFile("../../" + doc)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir("../../" + doc)
		for _, m := range link.FindAllStringSubmatch(string(raw), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			path := filepath.Join(dir, target)
			if rel, err := filepath.Rel("../..", path); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links outside the repository: %s", doc, target)
				continue
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, target)
			}
		}
	}
}
