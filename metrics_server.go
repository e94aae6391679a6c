package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"accountd/app"
)

// metricsServer serves /metrics on METRICS_ADDR, apart from the API: an
// operator can then keep it on a private interface. A nil *metricsServer
// (METRICS_ADDR unset; /metrics is then on the main listener) does
// nothing.
type metricsServer struct {
	srv  *http.Server
	addr string
	errc chan error
}

// startMetricsServer listens on cfg.MetricsAddr and serves a's metrics,
// or returns nil when it is not set.
func startMetricsServer(cfg *app.Config, a *app.App, logger *slog.Logger) (*metricsServer, error) {
	if cfg.MetricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, err
	}
	m := &metricsServer{
		srv: &http.Server{
			Handler:           a.MetricsHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		addr: ln.Addr().String(),
		errc: make(chan error, 1),
	}
	logger.Info("serving metrics", "addr", m.addr)
	go func() {
		if err := m.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.errc <- err
		}
	}()
	return m, nil
}

// Errors delivers the error that stopped the listener, if one does; nil
// (which never delivers) without a listener.
func (m *metricsServer) Errors() <-chan error {
	if m == nil {
		return nil
	}
	return m.errc
}

// Shutdown stops the listener, letting a scrape in progress finish.
func (m *metricsServer) Shutdown(ctx context.Context) error {
	if m == nil {
		return nil
	}
	return m.srv.Shutdown(ctx)
}
