package db

import "github.com/jackc/pgx/v5/pgxpool"

// Pool exposes PostgreSQL's pool to the tests of this directory.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }
