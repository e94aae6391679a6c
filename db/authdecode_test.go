package db

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestDecodeAuthRow(t *testing.T) {
	id := uuid.New()
	at := time.Date(2026, 12, 6, 22, 9, 32, 24566000, time.UTC)
	micros := make([]byte, 8)
	binary.BigEndian.PutUint64(micros, uint64(at.UnixMicro()-pgEpochUnixMicro))
	step := make([]byte, 8)
	binary.BigEndian.PutUint64(step, 1234567)
	fields := []pgconn.FieldDescription{
		{DataTypeOID: pgtype.UUIDOID, Format: 1}, {DataTypeOID: pgtype.TextOID, Format: 0},
		{DataTypeOID: pgtype.TextOID, Format: 1}, {DataTypeOID: pgtype.TextOID, Format: 0},
		{DataTypeOID: pgtype.TextOID, Format: 0}, {DataTypeOID: pgtype.BoolOID, Format: 1},
		{DataTypeOID: pgtype.Int8OID, Format: 1}, {DataTypeOID: pgtype.TimestamptzOID, Format: 1},
		{DataTypeOID: pgtype.TimestamptzOID, Format: 1}, {DataTypeOID: pgtype.ByteaOID, Format: 1},
		{DataTypeOID: pgtype.UUIDOID, Format: 1},
	}
	raw := [][]byte{id[:], []byte("alice"), []byte("über ✓"), nil, []byte("role"), {1}, step, micros, nil, {0, 0xff}, nil}
	var (
		gotID       uuid.UUID
		name, other string
		null, role  *string
		flag        bool
		n           int64
		when        time.Time
		never       *time.Time
		digest      []byte
		device      *uuid.UUID
	)
	dst := []any{&gotID, &name, &other, &null, &role, &flag, &n, &when, &never, &digest, &device}
	if !decodeAuthRow(fields, raw, dst) {
		t.Fatal("a row of the expected types was not decoded")
	}
	if gotID != id || name != "alice" || other != "über ✓" || null != nil || role == nil || *role != "role" ||
		!flag || n != 1234567 || !when.Equal(at) || when.Location() != time.UTC || never != nil ||
		string(digest) != "\x00\xff" || device != nil {
		t.Fatalf("decoded %v %q %q %v %v %v %d %v %v %x %v", gotID, name, other, null, role, flag, n, when, never, digest, device)
	}

	// Anything unexpected falls back to the general scan.
	for _, c := range []struct {
		name  string
		field pgconn.FieldDescription
		value []byte
		dst   any
	}{
		{"an integer into a string", pgconn.FieldDescription{DataTypeOID: pgtype.Int4OID, Format: 1}, []byte{0, 0, 0, 1}, new(string)},
		{"a NULL into a non-NULL string", pgconn.FieldDescription{DataTypeOID: pgtype.TextOID}, nil, new(string)},
		{"a timestamp in text format", pgconn.FieldDescription{DataTypeOID: pgtype.TimestamptzOID, Format: 0}, []byte("2026-12-06"), new(time.Time)},
		{"a short uuid", pgconn.FieldDescription{DataTypeOID: pgtype.UUIDOID, Format: 1}, []byte{1, 2}, new(uuid.UUID)},
		{"a target it does not know", pgconn.FieldDescription{DataTypeOID: pgtype.Int4OID, Format: 1}, []byte{0, 0, 0, 1}, new(int32)},
	} {
		if decodeAuthRow([]pgconn.FieldDescription{c.field}, [][]byte{c.value}, []any{c.dst}) {
			t.Errorf("%s: decoded", c.name)
		}
	}
}
