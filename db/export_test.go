package db

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"
)

// Pool exposes PostgreSQL's pool to the tests of this directory.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// StoreConn exposes the connection a Store method would use in ctx (the
// transaction InTx put there, if any). A function, not a method: the
// error-naming test walks every method of Store.
func StoreConn(ctx context.Context, s *Store) bun.IDB { return s.conn(ctx) }
