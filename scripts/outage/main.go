// Command outage restarts PostgreSQL under steady load and reports how the
// server behaved: requests failed inside and outside the outage, how soon
// after the database's return requests succeed again, whether any request
// with bad credentials was answered as if they were good (fail-open),
// what the 500s said, panics, and what /readyz reported. It exits 1 on a
// fail-open answer, a panic, leaked driver text or no recovery.
//
// scripts/outage/run.sh provides the throwaway database and the server:
//
//	go run ./scripts/outage -bin ./accountd -db 'postgres://…' -pgctl …/pg_ctl -pgdata DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"accountd/scripts/internal/e2e"
)

type options struct {
	bin, db                   string
	pg                        pgControl
	dir                       string
	rate, users               int
	duration, stopAt, startAt time.Duration
	stopMode                  string
	recoveryGrace             time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "the built server binary")
	flag.StringVar(&o.db, "db", "", "URL of a fresh PostgreSQL database")
	flag.StringVar(&o.pg.pgCtl, "pgctl", "pg_ctl", "pg_ctl of the cluster behind -db")
	flag.StringVar(&o.pg.data, "pgdata", "", "the cluster's data directory")
	flag.StringVar(&o.pg.log, "pglog", "", "the cluster's log file (default: postgres.log in -dir)")
	flag.StringVar(&o.pg.user, "pguser", "", "run pg_ctl as this user (needed as root)")
	flag.StringVar(&o.dir, "dir", "", "directory for logs (default: a new temporary one)")
	flag.IntVar(&o.rate, "rate", 200, "operations per second")
	flag.IntVar(&o.users, "users", 4, "accounts the load uses")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long the load runs")
	flag.DurationVar(&o.stopAt, "stop-at", 20*time.Second, "when PostgreSQL is stopped")
	flag.DurationVar(&o.startAt, "start-at", 30*time.Second, "when PostgreSQL is started again")
	flag.StringVar(&o.stopMode, "stop-mode", "fast", "pg_ctl shutdown mode: fast or immediate")
	flag.DurationVar(&o.recoveryGrace, "grace", 5*time.Second, "the time after the database's return reported on its own")
	flag.Parse()
	if o.bin == "" || o.db == "" || o.pg.data == "" || !(o.stopAt < o.startAt && o.startAt < o.duration) {
		fmt.Fprintln(os.Stderr, "usage: outage -bin PATH -db postgres://… -pgctl PATH -pgdata DIR [-pguser postgres] (stop-at < start-at < duration)")
		os.Exit(2)
	}
	os.Exit(run(o))
}

// events are the moments the database went down and came back, since t0.
type events struct {
	stopIssued, stopped, startIssued, back time.Duration
	err                                    error
}

func run(o options) int {
	if o.dir == "" {
		var err error
		if o.dir, err = os.MkdirTemp("", "outage-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(o.dir)
	}
	if o.pg.log == "" {
		o.pg.log = filepath.Join(o.dir, "postgres.log")
	}
	out, err := os.Create(filepath.Join(o.dir, "pg_ctl.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer out.Close()
	o.pg.out = out

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := e2e.Prepare("server", o.bin, filepath.Join(o.dir, "server.log"), []string{
		"DATABASE_URL=" + o.db,
		"RATE_LIMIT=off",
		"MAX_API_KEYS=1000",
		"LOG_FORMAT=json",
	})
	if err == nil {
		err = srv.Start()
	}
	if err == nil {
		rctx, rcancel := context.WithTimeout(ctx, 60*time.Second)
		err = srv.WaitReady(rctx)
		rcancel()
	}
	if err != nil {
		fmt.Println("FAIL  start:", err)
		return 1
	}
	defer srv.Stop(10 * time.Second) //nolint:errcheck // reported below

	f, err := setup(ctx, e2e.NewHTTP("127.0.0.30", 30*time.Second), srv.URL, o.users)
	if err != nil {
		fmt.Println("FAIL  setup:", err)
		return 1
	}
	fmt.Printf("== database outage under load: server pid %d on %s (RATE_LIMIT=off), %d accounts, %d bad credentials\n",
		srv.Pid(), srv.Addr, len(f.members), len(f.invalid))
	fmt.Printf("   %d operations/s for %s; PostgreSQL stopped (-m %s) at %s, started at %s\n\n",
		o.rate, o.duration, o.stopMode, o.stopAt, o.startAt)

	l := &loader{c: e2e.NewHTTP("127.0.0.31", 10*time.Second), base: srv.URL, f: f, t0: time.Now()}
	var ev events
	var probes []probe
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ev = o.outage(l.t0) }()
	pctx, stopProbes := context.WithCancel(ctx)
	go func() { defer wg.Done(); probes = pollReady(pctx, srv.URL, l.t0) }()
	skipped := l.run(ctx, o.rate, o.duration, 2000)
	stopProbes()
	wg.Wait()

	final := e2e.Do(ctx, &http.Client{Timeout: 5 * time.Second}, http.MethodGet, srv.URL+"/readyz", e2e.Cred{}, nil)
	rep := analyse(l.samples, probes, ev, o.recoveryGrace, o.duration)
	rep.skipped = skipped
	rep.running = srv.Running()
	rep.pid = srv.Pid()
	rep.finalReady = final.Status
	rep.panics = srv.CountPanics()
	rep.print()
	if !rep.passed() {
		fmt.Printf("\n--- last lines of the server log (%s)\n%s\n", srv.LogPath, srv.LogTail(15))
		return 1
	}
	return 0
}

// outage stops PostgreSQL at stopAt and starts it at startAt (after t0).
func (o options) outage(t0 time.Time) events {
	var ev events
	time.Sleep(time.Until(t0.Add(o.stopAt)))
	ev.stopIssued = time.Since(t0)
	if ev.err = o.pg.stop(o.stopMode); ev.err != nil {
		return ev
	}
	ev.stopped = time.Since(t0)
	time.Sleep(time.Until(t0.Add(o.startAt)))
	ev.startIssued = time.Since(t0)
	ev.err = o.pg.start()
	ev.back = time.Since(t0)
	return ev
}

// probe is one /readyz answer (0 for no answer).
type probe struct {
	at     time.Duration
	status int
}

// pollReady asks /readyz every 250 ms until ctx ends.
func pollReady(ctx context.Context, base string, t0 time.Time) []probe {
	c := &http.Client{Timeout: 3 * time.Second}
	var out []probe
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		at := time.Since(t0)
		r := e2e.Do(ctx, c, http.MethodGet, base+"/readyz", e2e.Cred{}, nil)
		if ctx.Err() != nil {
			return out
		}
		out = append(out, probe{at: at, status: r.Status})
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}
