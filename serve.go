package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"accountd/app"
)

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
		// "bind: address already in use", named after the setting to change.
		return fmt.Errorf("LISTEN_ADDR=%s: %w", cfg.ListenAddr, err)
	}
	// Where the database is, what to open in a browser and, on a fresh
	// database, who becomes administrator: what a first start needs said.
	a.LogStart(ctx, ln.Addr().String())
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
	// The mail sender outlives the signal: mail queued by the requests
	// still being served while draining leaves too. It stops on return,
	// after them and before the pool closes; an SMTP conversation under
	// way finishes first (15 s at most).
	senderCtx, stopSender := context.WithCancel(context.WithoutCancel(ctx))
	senderDone := make(chan struct{})
	go func() { defer close(senderDone); a.RunMailSender(senderCtx) }()
	defer func() { stopSender(); <-senderDone }()

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
