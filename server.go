// Command accountd is the account server of a game-server panel: a GraphQL
// API with a REST layer compatible with the Calagopus panel's
// /api/client/account paths.
//
// Usage:
//
//	accountd [serve]                  run the server (the default)
//	accountd migrate                  apply database migrations and exit
//	accountd user create --username U --email E --password P [--admin]
//	accountd user disable-2fa --user USERNAME_OR_EMAIL
//
// Configuration comes from the environment; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"accountd/account"
	"accountd/app"
	"accountd/db"
)

func main() {
	logs := newLogBuffer(os.Stderr, logFlushEvery)
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, logs)
	logs.Close() //nolint:errcheck // nowhere left to report it
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// run is main with its dependencies passed in, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, logger)
	case "migrate":
		return migrate(ctx, cfg, stdout)
	case "user":
		return userCommand(ctx, cfg, logger, args, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: accountd [serve | migrate | user create --username U --email E --password P [--admin] | user disable-2fa --user U]")
		return nil
	}
	return fmt.Errorf("unknown command %q (want serve, migrate or user)", cmd)
}

func newLogger(cfg *app.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the HTTP server until SIGINT or SIGTERM, then fails /readyz
// for SHUTDOWN_DRAIN while still serving, stops accepting, lets in-flight
// requests finish within SHUTDOWN_TIMEOUT and closes the database.
func serve(ctx context.Context, cfg *app.Config, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()

	srv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", ln.Addr().String(), "database", string(a.DB.Dialect))
	msrv, err := startMetricsServer(cfg, a, logger)
	if err != nil {
		ln.Close()
		return err
	}
	// Stops it on an early return; after the shutdown below, a no-op.
	defer msrv.Shutdown(context.Background()) //nolint:errcheck // already stopping

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	cleanupCtx, stopCleanup := context.WithCancel(ctx)
	cleanupDone := make(chan struct{})
	go func() { defer close(cleanupDone); a.RunCleanup(cleanupCtx) }()
	// The clean-up stops before the pool closes (deferred above).
	defer func() { stopCleanup(); <-cleanupDone }()

	select {
	case err := <-errc:
		return err
	case err := <-msrv.Errors():
		srv.Close()
		return fmt.Errorf("metrics listener: %w", err)
	case <-ctx.Done():
	}
	// A second signal now ends the process at once instead of waiting for
	// the drain and the in-flight requests.
	stop()
	// /readyz fails from here on. For SHUTDOWN_DRAIN the listener still
	// serves everything else as usual: a load balancer polling /readyz
	// takes this replica out of rotation while its connections still work,
	// so no client is refused a connection it was just sent to.
	a.Drain()
	if cfg.ShutdownDrain > 0 {
		logger.Info("draining", "for", cfg.ShutdownDrain)
		time.Sleep(cfg.ShutdownDrain)
	}
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		// Cut the requests still running instead of leaving their
		// connections open, and their handlers headed for a closed pool,
		// after run has returned.
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	// Metrics stay available while requests drain, then stop too.
	if err := msrv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown metrics listener: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

func migrate(ctx context.Context, cfg *app.Config, stdout io.Writer) error {
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, v := range applied {
		fmt.Fprintln(stdout, "applied", v)
	}
	return nil
}

func userCommand(ctx context.Context, cfg *app.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	const usage = "usage: user create --username U --email E --password P [--name-first F] [--name-last L] [--admin]\n" +
		"       user disable-2fa --user USERNAME_OR_EMAIL"
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "create":
		return userCreate(ctx, cfg, logger, args[1:], stdout)
	case "disable-2fa":
		return userDisableTwoFactor(ctx, cfg, logger, args[1:], stdout)
	}
	return errors.New(usage)
}

func userCreate(ctx context.Context, cfg *app.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	var in account.CreateUserInput
	fs.StringVar(&in.Username, "username", "", "username (3–15 characters, letters, digits, _)")
	fs.StringVar(&in.Email, "email", "", "e-mail address")
	fs.StringVar(&in.Password, "password", "", "password (8–512 characters)")
	fs.StringVar(&in.NameFirst, "name-first", "", "first name (defaults to the username)")
	fs.StringVar(&in.NameLast, "name-last", "", "last name (defaults to the username)")
	fs.BoolVar(&in.Admin, "admin", false, "make the user an administrator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if in.NameFirst == "" {
		in.NameFirst = in.Username
	}
	if in.NameLast == "" {
		in.NameLast = in.Username
	}
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Service.CreateUser(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (%s), admin=%v\n", u.Username, u.ID, u.Admin)
	return nil
}

// userDisableTwoFactor is the operator's way back in for a user who lost
// both the authenticator and the recovery codes.
func userDisableTwoFactor(ctx context.Context, cfg *app.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user disable-2fa", flag.ContinueOnError)
	login := fs.String("user", "", "the username or e-mail address of the account")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *login == "" {
		return errors.New("usage: user disable-2fa --user USERNAME_OR_EMAIL")
	}
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Service.DisableTwoFactorFor(ctx, *login)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "two-factor authentication disabled for %s (%s)\n", u.Username, u.ID)
	return nil
}
