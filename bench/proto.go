package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// The coordinator ↔ worker protocol, one JSON value per line both ways:
//
//	coordinator → worker: the Plan, then the commands "start" and "close"
//	worker → coordinator: workerEvent values: progress…, ready, tick…, result, closed
//
// End of input means "close": a worker whose coordinator died closes its connections and
// exits instead of holding them.

const (
	cmdStart = "start"
	cmdClose = "close"
)

type workerEvent struct {
	Kind     string           `json:"kind"` // progress | ready | tick | result | closed | fatal
	Progress *ConnectProgress `json:"progress,omitempty"`
	Ready    *ConnectStats    `json:"ready,omitempty"`
	Tick     *Tick            `json:"tick,omitempty"`
	Result   *WorkerResult    `json:"result,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// RunWorker is `parley bench --worker`: it runs the Plan read from in, writing events to out.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	br := bufio.NewReaderSize(in, 1<<20)
	line, err := br.ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return fmt.Errorf("worker: reading plan: %w", err)
	}
	var plan Plan
	if err := json.Unmarshal(line, &plan); err != nil {
		return fmt.Errorf("worker: decoding plan: %w", err)
	}
	cmds := make(chan string, 4)
	go func() {
		defer close(cmds)
		for {
			l, err := br.ReadString('\n')
			if s := strings.TrimSpace(l); s != "" {
				cmds <- s
			}
			if err != nil {
				return
			}
		}
	}()
	var mu sync.Mutex
	bw := bufio.NewWriterSize(out, 64<<10)
	enc := json.NewEncoder(bw)
	var werr error
	emit := func(ev workerEvent) {
		mu.Lock()
		defer mu.Unlock()
		if werr != nil {
			return
		}
		if werr = enc.Encode(ev); werr == nil {
			werr = bw.Flush()
		}
	}
	w := newWorker(&plan, logger, emit)
	defer func() {
		w.closeAll()
		emit(workerEvent{Kind: "closed"})
	}()

	stats := w.connectAll(ctx)
	// Collect the connect phase's garbage now, while the clients are idle, as testing.B does
	// before a benchmark: otherwise the first cycle falls inside the measured window and
	// every client of this process stalls for it (ADR 0012).
	runtime.GC()
	emit(workerEvent{Kind: "ready", Ready: &stats})
	if cmd, ok := waitCmd(ctx, cmds); !ok || cmd != cmdStart {
		return ctx.Err()
	}
	w.runLoad(ctx)
	emit(workerEvent{Kind: "result", Result: w.result()})
	waitCmd(ctx, cmds) // "close", or end of input
	return nil
}

func waitCmd(ctx context.Context, cmds <-chan string) (string, bool) {
	select {
	case c, ok := <-cmds:
		return c, ok
	case <-ctx.Done():
		return "", false
	}
}

// link is the coordinator's end of one worker, in-process or a child process.
type link struct {
	id     int
	events chan workerEvent // closed when the worker's output ends
	stdin  io.WriteCloser
	wait   func() error // the worker's exit
	stderr *tailBuffer  // child processes only
}

func (l *link) send(cmd string) error {
	_, err := io.WriteString(l.stdin, cmd+"\n")
	return err
}

// startLink starts worker plan.Worker: in this process when procs is 1, else as a child,
// at nice when positive (through nice(1), so that every thread of the child has it).
func startLink(ctx context.Context, cfg *Config, plan *Plan, child bool, nice int) (*link, error) {
	planJSON, err := json.Marshal(plan)
	if err != nil {
		return nil, err
	}
	planJSON = append(planJSON, '\n')
	l := &link{id: plan.Worker, events: make(chan workerEvent, 256)}
	var stdout io.Reader
	if !child {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		errc := make(chan error, 1)
		go func() {
			err := RunWorker(ctx, inR, outW, cfg.Logger)
			_ = outW.CloseWithError(io.EOF)
			_ = inR.Close()
			errc <- err
		}()
		l.stdin, stdout = inW, outR
		l.wait = func() error { return <-errc }
	} else {
		exe := cfg.Executable
		if exe == "" {
			if exe, err = os.Executable(); err != nil {
				return nil, fmt.Errorf("worker %d: finding this binary: %w", plan.Worker, err)
			}
		}
		cmd := exec.CommandContext(ctx, exe, cfg.WorkerArgs...)
		if nice > 0 {
			niceBin, err := exec.LookPath("nice")
			if err != nil {
				return nil, fmt.Errorf("worker %d: --load-nice: %w", plan.Worker, err)
			}
			cmd = exec.CommandContext(ctx, niceBin, append([]string{"-n", strconv.Itoa(nice), exe}, cfg.WorkerArgs...)...)
		}
		cmd.Env = append(os.Environ(), cfg.WorkerEnv...)
		l.stderr = &tailBuffer{max: 16 << 10}
		cmd.Stderr = l.stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("worker %d: start %s: %w", plan.Worker, exe, err)
		}
		l.stdin, stdout = in, out
		l.wait = func() error {
			err := cmd.Wait()
			if err != nil {
				return fmt.Errorf("worker %d: %w; stderr: %s", plan.Worker, err, l.stderr.String())
			}
			return nil
		}
	}
	go func() {
		defer close(l.events)
		dec := json.NewDecoder(bufio.NewReaderSize(stdout, 1<<20))
		for {
			var ev workerEvent
			if err := dec.Decode(&ev); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
					l.events <- workerEvent{Kind: "fatal", Error: fmt.Sprintf("worker %d: reading its output: %v", l.id, err)}
				}
				return
			}
			l.events <- ev
		}
	}()
	if _, err := l.stdin.Write(planJSON); err != nil {
		return nil, fmt.Errorf("worker %d: sending plan: %w", plan.Worker, err)
	}
	return l, nil
}

// tailBuffer keeps the last max bytes written (a child's stderr, for error messages).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if extra := t.b.Len() - t.max; extra > 0 {
		t.b.Next(extra)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.b.String())
}
