package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"accountd/db/dbtest"
)

// runExit runs the command as main does and returns its exit code,
// stdout and stderr.
func runExit(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	code := report(run(context.Background(), args, testEnv(env), testIO(&out, &errs)), &errs)
	return code, out.String(), errs.String()
}

// backupSourceDB returns the DATABASE_URL of a new, migrated SQLite
// database with one user in it.
func backupSourceDB(t *testing.T) string {
	t.Helper()
	url := "sqlite:" + filepath.Join(t.TempDir(), "panel.db")
	env := map[string]string{"DATABASE_URL": url}
	if code, _, errs := runExit(t, env, "migrate"); code != exitOK {
		t.Fatalf("migrate: exit %d: %s", code, errs)
	}
	if code, _, errs := runExit(t, env, "user", "create", "--username", "root_admin", "--email", "root@example.com",
		"--password", "a long password", "--admin"); code != exitOK {
		t.Fatalf("user create: exit %d: %s", code, errs)
	}
	return url
}

func TestBackupCommand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": backupSourceDB(t)}
	path := filepath.Join(t.TempDir(), "backup.db")

	code, out, errs := runExit(t, env, "backup", "--to", path)
	if code != exitOK {
		t.Fatalf("backup: exit %d: %s", code, errs)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "wrote " + path + " ("; !strings.Contains(out, want) || !strings.Contains(out, " bytes)") {
		t.Fatalf("backup printed %q, want %q… and its size", out, want)
	}
	if !strings.Contains(out, "("+strconv.FormatInt(st.Size(), 10)+" bytes)") {
		t.Fatalf("backup printed %q; the file has %d bytes", out, st.Size())
	}

	// The backup is a database the commands work on.
	if code, _, errs := runExit(t, map[string]string{"DATABASE_URL": "sqlite:" + path}, "user", "create", "--username", "second",
		"--email", "second@example.com", "--password", "a long password"); code != exitOK {
		t.Fatalf("user create on the backup: exit %d: %s", code, errs)
	}

	t.Run("ExistingFile", func(t *testing.T) {
		code, _, errs := runExit(t, env, "backup", "--to", path)
		if code != exitError || !strings.Contains(errs, "already exists") {
			t.Fatalf("backup over a file: exit %d: %s", code, errs)
		}
	})
	t.Run("NoDatabase", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing.db")
		code, _, errs := runExit(t, map[string]string{"DATABASE_URL": "sqlite:" + missing}, "backup", "--to", filepath.Join(t.TempDir(), "b.db"))
		if code != exitError || !strings.Contains(errs, "no SQLite database") {
			t.Fatalf("backup of a missing database: exit %d: %s", code, errs)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Fatal("the missing database was created")
		}
	})
	t.Run("Postgres", func(t *testing.T) {
		// Refused without connecting: the pg_dump line, and no password.
		pg := map[string]string{"DATABASE_URL": "postgres://panel:hunter2@db.invalid:5433/accounts"}
		code, out, errs := runExit(t, pg, "backup", "--to", "accounts.dump")
		want := "pg_dump --format=custom --host=db.invalid --port=5433 --username=panel --dbname=accounts --file=accounts.dump"
		if code != exitError || !strings.Contains(errs, want) {
			t.Fatalf("backup on PostgreSQL: exit %d: %s; want %q", code, errs, want)
		}
		if strings.Contains(out+errs, "hunter2") {
			t.Fatal("the password was printed")
		}
	})
	t.Run("Usage", func(t *testing.T) {
		code, out, _ := runExit(t, env, "backup", "-h")
		if code != exitOK || !strings.Contains(out, "usage: accountd backup --to FILE") || !strings.Contains(out, "-to") {
			t.Fatalf("backup -h: exit %d: %q", code, out)
		}
		for _, args := range [][]string{{"backup"}, {"backup", "--to"}, {"backup", "--to", "x.db", "extra"}, {"backup", "--bogus"}} {
			code, _, errs := runExit(t, env, args...)
			if code != exitUsage || !strings.Contains(errs, "usage: accountd backup") {
				t.Errorf("%q: exit %d: %s", args, code, errs)
			}
		}
	})
}

func TestCopyCommand(t *testing.T) {
	t.Parallel()
	from := backupSourceDB(t)
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			code, out, errs := runExit(t, nil, "copy", "--from", from, "--to", e.URL)
			if code != exitOK {
				t.Fatalf("copy: exit %d: %s", code, errs)
			}
			if !regexp.MustCompile(`(?m)^table +rows$`).MatchString(out) || !regexp.MustCompile(`(?m)^users +1$`).MatchString(out) ||
				!regexp.MustCompile(`(?m)^sessions +0$`).MatchString(out) || !strings.Contains(out, "copied 1 rows in ") {
				t.Fatalf("copy printed:\n%s", out)
			}
			// Rows are never printed.
			if strings.Contains(out+errs, "root_admin") || strings.Contains(out+errs, "argon2") {
				t.Fatalf("row contents printed:\n%s%s", out, errs)
			}

			// The copied user is there: a second user create with its name is refused.
			dup := []string{"user", "create", "--username", "root_admin", "--email", "other@example.com", "--password", "a long password"}
			if code, _, errs := runExit(t, map[string]string{"DATABASE_URL": e.URL}, dup...); code != exitError || !strings.Contains(errs, "already") {
				t.Fatalf("user create of the copied name: exit %d: %s", code, errs)
			}

			// Again: the target now holds rows.
			code, _, errs = runExit(t, nil, "copy", "--from", from, "--to", e.URL)
			if code != exitError || !strings.Contains(errs, "not empty") || !strings.Contains(errs, "table users") {
				t.Fatalf("copy into a filled target: exit %d: %s", code, errs)
			}
		})
	}
	t.Run("Refusals", func(t *testing.T) {
		missing := "sqlite:" + filepath.Join(t.TempDir(), "missing.db")
		to := "sqlite:" + filepath.Join(t.TempDir(), "to.db")
		code, _, errs := runExit(t, nil, "copy", "--from", missing, "--to", to)
		if code != exitError || !strings.Contains(errs, "no SQLite database") {
			t.Fatalf("copy from a missing database: exit %d: %s", code, errs)
		}
		unmigrated := "sqlite:" + filepath.Join(t.TempDir(), "new.db")
		if err := os.WriteFile(strings.TrimPrefix(unmigrated, "sqlite:"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errs = runExit(t, nil, "copy", "--from", unmigrated, "--to", to)
		if code != exitError || !strings.Contains(errs, "accountd migrate") {
			t.Fatalf("copy from an unmigrated database: exit %d: %s", code, errs)
		}
	})
	t.Run("Usage", func(t *testing.T) {
		code, out, _ := runExit(t, nil, "copy", "-h")
		if code != exitOK || !strings.Contains(out, "usage: accountd copy --from DATABASE_URL --to DATABASE_URL") || !strings.Contains(out, "-from") {
			t.Fatalf("copy -h: exit %d: %q", code, out)
		}
		for _, args := range [][]string{
			{"copy"},
			{"copy", "--from", from},
			{"copy", "--to", from},
			{"copy", "--from", from, "--to", from},
			{"copy", "--from", from, "--to", "sqlite:x.db", "extra"},
		} {
			code, _, errs := runExit(t, nil, args...)
			if code != exitUsage || !strings.Contains(errs, "usage: accountd copy") {
				t.Errorf("%q: exit %d: %s", args, code, errs)
			}
		}
	})
}
