package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// /readyz trusts a check that found the database writable for
// writeCheckTTL, so a load balancer's polling costs one look per TTL; a
// database that turns read-only fails /readyz from the next check on,
// and one that is fixed passes at the very next poll. The database turns
// read-only for real: its only pooled connection gets query_only.
func TestReadyzWritability(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "panel.db")
	cfg, err := LoadConfig(func(name string) string {
		if name == "DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedLog{}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pool := a.DB.DB.DB
	pool.SetMaxOpenConns(1)
	pool.SetMaxIdleConns(1)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a.writes.now = func() time.Time { return now }

	ready := func() (int, string) {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	queryOnly := func(on string) {
		if _, err := pool.ExecContext(context.Background(), "PRAGMA query_only = "+on); err != nil {
			t.Fatal(err)
		}
	}

	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("/readyz on a writable database: %d %s", code, body)
	}
	queryOnly("1")
	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("/readyz within the TTL of a good check: %d %s, want the cached 200", code, body)
	}
	now = now.Add(writeCheckTTL)
	for range 3 {
		if code, body := ready(); code != http.StatusServiceUnavailable || body != `{"status":"database read-only"}` {
			t.Fatalf("/readyz on a read-only database: %d %s", code, body)
		}
	}
	if n := strings.Count(logs.String(), `level=ERROR msg="database cannot be written: /readyz fails until it can"`); n != 1 {
		t.Errorf("logged the read-only database %d times, want once:\n%s", n, logs)
	}
	queryOnly("0")
	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("/readyz right after the database became writable: %d %s", code, body)
	}
	if !strings.Contains(logs.String(), `msg="database can be written again"`) {
		t.Errorf("no log line for the recovery:\n%s", logs)
	}
}
