// Package app wires the server together: storage, the service, the GraphQL
// and REST transports and the HTTP middleware, in the order DESIGN.md
// draws them. main and the end-to-end tests build the same App.
package app

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/rs/cors"

	"accountd/account"
	"accountd/db"
	"accountd/graph"
	"accountd/mail"
	"accountd/metrics"
	"accountd/model"
	"accountd/rest"
	"accountd/secret"
	"accountd/web"
	"accountd/web/graphiql"
)

// maxBodyBytes is the request body cap of REST.md §1.
const maxBodyBytes = 1 << 20

// App is a ready-to-serve server.
type App struct {
	Config  *Config
	DB      *db.DB
	Store   *db.Store
	Service *account.Service
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Mail delivers the outbox (RunMailSender; app/mail.go).
	Mail    *mail.Sender
	handler http.Handler
	// draining is closed when shutdown starts; /readyz then answers 503.
	draining chan struct{}
	// writes remembers whether the database could be written, for /readyz.
	writes writeCheck
}

// New opens the database, applies migrations and builds the handler. Its
// errors about the database name DATABASE_URL and what to fix (see
// prepare); a database that cannot be written but needs no migration
// starts the server unready instead.
func New(ctx context.Context, cfg *Config, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	readOnly, err := prepare(ctx, d, logger)
	if err != nil {
		d.Close()
		return nil, err
	}
	a, err := NewWithDB(cfg, d, logger)
	if err != nil {
		d.Close()
		return nil, err
	}
	// Start-up has said so already; /readyz logs only a change.
	a.writes.failing = readOnly != nil
	return a, nil
}

// NewWithDB builds the App on an open, migrated database.
func NewWithDB(cfg *Config, d *db.DB, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	catalog, err := model.LoadPermissionCatalog()
	if err != nil {
		return nil, err
	}
	params := secret.DefaultArgon2
	if cfg.Argon2 != nil {
		params = *cfg.Argon2
	}
	concurrency := cfg.HashConcurrency
	if concurrency < 1 {
		concurrency = defaultHashConcurrency()
	}
	hasher, err := secret.NewPasswordHasher(params, concurrency)
	if err != nil {
		return nil, err
	}
	// When the last hash of a burst of sign-ins ends, its memory is given
	// back to the system at once instead of over minutes (see OnIdle).
	var freeing atomic.Bool
	hasher.OnIdle = func() {
		if freeing.CompareAndSwap(false, true) {
			go func() {
				debug.FreeOSMemory()
				freeing.Store(false)
			}()
		}
	}
	m := metrics.New(d.DB.DB, string(d.Dialect))
	hasher.OnWait = m.HashWait
	store := db.NewStore(d)
	stores := account.Stores{Tx: store, Users: store, Sessions: store, APIKeys: store,
		TwoFactor: store, Activities: store, Attempts: store, Throttle: store, Operators: store, Mail: store,
		SecurityKeys: store, ResetTokens: store, EmailVerifications: store}
	svc := account.New(stores, hasher, catalog, account.Config{
		AppName: cfg.AppName, AppURL: cfg.AppURL.String(), SessionDuration: cfg.SessionDuration, RegistrationEnabled: cfg.RegistrationEnabled,
		MaxAPIKeys: cfg.MaxAPIKeys, AllowLanguageChange: cfg.AllowLanguageChange,
		TwoFactorRequirement: cfg.TwoFactorRequirement, ActivityRetention: cfg.ActivityRetention,
		SecurityKeys:       securityKeys(cfg, logger, m),
		EmailVerifyChanges: cfg.EmailVerifyChanges, EmailVerifySignup: cfg.EmailVerifySignup, ForgotLimit: forgotLimit(cfg),
	}, logger)
	svc.OnAttemptRefused = m.AttemptRefused
	sender, err := newMailSender(cfg, store, m, logger)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, DB: d, Store: store, Service: svc, Logger: logger, Metrics: m, Mail: sender, draining: make(chan struct{})}
	a.handler = a.routes()
	return a, nil
}

// Handler is the whole HTTP surface.
func (a *App) Handler() http.Handler { return a.handler }

// MetricsHandler serves GET /metrics alone, for the separate listener of
// METRICS_ADDR (the main handler then has no /metrics).
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	return mux
}

// Drain marks the server as shutting down for /readyz.
func (a *App) Drain() {
	select {
	case <-a.draining:
	default:
		close(a.draining)
	}
}

// Close releases the database once the service's background work is
// done.
func (a *App) Close() error {
	// Work the service started after an answer (a password reset's mail)
	// finishes first: it needs the database.
	a.Service.Wait()
	return a.DB.Close()
}

// forgotLimit is the per-address limit of password reset requests:
// RATE_LIMIT_FORGOT's numbers (REST.md §7.1).
func forgotLimit(cfg *Config) account.Limit {
	r := cfg.RateLimits[web.RateForgot]
	return account.Limit{Hits: r.Limit, Window: r.Window}
}

func (a *App) routes() http.Handler {
	cookie := web.SessionCookie{Name: a.Config.SessionCookie, Secure: a.Config.AppURL.Scheme == "https"}
	device := web.SessionCookie{Name: web.DeviceCookieName, Secure: cookie.Secure}
	auth := web.Authenticator{Service: a.Service, Cookie: cookie, OnFailure: a.Metrics.AuthFailed}

	limits := a.rateLimiter()
	limits.OnRefused = a.Metrics.RateLimited
	// The limits the service applies itself, after the refusals the
	// contract ranks first (the security-key sign-in, REST.md §6.6):
	// counted alike, with the X-RateLimit-* headers on the answer.
	a.Service.LimitIP = func(ctx context.Context, rule string) error {
		d := limits.Check(ctx, rule)
		d.SetHeaders(web.ResponseHeaderFrom(ctx))
		return d.Err()
	}
	gql := graph.NewHandler(&graph.Resolver{Service: a.Service, Cookie: cookie, Device: device, Limits: limits}, graph.Options{
		Introspection: a.Config.GraphQLIntrospection, Suggestions: a.Config.Development, Logger: a.Logger,
		OnOperation: a.Metrics.GraphQLOperation,
	})

	// Cross-site request forgery: a state-changing request a browser sends
	// from another origin is refused before any handler runs. Scripts,
	// which send neither Sec-Fetch-Site nor Origin, are unaffected.
	refuse := func(graphQL bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			err := model.Errorf(model.CodeForbidden, "cross-origin request refused")
			if graphQL {
				graph.WriteError(w, r, err)
				return
			}
			web.WriteError(w, r, a.Logger, err)
		})
	}

	// The origins CORS_ORIGINS allows are trusted as much as APP_URL's.
	origins := append([]string{a.Config.AppURL.Scheme + "://" + a.Config.AppURL.Host}, a.Config.CORSOrigins...)
	// So are the origins WebAuthn ceremonies run on (REST.md §6.1).
	if a.Config.WebAuthn.On() {
		origins = append(origins, a.Config.WebAuthn.Origins...)
	}
	csrf := func(graphQL bool) *http.CrossOriginProtection {
		c := http.NewCrossOriginProtection()
		for _, o := range origins {
			if err := c.AddTrustedOrigin(o); err != nil {
				a.Logger.Warn("not a usable origin for cross-origin checks", "origin", o, "error", err)
			}
		}
		c.SetDenyHandler(refuse(graphQL))
		return c
	}

	// The REST routes whose GET changes state apply the same check
	// themselves, since it passes every GET.
	restCSRF := csrf(false)
	api := (&rest.Handler{Service: a.Service, Cookie: cookie, Device: device, Authenticate: auth.Middleware, Logger: a.Logger,
		CrossOrigin: restCSRF}).Routes()

	// Per-IP limits run first, before any authentication work.
	// Which operations have a limit of their own is web's table: REST
	// routes by it here, GraphQL fields in graph's executor.
	limitGraphQL := limits.Middleware(func(*http.Request) string { return web.RateClient }, graph.WriteError)
	limitREST := limits.Middleware(web.RESTRateRule, func(w http.ResponseWriter, r *http.Request, err error) {
		web.WriteError(w, r, a.Logger, err)
	})

	mux := http.NewServeMux()
	mux.Handle("/graphql", a.cors(limitGraphQL(csrf(true).Handler(auth.Middleware(gql)))))
	mux.Handle("/api/", a.cors(limitREST(restCSRF.Handler(api))))
	if a.Config.GraphQLIntrospection {
		// GraphiQL needs introspection: one switch turns both on or off.
		ide := graphiql.New("/graphql")
		mux.Handle("GET "+graphiql.PagePath, ide)
		mux.Handle("GET "+graphiql.AssetPrefix, ide)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	// Exactly "/": every other unknown path stays a 404.
	mux.HandleFunc("GET /{$}", a.home(a.newHomePage()))
	if a.Config.MetricsAddr == "" {
		mux.Handle("GET /metrics", web.Quiet(a.Metrics.Handler()))
	}

	var h http.Handler = metrics.RecordRoute(mux)
	h = web.LimitBody(maxBodyBytes, h)
	h = web.Recover(a.Logger, h)
	h = a.Metrics.Middleware(h)
	h = web.AccessLog(a.Logger, h)
	h = web.ClientIP{Trusted: a.Config.TrustedProxies}.Middleware(h)
	h = web.RequestID(h)
	return h
}

// rateLimiter builds the per-IP limiter: on PostgreSQL its counters live
// in the database, so every server shares one budget per client (reserved
// in leases, see web.LeasedCounter); on SQLite, which runs one server, in
// this process.
func (a *App) rateLimiter() *web.RateLimiter {
	l := &web.RateLimiter{Rules: a.Config.RateLimits, Off: !a.Config.RateLimit, Logger: a.Logger}
	if a.DB.Dialect == db.Postgres {
		l.Counter = &web.LeasedCounter{Shared: a.Store}
	} else {
		l.Counter = &web.MemoryCounter{}
	}
	return l
}

// cors answers preflights and sets the CORS headers for the origins of
// CORS_ORIGINS; with none configured it adds nothing, so browsers keep
// their same-origin policy.
func (a *App) cors(h http.Handler) http.Handler {
	if len(a.Config.CORSOrigins) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins:   a.Config.CORSOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   []string{"Content-Type", "Authorization", "If-None-Match"},
		ExposedHeaders:   []string{"ETag", "Retry-After", "X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		AllowCredentials: true,
		MaxAge:           600,
	}).Handler(h)
}

// ready reports whether this server should receive traffic: not draining,
// the database reachable, every migration applied and the database
// writable (checked at most every writeCheckTTL while it is).
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	select {
	case <-a.draining:
		web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	default:
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	pending, err := a.DB.Pending(ctx)
	switch {
	case err != nil:
		a.Logger.WarnContext(ctx, "readiness check failed", "error", err)
		web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
	case pending > 0:
		web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "migrations pending"})
	default:
		switch readOnly, err := a.readOnly(ctx); {
		case err != nil:
			a.Logger.WarnContext(ctx, "readiness check failed", "error", err)
			web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		case readOnly != nil:
			web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database read-only"})
		default:
			web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}
	}
}
