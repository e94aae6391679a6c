package model

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
)

// The user permissions the account routes check.
const (
	PermAccountInfos     = "account.infos"
	PermAccountEmail     = "account.email"
	PermAccountPassword  = "account.password"
	PermAccountTwoFactor = "account.two-factor"
	PermAPIKeysCreate    = "api-keys.create"
	PermAPIKeysRead      = "api-keys.read"
	PermAPIKeysUpdate    = "api-keys.update"
	PermAPIKeysDelete    = "api-keys.delete"
	PermAPIKeysRecreate  = "api-keys.recreate"
	PermSessionsRead     = "sessions.read"
	PermSessionsDelete   = "sessions.delete"
	PermActivityRead     = "activity.read"
)

//go:embed permissions.json
var permissionsJSON []byte

// PermissionsJSON returns the catalog exactly as the REST route serves it.
func PermissionsJSON() []byte { return bytes.Clone(permissionsJSON) }

// Permission is one entry of the catalog.
type Permission struct {
	// Key is the full name a key carries, e.g. "account.email".
	Key         string
	Name        string
	Description string
}

// PermissionGroup is a named group of permissions, in catalog order.
type PermissionGroup struct {
	Name        string
	Description string
	Permissions []Permission
}

// PermissionCatalog is every permission an API key may carry, in the order
// of permissions.json.
type PermissionCatalog struct {
	User   []PermissionGroup
	Admin  []PermissionGroup
	Server []PermissionGroup

	known map[string]map[string]bool
}

// Has reports whether perm exists in the given list ("user", "admin",
// "server").
func (c *PermissionCatalog) Has(list, perm string) bool { return c.known[list][perm] }

// AllUser lists every user permission, in catalog order.
func (c *PermissionCatalog) AllUser() []string { return keys(c.User) }

// AllAdmin lists every admin permission, in catalog order.
func (c *PermissionCatalog) AllAdmin() []string { return keys(c.Admin) }

func keys(groups []PermissionGroup) []string {
	var out []string
	for _, g := range groups {
		for _, p := range g.Permissions {
			out = append(out, p.Key)
		}
	}
	return out
}

// LoadPermissionCatalog parses the embedded catalog. It keeps the file's
// order, which encoding/json's maps would lose.
func LoadPermissionCatalog() (*PermissionCatalog, error) {
	dec := json.NewDecoder(bytes.NewReader(permissionsJSON))
	c := &PermissionCatalog{known: map[string]map[string]bool{}}
	err := eachMember(dec, func(list string) error {
		groups, err := decodeGroups(dec)
		if err != nil {
			return err
		}
		set := map[string]bool{}
		for _, g := range groups {
			for _, p := range g.Permissions {
				set[p.Key] = true
			}
		}
		c.known[list] = set
		switch list {
		case "user_permissions":
			c.User = groups
		case "admin_permissions":
			c.Admin = groups
		case "server_permissions":
			c.Server = groups
		default:
			return fmt.Errorf("unknown permission list %q", list)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("permission catalog: %w", err)
	}
	c.known["user"], c.known["admin"], c.known["server"] = c.known["user_permissions"], c.known["admin_permissions"], c.known["server_permissions"]
	return c, nil
}

func decodeGroups(dec *json.Decoder) ([]PermissionGroup, error) {
	var groups []PermissionGroup
	err := eachMember(dec, func(group string) error {
		g := PermissionGroup{Name: group}
		err := eachMember(dec, func(field string) error {
			switch field {
			case "description":
				return dec.Decode(&g.Description)
			case "permissions":
				return eachMember(dec, func(name string) error {
					p := Permission{Key: group + "." + name, Name: name}
					if err := dec.Decode(&p.Description); err != nil {
						return err
					}
					g.Permissions = append(g.Permissions, p)
					return nil
				})
			default:
				var skip json.RawMessage
				return dec.Decode(&skip)
			}
		})
		groups = append(groups, g)
		return err
	})
	return groups, err
}

// eachMember walks the members of the JSON object at the decoder's
// position, calling fn with each key while the decoder sits on its value.
func eachMember(dec *json.Decoder, fn func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("expected an object, got %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("expected a key, got %v", tok)
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing brace
	if err == io.EOF {
		return nil
	}
	return err
}
