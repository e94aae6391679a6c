// Package metrics is the server's Prometheus instrumentation. Each App
// builds its own Metrics around its own registry, never the global one, so
// tests and several servers in one process never collide. The other
// packages report through plain function hooks (web.Authenticator's
// OnFailure, graph.Options' OnOperation, account.Service's
// OnAttemptRefused, the rate limiter's OnRefused, the password hasher's
// OnWait), so none of them imports Prometheus.
//
// No label ever carries a user id, name, e-mail address, key, token or
// raw path: every label value comes from a fixed vocabulary or is a
// route template, and the one client-chosen value (a GraphQL operation
// name) is checked against a pattern and capped in number.
package metrics

import (
	"database/sql"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the registry and every series the server exports.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	gqlOperations  *prometheus.CounterVec
	authFailures   *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	attemptRefused prometheus.Counter
	hashWait       prometheus.Histogram
	// mail is the outbox sender's (mail.go).
	mail *mailSeries

	// operationNames caps how many distinct GraphQL operation names get a
	// series of their own.
	operationNames *boundedSet

	// requestSeries holds each route, method and status's resolved
	// counter and histogram (a *requestSeries by requestKey), so that a
	// request records itself without hashing its labels into the vectors
	// again. Its keys come from the same bounded vocabularies as the
	// labels.
	requestSeries sync.Map
}

type requestKey struct {
	route, method string
	status        int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// series returns the resolved series of one route, method and status.
func (m *Metrics) series(route, method string, status int) *requestSeries {
	k := requestKey{route, method, status}
	if s, ok := m.requestSeries.Load(k); ok {
		return s.(*requestSeries)
	}
	s := &requestSeries{
		count:    m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)),
		duration: m.httpDuration.WithLabelValues(route, method),
	}
	actual, _ := m.requestSeries.LoadOrStore(k, s)
	return actual.(*requestSeries)
}

// maxOperationNames is how many distinct GraphQL operation names are
// counted by name; later ones count as "other". Clients choose the names,
// so without a cap one could grow the registry without bound.
const maxOperationNames = 200

// New registers every collector on a fresh registry. sqlDB, if not nil,
// has its pool statistics exported under db_name dbName.
func New(sqlDB *sql.DB, dbName string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its response, by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		gqlOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_operations_total",
			Help: "GraphQL operations by operation name, type (query, mutation) and outcome (ok, user_error, refused, error).",
		}, []string{"operation", "type", "outcome"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_failures_total",
			Help: "Requests whose credentials did not authenticate, by reason.",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rate_limit_refusals_total",
			Help: "Requests refused by a per-IP rate limit, by limit.",
		}, []string{"limit"}),
		attemptRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "attempt_limit_refusals_total",
			Help: "Password and code checks refused because the account's attempt budget was spent.",
		}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "password_hash_wait_seconds",
			Help:    "Time a password hash or check waited for a free hashing slot.",
			Buckets: []float64{.0001, .001, .005, .025, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		operationNames: newBoundedSet(maxOperationNames),
		mail:           newMailSeries(),
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.gqlOperations, m.authFailures, m.rateLimited,
		m.attemptRefused, m.hashWait,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.mail.collectors()...)
	if sqlDB != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(sqlDB, dbName))
	}
	// The rate limiter's limits: their refusal series exist from the
	// start, at zero, so a dashboard sees them before the first refusal.
	for _, l := range []string{"client", "login", "checkpoint", "register"} {
		m.rateLimited.WithLabelValues(l)
	}
	return m
}

// Registry is the registry the series live in (tests and embedders).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A collector that fails (the pool is closed during shutdown)
		// leaves its series out rather than failing the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// vocabulary is what a fixed-vocabulary label value looks like; anything
// else is a caller's bug and is counted as "other" rather than exported.
var vocabulary = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// RateLimited counts one refusal of the per-IP limit named limit (client,
// login, checkpoint, register). It fits the rate limiter's OnRefused hook.
func (m *Metrics) RateLimited(limit string) {
	if !vocabulary.MatchString(limit) {
		limit = "other"
	}
	m.rateLimited.WithLabelValues(limit).Inc()
}

// AttemptRefused counts one check refused by an account's attempt budget.
// It fits account.Service's OnAttemptRefused hook.
func (m *Metrics) AttemptRefused() { m.attemptRefused.Inc() }

// HashWait records how long a password hash waited for a slot. It fits
// secret.PasswordHasher's OnWait hook.
func (m *Metrics) HashWait(d time.Duration) { m.hashWait.Observe(d.Seconds()) }

// AuthFailed counts one failed authentication; reason comes from the
// authenticator's fixed vocabulary (missing, malformed_header, …).
func (m *Metrics) AuthFailed(reason string) {
	if !vocabulary.MatchString(reason) {
		reason = "other"
	}
	m.authFailures.WithLabelValues(reason).Inc()
}

// GraphQLOperation counts one GraphQL operation. name is the operation
// name as the client gave it ("" for none); kind is query, mutation or
// subscription; outcome is ok, user_error, refused or error.
func (m *Metrics) GraphQLOperation(name, kind, outcome string) {
	switch kind {
	case "query", "mutation", "subscription":
	default:
		kind = "unknown"
	}
	switch outcome {
	case "ok", "user_error", "refused", "error":
	default:
		outcome = "error"
	}
	m.gqlOperations.WithLabelValues(m.operationLabel(name), kind, outcome).Inc()
}
