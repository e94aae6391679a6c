package db

import (
	"context"
	"database/sql"

	"github.com/uptrace/bun"
)

// Store implements the account service's repositories.
//
// A transaction travels in the context: InTx puts it there and every
// method runs on it when present. That keeps the service's repository
// interface free of storage types while still letting one service call
// write its change and its activity record atomically.
type Store struct {
	db      *bun.DB
	dialect Dialect
}

// NewStore returns a Store on d.
func NewStore(d *DB) *Store { return &Store{db: d.DB, dialect: d.Dialect} }

type txKey struct{}

// InTx runs fn in a transaction carried by the context fn receives. Nested
// calls join the outer transaction.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		return fn(ctx)
	}
	return s.db.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
}

// conn returns the context's transaction, or the pool.
func (s *Store) conn(ctx context.Context) bun.IDB {
	if tx, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		return tx
	}
	return s.db
}
