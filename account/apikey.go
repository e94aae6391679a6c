package account

import (
	"context"
	"errors"

	"net/netip"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/secret"
)

// purgeBatch bounds how many expired rows one clean-up statement deletes.
const purgeBatch = 1000

func errAPIKeyNotFound() error {
	return &model.Error{Code: model.CodeNotFound, Message: "api key not found", Field: "id"}
}

// NewAPIKey is a key just created or recreated, with the secret that is
// shown this once.
type NewAPIKey struct {
	Key    *model.APIKey
	Secret string
}

// newAPIKeySecret returns a fresh key: the prefix and 43 alphanumerics
// from crypto/rand.
func newAPIKeySecret() string { return apiKeyPrefix + secret.RandomString(apiKeySecretLen) }

// keyData is what an activity record says about a key: its non-secret
// fields only.
func keyData(k *model.APIKey) map[string]any {
	return map[string]any{"uuid": k.ID.String(), "name": k.Name, "identifier": k.KeyStart}
}

// CreateAPIKey creates a key for the actor's user. The quota check and the
// insert run in one transaction that holds the user's lock, so concurrent
// creates cannot overshoot MAX_API_KEYS; under the same lock the actor's
// own session or key must still be live, so a request in flight when its
// credential was revoked mints nothing (revocation.go).
func (s *Service) CreateAPIKey(ctx context.Context, actor *model.Actor, in APIKeyFields) (*NewAPIKey, error) {
	if in.Name == nil {
		in.Name = new(string)
	}
	now := s.now()
	var v model.Validation
	p := s.checkAPIKeyFields(&v, in, now)
	if err := s.admit(actor, gateDefault, v.Err(), model.PermAPIKeysCreate); err != nil {
		return nil, err
	}
	k := p.Apply(model.APIKey{ID: newID(), UserID: actor.User.ID, AllowedIPs: []netip.Prefix{},
		UserPermissions: []string{}, AdminPermissions: []string{}, ServerPermissions: []string{}, Created: now})
	if err := exceedsActor(actor, &k); err != nil {
		return nil, err
	}
	key := newAPIKeySecret()
	k.KeyStart, k.Digest = key[:keyStartLen], secret.Digest(key)
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockActor(ctx, actor); err != nil {
			return err
		}
		// Expired keys are invisible: they must hold neither a quota slot
		// nor a name.
		if _, err := s.apiKeys.DeleteExpiredAPIKeys(ctx, &k.UserID, now, purgeBatch); err != nil {
			return err
		}
		n, err := s.apiKeys.CountLiveAPIKeys(ctx, k.UserID, now)
		if err != nil {
			return err
		}
		if n >= s.cfg.MaxAPIKeys {
			return model.Errorf(model.CodeQuotaExceeded, "maximum number of api keys reached")
		}
		if err := s.apiKeys.CreateAPIKey(ctx, &k); err != nil {
			return err
		}
		if err := s.record(ctx, k.UserID, actor, actor.IP, model.EventAPIKeyCreate, createData(&k)); err != nil {
			return err
		}
		return s.actorNotice(ctx, actor, actor.User, model.MailNoticeAPIKeyCreated, k.Name)
	})
	if err != nil {
		return nil, keyWriteError(err)
	}
	return &NewAPIKey{Key: &k, Secret: key}, nil
}

// createData describes a new key for the activity log.
func createData(k *model.APIKey) map[string]any {
	d := keyData(k)
	ips := make([]string, len(k.AllowedIPs))
	for i, p := range k.AllowedIPs {
		ips[i] = p.String()
	}
	d["allowed_ips"] = ips
	d["user_permissions"] = k.UserPermissions
	d["admin_permissions"] = k.AdminPermissions
	d["server_permissions"] = k.ServerPermissions
	d["expires"] = k.Expires
	return d
}

// keyWriteError maps the failures of a key write to the contract's errors.
func keyWriteError(err error) error {
	var dup *model.DuplicateError
	if errors.As(err, &dup) && dup.Field == "name" {
		return &model.Error{Code: model.CodeConflict, Message: "api key with name already exists", Field: "name"}
	}
	return model.AsError(err)
}

// UpdateAPIKey edits one of the actor's user's keys, writing only the
// fields given. The key as edited must stay within what the actor may hand
// out, so a weaker key cannot widen, or lift the restrictions of, a
// stronger one.
func (s *Service) UpdateAPIKey(ctx context.Context, actor *model.Actor, id uuid.UUID, in APIKeyFields) (*model.APIKey, error) {
	now := s.now()
	var v model.Validation
	p := s.checkAPIKeyFields(&v, in, now)
	if err := s.admit(actor, gateDefault, v.Err(), model.PermAPIKeysUpdate); err != nil {
		return nil, err
	}
	var updated *model.APIKey
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		k, err := s.apiKeys.APIKeyByID(ctx, actor.User.ID, id, now)
		if err != nil {
			return err
		}
		if k == nil {
			return errAPIKeyNotFound()
		}
		// The key's own credential may not change it: a key is never
		// the judge of its own limits.
		if actor.APIKey != nil && actor.APIKey.ID == k.ID {
			return model.Errorf(model.CodeInvalid, "api keys cannot edit themselves")
		}
		after := p.Apply(*k)
		if err := exceedsActor(actor, &after); err != nil {
			return err
		}
		if p.Empty() {
			updated = k
			return nil
		}
		if err := s.apiKeys.UpdateAPIKey(ctx, k.ID, p); err != nil {
			return err
		}
		d := keyData(k)
		d["fields"] = p.Fields()
		if p.Name != nil {
			d["name"] = *p.Name
		}
		if err := s.record(ctx, k.UserID, actor, actor.IP, model.EventAPIKeyUpdate, d); err != nil {
			return err
		}
		updated, err = s.apiKeys.APIKeyByID(ctx, actor.User.ID, id, now)
		return err
	})
	if err != nil {
		return nil, keyWriteError(err)
	}
	return updated, nil
}

// RecreateAPIKey gives a key a new secret; the old one stops working at
// once. The key's lists must be within the actor's: otherwise a weak key
// could take over a strong one by reading its new secret. The new secret
// is a mint and the old one's end a revocation, so both happen under the
// user's lock, and only while the actor's own credential is live
// (revocation.go).
func (s *Service) RecreateAPIKey(ctx context.Context, actor *model.Actor, id uuid.UUID) (*NewAPIKey, error) {
	if err := s.admit(actor, gateDefault, nil, model.PermAPIKeysRecreate); err != nil {
		return nil, err
	}
	now := s.now()
	key := newAPIKeySecret()
	var out *model.APIKey
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockActor(ctx, actor); err != nil {
			return err
		}
		k, err := s.apiKeys.APIKeyByID(ctx, actor.User.ID, id, now)
		if err != nil {
			return err
		}
		if k == nil {
			return errAPIKeyNotFound()
		}
		if exceedsActor(actor, k) != nil {
			return model.Errorf(model.CodeInvalid, "unable to recreate api key with more permissions than self")
		}
		old := k.KeyStart
		k.KeyStart, k.Digest, k.LastUsed = key[:keyStartLen], secret.Digest(key), nil
		if err := s.apiKeys.ReplaceAPIKeySecret(ctx, k.ID, k.KeyStart, k.Digest); err != nil {
			return err
		}
		d := keyData(k)
		d["old_identifier"] = old
		if err := s.record(ctx, k.UserID, actor, actor.IP, model.EventAPIKeyRecreate, d); err != nil {
			return err
		}
		out = k
		return nil
	})
	if err != nil {
		return nil, keyWriteError(err)
	}
	return &NewAPIKey{Key: out, Secret: key}, nil
}

// DeleteAPIKey deletes one of the actor's user's keys; it stops working at
// once.
func (s *Service) DeleteAPIKey(ctx context.Context, actor *model.Actor, id uuid.UUID) error {
	if err := s.admit(actor, gateDefault, nil, model.PermAPIKeysDelete); err != nil {
		return err
	}
	now := s.now()
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		// A revocation: under the user's lock, so a mint by this key
		// either commits first or sees the key gone (revocation.go).
		if err := s.lockUser(ctx, actor.User.ID); err != nil {
			return err
		}
		k, err := s.apiKeys.APIKeyByID(ctx, actor.User.ID, id, now)
		if err != nil {
			return err
		}
		if k == nil {
			return errAPIKeyNotFound()
		}
		if ok, err := s.apiKeys.DeleteAPIKey(ctx, actor.User.ID, id); err != nil || !ok {
			if err == nil {
				err = errAPIKeyNotFound()
			}
			return err
		}
		return s.record(ctx, k.UserID, actor, actor.IP, model.EventAPIKeyDelete, keyData(k))
	})
	if err != nil {
		return keyWriteError(err)
	}
	return nil
}

// APIKey returns one of the actor's user's live keys by id.
func (s *Service) APIKey(ctx context.Context, actor *model.Actor, id uuid.UUID) (*model.APIKey, error) {
	return s.lookupAPIKey(actor, func(userID uuid.UUID) (*model.APIKey, error) {
		return s.apiKeys.APIKeyByID(ctx, userID, id, s.now())
	})
}

// APIKeyByKeyStart returns one of the actor's user's live keys by the
// identifier a user sees (its first 16 characters).
func (s *Service) APIKeyByKeyStart(ctx context.Context, actor *model.Actor, keyStart string) (*model.APIKey, error) {
	return s.lookupAPIKey(actor, func(userID uuid.UUID) (*model.APIKey, error) {
		if len(keyStart) != keyStartLen {
			return nil, nil
		}
		return s.apiKeys.UserAPIKeyByKeyStart(ctx, userID, keyStart, s.now())
	})
}

func (s *Service) lookupAPIKey(actor *model.Actor, find func(userID uuid.UUID) (*model.APIKey, error)) (*model.APIKey, error) {
	if err := s.admit(actor, gateDefault, nil, model.PermAPIKeysRead); err != nil {
		return nil, err
	}
	k, err := find(actor.User.ID)
	if err != nil {
		return nil, model.Internal(err)
	}
	if k == nil {
		return nil, errAPIKeyNotFound()
	}
	return k, nil
}

// ListAPIKeys returns a page of the actor's user's live keys, oldest
// first; search matches the name.
func (s *Service) ListAPIKeys(ctx context.Context, actor *model.Actor, q model.ListQuery) (*model.Page[*model.APIKey], error) {
	now := s.now()
	return listPage(ctx, s, actor, q, model.PermAPIKeysRead,
		func(ctx context.Context, q model.ListQuery) ([]*model.APIKey, bool, error) {
			return s.apiKeys.ListAPIKeys(ctx, actor.User.ID, now, q)
		},
		func(ctx context.Context, search string) (int, error) {
			return s.apiKeys.CountAPIKeys(ctx, actor.User.ID, now, search)
		})
}
