package db

import (
	"database/sql/driver"
	"strings"

	"modernc.org/sqlite"
)

// FoldKey is the case-folded form under which usernames and e-mail
// addresses are unique and looked up.
func FoldKey(s string) string { return strings.ToLower(s) }

// foldFunc is the SQL function searches fold case with. SQLite's own
// lower() folds ASCII letters only, so "ÜBER" would not match "über" there
// while it does on PostgreSQL; fold applies Go's Unicode case folding (the
// same strings.ToLower the search term gets) on SQLite, and is lower() on
// PostgreSQL.
func foldFunc(d Dialect) string {
	if d == SQLite {
		return "fold"
	}
	return "lower"
}

// The registration is process-wide in the driver, made once before any
// connection opens, and the function is pure: it holds no state of ours.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("fold", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		}
		return args[0], nil
	})
}
