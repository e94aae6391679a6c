package db

import (
	"reflect"
	"testing"
)

func TestLiftLiterals(t *testing.T) {
	for _, c := range []struct {
		name     string
		query    string
		postgres bool
		want     string
		args     []any
	}{
		{"strings and numbers, PostgreSQL", `SELECT "s"."id" FROM "sessions" AS "s" WHERE (s.key_start = 'abc') LIMIT 26`, true,
			`SELECT "s"."id" FROM "sessions" AS "s" WHERE (s.key_start = $1) LIMIT $2::integer`, []any{"abc", "26"}},
		{"numbers keep their type on SQLite", `SELECT x FROM t WHERE a = 'abc' AND b = 7 AND c > 1.5`, false,
			`SELECT x FROM t WHERE a = $1 AND b = $2 AND c > $3`, []any{"abc", int64(7), 1.5}},
		{"doubled quotes are one quote", `UPDATE "users" AS "u" SET name_first = 'o''reilly', name_last = '''' WHERE (id = 'x')`, true,
			`UPDATE "users" AS "u" SET name_first = $1, name_last = $2 WHERE (id = $3)`, []any{"o'reilly", "'", "x"}},
		{"what looks like syntax inside a string is data", `SELECT a FROM t WHERE b LIKE '%''; delete from t; --%' ESCAPE '\' AND c = '$1 ? /* 7'`, true,
			`SELECT a FROM t WHERE b LIKE $1 ESCAPE $2 AND c = $3`, []any{"%'; delete from t; --%", `\`, "$1 ? /* 7"}},
		{"identifiers with digits stay", `SELECT "t1"."x2", "0006" FROM t1 WHERE t1.c3 = 4`, true,
			`SELECT "t1"."x2", "0006" FROM t1 WHERE t1.c3 = $1::integer`, []any{"4"}},
		{"quoted identifiers may hold quotes", `SELECT "a""'b" FROM t WHERE x = 'y'`, true,
			`SELECT "a""'b" FROM t WHERE x = $1`, []any{"y"}},
		{"SQLite blobs are bytes", `INSERT INTO t (d) VALUES (X'00ff')`, false,
			`INSERT INTO t (d) VALUES ($1)`, []any{[]byte{0, 0xff}}},
		{"PostgreSQL bytea is text the server parses", `INSERT INTO t (d) VALUES ('\x00ff')`, true,
			`INSERT INTO t (d) VALUES ($1)`, []any{`\x00ff`}},
		{"typed literals keep their text", `DELETE FROM t WHERE x < now() - interval '30 seconds' AND y = 'z'`, true,
			`DELETE FROM t WHERE x < now() - interval '30 seconds' AND y = $1`, []any{"z"}},
		{"keywords and casts stay", `WITH a AS (SELECT 'x'::text) INSERT INTO t VALUES (DEFAULT, NULL, TRUE, 'y') RETURNING id`, true,
			`WITH a AS (SELECT $1::text) INSERT INTO t VALUES (DEFAULT, NULL, TRUE, $2) RETURNING id`, []any{"x", "y"}},
		{"a minus stays an operator", `UPDATE t SET n = n - 1`, true, `UPDATE t SET n = n - $1::integer`, []any{"1"}},
		{"PostgreSQL numbers get their literal's type", `SELECT 2147483647, 2147483648, 99999999999999999999, 1.5, 1e3`, true,
			`SELECT $1::integer, $2::bigint, $3::numeric, $4::numeric, $5::numeric`,
			[]any{"2147483647", "2147483648", "99999999999999999999", "1.5", "1e3"}},
		{"exponents are part of the number", `SELECT a FROM t WHERE b = 1e5 AND c = 2E-3`, false,
			`SELECT a FROM t WHERE b = $1 AND c = $2`, []any{1e5, 2e-3}},
		{"non-ASCII strings", `SELECT a FROM t WHERE b = 'über ✓'`, true, `SELECT a FROM t WHERE b = $1`, []any{"über ✓"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, args, ok := liftLiterals(c.query, c.postgres)
			if !ok || got != c.want || !reflect.DeepEqual(args, c.args) {
				t.Fatalf("liftLiterals(%q)\n got %q %#v %v\nwant %q %#v", c.query, got, args, ok, c.want, c.args)
			}
		})
	}
}

// Statements bun does not write, or that cannot take parameters, pass
// unchanged rather than being guessed at.
func TestLiftLiteralsLeavesAlone(t *testing.T) {
	for _, q := range []string{
		`CREATE TABLE t (a text NOT NULL DEFAULT 'en', b integer DEFAULT 0)`,
		`ALTER TABLE t ADD COLUMN c text DEFAULT 'x'`,
		`PRAGMA busy_timeout = 10000`,
		`BEGIN`,
		`SAVEPOINT sp1`,
		`SELECT a FROM t ORDER BY 1`,
		`SELECT a, count(*) FROM t GROUP BY 1`,
		`SELECT a FROM t WHERE b = $1`,
		`SELECT a FROM t WHERE b = ?`,
		`SELECT a FROM t WHERE b = 'x' -- comment 'y'`,
		`SELECT a FROM t WHERE b = 'x' /* 'y' */`,
		`SELECT a FROM t WHERE b = E'x\n'`,
		`SELECT $$x$$`,
		`SELECT a FROM t WHERE b = 'unterminated`,
		`SELECT "unterminated FROM t WHERE b = 'x'`,
		`SELECT count(*) FROM "users"`,
		``,
	} {
		if got, args, ok := liftLiterals(q, true); ok || got != q || args != nil {
			t.Errorf("liftLiterals(%q) = %q %v %v, want it unchanged", q, got, args, ok)
		}
	}
}
