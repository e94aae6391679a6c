// Command replicas is the several-servers check: it starts three servers
// on one fresh PostgreSQL database at the same moment (so all three apply
// the migrations at once), puts a round-robin reverse proxy in front of
// them, and shows that sessions, API keys, the API-key quota, recovery
// codes and the per-IP rate limit behave as one server would. It prints
// one PASS/FAIL line per check and exits 1 if any fails.
//
// scripts/replicas/run.sh provides the database and the built server:
//
//	go run ./scripts/replicas -bin ./accountd -db 'postgres://…'
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"accountd/scripts/internal/e2e"
)

// The settings the servers are started with that the checks count on:
// RATE_LIMIT_CLIENT (clientLimit per clientWindow) and MAX_API_KEYS.
const (
	clientLimit  = 30
	clientWindow = "1m"
	maxAPIKeys   = 10
)

func main() {
	bin := flag.String("bin", "", "the built server binary")
	dbURL := flag.String("db", "", "URL of a fresh, empty PostgreSQL database")
	dir := flag.String("dir", "", "directory for the server logs (default: a new temporary one)")
	flag.Parse()
	if *bin == "" || *dbURL == "" {
		fmt.Fprintln(os.Stderr, "usage: replicas -bin PATH -db postgres://…")
		os.Exit(2)
	}
	os.Exit(run(*bin, *dbURL, *dir))
}

// driver holds the replicas, the proxy in front of them and the results.
type driver struct {
	servers []*e2e.Server
	proxy   string

	mu       sync.Mutex
	statuses map[int]int    // every answer the checks received, by status
	errors5x map[string]int // "METHOD path" of the 5xx answers
	results  []bool
}

func run(bin, dbURL, dir string) int {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "replicas-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
	}
	d := &driver{statuses: map[int]int{}, errors5x: map[string]int{}}
	defer d.stopServers()

	fmt.Println("== three servers on one PostgreSQL database, behind a round-robin proxy")
	if err := d.startServers(ctx, bin, dbURL, dir); err != nil {
		fmt.Println("FAIL  start:", err)
		return 1
	}
	d.checkMigrations(ctx, dbURL)

	rr := newRoundRobin(d.servers)
	proxy, stopProxy, err := rr.serve()
	if err != nil {
		fmt.Println("FAIL  proxy:", err)
		return 1
	}
	defer stopProxy()
	d.proxy = proxy
	fmt.Printf("proxy %s → %s, %s, %s (X-Forwarded-For set; servers trust 127.0.0.1/32)\n",
		strings.TrimPrefix(proxy, "http://"), d.servers[0].Addr, d.servers[1].Addr, d.servers[2].Addr)
	fmt.Println()

	if err := d.runChecks(ctx); err != nil {
		fmt.Println("FAIL  setup:", err)
		d.results = append(d.results, false)
	}
	d.checkNoErrors()

	passed := 0
	for _, ok := range d.results {
		if ok {
			passed++
		}
	}
	fmt.Println()
	fmt.Printf("summary: %d/%d checks passed in %.1fs\n", passed, len(d.results), time.Since(began).Seconds())
	if passed != len(d.results) {
		for _, s := range d.servers {
			fmt.Printf("\n--- last lines of %s's log (%s)\n%s\n", s.Name, s.LogPath, s.LogTail(15))
		}
		return 1
	}
	return 0
}

// startServers starts the three replicas within a millisecond of each
// other and waits until every one answers /readyz.
func (d *driver) startServers(ctx context.Context, bin, dbURL, dir string) error {
	env := []string{
		"DATABASE_URL=" + dbURL,
		"TRUSTED_PROXIES=127.0.0.1/32",
		fmt.Sprintf("MAX_API_KEYS=%d", maxAPIKeys),
		"RATE_LIMIT=on",
		fmt.Sprintf("RATE_LIMIT_CLIENT=%d/%s", clientLimit, clientWindow),
		// Generous enough that the checks' sign-ins never meet them.
		"RATE_LIMIT_LOGIN=10000/1m",
		"RATE_LIMIT_CHECKPOINT=10000/1m",
		"RATE_LIMIT_REGISTER=10000/1m",
		"LOG_FORMAT=json",
		"CLEANUP_INTERVAL=1h",
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("s%d", i)
		s, err := e2e.Prepare(name, bin, filepath.Join(dir, name+".log"), env)
		if err != nil {
			return err
		}
		d.servers = append(d.servers, s)
	}
	for _, s := range d.servers {
		if err := s.Start(); err != nil {
			return err
		}
	}
	errs := make([]error, len(d.servers))
	var wg sync.WaitGroup
	for i, s := range d.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			errs[i] = s.WaitReady(rctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *driver) stopServers() {
	for _, s := range d.servers {
		if err := s.Stop(10 * time.Second); err != nil {
			fmt.Printf("note: %s: %v\n", s.Name, err)
		}
	}
}

// report prints one check's line and records its outcome.
func (d *driver) report(ok bool, name, format string, args ...any) {
	mark := "PASS"
	if !ok {
		mark = "FAIL"
	}
	fmt.Printf("%s  %s\n      %s\n", mark, name, fmt.Sprintf(format, args...))
	d.mu.Lock()
	d.results = append(d.results, ok)
	d.mu.Unlock()
}

// client is a simulated client with its own loopback address; every
// answer it receives is counted for the final no-5xx check.
func (d *driver) client(ip string) *http.Client {
	c := e2e.NewHTTP(ip, 30*time.Second)
	c.Transport = counting{next: c.Transport, d: d}
	return c
}

type counting struct {
	next http.RoundTripper
	d    *driver
}

func (t counting) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		t.d.mu.Lock()
		t.d.statuses[resp.StatusCode]++
		if resp.StatusCode >= 500 {
			t.d.errors5x[r.Method+" "+r.URL.Path]++
		}
		t.d.mu.Unlock()
	}
	return resp, err
}

// checkNoErrors is the last check: no answer of the run was a 5xx and no
// server logged a panic.
func (d *driver) checkNoErrors() {
	d.mu.Lock()
	total, n5xx := 0, 0
	for s, n := range d.statuses {
		total += n
		if s >= 500 {
			n5xx += n
		}
	}
	where := ""
	if n5xx > 0 {
		where = fmt.Sprintf(" %v", d.errors5x)
	}
	d.mu.Unlock()
	panics := 0
	for _, s := range d.servers {
		panics += s.CountPanics()
	}
	d.report(n5xx == 0 && panics == 0, "no server error and no panic on any replica",
		"%d answers, %d of them 5xx%s; %d panics logged", total, n5xx, where, panics)
}
