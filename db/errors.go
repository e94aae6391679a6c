package db

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"accountd/model"
)

// wrap gives a failed operation's error the operation's name, in the
// manner of pkgsite's derrors.Wrap: every exported method starts with
//
//	defer wrap(&err, "db.CreateUser")
//
// so a non-nil result reads "db.CreateUser: <cause>" in the log line of a
// 500. The cause is wrapped with %w, so errors.As still finds a
// *model.DuplicateError and errors.Is still sees context.Canceled. op is
// the operation's name alone: never an argument, which may be a secret (a
// digest, a key start, an e-mail address, a password hash).
func wrap(errp *error, op string) {
	if *errp != nil {
		*errp = fmt.Errorf("%s: %w", op, *errp)
	}
}

// translate turns driver errors into the model's vocabulary: unique
// violations become *model.DuplicateError naming the field, anything else
// is returned unchanged for the service to treat as internal.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return &model.DuplicateError{Field: duplicateField(pgErr.ConstraintName)}
	}
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) && strings.Contains(sqlErr.Error(), "UNIQUE constraint failed") {
		// "UNIQUE constraint failed: users.username_key"
		msg := sqlErr.Error()
		return &model.DuplicateError{Field: duplicateField(msg[strings.LastIndex(msg, "UNIQUE constraint failed:"):])}
	}
	return err
}

// duplicateField names the field behind a unique index, from its
// PostgreSQL name or SQLite's "table.column" message.
func duplicateField(s string) string {
	switch {
	case strings.Contains(s, "username_key"):
		return "username"
	case strings.Contains(s, "email_key"):
		return "email"
	case strings.Contains(s, "api_keys_user_name"), strings.Contains(s, "api_keys.user_id, api_keys.name"):
		return "name"
	case strings.Contains(s, "key_start"):
		return "key_start"
	}
	return "unknown"
}

// noRows reports whether err means "nothing matched".
func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
