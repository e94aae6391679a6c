package db

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// decodeAuthRow decodes one row of the authentication query from
// PostgreSQL's binary format into dst, the row's scan targets, and reports
// whether it could: a column of another type or format than the targets
// expect (a changed schema) makes it return false, and the caller falls
// back to pgx's general scan. It exists because the general scan plans
// every column of every row afresh — for this 33-column row that planning
// was a third of a request's allocations. The text columns share one
// allocation: each string is a slice of a single string built for the row.
func decodeAuthRow(fields []pgconn.FieldDescription, raw [][]byte, dst []any) bool {
	if len(fields) != len(dst) || len(raw) != len(dst) {
		return false
	}
	var texts strings.Builder
	textLen := 0
	for i, f := range fields {
		// Text travels as its bytes in either format; everything else
		// must be binary.
		if f.Format != pgtype.BinaryFormatCode && !isTextOID(f.DataTypeOID) {
			return false
		}
		if _, ok := dst[i].(*string); ok && isTextOID(f.DataTypeOID) {
			textLen += len(raw[i])
		}
	}
	texts.Grow(textLen)
	for i, f := range fields {
		if _, ok := dst[i].(*string); ok && isTextOID(f.DataTypeOID) {
			texts.Write(raw[i])
		}
	}
	all, at := texts.String(), 0
	for i, f := range fields {
		v, oid := raw[i], f.DataTypeOID
		switch t := dst[i].(type) {
		case *string:
			if v == nil || !isTextOID(oid) {
				return false
			}
			*t = all[at : at+len(v)]
			at += len(v)
		case **string:
			if v == nil {
				*t = nil
				continue
			}
			if !isTextOID(oid) {
				return false
			}
			s := string(v)
			*t = &s
		case *uuid.UUID:
			if oid != pgtype.UUIDOID || len(v) != 16 {
				return false
			}
			copy(t[:], v)
		case **uuid.UUID:
			if v == nil {
				*t = nil
				continue
			}
			if oid != pgtype.UUIDOID || len(v) != 16 {
				return false
			}
			u := uuid.UUID(v)
			*t = &u
		case *bool:
			if oid != pgtype.BoolOID || len(v) != 1 {
				return false
			}
			*t = v[0] != 0
		case *int64:
			switch {
			case oid == pgtype.Int8OID && len(v) == 8:
				*t = int64(binary.BigEndian.Uint64(v))
			case oid == pgtype.Int4OID && len(v) == 4:
				*t = int64(int32(binary.BigEndian.Uint32(v)))
			default:
				return false
			}
		case *time.Time:
			if !isTimeOID(oid) || len(v) != 8 {
				return false
			}
			*t = pgTime(v)
		case **time.Time:
			if v == nil {
				*t = nil
				continue
			}
			if !isTimeOID(oid) || len(v) != 8 {
				return false
			}
			tm := pgTime(v)
			*t = &tm
		case *[]byte:
			if oid != pgtype.ByteaOID {
				return false
			}
			if v == nil {
				*t = nil
				continue
			}
			*t = append([]byte(nil), v...)
		default:
			return false
		}
	}
	return true
}

func isTextOID(oid uint32) bool {
	return oid == pgtype.TextOID || oid == pgtype.VarcharOID
}

func isTimeOID(oid uint32) bool {
	return oid == pgtype.TimestamptzOID || oid == pgtype.TimestampOID
}

// pgEpochUnixMicro is PostgreSQL's zero time; binary timestamps count microseconds
// from it. (Infinite timestamps are never stored by this server.)
const pgEpochUnixMicro = 946684800 * 1_000_000

func pgTime(v []byte) time.Time {
	return time.UnixMicro(int64(binary.BigEndian.Uint64(v)) + pgEpochUnixMicro).UTC()
}
