package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgSample is one reading of the PostgreSQL server's CPU time and WAL counters. The server
// must run on this machine and /proc must be readable (root, or the postgres user).
type pgSample struct {
	at      time.Time
	procs   map[int]time.Duration // every living process named postgres: utime+stime
	sys     map[int]time.Duration // the same processes' stime
	reaped  time.Duration         // the postmaster's own time plus its reaped children's
	roles   map[int]string        // pid → "ours" (a backend of the bench's database) or the background process's type
	walLSN  int64                 // pg_current_wal_lsn() in bytes
	walSync int64                 // pg_stat_wal.wal_sync: fsyncs of the WAL (group commit shows here)
	load1   float64
}

// cpuBreakdown is the CPU PostgreSQL spent between two samples.
type cpuBreakdown struct {
	ours       time.Duration // the bench database's backends
	oursSys    time.Duration // of which in the kernel (the WAL's write and fdatasync show here)
	background time.Duration // walwriter, checkpointer, background writer (shared with other databases)
	server     time.Duration // every postgres process, exited ones included (other agents' too)
	walBytes   int64         // server-wide
	walSyncs   int64         // server-wide
}

func samplePG(ctx context.Context, mon *pgxpool.Pool, db string) (pgSample, error) {
	s := pgSample{at: time.Now(), procs: map[int]time.Duration{}, sys: map[int]time.Duration{}, roles: map[int]string{}}
	rows, err := mon.Query(ctx, `SELECT pid, coalesce(datname, ''), backend_type FROM pg_stat_activity`)
	if err != nil {
		return s, fmt.Errorf("pg_stat_activity: %w", err)
	}
	for rows.Next() {
		var pid int
		var dat, typ string
		if err := rows.Scan(&pid, &dat, &typ); err != nil {
			rows.Close()
			return s, err
		}
		switch {
		case dat == db && typ == "client backend":
			s.roles[pid] = "ours"
		case typ == "walwriter" || typ == "checkpointer" || typ == "background writer":
			s.roles[pid] = typ
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s, err
	}
	if err := mon.QueryRow(ctx, `SELECT pg_current_wal_lsn() - '0/0', wal_sync FROM pg_stat_wal`).Scan(&s.walLSN, &s.walSync); err != nil {
		return s, fmt.Errorf("wal counters: %w", err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return s, err
	}
	comm := map[int]string{}
	parent := map[int]int{}
	times := map[int][3]time.Duration{} // own, reaped children, own stime
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, ppid, own, kids, sys, ok := procStat(pid)
		if !ok {
			continue
		}
		comm[pid], parent[pid], times[pid] = name, ppid, [3]time.Duration{own, kids, sys}
	}
	for pid, name := range comm {
		if name != "postgres" {
			continue
		}
		if comm[parent[pid]] == "postgres" {
			s.procs[pid], s.sys[pid] = times[pid][0], times[pid][2]
		} else { // the postmaster: its children's time arrives in cutime+cstime when they exit
			s.reaped += times[pid][0] + times[pid][1]
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		s.load1, _ = strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	}
	return s, nil
}

// procStat reads /proc/<pid>/stat: the command name, the parent, utime+stime,
// cutime+cstime and stime.
func procStat(pid int) (comm string, ppid int, own, kids, sys time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, 0, 0, 0, false
	}
	st := string(b)
	open, closing := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
	if open < 0 || closing < open {
		return "", 0, 0, 0, 0, false
	}
	f := strings.Fields(st[closing+1:])
	if len(f) < 15 {
		return "", 0, 0, 0, 0, false
	}
	// f[0] is the state (field 3); ppid is field 4, utime..cstime fields 14..17.
	ppid, _ = strconv.Atoi(f[1])
	var v [4]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[11+i], 10, 64)
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return st[open+1 : closing], ppid, time.Duration(v[0]+v[1]) * tick, time.Duration(v[2]+v[3]) * tick, time.Duration(v[1]) * tick, true
}

// since is the CPU spent from a to b. A process that started in between counts whole; one
// that exited counts through the postmaster's reaped time (server only).
func since(a, b pgSample) cpuBreakdown {
	var c cpuBreakdown
	c.server = b.reaped - a.reaped
	for pid, t := range b.procs {
		d := t - a.procs[pid]
		if d < 0 {
			d = t // pid reused
		}
		c.server += d
		switch role := b.roles[pid]; {
		case role == "ours":
			c.ours += d
			c.oursSys += max(b.sys[pid]-a.sys[pid], 0)
		case role != "":
			c.background += d
		}
	}
	// Backends of the bench that exited in between are in reaped time only: the pools keep
	// their connections for the whole run, so there are none.
	c.walBytes, c.walSyncs = b.walLSN-a.walLSN, b.walSync-a.walSync
	return c
}
