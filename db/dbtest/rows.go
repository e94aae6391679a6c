package dbtest

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/db"
)

// The rows below are the tables as tests read and write them directly:
// states the service cannot produce quickly (expired keys, long idle
// sessions, large or unusual histories) and checks of what was stored.
// Every column is listed, so one type serves every test; a nil pointer is
// written as NULL.

// APIKeyRow is a row of api_keys.
type APIKeyRow struct {
	bun.BaseModel `bun:"table:api_keys"`

	ID                uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID            uuid.UUID  `bun:"user_id,type:uuid"`
	Name              string     `bun:"name"`
	KeyStart          string     `bun:"key_start"`
	Digest            []byte     `bun:"digest"`
	AllowedIPs        string     `bun:"allowed_ips"`
	UserPermissions   string     `bun:"user_permissions"`
	AdminPermissions  string     `bun:"admin_permissions"`
	ServerPermissions string     `bun:"server_permissions"`
	LastUsed          *time.Time `bun:"last_used"`
	Expires           *time.Time `bun:"expires"`
	Created           time.Time  `bun:"created"`
}

// SessionRow is a row of sessions.
type SessionRow struct {
	bun.BaseModel `bun:"table:sessions"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	UserID    uuid.UUID `bun:"user_id,type:uuid"`
	KeyStart  string    `bun:"key_start"`
	Digest    []byte    `bun:"digest"`
	IP        string    `bun:"ip"`
	UserAgent string    `bun:"user_agent"`
	LastUsed  time.Time `bun:"last_used"`
	Created   time.Time `bun:"created"`
	// DeviceID is the device the session was signed in from, if any.
	DeviceID *uuid.UUID `bun:"device_id,type:uuid"`
	// LastUsedHour is set from LastUsed on insert, as the store does.
	LastUsedHour time.Time `bun:"last_used_hour"`
}

var _ bun.BeforeAppendModelHook = (*SessionRow)(nil)

// BeforeAppendModel keeps the clean-up's index column in step with
// LastUsed for rows a test inserts.
func (r *SessionRow) BeforeAppendModel(_ context.Context, q bun.Query) error {
	if _, ok := q.(*bun.InsertQuery); ok {
		r.LastUsedHour = db.LastUsedHour(r.LastUsed)
	}
	return nil
}

// ActivityRow is a row of activities.
type ActivityRow struct {
	bun.BaseModel `bun:"table:activities"`

	ID           uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID       uuid.UUID  `bun:"user_id,type:uuid"`
	APIKeyID     *uuid.UUID `bun:"api_key_id,type:uuid"`
	Impersonator *uuid.UUID `bun:"impersonator,type:uuid"`
	Event        string     `bun:"event"`
	IP           *string    `bun:"ip"`
	Data         string     `bun:"data"`
	Created      time.Time  `bun:"created"`
}
