package graph

import (
	"time"
)

// TwoFactorStatus is the user's two-factor state; the count of recovery
// codes is resolved only when asked for, since it costs a query.
type TwoFactorStatus struct {
	Enabled    bool
	LastUsedAt *time.Time
}
