package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"accountd/scripts/internal/e2e"
	"accountd/secret"
)

// Each check talks from loopback addresses of its own, so its requests
// count against no other check's per-IP budget: through the proxy the
// servers learn the address from X-Forwarded-For, directly from the
// socket.
const (
	ipSessions  = "127.0.0.11"
	ipRevoke    = "127.0.0.12"
	ipQuotaPrep = "127.0.0.13"
	ipQuotaRace = "127.0.0.14"
	ipCodePrep  = "127.0.0.15"
	ipCodeRace  = "127.0.0.16"
	ipLimitLB   = "127.0.0.20"
	ipLimitRR   = "127.0.0.21"
)

const racers = 15

const accountPath = "/api/client/account"

// runChecks runs checks a–e in order; an error is a setup step that
// failed before its check could decide anything.
func (d *driver) runChecks(ctx context.Context) error {
	s1, s2, s3 := d.servers[0], d.servers[1], d.servers[2]

	// a. A session created on s1 works on s2 and s3.
	c := d.client(ipSessions)
	alice := e2e.NewUser("alice")
	if _, err := e2e.Register(ctx, c, d.proxy, alice); err != nil {
		return err
	}
	login, err := e2e.Login(ctx, c, s1.URL, alice)
	if err != nil {
		return err
	}
	session := e2e.Cred{Cookie: login.Cookie}
	on2 := e2e.Do(ctx, c, http.MethodGet, s2.URL+accountPath, session, nil)
	on3 := e2e.Do(ctx, c, http.MethodGet, s3.URL+accountPath, session, nil)
	d.report(on2.Status == 200 && on3.Status == 200 && userID(on2) == alice.ID && userID(on3) == alice.ID,
		"a. a session created by a login on s1 works on s2 and s3",
		"GET %s with the cookie: s2 %s, s3 %s, both for the signed-in user: %t",
		accountPath, on2.Brief(), on3.Brief(), userID(on2) == alice.ID && userID(on3) == alice.ID)

	// b. Revoked on s2, refused by s1 and s3; a key deleted on s3,
	// refused by s1 and s2.
	if err := d.checkRevocation(ctx, alice, session); err != nil {
		return err
	}
	// c. The API-key quota under competing creates on every server.
	if err := d.checkQuota(ctx); err != nil {
		return err
	}
	// d. A recovery code is used once, whichever servers it is sent to.
	if err := d.checkRecoveryCode(ctx); err != nil {
		return err
	}
	// e. One per-IP budget across the servers.
	if err := d.checkRateLimit(ctx, "via the proxy", ipLimitLB, "erin"); err != nil {
		return err
	}
	return d.checkRateLimit(ctx, "directly, round-robin over s1, s2, s3", ipLimitRR, "frank")
}

func (d *driver) checkRevocation(ctx context.Context, alice *e2e.User, victim e2e.Cred) error {
	s1, s2, s3 := d.servers[0], d.servers[1], d.servers[2]
	c := d.client(ipRevoke)
	other, err := e2e.Login(ctx, c, s2.URL, alice)
	if err != nil {
		return err
	}
	admin := e2e.Cred{Cookie: other.Cookie}

	var list struct {
		Sessions struct {
			Data []struct {
				UUID    string `json:"uuid"`
				IsUsing bool   `json:"is_using"`
			} `json:"data"`
		} `json:"sessions"`
	}
	r := e2e.Do(ctx, c, http.MethodGet, s1.URL+accountPath+"/sessions", victim, nil)
	if err := r.Decode(&list); err != nil || !r.OK() {
		return fmt.Errorf("list sessions: %s", r)
	}
	var id string
	for _, s := range list.Sessions.Data {
		if s.IsUsing {
			id = s.UUID
		}
	}
	if id == "" {
		return fmt.Errorf("list sessions: no current session in %s", r)
	}
	before1 := e2e.Do(ctx, c, http.MethodGet, s1.URL+accountPath, victim, nil)
	before3 := e2e.Do(ctx, c, http.MethodGet, s3.URL+accountPath, victim, nil)
	del := e2e.Do(ctx, c, http.MethodDelete, s2.URL+accountPath+"/sessions/"+id, admin, nil)
	after1 := e2e.Do(ctx, c, http.MethodGet, s1.URL+accountPath, victim, nil)
	after3 := e2e.Do(ctx, c, http.MethodGet, s3.URL+accountPath, victim, nil)
	d.report(before1.Status == 200 && before3.Status == 200 && del.Status == 200 && after1.Status == 401 && after3.Status == 401,
		"b. a session revoked on s2 is refused by s1 and s3 on their next request",
		"in use on s1 %s, s3 %s; DELETE …/sessions/{uuid} on s2 %s; next request on s1 %s, s3 %s",
		before1.Brief(), before3.Brief(), del.Brief(), after1.Brief(), after3.Brief())

	key, err := e2e.CreateKey(ctx, c, s1.URL, admin, "replica check", nil)
	if err != nil {
		return err
	}
	byKey := e2e.Cred{Key: key.Secret}
	kb1 := e2e.Do(ctx, c, http.MethodGet, s1.URL+accountPath, byKey, nil)
	kb2 := e2e.Do(ctx, c, http.MethodGet, s2.URL+accountPath, byKey, nil)
	kdel := e2e.Do(ctx, c, http.MethodDelete, s3.URL+accountPath+"/api-keys/"+key.UUID, admin, nil)
	ka1 := e2e.Do(ctx, c, http.MethodGet, s1.URL+accountPath, byKey, nil)
	ka2 := e2e.Do(ctx, c, http.MethodGet, s2.URL+accountPath, byKey, nil)
	d.report(kb1.Status == 200 && kb2.Status == 200 && kdel.Status == 200 && ka1.Status == 401 && ka2.Status == 401,
		"b. an API key deleted on s3 is refused by s1 and s2 on their next request",
		"in use on s1 %s, s2 %s; DELETE …/api-keys/{uuid} on s3 %s; next request on s1 %s, s2 %s",
		kb1.Brief(), kb2.Brief(), kdel.Brief(), ka1.Brief(), ka2.Brief())
	return nil
}

func (d *driver) checkQuota(ctx context.Context) error {
	prep, race := d.client(ipQuotaPrep), d.client(ipQuotaRace)
	carol := e2e.NewUser("carol")
	cookie, err := e2e.Register(ctx, prep, d.proxy, carol)
	if err != nil {
		return err
	}
	cred := e2e.Cred{Cookie: cookie}
	for i := 1; i < maxAPIKeys; i++ {
		if _, err := e2e.CreateKey(ctx, prep, d.proxy, cred, fmt.Sprintf("existing %d", i), nil); err != nil {
			return err
		}
	}
	answers := d.race(func(i int) e2e.Response {
		return e2e.CreateKeyResponse(ctx, race, d.servers[i%3].URL, cred, fmt.Sprintf("competing %d", i), nil)
	})
	var list struct {
		APIKeys struct {
			Total int `json:"total"`
		} `json:"api_keys"`
	}
	r := e2e.Do(ctx, prep, http.MethodGet, d.proxy+accountPath+"/api-keys?per_page=100", cred, nil)
	if err := r.Decode(&list); err != nil || !r.OK() {
		return fmt.Errorf("list api keys: %s", r)
	}
	ok200, n417 := count(answers, 200), count(answers, 417)
	d.report(ok200 == 1 && n417 == racers-1 && list.APIKeys.Total == maxAPIKeys,
		fmt.Sprintf("c. the API-key quota (MAX_API_KEYS=%d, %d existing) holds for %d concurrent creates on s1, s2, s3", maxAPIKeys, maxAPIKeys-1, racers),
		"answers %s; per server %s; keys now: %d", histogram(answers), d.perServer(answers), list.APIKeys.Total)
	return nil
}

func (d *driver) checkRecoveryCode(ctx context.Context) error {
	s1, s2 := d.servers[0], d.servers[1]
	prep, race := d.client(ipCodePrep), d.client(ipCodeRace)
	dave := e2e.NewUser("dave")
	cookie, err := e2e.Register(ctx, prep, d.proxy, dave)
	if err != nil {
		return err
	}
	cred := e2e.Cred{Cookie: cookie}
	var setup struct {
		Secret string `json:"secret"`
	}
	r := e2e.Do(ctx, prep, http.MethodGet, s1.URL+accountPath+"/two-factor", cred, nil)
	if err := r.Decode(&setup); err != nil || setup.Secret == "" {
		return fmt.Errorf("two-factor setup: %s", r)
	}
	code, err := secret.TOTPCode(setup.Secret, secret.TOTPStep(time.Now()), 6)
	if err != nil {
		return err
	}
	var enabled struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	r = e2e.Do(ctx, prep, http.MethodPost, s2.URL+accountPath+"/two-factor", cred, map[string]string{"code": code, "password": dave.Password})
	if err := r.Decode(&enabled); err != nil || len(enabled.RecoveryCodes) == 0 {
		return fmt.Errorf("enable two-factor: %s", r)
	}
	// One confirmation token per competitor. Sequential: a sign-in is
	// charged to the account's attempt budget until it succeeds, and
	// fifteen at once would exceed it.
	tokens := make([]string, racers)
	for i := range tokens {
		a, err := e2e.Login(ctx, prep, d.proxy, dave)
		if err != nil {
			return err
		}
		if a.Type != "two_factor_required" || a.Token == "" {
			return fmt.Errorf("login of a two-factor account answered %q", a.Type)
		}
		tokens[i] = a.Token
	}
	answers := d.race(func(i int) e2e.Response {
		return e2e.Do(ctx, race, http.MethodPost, d.servers[i%3].URL+"/api/auth/login/checkpoint", e2e.Cred{},
			map[string]string{"confirmation_token": tokens[i], "code": enabled.RecoveryCodes[0]})
	})
	d.report(count(answers, 200) == 1,
		fmt.Sprintf("d. one recovery code, %d concurrent checkpoints on s1, s2, s3 (a token each): exactly one succeeds", racers),
		"answers %s; per server %s", histogram(answers), d.perServer(answers))
	return nil
}

// checkRateLimit sends twice the client limit from one address at once
// and expects no more than the limit to pass in total — and no fewer than
// the limit less one lease per server: hits a server reserved ahead and
// then had no requests for refuse the others early, never late.
func (d *driver) checkRateLimit(ctx context.Context, how, ip, name string) error {
	c := d.client(ip)
	u := e2e.NewUser(name)
	cookie, err := e2e.Register(ctx, c, d.proxy, u)
	if err != nil {
		return err
	}
	cred := e2e.Cred{Cookie: cookie}
	viaProxy := strings.HasPrefix(how, "via")
	answers := d.raceN(2*clientLimit, func(i int) e2e.Response {
		base := d.proxy
		if !viaProxy {
			base = d.servers[i%3].URL
		}
		return e2e.Do(ctx, c, http.MethodGet, base+accountPath, cred, nil)
	})
	passed, refused := count(answers, 200), count(answers, 429)
	where := d.perServer(answers)
	if viaProxy {
		where = byBackend(answers)
	}
	limitHeader := ""
	for _, a := range answers {
		if v := a.Header.Get("X-RateLimit-Limit"); v != "" {
			limitHeader = v
			break
		}
	}
	least := clientLimit - len(d.servers)*(1+clientLimit/8)
	d.report(passed <= clientLimit && passed >= least && passed+refused == 2*clientLimit,
		fmt.Sprintf("e. the shared per-IP limit (RATE_LIMIT_CLIENT=%d/%s): %d requests from %s %s → %d to %d pass in total, the rest 429",
			clientLimit, clientWindow, 2*clientLimit, ip, how, least, clientLimit),
		"answers %s; per server %s; X-RateLimit-Limit: %s", histogram(answers), where, limitHeader)
	return nil
}

// race runs racers calls of fn at the same moment and returns the answers
// by index.
func (d *driver) race(fn func(i int) e2e.Response) []e2e.Response { return d.raceN(racers, fn) }

func (d *driver) raceN(n int, fn func(i int) e2e.Response) []e2e.Response {
	out := make([]e2e.Response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func userID(r e2e.Response) string {
	var b struct {
		User struct {
			UUID string `json:"uuid"`
		} `json:"user"`
	}
	_ = r.Decode(&b)
	return b.User.UUID
}

func count(rs []e2e.Response, status int) int {
	n := 0
	for _, r := range rs {
		if r.Err == nil && r.Status == status {
			n++
		}
	}
	return n
}

// histogram summarises answers as `1×200, 14×417 "maximum number of api
// keys reached"`.
func histogram(rs []e2e.Response) string {
	n := map[string]int{}
	for _, r := range rs {
		n[r.Brief()]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%s", n[k], k))
	}
	return strings.Join(parts, ", ")
}

// perServer summarises the answers of each server, request i having gone
// to server i%3: `s1 {1×200, 4×417}; s2 {…}`.
func (d *driver) perServer(rs []e2e.Response) string {
	by := make([][]e2e.Response, len(d.servers))
	for i, r := range rs {
		by[i%len(d.servers)] = append(by[i%len(d.servers)], r)
	}
	parts := make([]string, len(d.servers))
	for i, s := range d.servers {
		parts[i] = fmt.Sprintf("%s {%s}", s.Name, shortHistogram(by[i]))
	}
	return strings.Join(parts, "; ")
}

// shortHistogram is histogram by status alone: `1×200, 4×417`.
func shortHistogram(rs []e2e.Response) string {
	n := map[string]int{}
	for _, r := range rs {
		k := "error"
		if r.Err == nil {
			k = fmt.Sprint(r.Status)
		}
		n[k]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d×%s", n[k], k)
	}
	return strings.Join(parts, ", ")
}

// byBackend is perServer for requests the proxy placed, by its X-Backend.
func byBackend(rs []e2e.Response) string {
	by := map[string][]e2e.Response{}
	for _, r := range rs {
		b := r.Header.Get("X-Backend")
		by[b] = append(by[b], r)
	}
	names := make([]string, 0, len(by))
	for b := range by {
		names = append(names, b)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, b := range names {
		parts[i] = fmt.Sprintf("%s {%s}", b, shortHistogram(by[b]))
	}
	return strings.Join(parts, "; ")
}
