package model

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

func TestCatalogKeepsFileOrderAndContent(t *testing.T) {
	c, err := LoadPermissionCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if c.User[0].Name != "account" || c.User[0].Permissions[0].Key != "account.infos" {
		t.Fatalf("first user permission = %s/%s, want account/account.infos", c.User[0].Name, c.User[0].Permissions[0].Key)
	}
	var raw map[string]map[string]struct {
		Permissions map[string]string `json:"permissions"`
	}
	if err := json.Unmarshal(permissionsJSON, &raw); err != nil {
		t.Fatal(err)
	}
	for list, groups := range map[string][]PermissionGroup{"user_permissions": c.User, "admin_permissions": c.Admin, "server_permissions": c.Server} {
		n := 0
		for _, g := range groups {
			n += len(g.Permissions)
			for _, p := range g.Permissions {
				if raw[list][g.Name].Permissions[p.Name] != p.Description || !c.Has(list[:len(list)-len("_permissions")], p.Key) {
					t.Errorf("%s: %s not as in the file", list, p.Key)
				}
			}
		}
		want := 0
		for _, g := range raw[list] {
			want += len(g.Permissions)
		}
		if n != want {
			t.Errorf("%s: %d permissions parsed, file has %d", list, n, want)
		}
	}
	if len(c.AllUser()) != 32 || c.Has("user", "nope.nope") {
		t.Fatalf("AllUser = %d permissions, want 32", len(c.AllUser()))
	}
}

// The embedded copy must be the contract's file; the check runs wherever
// the shared specification sits beside the repository.
func TestEmbeddedCatalogIsTheSpec(t *testing.T) {
	spec, err := os.ReadFile("../../shared/spec/permissions.json")
	if err != nil {
		t.Skip("shared/spec/permissions.json not beside the repository")
	}
	if !bytes.Equal(spec, permissionsJSON) {
		var a, b any
		_ = json.Unmarshal(spec, &a)
		_ = json.Unmarshal(permissionsJSON, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatal("model/permissions.json differs from shared/spec/permissions.json")
		}
	}
}

func TestErrorMessages(t *testing.T) {
	var v Validation
	v.Add("username", "length is lower than 3")
	v.Add("name_first", "length is greater than 255")
	e := AsError(v.Err())
	if got := e.Messages(); !reflect.DeepEqual(got, []string{"username: length is lower than 3", "name_first: length is greater than 255"}) {
		t.Fatalf("validation messages = %q", got)
	}
	dup := &Error{Code: CodeConflict, Message: "username already taken", Field: "username"}
	if got := dup.Messages(); !reflect.DeepEqual(got, []string{"username already taken"}) {
		t.Fatalf("a lone field must not prefix the REST message: %q", got)
	}
	in := Internal(os.ErrPermission)
	if got := in.Messages(); !reflect.DeepEqual(got, []string{"internal server error"}) || ErrorCode(in) != CodeInternal {
		t.Fatalf("internal messages = %q", got)
	}
	if (&Validation{}).Err() != nil || ErrorCode(nil) != "" {
		t.Fatal("empty validation or nil error misreported")
	}
}
