package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// migrationLog is the line each server logs once its migrations are done.
type migrationLog struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Applied  int       `json:"applied"`
	Versions string    `json:"versions"`
}

// checkMigrations shows that the three servers, started together, each
// came up and that every migration was applied exactly once: the versions
// the servers say they applied add up to the rows of schema_migrations,
// with none applied twice.
func (d *driver) checkMigrations(ctx context.Context, dbURL string) {
	first, last := d.servers[0].Started, d.servers[0].Started
	for _, s := range d.servers {
		if s.Started.Before(first) {
			first = s.Started
		}
		if s.Started.After(last) {
			last = s.Started
		}
	}
	fmt.Printf("started s1, s2, s3 within %s of each other\n", last.Sub(first).Round(time.Microsecond))

	seen := map[string]string{} // version → server that applied it
	total, twice, logged := 0, 0, 0
	for _, s := range d.servers {
		m, ok := findMigrationLog(s.Log())
		if !ok {
			fmt.Printf("server %s %s: no migration line in its log\n", s.Name, s.Addr)
			continue
		}
		logged++
		total += m.Applied
		for _, v := range strings.Split(m.Versions, ",") {
			if v == "" {
				continue
			}
			if _, dup := seen[v]; dup {
				twice++
			}
			seen[v] = s.Name
		}
		versions := m.Versions
		if versions == "" {
			versions = "none: already applied"
		}
		fmt.Printf("server %s %s  ready; migrations finished %s after start, applied %d (%s)\n",
			s.Name, s.Addr, m.Time.Sub(s.Started).Round(time.Millisecond), m.Applied, versions)
	}

	rows, err := schemaMigrations(ctx, dbURL)
	if err != nil {
		d.report(false, "migrations applied exactly once", "reading schema_migrations: %v", err)
		return
	}
	var list []string
	for _, r := range rows {
		list = append(list, r[0]+" by "+seen[r[0]])
	}
	fmt.Printf("schema_migrations: %d rows (%s)\n", len(rows), strings.Join(list, ", "))
	ok := logged == len(d.servers) && len(rows) > 0 && total == len(rows) && twice == 0 && len(seen) == len(rows)
	d.report(ok, "three servers started together; each migration ran exactly once",
		"%d of 3 servers started and logged their migration run; %d versions applied in total, %d twice; %d rows in schema_migrations",
		logged, total, twice, len(rows))
}

func findMigrationLog(log string) (migrationLog, bool) {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m migrationLog
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Msg == "migrations" {
			return m, true
		}
	}
	return migrationLog{}, false
}

// schemaMigrations returns the rows of schema_migrations: version and when
// it was applied.
func schemaMigrations(ctx context.Context, dbURL string) ([][2]string, error) {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rs, err := db.QueryContext(ctx, "SELECT version, applied FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out [][2]string
	for rs.Next() {
		var r [2]string
		if err := rs.Scan(&r[0], &r[1]); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}
