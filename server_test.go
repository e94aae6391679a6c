package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"accountd/db/dbtest"
)

func testEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestMigrateAndUserCreate(t *testing.T) {
	ctx := context.Background()
	env := testEnv(map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "sub", "panel.db")})
	var out bytes.Buffer
	if err := run(ctx, []string{"migrate"}, env, testIO(&out, &out)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied 0001_init") {
		t.Fatalf("migrate printed %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"migrate"}, env, testIO(&out, &out)); err != nil || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("second migrate: %v %q", err, out.String())
	}

	out.Reset()
	args := []string{"user", "create", "--username", "root_admin", "--email", "root@example.com", "--password", "a long password", "--admin"}
	if err := run(ctx, args, env, testIO(&out, &out)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "created user root_admin") || !strings.Contains(out.String(), "admin=true") {
		t.Fatalf("user create printed %q", out.String())
	}
	// The same again is refused; so is a bad username, with the rule.
	if err := run(ctx, args, env, testIO(&out, &out)); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate user create: %v", err)
	}
	bad := []string{"user", "create", "--username", "x", "--email", "x@example.com", "--password", "a long password"}
	if err := run(ctx, bad, env, testIO(&out, &out)); err == nil || !strings.Contains(err.Error(), "length is lower than 3") {
		t.Fatalf("bad user create: %v", err)
	}
	// The password never reaches the output.
	if strings.Contains(out.String(), "a long password") {
		t.Fatal("password printed")
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, testEnv(nil), testIO(&out, &out)); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command: %v", err)
	}
	if err := run(context.Background(), nil, testEnv(map[string]string{"MAX_API_KEYS": "lots"}), testIO(&out, &out)); err == nil || !strings.Contains(err.Error(), "MAX_API_KEYS") {
		t.Fatalf("bad configuration: %v", err)
	}
}

// TestServeStopsGracefully starts the real server and stops it the way a
// signal does (its context ends): it must answer before, and return cleanly
// after.
func TestServeStopsGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := testEnv(map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "panel.db"), "LISTEN_ADDR": addr})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- run(ctx, []string{"serve"}, env, testIO(&bytes.Buffer{}, &logs)) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never became ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("server still accepting after shutdown")
	}
}

// testIO is stdio with an empty stdin.
func testIO(out, err io.Writer) stdio {
	return stdio{in: strings.NewReader(""), out: out, err: err}
}

// TestMigrateCommandExplains: the migrate command names the missing right
// as the server's start does (here a role that may use its schema but not
// create in it).
func TestMigrateCommandExplains(t *testing.T) {
	role, schema, dbURL := dbtest.RestrictedRole(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"migrate"}, testEnv(map[string]string{"DATABASE_URL": dbURL}), testIO(&out, &out))
	if err == nil || !strings.Contains(err.Error(), "GRANT CREATE ON SCHEMA "+schema+" TO "+role) {
		t.Fatalf("migrate as a role without CREATE: %v", err)
	}
}
