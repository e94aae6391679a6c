package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// window is a stretch of the run and the samples in it.
type window struct {
	name    string
	from    time.Duration
	to      time.Duration
	samples []sample
}

type report struct {
	ev       events
	grace    time.Duration
	duration time.Duration
	samples  []sample
	probes   []probe
	windows  []*window // before, outage, just after the return, after

	firstOK      time.Duration // first success after the return, from the return
	firstOKKind  string
	allKindsOK   time.Duration // by when every kind of valid request had succeeded again
	lastFailure  time.Duration // last failed request that started after the return
	anyFailure   bool          // whether there was one
	foundFirstOK bool

	unverified []sample
	bodies5xx  map[string]int
	gqlErrors  map[string]int
	leaks      map[string]int

	skipped    int
	running    bool
	pid        int
	finalReady int
	panics     int
}

// driverText are fragments of database driver and network errors that
// must never reach a client.
var driverText = []string{"pgx", "pgconn", "sqlstate", "dial tcp", "connection refused", "postgres",
	"failed to connect", "conn closed", "unexpected eof", "terminating connection", "database system", "bun:", "sql:"}

func analyse(samples []sample, probes []probe, ev events, grace, duration time.Duration) *report {
	r := &report{ev: ev, grace: grace, duration: duration, samples: samples, probes: probes,
		bodies5xx: map[string]int{}, gqlErrors: map[string]int{}, leaks: map[string]int{}}
	sort.Slice(samples, func(i, j int) bool { return samples[i].start < samples[j].start })
	before := &window{name: "before the outage", from: 0, to: ev.stopIssued}
	outage := &window{name: "outage (overlapping it)", from: ev.stopIssued, to: ev.back}
	just := &window{name: fmt.Sprintf("first %s after the return", grace), from: ev.back, to: ev.back + grace}
	after := &window{name: "after that", from: ev.back + grace, to: duration}
	r.windows = []*window{before, outage, just, after}

	firstByKind := map[string]time.Duration{}
	kinds := map[string]bool{}
	for _, s := range samples {
		switch {
		case s.end < ev.stopIssued:
			before.samples = append(before.samples, s)
		case s.start < ev.back:
			outage.samples = append(outage.samples, s)
		case s.start < ev.back+grace:
			just.samples = append(just.samples, s)
		default:
			after.samples = append(after.samples, s)
		}
		if s.valid {
			kinds[s.kind] = true
		}
		if s.start >= ev.back {
			if s.valid && s.ok {
				d := s.end - ev.back
				if !r.foundFirstOK || d < r.firstOK {
					r.firstOK, r.firstOKKind, r.foundFirstOK = d, s.kind, true
				}
				if f, seen := firstByKind[s.kind]; !seen || d < f {
					firstByKind[s.kind] = d
				}
			}
			if !s.ok && (!r.anyFailure || s.end-ev.back > r.lastFailure) {
				r.lastFailure, r.anyFailure = s.end-ev.back, true
			}
		}
		if s.unverified {
			r.unverified = append(r.unverified, s)
		}
		if s.err == nil && s.status >= 500 {
			r.bodies5xx[strings.TrimSpace(s.body)]++
		}
		if s.body != "" {
			for _, e := range gqlErrorTexts(s.body) {
				r.gqlErrors[e]++
			}
			low := strings.ToLower(s.body)
			for _, t := range driverText {
				if strings.Contains(low, t) {
					r.leaks[t]++
				}
			}
		}
	}
	if len(firstByKind) == len(kinds) {
		for _, d := range firstByKind {
			r.allKindsOK = max(r.allKindsOK, d)
		}
	} else {
		r.allKindsOK = -1
	}
	return r
}

// gqlErrorTexts lists a GraphQL answer's errors as `CODE "message"`.
func gqlErrorTexts(body string) []string {
	var a gqlAnswer
	if json.Unmarshal([]byte(body), &a) != nil {
		return nil
	}
	var out []string
	for _, e := range a.Errors {
		out = append(out, fmt.Sprintf("%v %q", e.Extensions["code"], e.Message))
	}
	return out
}

// failed counts the samples of w that failed: valid ones, and invalid
// ones the server could not judge (its refusals are successes).
func (w *window) counts() (total, failedValid, valid, failedInvalid, invalid, fiveXX, transport int) {
	for _, s := range w.samples {
		total++
		if s.valid {
			valid++
			if !s.ok {
				failedValid++
			}
		} else {
			invalid++
			if !s.ok {
				failedInvalid++
			}
		}
		if s.err != nil {
			transport++
		} else if s.status >= 500 {
			fiveXX++
		}
	}
	return
}

// failureLines groups the failed samples by kind and answer, most
// frequent first, at most n lines.
func failureLines(ss []sample, n int) []string {
	by := map[string]int{}
	for _, s := range ss {
		if s.ok {
			continue
		}
		answer := fmt.Sprint(s.status)
		if s.err != nil {
			answer = "no answer: " + s.err.Error()
		} else if b := strings.TrimSpace(s.body); b != "" {
			if len(b) > 120 {
				b = b[:120] + "…"
			}
			answer += " " + b
		}
		by[s.kind+" → "+answer]++
	}
	lines := sortedCounts(by, "× ")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… %d more kinds", len(lines)-n))
	}
	return lines
}

// percentile is the q-th latency of the samples.
func percentile(ss []sample, q float64) string {
	if len(ss) == 0 {
		return "-"
	}
	d := make([]time.Duration, len(ss))
	for i, s := range ss {
		d[i] = s.end - s.start
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(q*float64(len(d)-1))].Round(10 * time.Microsecond).String()
}

func statusHistogram(ss []sample) string {
	n := map[string]int{}
	for _, s := range ss {
		k := fmt.Sprint(s.status)
		if s.err != nil {
			k = "no answer"
		}
		n[k]++
	}
	return joinCounts(n, "×")
}

func joinCounts(n map[string]int, sep string) string {
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(sortedCounts(n, sep), ", ")
}

// sortedCounts renders counts as "3×key", most frequent first.
func sortedCounts(n map[string]int, sep string) []string {
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return n[keys[i]] > n[keys[j]] || n[keys[i]] == n[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d%s%s", n[k], sep, k)
	}
	return parts
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// recovered: the same process serves again, ready, with successes after
// the database's return.
func (r *report) recovered() bool {
	return r.ev.err == nil && r.running && r.finalReady == 200 && r.foundFirstOK
}

func (r *report) passed() bool {
	return len(r.unverified) == 0 && r.panics == 0 && len(r.leaks) == 0 && r.recovered()
}

func (r *report) print() {
	fmt.Println("timeline (requests by the second they started in; readyz answers in that second)")
	fmt.Println("     t   sent     ok  failed  5xx  bad-creds-accepted  readyz")
	per := map[int][]sample{}
	for _, s := range r.samples {
		per[int(s.start/time.Second)] = append(per[int(s.start/time.Second)], s)
	}
	ready := map[int]map[string]int{}
	for _, p := range r.probes {
		sec := int(p.at / time.Second)
		if ready[sec] == nil {
			ready[sec] = map[string]int{}
		}
		st := fmt.Sprint(p.status)
		if p.status == 0 {
			st = "none"
		}
		ready[sec][st]++
	}
	for sec := 0; sec <= int(r.duration/time.Second); sec++ {
		ss := per[sec]
		if len(ss) == 0 && ready[sec] == nil {
			continue
		}
		ok, failed, fx, acc := 0, 0, 0, 0
		for _, s := range ss {
			if s.ok {
				ok++
			} else {
				failed++
			}
			if s.err == nil && s.status >= 500 {
				fx++
			}
			if s.unverified {
				acc++
			}
		}
		mark := ""
		at := time.Duration(sec) * time.Second
		if at+time.Second > r.ev.stopIssued && at < r.ev.back {
			mark = "  ← database down"
		}
		fmt.Printf("  %3ds  %5d  %5d  %6d  %3d  %18d  %s%s\n", sec, len(ss), ok, failed, fx, acc, joinCounts(ready[sec], "×"), mark)
	}

	fmt.Println()
	total := len(r.samples)
	fmt.Printf("requests: %d in %s (%.0f/s)", total, r.duration, float64(total)/r.duration.Seconds())
	if r.skipped > 0 {
		fmt.Printf(", %d operations skipped (over 2000 in flight)", r.skipped)
	}
	fmt.Println()
	if r.ev.err != nil {
		fmt.Printf("database: %v\n", r.ev.err)
	}
	fmt.Printf("database: stop issued at %s, down at %s; start issued at %s, accepting connections at %s (unavailable %s)\n",
		secs(r.ev.stopIssued), secs(r.ev.stopped), secs(r.ev.startIssued), secs(r.ev.back), secs(r.ev.back-r.ev.stopIssued))
	fmt.Println("failed requests by window (valid credentials: not served; bad credentials: not refused with a 4xx):")
	for _, w := range r.windows {
		t, fv, v, fi, i, fx, tr := w.counts()
		fmt.Printf("  %-28s %6.2f–%6.2f s  %5d requests  %5d failed (valid %d/%d, bad credentials %d/%d)  5xx %d  no answer %d\n",
			w.name, w.from.Seconds(), w.to.Seconds(), t, fv+fi, fv, v, fi, i, fx, tr)
		fmt.Printf("  %-28s   statuses: %s; latency p50 %s, p99 %s\n", "", statusHistogram(w.samples),
			percentile(w.samples, 0.50), percentile(w.samples, 0.99))
		if w != r.windows[1] {
			for _, line := range failureLines(w.samples, 5) {
				fmt.Printf("  %-28s   failed: %s\n", "", line)
			}
		}
	}
	if r.foundFirstOK {
		fmt.Printf("first success after the database's return: +%s (%s)", secs(r.firstOK), r.firstOKKind)
		if r.allKindsOK >= 0 {
			fmt.Printf("; every kind of request succeeded by +%s", secs(r.allKindsOK))
		}
		if r.anyFailure {
			fmt.Printf("; last failure +%s\n", secs(r.lastFailure))
		} else {
			fmt.Println("; no failure after it")
		}
	} else {
		fmt.Println("first success after the database's return: NONE")
	}
	fmt.Printf("bad credentials answered as good (2xx / a viewer): %d\n", len(r.unverified))
	for i, s := range r.unverified {
		if i == 10 {
			fmt.Printf("  … and %d more\n", len(r.unverified)-10)
			break
		}
		body := s.body
		if len(body) > 100 {
			body = body[:100] + "…"
		}
		fmt.Printf("  %s (%s) at %s: %d %s\n", s.kind, s.credName, secs(s.start), s.status, body)
	}
	n500 := 0
	for _, n := range r.bodies5xx {
		n500 += n
	}
	fmt.Printf("5xx answers: %d; bodies: %s\n", n500, joinCounts(r.bodies5xx, "× "))
	fmt.Printf("GraphQL errors: %s\n", joinCounts(r.gqlErrors, "× "))
	fmt.Printf("driver or network text in any answer: %s\n", joinCounts(r.leaks, "× "))
	fmt.Printf("panics in the server log: %d\n", r.panics)

	var during, afterwards = map[string]int{}, map[string]int{}
	var first503, first200 time.Duration = -1, -1
	for _, p := range r.probes {
		st := fmt.Sprint(p.status)
		switch {
		case p.at >= r.ev.stopIssued && p.at < r.ev.back:
			during[st]++
			if p.status == 503 && first503 < 0 {
				first503 = p.at - r.ev.stopIssued
			}
		case p.at >= r.ev.back:
			afterwards[st]++
			if p.status == 200 && first200 < 0 {
				first200 = p.at - r.ev.back
			}
		}
	}
	fmt.Printf("/readyz during the outage: %s", joinCounts(during, "×"))
	if first503 >= 0 {
		fmt.Printf(" (first 503 +%s after the stop)", secs(first503))
	}
	fmt.Printf("; after the return: %s", joinCounts(afterwards, "×"))
	if first200 >= 0 {
		fmt.Printf(" (first 200 +%s after the return)", secs(first200))
	}
	fmt.Printf("; at the end: %d\n", r.finalReady)
	yes := "no"
	if r.recovered() {
		yes = "yes"
	}
	fmt.Printf("recovered without a restart: %s (pid %d still running: %t)\n", yes, r.pid, r.running)
	verdict := "PASS"
	if !r.passed() {
		verdict = "FAIL"
	}
	fmt.Printf("verdict: %s (fail-open answers %d, panics %d, leaked driver text %d, recovered %s)\n",
		verdict, len(r.unverified), r.panics, len(r.leaks), yes)
}
