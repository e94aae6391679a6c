package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"accountd/account"
	"accountd/app"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// cliRun is one run of the command as main makes it: the exit code, and
// what went to stdout and stderr.
type cliRun struct {
	code        int
	out, errOut string
}

// cliOn runs the command against one database with stdin.
func cliOn(t *testing.T, url, stdin string, args ...string) cliRun {
	t.Helper()
	var out, errOut bytes.Buffer
	env := testEnv(map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "info"})
	err := run(context.Background(), args, env, stdio{in: strings.NewReader(stdin), out: &out, err: &errOut})
	code := report(err, &errOut)
	return cliRun{code: code, out: out.String(), errOut: errOut.String()}
}

func (r cliRun) want(t *testing.T, code int, out, errOut string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.out, out) || !strings.Contains(r.errOut, errOut) || (errOut == "" && r.errOut != "") {
		t.Fatalf("exit %d, want %d (stdout ⊇ %q, stderr ⊇ %q)\nstdout: %s\nstderr: %s", r.code, code, out, errOut, r.out, r.errOut)
	}
	// Logs never go to stdout, which scripts read.
	if strings.Contains(r.out, "level=") || strings.Contains(r.out, "msg=") {
		t.Errorf("a log line on stdout:\n%s", r.out)
	}
}

// cliApp opens the server's service on the database, to check what a
// command did the way the API would see it.
func cliApp(t *testing.T, url string) *app.App {
	t.Helper()
	cfg, err := app.LoadConfig(testEnv(map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "error"}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, newLogger(cfg, &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// lastEvent returns the newest activity of the user, or nil.
func lastEvent(t *testing.T, a *app.App, ref string) *model.Activity {
	t.Helper()
	u, err := a.Service.FindUser(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := dbtest.RecentActivity(context.Background(), db.NewStore(a.DB), u.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) == 0 {
		return nil
	}
	return acts[0]
}

func signIn(t *testing.T, a *app.App, login, password string) (string, error) {
	t.Helper()
	res, err := a.Service.Login(context.Background(), model.Client{UserAgent: "cli-test"}, account.LoginInput{User: login, Password: password})
	if err != nil {
		return "", err
	}
	return res.SessionToken, nil
}

func signedIn(a *app.App, token string) bool {
	auth, err := a.Service.Authenticate(context.Background(), account.Credentials{HasCookie: true, Cookie: token})
	return err == nil && auth != nil && auth.Actor != nil
}

// TestUserCommandUsage: usage errors exit 2 with the usage on stderr, -h
// exits 0 with it on stdout, and nothing touches a database.
func TestUserCommandUsage(t *testing.T) {
	t.Parallel()
	url := "sqlite:" + t.TempDir() + "/never/created.db"
	for _, c := range []struct {
		args      []string
		code      int
		out, errs string
	}{
		{[]string{"-h"}, 0, "usage: accountd [command]", ""},
		{[]string{"help"}, 0, "commands:", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"migrate", "now"}, 2, "", `unexpected argument "now"`},
		{[]string{"serve", "--port", "1"}, 2, "", "flag provided but not defined: -port"},
		{[]string{"user"}, 2, "", "missing user command"},
		{[]string{"user", "-h"}, 0, "set-password", ""},
		{[]string{"user", "--help"}, 0, "USER is a username", ""},
		{[]string{"user", "rename"}, 2, "", `unknown user command "rename"`},
		{[]string{"user", "show"}, 2, "", "missing argument"},
		{[]string{"user", "show", "a", "b"}, 2, "", `unexpected argument "b"`},
		{[]string{"user", "show", "-h"}, 0, "usage: accountd user show USER [--json]", ""},
		{[]string{"user", "list", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"user", "list", "--limit", "-1"}, 2, "", "--limit must be 0 or more"},
		{[]string{"user", "list", "--limit", "many"}, 2, "", "invalid value"},
		{[]string{"user", "create", "--username", "x", "--email", "x@example.com"}, 2, "", "missing --password-stdin"},
		{[]string{"user", "create", "--email", "x@example.com", "--password-stdin"}, 2, "", "missing --username"},
		{[]string{"user", "create", "--username", "x", "--password-stdin"}, 2, "", "missing --email"},
		{[]string{"user", "create", "--username", "x", "--email", "x@example.com", "--password", "p", "--password-stdin"}, 2, "", "not both"},
		{[]string{"user", "create", "-h"}, 0, "--password-stdin", ""},
		{[]string{"user", "set-password"}, 2, "", "missing argument"},
		{[]string{"user", "promote", "a", "b"}, 2, "", `unexpected argument "b"`},
		{[]string{"user", "suspend", "--yes", "a"}, 2, "", "flag provided but not defined: -yes"},
		{[]string{"user", "sign-out"}, 2, "", "missing argument"},
		{[]string{"user", "delete"}, 2, "", "missing argument"},
		{[]string{"user", "disable-2fa"}, 2, "", "missing argument"},
		{[]string{"user", "disable-2fa", "a", "--user", "b"}, 2, "", "not both"},
	} {
		r := cliOn(t, url, "", c.args...)
		if r.code != c.code || !strings.Contains(r.out, c.out) || !strings.Contains(r.errOut, c.errs) {
			t.Errorf("%q: exit %d, want %d (stdout ⊇ %q, stderr ⊇ %q)\nstdout: %s\nstderr: %s",
				c.args, r.code, c.code, c.out, c.errs, r.out, r.errOut)
		}
		if c.code == 0 && r.errOut != "" {
			t.Errorf("%q: help wrote to stderr: %s", c.args, r.errOut)
		}
	}
}

// TestUserCommands drives every user command on each engine: output, exit
// code, effect and the activity it records.
func TestUserCommands(t *testing.T) {
	t.Parallel()
	for _, eng := range dbtest.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			url := eng.URL
			// create: the password from stdin, the names optional.
			cliOn(t, url, "first admin password\n", "user", "create", "--username", "root_op", "--email", "root@example.com",
				"--password-stdin", "--admin").want(t, 0, "created user root_op", "")
			r := cliOn(t, url, "alice password\n", "user", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin")
			r.want(t, 0, "admin=false", "")
			cliOn(t, url, "short\n", "user", "create", "--username", "bob", "--email", "bob@example.com", "--password-stdin").
				want(t, 1, "", "error: password: length is lower than 8")
			cliOn(t, url, "", "user", "create", "--username", "bob", "--email", "bob@example.com", "--password-stdin").
				want(t, 1, "", "no password on stdin")
			cliOn(t, url, "another password\n", "user", "create", "--username", "ALICE", "--email", "a2@example.com", "--password-stdin").
				want(t, 1, "", "already exists")

			// list and show.
			r = cliOn(t, url, "", "user", "list")
			r.want(t, 0, "USERNAME", "")
			if !strings.Contains(r.out, "root_op") || !strings.Contains(r.out, "alice@example.com") || strings.Count(r.out, "\n") != 3 {
				t.Fatalf("list:\n%s", r.out)
			}
			r = cliOn(t, url, "", "user", "list", "--json")
			r.want(t, 0, "[", "")
			var listed []map[string]any
			if err := json.Unmarshal([]byte(r.out), &listed); err != nil || len(listed) != 2 {
				t.Fatalf("list --json: %v\n%s", err, r.out)
			}
			if listed[0]["username"] != "root_op" || listed[0]["admin"] != true || listed[1]["admin"] != false {
				t.Errorf("list --json: %v", listed)
			}
			r = cliOn(t, url, "", "user", "list", "--json", "--search", "ALI")
			if err := json.Unmarshal([]byte(r.out), &listed); err != nil || len(listed) != 1 || listed[0]["username"] != "alice" {
				t.Errorf("list --search: %v %s", err, r.out)
			}
			r = cliOn(t, url, "", "user", "list", "--json", "--search", "nobody")
			if strings.TrimSpace(r.out) != "[]" {
				t.Errorf("empty list --json: %q", r.out)
			}
			r = cliOn(t, url, "", "user", "list", "--limit", "1")
			if r.code != 0 || strings.Count(r.out, "\n") != 2 {
				t.Errorf("list --limit 1:\n%s", r.out)
			}
			cliOn(t, url, "", "user", "show", "alice@example.com").want(t, 0, "two-factor:      no", "")
			r = cliOn(t, url, "", "user", "show", "--json", "alice")
			var shown map[string]any
			if err := json.Unmarshal([]byte(r.out), &shown); err != nil || shown["email"] != "alice@example.com" || shown["sessions"] != float64(0) || shown["security_keys"] != float64(0) {
				t.Fatalf("show --json: %v\n%s", err, r.out)
			}
			for _, secretish := range []string{"hash", "argon2", "totp_secret"} {
				if strings.Contains(r.out, secretish) {
					t.Errorf("show --json prints %q:\n%s", secretish, r.out)
				}
			}
			cliOn(t, url, "", "user", "show", "nobody").want(t, 1, "", "error: user not found")

			a := cliApp(t, url)
			tok, err := signIn(t, a, "alice", "alice password")
			if err != nil {
				t.Fatal(err)
			}

			// set-password: stdin, never a terminal here.
			cliOn(t, url, "", "user", "set-password", "alice").want(t, 1, "", "not a terminal")
			cliOn(t, url, "new alice password\n", "user", "set-password", "nobody", "--password-stdin").want(t, 1, "", "user not found")
			cliOn(t, url, "tiny\n", "user", "set-password", "alice", "--password-stdin").want(t, 1, "", "password: length is lower than 8")
			if !signedIn(a, tok) {
				t.Fatal("a refused password signed alice out")
			}
			r = cliOn(t, url, "new alice password\n", "user", "set-password", "alice", "--password-stdin")
			r.want(t, 0, "password set for alice", "")
			if !strings.Contains(r.out, "1 session signed out") || strings.Contains(r.out+r.errOut, "new alice password") {
				t.Errorf("set-password printed:\n%s\n%s", r.out, r.errOut)
			}
			if signedIn(a, tok) {
				t.Error("alice's session outlived set-password")
			}
			if _, err := signIn(t, a, "alice", "alice password"); err == nil {
				t.Error("the old password still works")
			}
			if ev := lastEvent(t, a, "alice"); ev == nil || ev.Event != model.EventPasswordChanged || !strings.Contains(string(ev.Data), `"by":"operator"`) {
				t.Errorf("set-password recorded %+v", ev)
			}
			if tok, err = signIn(t, a, "alice", "new alice password"); err != nil {
				t.Fatalf("the new password: %v", err)
			}

			// The states, each on, again (no change), off.
			for _, c := range []struct{ on, off, now, then, event string }{
				{"promote", "demote", "an administrator", "not an administrator", model.EventAdminGranted},
				{"suspend", "unsuspend", "suspended", "not suspended", model.EventSuspended},
				{"freeze", "unfreeze", "frozen", "not frozen", model.EventFrozen},
			} {
				cliOn(t, url, "", "user", c.on, "alice").want(t, 0, "is now "+c.now, "")
				if ev := lastEvent(t, a, "alice"); ev == nil || ev.Event != c.event || string(ev.Data) != `{"by":"operator"}` {
					t.Errorf("%s recorded %+v", c.on, ev)
				}
				cliOn(t, url, "", "user", c.on, "alice").want(t, 0, "was already "+c.now+"; nothing changed", "")
				cliOn(t, url, "", "user", c.off, "alice").want(t, 0, "is now "+c.then, "")
			}
			cliOn(t, url, "", "user", "promote", "nobody").want(t, 1, "", "user not found")
			u, _ := a.Service.FindUser(context.Background(), "alice")
			if u.Admin || u.Suspended || u.Frozen {
				t.Errorf("alice after on and off: %+v", u)
			}

			// sign-out, with and without keys.
			cliOn(t, url, "", "user", "sign-out", "alice").want(t, 0, "signed out alice", "")
			if signedIn(a, tok) {
				t.Error("alice's session outlived sign-out")
			}
			cliOn(t, url, "", "user", "sign-out", "alice", "--api-keys").want(t, 0, "0 sessions ended, 0 API keys deleted", "")
			if ev := lastEvent(t, a, "alice"); ev == nil || ev.Event != model.EventAPIKeyDeleteAll {
				t.Errorf("sign-out --api-keys recorded %+v", ev)
			}

			// disable-2fa when it is off: refused, nothing recorded.
			cliOn(t, url, "", "user", "disable-2fa", "alice").want(t, 1, "", "two-factor")

			// delete: asks, and only "y" or "yes" deletes.
			cliOn(t, url, "n\n", "user", "delete", "alice").want(t, 1, "", "not confirmed; nothing deleted")
			cliOn(t, url, "", "user", "delete", "alice").want(t, 1, "", "Delete alice <alice@example.com>")
			if _, err := a.Service.FindUser(context.Background(), "alice"); err != nil {
				t.Fatal("a declined delete deleted")
			}
			cliOn(t, url, "yes\n", "user", "delete", "alice").want(t, 0, "deleted user alice", "with all their sessions")
			cliOn(t, url, "", "user", "show", "alice").want(t, 1, "", "user not found")
			cliOn(t, url, "", "user", "delete", "root_op", "--yes").want(t, 0, "deleted user root_op", "")
			r = cliOn(t, url, "", "user", "list", "--json")
			if strings.TrimSpace(r.out) != "[]" {
				t.Errorf("list after deleting everyone: %q", r.out)
			}
		})
	}
}

// TestUserCommandsBesideAServer: the commands work on a database a server
// is serving, and what they change holds on that server's next request —
// no restart, no cache to wait for.
func TestUserCommandsBesideAServer(t *testing.T) {
	t.Parallel()
	for _, eng := range dbtest.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			p := startServe(t, eng.URL, 5*time.Second, "served_admin", "served")
			defer func() { p.cancel(); p.wait(t, 5*time.Second) }() //nolint:errcheck // the test is over
			cookie := p.signIn(t, "served")
			status := func(path string) int {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
				req.Header.Set("Cookie", cookie)
				res, err := p.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			if got := status("/api/client/account/sessions"); got != http.StatusOK {
				t.Fatalf("before: %d", got)
			}
			cliOn(t, eng.URL, "", "user", "suspend", "served").want(t, 0, "is now suspended", "")
			if got := status("/api/client/account/sessions"); got != http.StatusForbidden {
				t.Errorf("suspended, the next request got %d, want 403", got)
			}
			cliOn(t, eng.URL, "", "user", "unsuspend", "served").want(t, 0, "is now not suspended", "")
			if got := status("/api/client/account/sessions"); got != http.StatusOK {
				t.Errorf("unsuspended: %d", got)
			}
			cliOn(t, eng.URL, "", "user", "sign-out", "served").want(t, 0, "1 session ended", "")
			if got := status("/api/client/account"); got != http.StatusUnauthorized {
				t.Errorf("signed out, the next request got %d, want 401", got)
			}
		})
	}
}
