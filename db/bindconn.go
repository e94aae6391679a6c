package db

import (
	"context"
	"database/sql/driver"
)

// bindConnector hands out connections whose statements go through
// liftLiterals: the one place between bun and the driver where every
// statement passes (see bind.go).
type bindConnector struct {
	inner    driver.Connector
	postgres bool
}

func (c bindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &bindConn{Conn: conn, postgres: c.postgres}, nil
}

func (c bindConnector) Driver() driver.Driver { return c.inner.Driver() }

// bindConn passes everything through to the driver's connection, lifting
// the values out of statements that arrive without arguments. Statements
// that already carry arguments were written with placeholders and are left
// as they are.
type bindConn struct {
	driver.Conn
	postgres bool
}

func (c *bindConn) lift(query string, args []driver.NamedValue) (string, []driver.NamedValue) {
	if len(args) > 0 {
		return query, args
	}
	q, values, ok := liftLiterals(query, c.postgres)
	if !ok {
		return query, args
	}
	named := make([]driver.NamedValue, len(values))
	for i, v := range values {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return q, named
}

func (c *bindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	query, args = c.lift(query, args)
	return q.QueryContext(ctx, query, args)
}

func (c *bindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	query, args = c.lift(query, args)
	return e.ExecContext(ctx, query, args)
}

func (c *bindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c *bindConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.Conn.Begin() //nolint:staticcheck // the driver has nothing newer
}

func (c *bindConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *bindConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *bindConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *bindConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Unwrap returns the driver's connection, for sql.Conn.Raw.
func (c *bindConn) Unwrap() driver.Conn { return c.Conn }
