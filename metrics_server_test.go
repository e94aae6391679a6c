package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"accountd/app"
)

// TestMetricsListener: with METRICS_ADDR set, /metrics is served on its
// own listener (reporting the API's traffic) and not on the API's; the
// listener stops on Shutdown.
func TestMetricsListener(t *testing.T) {
	ctx := context.Background()
	cfg, err := app.LoadConfig(testEnv(map[string]string{
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "panel.db"), "METRICS_ADDR": "127.0.0.1:0"}))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m, err := startMetricsServer(cfg, a, logger)
	if err != nil || m == nil {
		t.Fatalf("start: %v %v", m, err)
	}
	api := httptest.NewServer(a.Handler())
	defer api.Close()

	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if status, _ := get(api.URL + "/healthz"); status != http.StatusOK {
		t.Fatalf("healthz: %d", status)
	}
	if status, _ := get(api.URL + "/metrics"); status != http.StatusNotFound {
		t.Fatalf("/metrics on the API listener: %d", status)
	}
	status, body := get("http://" + m.addr + "/metrics")
	if status != http.StatusOK || !strings.Contains(body, `http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
		t.Fatalf("metrics listener: %d\n%s", status, body)
	}
	if status, _ := get("http://" + m.addr + "/healthz"); status != http.StatusNotFound {
		t.Fatalf("the metrics listener serves more than /metrics: %d", status)
	}

	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + m.addr + "/metrics"); err == nil {
		t.Fatal("metrics listener still accepting after shutdown")
	}
	select {
	case err := <-m.Errors():
		t.Fatalf("a clean shutdown reported %v", err)
	default:
	}
}

func TestMetricsListenerUnset(t *testing.T) {
	cfg, err := app.LoadConfig(testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	m, err := startMetricsServer(cfg, nil, slog.New(slog.DiscardHandler))
	if m != nil || err != nil {
		t.Fatalf("without METRICS_ADDR: %v %v", m, err)
	}
	if m.Errors() != nil || m.Shutdown(context.Background()) != nil {
		t.Fatal("a nil metrics server must do nothing")
	}
}
