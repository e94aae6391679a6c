package account

import (
	"context"
	"time"

	"github.com/google/uuid"

	"accountd/model"
)

// The taken-value throttle (SECURITY.md): a username or e-mail change that
// is refused because the value is taken tells the account that someone is
// registered under it, so repeated changes would let one account enumerate
// the users. Each account may therefore be told "taken" at most takenLimit
// times per window; once it has been, every username or e-mail change of
// the account is refused with the rate-limit error until the window ends,
// for free values too, so the answer no longer tells taken from free. The
// counter lives in the database (ThrottleStore), so replicas share it.
//
// Ten an hour: a person picking a new name or fixing an address rarely
// meets more than a few taken values in a row, while an enumeration gets
// at most 240 answers a day per account, and new accounts to spread it
// over are themselves limited per IP at sign-up.
const (
	takenLimit  = 10
	takenWindow = time.Hour
)

// takenKey is the counter of an account's taken answers: its id only, never
// the values tried, which would put the probed addresses in the table.
func takenKey(userID uuid.UUID) string { return "taken:" + userID.String() }

// checkTaken refuses a username or e-mail change of an account that has
// had its takenLimit answers in the current window. It only reads the
// counter: the change's outcome decides whether to count (countTaken).
func (s *Service) checkTaken(ctx context.Context, userID uuid.UUID) error {
	now := s.now()
	start, hits, err := s.throttle.CountHits(ctx, takenKey(userID), now, takenWindow)
	if err != nil {
		return model.Internal(err)
	}
	if hits >= takenLimit {
		return errTooManyAttempts(start.Add(takenWindow).Sub(now))
	}
	return nil
}

// countTaken counts err against the account when it is taken, the change's
// refusal for a taken value, and passes the change's result through
// otherwise. Concurrent changes can all pass checkTaken before any is
// counted, so the count's own answer decides too: only the first
// takenLimit hits of a window are told "taken", later ones get the
// rate-limit error, and no burst learns more than the limit allows. A
// failure to count fails the change rather than answering uncounted.
func (s *Service) countTaken(ctx context.Context, userID uuid.UUID, u *model.User, err error, taken *model.Error) (*model.User, error) {
	if err != error(taken) {
		return u, err
	}
	now := s.now()
	start, hits, herr := s.throttle.Hit(ctx, takenKey(userID), now, takenWindow)
	if herr != nil {
		return nil, model.Internal(herr)
	}
	if hits > takenLimit {
		return nil, errTooManyAttempts(start.Add(takenWindow).Sub(now))
	}
	return nil, err
}
