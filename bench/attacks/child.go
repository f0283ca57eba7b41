package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// childEnv makes this binary (or the test binary, through TestMain) the attacker's
// process: it reads a childPlan on stdin, runs that one attacked round, and writes a
// childResult on stdout. The attacker then has a Go runtime of its own, so that reading
// tens of thousands of replayed frames a second does not delay the probe's goroutines.
const childEnv = "PARLEY_ATTACKS_CHILD"

// childPlan is everything one attacked round needs.
type childPlan struct {
	Attack       string          `json:"attack"`
	Round        time.Duration   `json:"round"`
	Base         string          `json:"base"`
	WS           string          `json:"ws"`
	DevLogin     bool            `json:"devLogin"`
	Token        string          `json:"token"`
	Workspace    int64           `json:"workspace"`
	Seeded       int64           `json:"seeded"`
	SeededCount  int64           `json:"seededCount"`
	Flood        int64           `json:"flood"`
	AttackerAddr string          `json:"attackerAddr"`
	Sockets      int             `json:"sockets"`
	IdleChecks   []time.Duration `json:"idleChecks"`
	SlowConns    int             `json:"slowConns"`
	SlowHold     time.Duration   `json:"slowHold"`
	ReplaySubs   int             `json:"replaySubs"`
	ResendRate   float64         `json:"resendRate"`
	Workers      int             `json:"workers"`
}

type childResult struct {
	Figures []figure `json:"figures"`
	Notes   []string `json:"notes"`
}

func planFor(a *attack, e *env, round time.Duration) childPlan {
	return childPlan{Attack: a.name, Round: round, Base: e.t.base, WS: e.t.ws, DevLogin: e.t.devLogin,
		Token: e.w.attacker, Workspace: e.w.attackerWorkspace, Seeded: e.w.seeded, SeededCount: e.w.seededCount, Flood: e.w.flood,
		AttackerAddr: e.o.attackerAddr, Sockets: e.o.sockets, IdleChecks: e.o.idleChecks, SlowConns: e.o.slowConns,
		SlowHold: e.o.slowHold, ReplaySubs: e.o.replaySubs, ResendRate: e.o.resendRate, Workers: e.o.workers}
}

func (p childPlan) env() (*env, error) {
	t := &target{base: p.Base, ws: p.WS, devLogin: p.DevLogin}
	w := &world{attacker: p.Token, attackerWorkspace: p.Workspace, seeded: p.Seeded, seededCount: p.SeededCount, flood: p.Flood}
	o := options{attackerAddr: p.AttackerAddr, sockets: p.Sockets, idleChecks: p.IdleChecks, slowConns: p.SlowConns,
		slowHold: p.SlowHold, replaySubs: p.ReplaySubs, resendRate: p.ResendRate, workers: p.Workers}
	return newEnv(t, w, o)
}

// runAttack runs one attacked round of a: in a child process when o.attackerProc, else here.
func runAttack(ctx context.Context, a *attack, e *env, round time.Duration) ([]figure, []string) {
	if !e.o.attackerProc {
		return a.run(ctx, e, round)
	}
	res, err := runChild(ctx, planFor(a, e, round))
	if err != nil {
		return nil, []string{"attacker process: " + err.Error()}
	}
	return res.Figures, res.Notes
}

func runChild(ctx context.Context, plan childPlan) (*childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal(plan)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = bytes.NewReader(in)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s", err, out.String())
	}
	var res childResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("decoding its result %q: %w", out.String(), err)
	}
	return &res, nil
}

// childMain is the attacker process's whole life.
func childMain(in io.Reader, out io.Writer) error {
	var plan childPlan
	if err := json.NewDecoder(in).Decode(&plan); err != nil {
		return fmt.Errorf("reading the plan: %w", err)
	}
	e, err := plan.env()
	if err != nil {
		return err
	}
	i := -1
	all := attacks()
	for j, a := range all {
		if a.name == plan.Attack {
			i = j
		}
	}
	if i < 0 {
		return fmt.Errorf("unknown attack %q", plan.Attack)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	figs, notes := all[i].run(ctx, e, plan.Round)
	return json.NewEncoder(out).Encode(childResult{Figures: figs, Notes: notes})
}
