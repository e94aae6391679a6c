package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"accountd/db/dbtest"
)

// A first start through the real command says where the database is,
// what to open and who becomes administrator, on both engines, and never
// the password of DATABASE_URL.
func TestServeFirstStartLog(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			dbURL, where := e.URL, ""
			if e.Name == "sqlite" {
				where = "database=sqlite path=" + strings.TrimPrefix(e.URL, "sqlite:") + "\n"
			} else {
				// The local test server trusts connections and ignores it.
				u, err := url.Parse(e.URL)
				if err != nil {
					t.Fatal(err)
				}
				u.User = url.UserPassword(u.User.Username(), "hunter2-secret")
				dbURL = u.String()
				where = "database=postgres " + dbtest.PostgresTarget(t, e.URL) + "\n"
			}
			srv := startServe(t, dbURL, 10*time.Second)
			srv.logs.waitFor(t, "first one to sign up")
			logs := srv.logs.String()
			for _, want := range []string{
				"level=INFO msg=listening addr=" + srv.addr + " " + where,
				"level=INFO msg=endpoints url=http://localhost:8000/ graphql=http://localhost:8000/graphql " +
					"graphiql=http://localhost:8000/graphiql openapi=http://localhost:8000/api/openapi.json\n",
				`level=WARN msg="no account exists yet: the first one to sign up becomes an administrator" ` +
					`fix="on a public instance, create the administrator first: accountd user create --admin --username NAME --email EMAIL --password-stdin"`,
			} {
				if !strings.Contains(logs, want) {
					t.Errorf("the start-up log lacks\n\t%s\nin\n%s", want, logs)
				}
			}
			if strings.Contains(logs, "hunter2-secret") {
				t.Errorf("the log holds the password:\n%s", logs)
			}
		})
	}
}

// Start-up failures name the setting to change and what is wrong, and
// never a password.
func TestServeStartErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env        map[string]string
		want, leak string
	}{
		{env: map[string]string{"DATABASE_URL": "sqlite:" + file + "/panel.db"},
			want: "DATABASE_URL=sqlite:" + file + "/panel.db: cannot create directory " + file + ": " + file + " is a file, not a directory"},
		{env: map[string]string{"DATABASE_URL": "postgres://app:hunter2-secret@127.0.0.1:1/panel?sslmode=disable"},
			want: "DATABASE_URL (postgres://app@127.0.0.1:1/panel): nothing accepts connections at 127.0.0.1:1 (connection refused)",
			leak: "hunter2-secret"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), []string{"serve"}, testEnv(c.env), testIO(&out, &out))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve with %v = %v, want %q", c.env, err, c.want)
			continue
		}
		if c.leak != "" && (strings.Contains(err.Error(), c.leak) || strings.Contains(out.String(), c.leak)) {
			t.Errorf("serve with %v repeats %q: %v\n%s", c.env, c.leak, err, out.String())
		}
	}
}

// A listen address in use is named as LISTEN_ADDR.
func TestServeListenAddrInUse(t *testing.T) {
	srv := startServe(t, "sqlite:"+filepath.Join(t.TempDir(), "panel.db"), 10*time.Second)
	env := testEnv(map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "other.db"), "LISTEN_ADDR": srv.addr})
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve"}, env, testIO(&out, &out))
	if err == nil || !strings.Contains(err.Error(), "LISTEN_ADDR="+srv.addr+": ") {
		t.Fatalf("serve on a taken address = %v", err)
	}
}
