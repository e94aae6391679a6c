package app_test

// End-to-end tests of /metrics. Every identifier here starts with
// "metrics" so it cannot clash with helpers other test files add.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/secret"
	"accountd/web"
)

// metricsConfig is the base configuration of these tests: the per-IP
// limits as an operator who sets nothing runs them (and the kit's cheap
// hashing), then extra.
func metricsConfig(extra func(*app.Config)) func(*app.Config) {
	return func(cfg *app.Config) {
		if extra != nil {
			extra(cfg)
		}
	}
}

// metricsScrape is one scrape: every sample by its series as exposed
// (`name{label="value",…}`, labels sorted by name), and the whole text.
type metricsScrape struct {
	samples map[string]float64
	text    string
}

// metricsGet scrapes url (a /metrics endpoint) and parses the text format.
func metricsGet(t testing.TB, url string) *metricsScrape {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s\n%s", url, res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	s := &metricsScrape{samples: map[string]float64{}, text: string(body)}
	for _, line := range strings.Split(s.text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("unparsable sample %q", line)
		}
		s.samples[line[:i]] = v
	}
	return s
}

// want fails unless series has exactly value.
func (s *metricsScrape) want(t testing.TB, series string, value float64) {
	t.Helper()
	got, ok := s.samples[series]
	if !ok {
		t.Errorf("no series %s; have:\n%s", series, s.family(metricsName(series)))
		return
	}
	if got != value {
		t.Errorf("%s = %v, want %v", series, got, value)
	}
}

// atLeast fails unless series has at least value.
func (s *metricsScrape) atLeast(t testing.TB, series string, value float64) {
	t.Helper()
	if got, ok := s.samples[series]; !ok || got < value {
		t.Errorf("%s = %v (present %v), want at least %v", series, got, ok, value)
	}
}

// family lists the samples of one metric, for failure messages.
func (s *metricsScrape) family(name string) string {
	var b strings.Builder
	for _, line := range strings.Split(s.text, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func metricsName(series string) string {
	if i := strings.IndexByte(series, '{'); i >= 0 {
		return series[:i]
	}
	return series
}

var (
	metricsLabelValue = regexp.MustCompile(`="((?:[^"\\]|\\.)*)"`)
	metricsUUID       = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// noSecrets fails when the scrape holds any of secrets anywhere, or a
// label value shaped like an id, an e-mail address or a key.
func (s *metricsScrape) noSecrets(t testing.TB, secrets ...string) {
	t.Helper()
	for _, v := range secrets {
		if v == "" {
			t.Fatal("empty secret: the check would be vacuous")
		}
		if strings.Contains(s.text, v) {
			t.Errorf("/metrics contains %q", v)
		}
	}
	for _, m := range metricsLabelValue.FindAllStringSubmatch(s.text, -1) {
		v := m[1]
		if metricsUUID.MatchString(v) || strings.Contains(v, "@") || strings.Contains(strings.ToLower(v), "c7sp_") {
			t.Errorf("label value %q looks like an identifier or a key", v)
		}
	}
}

// metricsGQL posts a GraphQL document with an operation name ("" for
// none).
func metricsGQL(t testing.TB, c *apptest.Client, query, operationName string) *apptest.GQLResponse {
	t.Helper()
	body := map[string]any{"query": query}
	if operationName != "" {
		body["operationName"] = operationName
	}
	res := c.Do(http.MethodPost, "/graphql", body)
	return &apptest.GQLResponse{Status: res.Status, Raw: res.Body}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, metricsConfig(nil), func(t *testing.T, ts *apptest.Server) {
		const password = "Mtrx-Password-9431"
		u := apptest.Register(t, ts, "mtrxuser", password)
		session := apptest.CookieValue(t, u.Client)

		// Requests by route template, method and status.
		for range 2 {
			apptest.WantStatus(t, u.Do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
		}
		res := u.Do(http.MethodPost, "/api/client/account/api-keys", map[string]any{
			"name": "mtrx key", "user_permissions": []string{"api-keys.read", "api-keys.update"}})
		apptest.WantStatus(t, res, http.StatusOK)
		created := res.JSON(t)
		key, _ := created["key"].(string)
		keyID, _ := apptest.Get(created, "api_key", "uuid").(string)
		if len(key) != 48 || keyID == "" {
			t.Fatalf("create key: %s", res.Body)
		}
		keyStart := key[:16]
		patch := u.Do(http.MethodPatch, "/api/client/account/api-keys/"+keyID, map[string]any{"name": "mtrx renamed"})
		bot := apptest.KeyClient(t, ts, key)
		apptest.WantStatus(t, bot.Do(http.MethodGet, "/api/client/account/api-keys/identifier/"+keyStart, nil), http.StatusOK)
		// Unknown routes, whatever their path holds, and unknown methods.
		apptest.WantStatus(t, u.Do(http.MethodGet, "/api/client/account/nope/"+u.ID.String(), nil), http.StatusNotFound)
		apptest.WantStatus(t, u.Do(http.MethodGet, "/nowhere/"+keyStart, nil), http.StatusNotFound)
		apptest.WantStatus(t, u.Do("FROB", "/api/client/account", nil), http.StatusMethodNotAllowed)

		// Authentication failures, one of each reason.
		apptest.WantStatus(t, ts.Client(t).Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		unknownKey := "c7sp_" + secret.RandomString(43)
		apptest.WantStatus(t, apptest.KeyClient(t, ts, unknownKey).Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		malformed := ts.Client(t)
		malformed.Header.Set("Authorization", "Bearer mtrx-not-a-key")
		apptest.WantStatus(t, malformed.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		apptest.WantStatus(t, apptest.CookieClient(t, ts, "mtrxcrumb").Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		unknownSession := secret.RandomString(48)
		apptest.WantStatus(t, apptest.CookieClient(t, ts, unknownSession).Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		fenced := apptest.APIKey(t, ts, u.ID, apptest.KeyOpts{AllowedIPs: []string{"10.0.0.0/8"}})
		apptest.WantStatus(t, apptest.KeyClient(t, ts, fenced).Do(http.MethodGet, "/api/client/account", nil), http.StatusForbidden)

		// GraphQL operations by name and outcome.
		if r := metricsGQL(t, u.Client, `query MtrxViewer { viewer { id } }`, ""); r.Status != http.StatusOK || !strings.Contains(string(r.Raw), u.ID.String()) {
			t.Fatalf("viewer: %d %s", r.Status, r.Raw)
		}
		if r := metricsGQL(t, u.Client, `mutation MtrxRename { updateAccount(input: {username: "x"}) { userErrors { code } } }`, ""); !strings.Contains(string(r.Raw), "INVALID") {
			t.Fatalf("updateAccount with a bad username: %s", r.Raw)
		}
		// userErrors left out of the selection still count as such.
		metricsGQL(t, u.Client, `mutation MtrxQuiet { updateAccount(input: {username: "x"}) { user { id } } }`, "")
		anon := ts.Client(t)
		if r := metricsGQL(t, anon, `mutation MtrxNoAuth { revokeOtherSessions { revokedCount } }`, ""); !strings.Contains(string(r.Raw), "UNAUTHENTICATED") {
			t.Fatalf("revokeOtherSessions without credentials: %s", r.Raw)
		}
		metricsGQL(t, u.Client, `query MtrxBroken { nope }`, "")
		metricsGQL(t, u.Client, `{ viewer { id } }`, "")
		// Names that are the caller's secrets or ids never become labels.
		metricsGQL(t, u.Client, `query `+key+` { viewer { id } }`, "")
		metricsGQL(t, u.Client, `query MtrxOne { viewer { id } }`, u.Email)
		metricsGQL(t, u.Client, `query MtrxOne { viewer { id } }`, u.ID.String())

		// The attempt budget: five wrong passwords are checked, the sixth
		// is refused unchecked.
		var wrong []string
		for i := range 6 {
			w := fmt.Sprintf("Wrong-Mtrx-%d", i)
			wrong = append(wrong, w)
			_, res := apptest.Login(t, ts, u.Username, w)
			if want := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusBadRequest}[i == 5]; res.Status != want {
				t.Fatalf("wrong password %d: %d %s", i+1, res.Status, res.Body)
			}
		}

		s := metricsGet(t, ts.URL+"/metrics")
		for _, name := range []string{"http_requests_total", "http_request_duration_seconds", "graphql_operations_total",
			"auth_failures_total", "rate_limit_refusals_total", "attempt_limit_refusals_total", "password_hash_wait_seconds",
			"go_sql_open_connections", "go_sql_wait_count_total", "go_goroutines"} {
			if !strings.Contains(s.text, "# TYPE "+name+" ") {
				t.Errorf("metric %s missing", name)
			}
		}
		if runtime.GOOS == "linux" && !strings.Contains(s.text, "# TYPE process_cpu_seconds_total ") {
			t.Error("process metrics missing")
		}
		s.want(t, `http_requests_total{method="POST",route="/api/auth/register",status="200"}`, 1)
		s.want(t, `http_requests_total{method="GET",route="/api/client/account",status="200"}`, 2)
		s.want(t, `http_requests_total{method="GET",route="/api/client/account",status="401"}`, 5)
		s.want(t, `http_requests_total{method="GET",route="/api/client/account",status="403"}`, 1)
		s.want(t, `http_requests_total{method="POST",route="/api/client/account/api-keys",status="200"}`, 1)
		s.want(t, fmt.Sprintf(`http_requests_total{method="PATCH",route="/api/client/account/api-keys/{uuid}",status="%d"}`, patch.Status), 1)
		s.want(t, `http_requests_total{method="GET",route="/api/client/account/api-keys/identifier/{key_start}",status="200"}`, 1)
		s.want(t, `http_requests_total{method="GET",route="unmatched",status="404"}`, 2)
		s.want(t, `http_requests_total{method="other",route="unmatched",status="405"}`, 1)
		// Documents that fail to parse or validate are answered 200 under
		// application/json, as GraphQL over HTTP asks.
		s.want(t, `http_requests_total{method="POST",route="/graphql",status="200"}`, 9)
		s.want(t, `http_requests_total{method="POST",route="/api/auth/login",status="429"}`, 1)
		s.want(t, `http_request_duration_seconds_count{method="GET",route="/api/client/account"}`, 8)

		s.want(t, `graphql_operations_total{operation="MtrxViewer",outcome="ok",type="query"}`, 1)
		s.want(t, `graphql_operations_total{operation="MtrxRename",outcome="user_error",type="mutation"}`, 1)
		s.want(t, `graphql_operations_total{operation="MtrxQuiet",outcome="user_error",type="mutation"}`, 1)
		s.want(t, `graphql_operations_total{operation="MtrxNoAuth",outcome="refused",type="mutation"}`, 1)
		s.want(t, `graphql_operations_total{operation="MtrxBroken",outcome="error",type="query"}`, 1)
		s.want(t, `graphql_operations_total{operation="anonymous",outcome="ok",type="query"}`, 1)
		s.want(t, `graphql_operations_total{operation="other",outcome="ok",type="query"}`, 1)
		s.want(t, `graphql_operations_total{operation="other",outcome="error",type="unknown"}`, 2)

		for reason, n := range map[string]float64{"invalid_api_key": 1, "malformed_header": 1, "malformed_cookie": 1,
			"invalid_session": 1, "ip_not_allowed": 1} {
			s.want(t, `auth_failures_total{reason="`+reason+`"}`, n)
		}
		s.atLeast(t, `auth_failures_total{reason="missing"}`, 2)
		s.want(t, `attempt_limit_refusals_total`, 1)
		s.want(t, `rate_limit_refusals_total{limit="login"}`, 0)
		s.atLeast(t, `password_hash_wait_seconds_count`, 6)
		s.atLeast(t, `go_sql_max_open_connections{db_name="`+string(ts.App.DB.Dialect)+`"}`, 1)

		secrets := []string{password, u.Username, u.Email, u.ID.String(), session, key, keyStart, keyID,
			unknownKey, unknownKey[:16], "mtrx-not-a-key", "mtrxcrumb", unknownSession, unknownSession[:16], fenced, fenced[:16]}
		s.noSecrets(t, append(secrets, wrong...)...)

		// Scrapes are logged at debug, not info.
		for _, line := range strings.Split(ts.LogText(), "\n") {
			if strings.Contains(line, "msg=request") && strings.Contains(line, "path=/metrics") && !strings.Contains(line, "level=DEBUG") {
				t.Errorf("scrape logged above debug: %s", line)
			}
		}
	})
}

// TestMetricsRateLimitRefusals counts the per-IP limit's refusals by
// limit.
func TestMetricsRateLimitRefusals(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, metricsConfig(func(cfg *app.Config) {
		cfg.RateLimits["checkpoint"] = web.RateRule{Limit: 1, Window: time.Hour}
	}), func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		body := map[string]any{"confirmation_token": secret.RandomString(48), "code": "123456"}
		if res := c.Do(http.MethodPost, "/api/auth/login/checkpoint", body); res.Status == http.StatusTooManyRequests {
			t.Fatalf("first checkpoint refused: %s", res.Body)
		}
		apptest.WantStatus(t, c.Do(http.MethodPost, "/api/auth/login/checkpoint", body), http.StatusTooManyRequests)
		s := metricsGet(t, ts.URL+"/metrics")
		s.want(t, `rate_limit_refusals_total{limit="checkpoint"}`, 1)
		s.want(t, `rate_limit_refusals_total{limit="client"}`, 0)
		var refused float64
		for series, v := range s.samples {
			if strings.HasPrefix(series, "http_requests_total{") && strings.Contains(series, `status="429"`) {
				refused += v
			}
		}
		if refused != 1 {
			t.Errorf("429 responses counted %v times, want 1:\n%s", refused, s.family("http_requests_total"))
		}
		s.noSecrets(t, body["confirmation_token"].(string))
	})
}

// TestMetricsSeparateListener: with METRICS_ADDR set, the API's listener
// has no /metrics, and the App's metrics handler (what the second
// listener serves) reports the API's traffic.
func TestMetricsSeparateListener(t *testing.T) {
	t.Parallel() // METRICS_ADDR is only read here; nothing listens on it
	apptest.EachServer(t, metricsConfig(func(cfg *app.Config) { cfg.MetricsAddr = "127.0.0.1:9464" }), func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		apptest.WantStatus(t, c.Do(http.MethodGet, "/healthz", nil), http.StatusOK)
		if res := c.Do(http.MethodGet, "/metrics", nil); res.Status != http.StatusNotFound {
			t.Fatalf("/metrics on the API listener: %d %s", res.Status, res.Body)
		}
		ms := httptest.NewServer(ts.App.MetricsHandler())
		defer ms.Close()
		s := metricsGet(t, ms.URL+"/metrics")
		s.want(t, `http_requests_total{method="GET",route="/healthz",status="200"}`, 1)
		s.want(t, `http_requests_total{method="GET",route="unmatched",status="404"}`, 1)
		if res, err := http.Get(ms.URL + "/api/client/account"); err != nil || res.StatusCode != http.StatusNotFound {
			t.Fatalf("the metrics listener serves more than /metrics: %v %v", res, err)
		} else {
			res.Body.Close()
		}
	})
}

func TestConfigMetricsAddr(t *testing.T) {
	t.Parallel()
	c, err := app.LoadConfig(env(map[string]string{"METRICS_ADDR": "127.0.0.1:9464"}))
	if err != nil || c.MetricsAddr != "127.0.0.1:9464" {
		t.Fatalf("METRICS_ADDR not taken: %v %+v", err, c)
	}
	if c, err := app.LoadConfig(env(nil)); err != nil || c.MetricsAddr != "" {
		t.Fatalf("METRICS_ADDR default: %v %+v", err, c)
	}
	for _, v := range []string{"nowhere", "127.0.0.1:8000"} {
		if _, err := app.LoadConfig(env(map[string]string{"METRICS_ADDR": v})); err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") {
			t.Errorf("METRICS_ADDR=%q: err = %v", v, err)
		}
	}
}
