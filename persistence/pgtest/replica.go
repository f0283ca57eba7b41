package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A PostgreSQL server of its own, started with the installed initdb / pg_ctl on a free
// port, for tests that need what the shared server cannot give: a streaming replica to
// pause, lag or kill (ADR 0044). Its unix socket lives in its data directory's parent.
type Server struct {
	Dir  string // data directory
	Port int
	bin  string
	cred *syscall.Credential // the postgres account when the test runs as root
}

// URL is the server's URL for database db.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// Stop stops the server fast (open sessions are cut) and waits for it.
func (s *Server) Stop() error {
	return s.run("pg_ctl", "-D", s.Dir, "-m", "fast", "-w", "stop")
}

func (s *Server) run(tool string, args ...string) error {
	cmd := exec.Command(filepath.Join(s.bin, tool), args...)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	for _, kv := range os.Environ() { // nothing from the caller's libpq setup (PGHOST, PGPORT…)
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w\n%s", tool, args, err, out)
	}
	return nil
}

// start writes the server's settings and starts it, waiting until it accepts connections.
func (s *Server) start() error {
	conf := fmt.Sprintf("\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"+
		"wal_level = replica\nmax_wal_senders = 10\nhot_standby = on\nfsync = off\nshared_buffers = 16MB\n"+
		"max_connections = 50\nwal_receiver_status_interval = 1s\n", s.Port, filepath.Dir(s.Dir))
	f, err := os.OpenFile(filepath.Join(s.Dir, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return s.run("pg_ctl", "-D", s.Dir, "-l", s.Dir+".log", "-w", "-t", "60", "start")
}

// Primary is a primary server that replicas can be made from.
type Primary struct {
	Server
	base string
}

// StartPrimary initialises and starts a primary (wal_level=replica, trust authentication,
// replication allowed from loopback) in a new temporary directory. Stop removes it.
func StartPrimary() (*Primary, error) {
	bin, err := pgBin()
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp("", "parley-pgreplica-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	p := &Primary{Server: Server{Dir: filepath.Join(base, "primary"), bin: bin}, base: base}
	if p.cred, err = postgresCredential(base); err != nil {
		_ = os.RemoveAll(base)
		return nil, err
	}
	if p.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := p.run("initdb", "-D", p.Dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"); err != nil {
		_ = os.RemoveAll(base)
		return nil, err
	}
	if err := p.start(); err != nil {
		_ = os.RemoveAll(base)
		return nil, err
	}
	return p, nil
}

// Stop stops the primary and removes its directory (replicas are stopped by their tests).
func (p *Primary) Stop() {
	_ = p.Server.Stop()
	_ = os.RemoveAll(p.base)
}

var replicaSeq struct {
	sync.Mutex
	n int
}

// NewReplica makes a streaming replica of p with pg_basebackup -R, starts it, and stops
// and removes it when t ends.
func (p *Primary) NewReplica(t testing.TB) *Server {
	t.Helper()
	replicaSeq.Lock()
	replicaSeq.n++
	n := replicaSeq.n
	replicaSeq.Unlock()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &Server{Dir: filepath.Join(p.base, "replica"+strconv.Itoa(n)), Port: port, bin: p.bin, cred: p.cred}
	if err := r.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", "postgres",
		"-D", r.Dir, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"); err != nil {
		t.Fatal(err)
	}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.Stop()
		_ = os.RemoveAll(r.Dir)
	})
	return r
}

// NewDatabase creates a database with a unique name on p and returns its name.
func (p *Primary) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(context.Background())
	name := fmt.Sprintf("parley_replica_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return name
}

var shared struct {
	once sync.Once
	p    *Primary
	err  error
}

// SharedPrimary is one primary for a whole test package; its TestMain calls StopShared.
func SharedPrimary(t testing.TB) *Primary {
	t.Helper()
	shared.once.Do(func() { shared.p, shared.err = StartPrimary() })
	if shared.err != nil {
		t.Fatalf("pgtest: start primary: %v", shared.err)
	}
	return shared.p
}

// StopShared stops the package's shared primary if one was started.
func StopShared() {
	if shared.p != nil {
		shared.p.Stop()
	}
}

// pgBin finds the newest installed PostgreSQL's bin directory (PARLEY_PG_BIN overrides).
func pgBin() (string, error) {
	if d := os.Getenv("PARLEY_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", fmt.Errorf("pgtest: no initdb under /usr/lib/postgresql/*/bin (set PARLEY_PG_BIN)")
}

// postgresCredential: PostgreSQL refuses to run as root, so a root test runs the server
// as the postgres account and gives it the directory.
func postgresCredential(base string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs a postgres account: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(base, uid, gid); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
