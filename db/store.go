package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Store implements the account service's repositories.
//
// A transaction travels in the context: InTx puts it there and every
// method runs on it when present. That keeps the service's repository
// interface free of storage types while still letting one service call
// write its change and its activity record atomically.
//
// Every method's error names the method ("db.CreateUser: …", see wrap);
// lookups return nil and no error when nothing matches, and unique
// violations come back as *model.DuplicateError.
type Store struct {
	db      *bun.DB
	dialect Dialect
	// open is the DB itself, for the hand-written authentication read.
	open *DB
}

// NewStore returns a Store on d.
func NewStore(d *DB) *Store { return &Store{db: d.DB, dialect: d.Dialect, open: d} }

type txKey struct{}

// InTx runs fn in a transaction carried by the context fn receives. Nested
// calls join the outer transaction. fn's own error is returned unchanged
// (after the rollback); a failure to begin or commit is returned as
// "db.InTx: begin: …" or "db.InTx: commit: …".
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if _, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		return fn(ctx)
	}
	var ran, fnFailed bool
	err = s.db.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		ran = true
		ferr := fn(context.WithValue(ctx, txKey{}, tx))
		fnFailed = ferr != nil
		return ferr
	})
	switch {
	case !ran:
		wrap(&err, "db.InTx: begin")
	case !fnFailed:
		wrap(&err, "db.InTx: commit")
	}
	return err
}

// conn returns the context's transaction, or the pool.
func (s *Store) conn(ctx context.Context) bun.IDB {
	if tx, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		return tx
	}
	return s.db
}

// LockUser serialises the transactions of one user that must see each
// other: two creates racing for the last API key of a quota, and every
// transaction that mints a credential against every one that revokes
// credentials (see account/revocation.go). It must run inside InTx, as
// the transaction's first statement.
//
// On PostgreSQL it locks the user's row until the transaction ends with
// FOR NO KEY UPDATE: it conflicts with itself and with every UPDATE of the
// row (a password change), which is all the serialisation needs, but not
// with the FOR KEY SHARE lock that inserting a row referencing the user (an
// activity record, a session) takes for its foreign key. FOR UPDATE would
// conflict with those too, and so deadlock a lock holder against a
// transaction that holds a row the holder is about to delete (an API key
// being edited) and waits on the user only to record its activity. SQLite
// write transactions already run one at a time (BEGIN IMMEDIATE), so there
// it does nothing. An unknown id is an error (sql.ErrNoRows) on PostgreSQL.
func (s *Store) LockUser(ctx context.Context, id uuid.UUID) (err error) {
	defer wrap(&err, "db.LockUser")
	if s.dialect != Postgres {
		return nil
	}
	var got uuid.UUID
	return s.conn(ctx).NewSelect().Model((*userRow)(nil)).Column("id").Where("id = ?", id).For("NO KEY UPDATE").Scan(ctx, &got)
}

// purge deletes at most limit rows of a table (given by its row model and
// alias) that match cond, and returns how many. It selects their ids
// through cond's index, then deletes exactly those by primary key, cond
// re-checked: two index-driven statements, where a DELETE … IN (subquery)
// may be planned as a scan of the whole table. The bound keeps each batch
// short, so a large backlog never holds locks for long.
func (s *Store) purge(ctx context.Context, table any, alias, cond string, limit int, args ...any) (int, error) {
	var ids []uuid.UUID
	err := s.conn(ctx).NewSelect().Model(table).Column(alias+".id").Where(cond, args...).Limit(int64(limit)).Scan(ctx, &ids)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	in, list := s.anyOf(alias+".id", ids)
	return rowCount(s.conn(ctx).NewDelete().Model(table).Where(in, list).Where(cond, args...).Exec(ctx))
}

// anyOf is the condition "column is one of values" as one statement
// whatever the number of values: on PostgreSQL "column = ANY(?)" with the
// values as one array, a single parameter once lifted (see bind.go), where
// "IN (…)" would make each batch size a statement of its own; on SQLite,
// which has no statement cache to fill, "column IN (…)".
func (s *Store) anyOf(column string, values any) (string, any) {
	if s.dialect == Postgres {
		return column + " = ANY(?)", pgdialect.Array(values)
	}
	return column + " IN (?)", bun.In(values)
}

// affected reports whether a write changed at least one row.
func affected(res sql.Result, err error) (bool, error) {
	n, err := rowCount(res, err)
	return n > 0, err
}

// rowCount returns how many rows a write changed.
func rowCount(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// utcPtr returns *t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
