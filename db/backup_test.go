package db_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// TestBackup: the copy is a complete database of its own (no -wal file
// beside it), readable by its owner only, with the source's rows, and it
// works; an existing file is refused and left as it is.
func TestBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := dbtest.Open(t, dbtest.Engines(t)[0])
	f := fillCopySource(t, src)
	dir := t.TempDir()
	path := filepath.Join(dir, "panel-backup.db")

	size, err := src.Backup(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if size <= 0 || size != st.Size() {
		t.Fatalf("Backup reported %d bytes, the file has %d", size, st.Size())
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("backup mode %v, want 0600: it holds password hashes", perm)
	}
	for _, side := range []string{"-wal", "-journal"} {
		if _, err := os.Stat(path + side); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s beside the backup: %v", side, err)
		}
	}

	t.Run("RefusesExistingFile", func(t *testing.T) {
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Backup(ctx, path); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("Backup over an existing backup: %v", err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatal("the existing file changed")
		}
		empty := filepath.Join(dir, "empty.db")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := src.Backup(ctx, empty); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("Backup over an empty file: %v", err)
		}
		missing := filepath.Join(dir, "no-such-dir", "b.db")
		if _, err := src.Backup(ctx, missing); err == nil {
			t.Fatal("Backup into a missing directory succeeded")
		}
	})

	b, err := db.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n, err := b.Pending(ctx); err != nil || n != 0 {
		t.Fatalf("backup Pending = %d, %v", n, err)
	}
	if got, want := copyTableCounts(t, b), copyTableCounts(t, src); !reflect.DeepEqual(got, want) {
		t.Fatalf("backup counts %v, source %v", got, want)
	}
	s1, u1, err := db.NewStore(src).SessionByKeyStart(ctx, f.sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	s2, u2, err := db.NewStore(b).SessionByKeyStart(ctx, f.sessionKey)
	if err != nil || !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(u1, u2) {
		t.Fatalf("session in the backup: %+v %+v, %v; want %+v %+v", s2, u2, err, s1, u1)
	}
}

// TestBackupWhileWriting backs up while another connection pool, as a
// running server would, keeps writing: neither fails, and the backup is a
// sound database holding a state between the one before and after.
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := dbtest.Engines(t)[0]
	src := dbtest.Open(t, e)
	f := fillCopySource(t, src)
	s := db.NewStore(src)
	// Enough history that the backup takes a while.
	err := s.InTx(ctx, func(ctx context.Context) error {
		for i := range 5000 {
			if err := s.RecordActivity(ctx, &model.Activity{ID: uuid.New(), UserID: f.alice.ID, Event: model.EventAuthSuccess,
				Data: []byte(`{"padding":"` + strings.Repeat("x", 200) + `"}`), Created: copyT0.Add(time.Duration(i) * time.Millisecond)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	server := openAsIs(t, e)
	ws := db.NewStore(server)
	before := copyTableCounts(t, src)["activities"]
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		writes   int
		writeErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := ws.RecordActivity(ctx, &model.Activity{ID: uuid.New(), UserID: f.bob.ID, Event: model.EventAuthSuccess, Created: time.Now().UTC()}); err != nil {
				writeErr = err
				return
			}
			writes++
		}
	}()
	// Let the writer get going, then back up under it.
	for deadline := time.Now().Add(5 * time.Second); copyTableCounts(t, src)["activities"] < before+5 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	_, backupErr := src.Backup(ctx, path)
	close(stop)
	wg.Wait()
	if backupErr != nil {
		t.Fatal(backupErr)
	}
	if writeErr != nil {
		t.Fatalf("the writer failed during the backup, after %d writes: %v", writes, writeErr)
	}
	after := copyTableCounts(t, src)["activities"]

	b, err := db.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var check string
	if err := b.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	got := copyTableCounts(t, b)["activities"]
	if got < before || got > after {
		t.Fatalf("backup has %d activities; the source had %d before and %d after", got, before, after)
	}
	t.Logf("%d writes during the backup; it holds %d of %d..%d activities", writes, got, before, after)
}

// TestBackupPostgres: PostgreSQL is refused (pg_dump backs it up) and no
// file is made.
func TestBackupPostgres(t *testing.T) {
	t.Parallel()
	engines := dbtest.Engines(t)
	if len(engines) < 2 {
		t.Skip("TEST_DATABASE_URL is not set")
	}
	d := dbtest.Open(t, engines[1])
	path := filepath.Join(t.TempDir(), "b.db")
	if _, err := d.Backup(context.Background(), path); !errors.Is(err, db.ErrBackupPostgres) {
		t.Fatalf("Backup on PostgreSQL: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file was made: %v", err)
	}
}

func TestPgDumpCommand(t *testing.T) {
	for _, tc := range []struct{ url, file, want string }{
		{"postgres://panel:hunter2@db.example.com:6543/accounts?sslmode=require", "/backups/accounts.dump",
			"PGSSLMODE=require pg_dump --format=custom --host=db.example.com --port=6543 --username=panel --dbname=accounts --file=/backups/accounts.dump"},
		{"postgresql://postgres@127.0.0.1/test?search_path=t_abc", "my backup.dump",
			"pg_dump --format=custom --host=127.0.0.1 --username=postgres --schema=t_abc --dbname=test --file='my backup.dump'"},
		{"postgres:///panel?host=/run/postgresql", "p.dump",
			"pg_dump --format=custom --host=/run/postgresql --dbname=panel --file=p.dump"},
	} {
		got := db.PgDumpCommand(tc.url, tc.file)
		if got != tc.want {
			t.Errorf("PgDumpCommand(%q)\n got %s\nwant %s", tc.url, got, tc.want)
		}
		if strings.Contains(got, "hunter2") {
			t.Errorf("the password is in %s", got)
		}
	}
}

func TestSQLiteFile(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite:data/panel.db":         "data/panel.db",
		"sqlite:///var/lib/panel.db":   "/var/lib/panel.db",
		"file:/tmp/p.db?_pragma=x":     "/tmp/p.db",
		"panel.db":                     "panel.db",
		"postgres://u@h/db":            "",
		"mysql://u@h/db":               "",
		"sqlite:":                      "",
		"postgresql://u:p@h:5432/db":   "",
		"sqlite:relative/dir/x.db?a=b": "relative/dir/x.db",
	} {
		got, err := db.SQLiteFile(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("SQLiteFile(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
