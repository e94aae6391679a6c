package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// deviceRow is the devices table: the browsers an account signed in from
// and the attempt budget of each.
type deviceRow struct {
	bun.BaseModel `bun:"table:devices,alias:dv"`

	ID           uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID       uuid.UUID  `bun:"user_id,type:uuid"`
	Digest       []byte     `bun:"digest"`
	Created      time.Time  `bun:"created"`
	LastUsed     time.Time  `bun:"last_used"`
	Failures     int        `bun:"failures"`
	WindowStart  time.Time  `bun:"window_start"`
	Consecutive  int        `bun:"consecutive"`
	BlockedUntil *time.Time `bun:"blocked_until"`
}

// CreateDevice stores a device with a fresh budget.
func (s *Store) CreateDevice(ctx context.Context, d *model.Device) (err error) {
	defer wrap(&err, "db.CreateDevice")
	_, err = s.conn(ctx).NewInsert().Model(&deviceRow{ID: d.ID, UserID: d.UserID, Digest: d.Digest,
		Created: d.Created, LastUsed: d.LastUsed, WindowStart: d.Created}).Exec(ctx)
	return err
}

// DeviceByDigest returns the device whose cookie has the digest, or nil.
func (s *Store) DeviceByDigest(ctx context.Context, digest []byte) (_ *model.Device, err error) {
	defer wrap(&err, "db.DeviceByDigest")
	var r deviceRow
	err = s.conn(ctx).NewSelect().Model(&r).Where("dv.digest = ?", digest).Scan(ctx)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &model.Device{ID: r.ID, UserID: r.UserID, Digest: r.Digest, Created: r.Created.UTC(), LastUsed: r.LastUsed.UTC()}, nil
}

// TouchDevice records a sign-in from the device.
func (s *Store) TouchDevice(ctx context.Context, id uuid.UUID, now time.Time) (err error) {
	defer wrap(&err, "db.TouchDevice")
	_, err = s.conn(ctx).NewUpdate().Model((*deviceRow)(nil)).Set("last_used = ?", now).Where("id = ?", id).Exec(ctx)
	return err
}

// LockDeviceAttempts returns the attempt counter of a device and (inside
// InTx) holds it until the transaction ends, like LockAttempts. An unknown
// device is an error.
func (s *Store) LockDeviceAttempts(ctx context.Context, id uuid.UUID, now time.Time) (_ *model.AttemptCounter, err error) {
	defer wrap(&err, "db.LockDeviceAttempts")
	var r deviceRow
	q := s.conn(ctx).NewSelect().Model(&r).Where("dv.id = ?", id)
	if s.dialect == Postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	return &model.AttemptCounter{UserID: r.UserID, DeviceID: &r.ID, Failures: r.Failures, WindowStart: r.WindowStart.UTC(),
		Consecutive: r.Consecutive, BlockedUntil: utcPtr(r.BlockedUntil)}, nil
}

// saveDeviceAttempts writes a device's counter back (SaveAttempts).
func (s *Store) saveDeviceAttempts(ctx context.Context, c *model.AttemptCounter) error {
	_, err := s.conn(ctx).NewUpdate().Model((*deviceRow)(nil)).
		Set("failures = ?", c.Failures).Set("window_start = ?", c.WindowStart).
		Set("consecutive = ?", c.Consecutive).Set("blocked_until = ?", c.BlockedUntil).
		Where("id = ?", *c.DeviceID).Exec(ctx)
	return err
}
