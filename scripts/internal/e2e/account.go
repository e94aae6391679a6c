package e2e

import (
	"context"
	"fmt"
	"net/http"
)

// User is an account the scripts create.
type User struct {
	Username string
	Email    string
	Password string
	ID       string // uuid, once registered
}

// NewUser returns the details of a fresh account named name (3–15 of
// [A-Za-z0-9_]).
func NewUser(name string) *User {
	return &User{Username: name, Email: name + "@example.com", Password: "correct horse " + name}
}

type userBody struct {
	User struct {
		UUID string `json:"uuid"`
	} `json:"user"`
}

// Register signs the user up and returns the session cookie.
func Register(ctx context.Context, c *http.Client, base string, u *User) (string, error) {
	r := Do(ctx, c, http.MethodPost, base+"/api/auth/register", Cred{}, map[string]any{
		"username": u.Username, "email": u.Email, "name_first": u.Username, "name_last": "Test", "password": u.Password,
	})
	var b userBody
	if !r.OK() || r.Decode(&b) != nil || r.Session() == "" {
		return "", fmt.Errorf("register %s: %s", u.Username, r)
	}
	u.ID = b.User.UUID
	return r.Session(), nil
}

// LoginAnswer is the outcome of a password login: a session cookie, or
// the confirmation token of a two-factor login.
type LoginAnswer struct {
	Type   string `json:"type"`
	Token  string `json:"token"`
	Cookie string `json:"-"`
	User   struct {
		UUID string `json:"uuid"`
	} `json:"user"`
}

// Login signs the user in with the password.
func Login(ctx context.Context, c *http.Client, base string, u *User) (LoginAnswer, error) {
	r := Do(ctx, c, http.MethodPost, base+"/api/auth/login", Cred{}, map[string]any{"user": u.Username, "password": u.Password})
	var a LoginAnswer
	if !r.OK() || r.Decode(&a) != nil {
		return a, fmt.Errorf("login %s: %s", u.Username, r)
	}
	a.Cookie = r.Session()
	if a.Type == "completed" && a.Cookie == "" {
		return a, fmt.Errorf("login %s: no session cookie: %s", u.Username, r)
	}
	return a, nil
}

// Key is a created API key.
type Key struct {
	Secret string
	UUID   string
}

// CreateKeyResponse creates an API key named name holding perms and
// returns the raw answer (callers racing for the quota need the status).
func CreateKeyResponse(ctx context.Context, c *http.Client, base string, cred Cred, name string, perms []string) Response {
	if perms == nil {
		perms = []string{}
	}
	return Do(ctx, c, http.MethodPost, base+"/api/client/account/api-keys", cred, map[string]any{
		"name": name, "allowed_ips": []string{}, "user_permissions": perms,
		"admin_permissions": []string{}, "server_permissions": []string{},
	})
}

// ParseKey reads the key out of a successful create.
func ParseKey(r Response) (Key, error) {
	var b struct {
		Key    string `json:"key"`
		APIKey struct {
			UUID string `json:"uuid"`
		} `json:"api_key"`
	}
	if !r.OK() || r.Decode(&b) != nil || b.Key == "" {
		return Key{}, fmt.Errorf("create api key: %s", r)
	}
	return Key{Secret: b.Key, UUID: b.APIKey.UUID}, nil
}

// CreateKey creates an API key and returns it.
func CreateKey(ctx context.Context, c *http.Client, base string, cred Cred, name string, perms []string) (Key, error) {
	return ParseKey(CreateKeyResponse(ctx, c, base, cred, name, perms))
}
