package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"accountd/scripts/internal/e2e"
)

// sample is one request of the load and what became of it.
type sample struct {
	kind       string
	valid      bool   // sent with credentials that should work
	credName   string // which bad credential, for invalid ones
	start, end time.Duration
	status     int
	err        error
	// ok: a valid request succeeded, or an invalid one was refused as it
	// should be (4xx, or a null viewer). Anything else counts as failed.
	ok bool
	// unverified: an invalid request was answered as if its credentials
	// were good — the fail-open this script exists to catch.
	unverified bool
	body       string // kept for failures, 5xx answers and GraphQL errors
}

// loader sends the mix and records every sample.
type loader struct {
	c    *http.Client
	base string
	f    *fixtures
	t0   time.Time

	mu      sync.Mutex
	samples []sample
	seq     atomic.Int64
}

// op is one kind of operation in the mix, with its share.
type op struct {
	weight int
	run    func(*loader, context.Context)
}

// mix is the load: three quarters of it with working credentials (reads,
// writes, key creation and deletion, sign-ins), a quarter with credentials
// that must never pass.
func (l *loader) mix() []op {
	return []op{
		{30, (*loader).getAccount},
		{18, (*loader).viewer},
		{12, (*loader).patchAccount},
		{7, (*loader).createDeleteKey},
		{3, (*loader).login},
		{13, (*loader).invalidGetAccount},
		{7, (*loader).invalidViewer},
		{6, (*loader).invalidPatch},
		{4, (*loader).invalidLogin},
	}
}

// run sends operations at rate per second for duration, each in its own
// goroutine, so a slow answer never slows the schedule. Operations that
// would exceed maxInFlight are counted as skipped rather than queued.
func (l *loader) run(ctx context.Context, rate int, duration time.Duration, maxInFlight int64) (skipped int) {
	ops := l.mix()
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := l.t0.Add(duration)
	for now := range tick.C {
		if now.After(end) {
			break
		}
		if inFlight.Load() >= maxInFlight {
			skipped++
			continue
		}
		n := rand.IntN(total)
		var o op
		for _, o = range ops {
			if n < o.weight {
				break
			}
			n -= o.weight
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			o.run(l, ctx)
		}()
	}
	wg.Wait()
	return skipped
}

func (l *loader) member() *member { return l.f.members[rand.IntN(len(l.f.members))] }

// cred picks one of the member's working credentials.
func (m *member) cred() e2e.Cred {
	if i := rand.IntN(len(m.cookies) + 1); i < len(m.cookies) {
		return e2e.Cred{Cookie: m.cookies[i]}
	}
	return e2e.Cred{Key: m.key}
}

func (l *loader) invalidCred() namedCred { return l.f.invalid[rand.IntN(len(l.f.invalid))] }

// send makes one request and records it, judged by judge.
func (l *loader) send(ctx context.Context, kind string, valid bool, method, path string, cred e2e.Cred, body any,
	judge func(e2e.Response) (ok, unverified bool)) e2e.Response {
	return l.sendNamed(ctx, kind, "", valid, method, path, cred, body, judge)
}

// sendNamed is send naming the bad credential used.
func (l *loader) sendNamed(ctx context.Context, kind, credName string, valid bool, method, path string, cred e2e.Cred, body any,
	judge func(e2e.Response) (ok, unverified bool)) e2e.Response {
	start := time.Since(l.t0)
	var r e2e.Response
	if path == "/graphql" {
		b := body.(map[string]any)
		r = e2e.GraphQL(ctx, l.c, l.base, cred, b["query"].(string), b["variables"].(map[string]any))
	} else {
		r = e2e.Do(ctx, l.c, method, l.base+path, cred, body)
	}
	s := sample{kind: kind, credName: credName, valid: valid, start: start, end: time.Since(l.t0), status: r.Status, err: r.Err}
	s.ok, s.unverified = judge(r)
	if r.Err == nil && (!s.ok || r.Status >= 500 || (path == "/graphql" && hasErrors(r))) {
		s.body = string(r.Body)
		if len(s.body) > 300 {
			s.body = s.body[:300]
		}
	}
	l.mu.Lock()
	l.samples = append(l.samples, s)
	l.mu.Unlock()
	return r
}

// REST judgements.
func validREST(r e2e.Response) (bool, bool) { return r.OK(), false }

func invalidREST(r e2e.Response) (bool, bool) {
	return r.Err == nil && r.Status >= 400 && r.Status < 500, r.OK()
}

// gqlAnswer is the part of a GraphQL answer the judgements read.
type gqlAnswer struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func parseGQL(r e2e.Response) (gqlAnswer, bool) {
	var a gqlAnswer
	if r.Err != nil || r.Decode(&a) != nil {
		return a, false
	}
	return a, true
}

func hasErrors(r e2e.Response) bool {
	a, ok := parseGQL(r)
	return ok && len(a.Errors) > 0
}

// viewerPresent reports a non-null viewer: the request was authenticated.
func viewerPresent(a gqlAnswer) bool {
	v, ok := a.Data["viewer"]
	return ok && string(v) != "null"
}

func validViewer(r e2e.Response) (bool, bool) {
	a, ok := parseGQL(r)
	return ok && r.Status == 200 && len(a.Errors) == 0 && viewerPresent(a), false
}

func invalidViewer(r e2e.Response) (bool, bool) {
	a, ok := parseGQL(r)
	if !ok {
		return false, r.OK()
	}
	return r.Status == 200 && len(a.Errors) == 0 && !viewerPresent(a), viewerPresent(a)
}

const viewerQuery = `{ viewer { id username email } }`

func (l *loader) getAccount(ctx context.Context) {
	l.send(ctx, "GET account", true, http.MethodGet, "/api/client/account", l.member().cred(), nil, validREST)
}

func (l *loader) viewer(ctx context.Context) {
	l.send(ctx, "GraphQL viewer", true, http.MethodPost, "/graphql", l.member().cred(),
		map[string]any{"query": viewerQuery, "variables": map[string]any{}}, validViewer)
}

func (l *loader) patchAccount(ctx context.Context) {
	l.send(ctx, "PATCH account", true, http.MethodPatch, "/api/client/account", l.member().cred(),
		map[string]any{"name_first": fmt.Sprintf("Load %d", l.seq.Add(1))}, validREST)
}

func (l *loader) createDeleteKey(ctx context.Context) {
	cred := l.member().cred()
	r := l.send(ctx, "create api key", true, http.MethodPost, "/api/client/account/api-keys", cred,
		map[string]any{"name": fmt.Sprintf("load key %d", l.seq.Add(1)), "user_permissions": []string{"account.infos"}}, validREST)
	key, err := e2e.ParseKey(r)
	if err != nil {
		return
	}
	l.send(ctx, "delete api key", true, http.MethodDelete, "/api/client/account/api-keys/"+key.UUID, cred, nil, validREST)
}

func (l *loader) login(ctx context.Context) {
	u := l.member().user
	l.send(ctx, "login", true, http.MethodPost, "/api/auth/login", e2e.Cred{},
		map[string]any{"user": u.Username, "password": u.Password}, func(r e2e.Response) (bool, bool) {
			return r.OK() && r.Session() != "", false
		})
}

func (l *loader) invalidGetAccount(ctx context.Context) {
	c := l.invalidCred()
	l.sendNamed(ctx, "GET account, bad credentials", c.name, false, http.MethodGet, "/api/client/account", c.cred, nil, invalidREST)
}

func (l *loader) invalidViewer(ctx context.Context) {
	c := l.invalidCred()
	l.sendNamed(ctx, "GraphQL viewer, bad credentials", c.name, false, http.MethodPost, "/graphql", c.cred,
		map[string]any{"query": viewerQuery, "variables": map[string]any{}}, invalidViewer)
}

func (l *loader) invalidPatch(ctx context.Context) {
	c := l.invalidCred()
	l.sendNamed(ctx, "PATCH account, bad credentials", c.name, false, http.MethodPatch, "/api/client/account", c.cred,
		map[string]any{"name_first": "Mallory"}, invalidREST)
}

// invalidLogin signs in to an unknown account, or to the victim account
// with a wrong password.
func (l *loader) invalidLogin(ctx context.Context) {
	body := map[string]any{"user": fmt.Sprintf("nobody%d", l.seq.Add(1)), "password": "wrong password"}
	if rand.IntN(2) == 0 {
		body = map[string]any{"user": l.f.victim.Username, "password": "wrong password"}
	}
	l.sendNamed(ctx, "login, bad password", fmt.Sprint(body["user"]), false, http.MethodPost, "/api/auth/login", e2e.Cred{}, body, invalidREST)
}
