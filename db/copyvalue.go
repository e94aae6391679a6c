package db

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// valueKind is what a column holds, whatever each engine calls it. The two
// engines store the same model differently (see the migrations of each):
//
//	kind     PostgreSQL     SQLite (as bun writes it)
//	uuid     uuid           TEXT, the canonical lower-case form
//	bool     boolean        BOOLEAN, the integers 1 and 0
//	time     timestamptz    TIMESTAMP, text "2006-01-02 15:04:05.999999+00:00" in UTC
//	bytes    bytea          BLOB
//	int      integer/bigint INTEGER
//	text     text           TEXT (JSON lists and objects too, on both)
//
// SQLite compares the text of timestamps, so a copy into SQLite must write
// exactly bun's form, or the clean-up's and the attempt limits' range
// conditions would compare wrongly.
type valueKind int

const (
	kindText valueKind = iota
	kindUUID
	kindBool
	kindInt
	kindTime
	kindBytes
)

func (k valueKind) String() string {
	return [...]string{"text", "uuid", "boolean", "integer", "timestamp", "binary"}[k]
}

// sqliteTimeFormat is the form bun's SQLite dialect writes times in (in
// UTC, so the offset is always +00:00).
const sqliteTimeFormat = "2006-01-02 15:04:05.999999-07:00"

// columnKind maps a column type of the target's catalog to its kind. A
// type the copy does not know is an error rather than a guess: a migration
// that introduces one must teach the copy about it.
func columnKind(d Dialect, typ string) (valueKind, bool) {
	if d == Postgres {
		switch typ {
		case "text", "character varying":
			return kindText, true
		case "uuid":
			return kindUUID, true
		case "boolean":
			return kindBool, true
		case "smallint", "integer", "bigint":
			return kindInt, true
		case "timestamp with time zone":
			return kindTime, true
		case "bytea":
			return kindBytes, true
		}
		return 0, false
	}
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case "TEXT":
		return kindText, true
	case "BOOLEAN":
		return kindBool, true
	case "INTEGER", "BIGINT":
		return kindInt, true
	case "TIMESTAMP":
		return kindTime, true
	case "BLOB":
		return kindBytes, true
	}
	return 0, false
}

// convertValue turns a value read from the source (as its driver returns
// it) into the form the target stores for k. Errors name the Go type,
// never the value: the rows hold digests and secrets.
func convertValue(v any, k valueKind, target Dialect) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case kindText:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case kindUUID:
		var (
			u   uuid.UUID
			err error
		)
		switch x := v.(type) {
		case string:
			u, err = uuid.Parse(x)
		case []byte:
			if len(x) == 16 {
				u, err = uuid.FromBytes(x)
			} else {
				u, err = uuid.ParseBytes(x)
			}
		case [16]byte:
			u = uuid.UUID(x)
		default:
			return nil, fmt.Errorf("cannot store a %T as %s", v, k)
		}
		if err != nil {
			return nil, fmt.Errorf("not a UUID (%T)", v)
		}
		return u.String(), nil
	case kindBool:
		var b bool
		switch x := v.(type) {
		case bool:
			b = x
		case int64:
			b = x != 0
		case string:
			var err error
			if b, err = strconv.ParseBool(x); err != nil {
				return nil, fmt.Errorf("not a boolean (%T)", v)
			}
		default:
			return nil, fmt.Errorf("cannot store a %T as %s", v, k)
		}
		if target == SQLite {
			if b {
				return int64(1), nil
			}
			return int64(0), nil
		}
		return b, nil
	case kindInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case string:
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("not an integer (%T)", v)
			}
			return n, nil
		}
	case kindTime:
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case string:
			var ok bool
			if t, ok = parseStoredTime(x); !ok {
				return nil, fmt.Errorf("not a timestamp (%T)", v)
			}
		case []byte:
			var ok bool
			if t, ok = parseStoredTime(string(x)); !ok {
				return nil, fmt.Errorf("not a timestamp (%T)", v)
			}
		default:
			return nil, fmt.Errorf("cannot store a %T as %s", v, k)
		}
		t = t.UTC()
		if target == SQLite {
			return t.Format(sqliteTimeFormat), nil
		}
		return t, nil
	case kindBytes:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	}
	return nil, fmt.Errorf("cannot store a %T as %s", v, k)
}

// storedTimeLayouts are the forms a SQLite timestamp may take when its driver
// returns it as text: bun's, with or without the offset and the "T".
var storedTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// parseStoredTime reads a timestamp stored as text; one without an offset is
// UTC, as every time this server writes is.
func parseStoredTime(s string) (time.Time, bool) {
	for _, l := range storedTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
