package main

import (
	"context"
	"fmt"
	"net/http"

	"accountd/scripts/internal/e2e"
	"accountd/secret"
)

// keyPermissions lets a load key do everything the mix asks of it.
var keyPermissions = []string{"account.infos", "api-keys.create", "api-keys.read", "api-keys.delete"}

// member is a user whose credentials the load uses: sessions and an API
// key that work.
type member struct {
	user    *e2e.User
	cookies []string
	key     string
}

// fixtures are the accounts and credentials the load draws from.
type fixtures struct {
	members []*member
	// invalid are credentials that must never be accepted: unknown,
	// forged (a real lookup prefix with a wrong secret), deleted, revoked
	// and malformed ones.
	invalid []namedCred
	// victim is an account only ever signed in to with a wrong password.
	victim *e2e.User
}

type namedCred struct {
	name string
	cred e2e.Cred
}

func setup(ctx context.Context, c *http.Client, base string, users int) (*fixtures, error) {
	f := &fixtures{}
	for i := range users {
		u := e2e.NewUser(fmt.Sprintf("load%d", i))
		cookie, err := e2e.Register(ctx, c, base, u)
		if err != nil {
			return nil, err
		}
		m := &member{user: u, cookies: []string{cookie}}
		login, err := e2e.Login(ctx, c, base, u)
		if err != nil {
			return nil, err
		}
		m.cookies = append(m.cookies, login.Cookie)
		key, err := e2e.CreateKey(ctx, c, base, e2e.Cred{Cookie: cookie}, "load key", keyPermissions)
		if err != nil {
			return nil, err
		}
		m.key = key.Secret
		f.members = append(f.members, m)
	}

	m := f.members[0]
	owner := e2e.Cred{Cookie: m.cookies[0]}
	deleted, err := e2e.CreateKey(ctx, c, base, owner, "deleted key", keyPermissions)
	if err != nil {
		return nil, err
	}
	if r := e2e.Do(ctx, c, http.MethodDelete, base+"/api/client/account/api-keys/"+deleted.UUID, owner, nil); !r.OK() {
		return nil, fmt.Errorf("delete api key: %s", r)
	}
	revoked, err := e2e.Login(ctx, c, base, m.user)
	if err != nil {
		return nil, err
	}
	if r := e2e.Do(ctx, c, http.MethodPost, base+"/api/client/account/logout", e2e.Cred{Cookie: revoked.Cookie}, nil); !r.OK() {
		return nil, fmt.Errorf("logout: %s", r)
	}
	f.invalid = []namedCred{
		{"unknown api key", e2e.Cred{Key: "c7sp_" + secret.RandomString(43)}},
		{"forged api key (real prefix, wrong secret)", e2e.Cred{Key: forge(m.key, 16)}},
		{"deleted api key", e2e.Cred{Key: deleted.Secret}},
		{"malformed api key", e2e.Cred{Key: "c7sp_short"}},
		{"unknown session cookie", e2e.Cred{Cookie: secret.RandomString(len(m.cookies[0]))}},
		{"forged session cookie (real prefix, wrong secret)", e2e.Cred{Cookie: forge(m.cookies[0], 16)}},
		{"revoked session cookie", e2e.Cred{Cookie: revoked.Cookie}},
		{"malformed session cookie", e2e.Cred{Cookie: "not-a-session"}},
	}

	f.victim = e2e.NewUser("victim")
	if _, err := e2e.Register(ctx, c, base, f.victim); err != nil {
		return nil, err
	}
	return f, nil
}

// forge keeps the first keep characters of a real credential (the part
// the server looks rows up by) and replaces the rest with random ones.
func forge(real string, keep int) string {
	return real[:keep] + secret.RandomString(len(real)-keep)
}
