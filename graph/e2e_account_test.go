package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/app"
	"accountd/app/apptest"
	"accountd/db/dbtest"
	"accountd/model"
)

func TestGraphQLUpdateAccount(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		t.Run("success", func(t *testing.T) {
			c, u := apptest.GQLRegister(t, ts, "upd_ok", apptest.GQLPassword)
			in := map[string]any{"username": "Upd_Renamed", "nameFirst": "Ada", "nameLast": "Lovelace",
				"language": "de", "toastPosition": "TOP_LEFT", "startOnGroupedServers": true}
			r := c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(in))
			gqlWantUserErrs(t, r, "updateAccount")
			got, _ := apptest.Get(r.Data, "updateAccount", "user").(map[string]any)
			if got == nil {
				t.Fatalf("no user: %s", r.Raw)
			}
			for k, v := range in {
				if got[k] != v {
					t.Errorf("payload user.%s = %v, want %v", k, got[k], v)
				}
			}
			if got["id"] != u["id"] || got["email"] != u["email"] || got["createdAt"] != u["createdAt"] {
				t.Errorf("unchanged fields changed: %v vs %v", got, u)
			}
			if v := apptest.GQLViewer(t, c); !reflect.DeepEqual(v, got) {
				t.Errorf("viewer %v\n!= payload user %v", v, got)
			}
			res := c.Do(http.MethodGet, "/api/client/account", nil)
			if ru := res.JSON(t)["user"]; apptest.Get(ru, "toast_position") != "top_left" || apptest.Get(ru, "username") != "Upd_Renamed" ||
				apptest.Get(ru, "language") != "de" || apptest.Get(ru, "start_on_grouped_servers") != true {
				t.Errorf("REST view after GraphQL update: %s", res.Body)
			}
			// Fields not sent stay as they are.
			r = c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameLast": "King"}))
			gqlWantUserErrs(t, r, "updateAccount")
			if g := apptest.Get(r.Data, "updateAccount", "user").(map[string]any); g["nameFirst"] != "Ada" || g["nameLast"] != "King" ||
				g["toastPosition"] != "TOP_LEFT" || g["username"] != "Upd_Renamed" {
				t.Errorf("partial update: %v", g)
			}
			// An empty input changes nothing and still answers the user.
			r = c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{}))
			gqlWantUserErrs(t, r, "updateAccount")
			if apptest.Get(r.Data, "updateAccount", "user", "nameLast") != "King" {
				t.Errorf("empty update: %s", r.Raw)
			}
		})

		t.Run("toastPosition enum", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "upd_toast", apptest.GQLPassword)
			for _, pos := range []string{"TOP_LEFT", "TOP_CENTER", "TOP_RIGHT", "BOTTOM_LEFT", "BOTTOM_CENTER", "BOTTOM_RIGHT"} {
				t.Run(pos, func(t *testing.T) {
					// As a variable and as an enum literal.
					r := c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"toastPosition": pos}))
					gqlWantUserErrs(t, r, "updateAccount")
					if apptest.Get(r.Data, "updateAccount", "user", "toastPosition") != pos {
						t.Fatalf("toastPosition: %s", r.Raw)
					}
					r = c.GQL(`mutation { updateAccount(input: {toastPosition: `+pos+`}) { user { toastPosition } userErrors { message } } }`, nil)
					apptest.GQLNoErrors(t, r)
					if apptest.Get(r.Data, "updateAccount", "user", "toastPosition") != pos {
						t.Fatalf("toastPosition literal: %s", r.Raw)
					}
					res := c.Do(http.MethodGet, "/api/client/account", nil)
					if apptest.Get(res.JSON(t), "user", "toast_position") != strings.ToLower(pos) {
						t.Fatalf("REST toast_position: %s", res.Body)
					}
				})
			}
			t.Run("unknown value", func(t *testing.T) {
				before := apptest.GQLViewer(t, c)
				for _, r := range []*apptest.GQLResponse{
					c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"toastPosition": "MIDDLE", "nameFirst": "Changed"})),
					c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"toastPosition": "top_left", "nameFirst": "Changed"})),
					c.GQL(`mutation { updateAccount(input: {toastPosition: MIDDLE, nameFirst: "Changed"}) { userErrors { message } } }`, nil),
				} {
					if len(r.Errors) == 0 || apptest.Get(r.Data, "updateAccount") != nil {
						t.Errorf("want a top-level error and no payload: %s", r.Raw)
						continue
					}
					apptest.GQLCheckRequestIDs(t, r)
					if c := r.Errors[0].Extensions["code"]; c != "GRAPHQL_VALIDATION_FAILED" {
						t.Errorf("extensions.code = %v, want GRAPHQL_VALIDATION_FAILED: %s", c, r.Raw)
					}
				}
				if after := apptest.GQLViewer(t, c); !reflect.DeepEqual(before, after) {
					t.Errorf("a refused update changed the account:\n before %v\n after  %v", before, after)
				}
			})
		})

		pattern := "does not match pattern /^[a-zA-Z0-9_]+$/"
		langs := "must be one of ar, de, el, en, es, fr, it, nl, no, pl, pt, ro, ru, sk, sv, tr, vi, zh"
		inv := func(field, msg string) apptest.GQLUserErr {
			return apptest.GQLUserErr{Field: gqlField(field), Message: msg, Code: "INVALID"}
		}
		for i, tc := range []struct {
			name string
			in   map[string]any
			want []apptest.GQLUserErr
		}{
			{"username too short", map[string]any{"username": "ab"}, []apptest.GQLUserErr{inv("username", "length is lower than 3")}},
			{"username too long", map[string]any{"username": strings.Repeat("a", 16)}, []apptest.GQLUserErr{inv("username", "length is greater than 15")}},
			{"username pattern", map[string]any{"username": "bad name!"}, []apptest.GQLUserErr{inv("username", pattern)}},
			{"username empty", map[string]any{"username": ""},
				[]apptest.GQLUserErr{inv("username", "length is lower than 3"), inv("username", pattern)}},
			{"names", map[string]any{"nameFirst": "", "nameLast": strings.Repeat("n", 256)},
				[]apptest.GQLUserErr{inv("nameFirst", "length is lower than 1"), inv("nameLast", "length is greater than 255")}},
			{"language unknown", map[string]any{"language": "xx"}, []apptest.GQLUserErr{inv("language", langs)}},
			{"language too short", map[string]any{"language": "x"},
				[]apptest.GQLUserErr{inv("language", "length is lower than 2"), inv("language", langs)}},
			{"several fields, valid ones not applied", map[string]any{"username": "a-b", "language": "zz", "nameFirst": "Fine",
				"startOnGroupedServers": true},
				[]apptest.GQLUserErr{inv("username", pattern), inv("language", langs)}},
		} {
			t.Run("validation/"+tc.name, func(t *testing.T) {
				c, _ := apptest.GQLRegister(t, ts, fmt.Sprintf("upd_v%d", i), apptest.GQLPassword)
				before := apptest.GQLViewer(t, c)
				r := c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(tc.in))
				gqlWantUserErrs(t, r, "updateAccount", tc.want...)
				if apptest.Get(r.Data, "updateAccount", "user") != nil {
					t.Errorf("user should be null: %s", r.Raw)
				}
				if after := apptest.GQLViewer(t, c); !reflect.DeepEqual(before, after) {
					t.Errorf("a refused update changed the account:\n before %v\n after  %v", before, after)
				}
				// Same messages as REST's PATCH /api/client/account.
				res := c.Do(http.MethodPatch, "/api/client/account", gqlSnakeKeys(tc.in))
				rest := res.Errors(t)
				slices.Sort(rest)
				if res.Status != http.StatusBadRequest || !slices.Equal(rest, gqlRESTMessages(tc.want)) {
					t.Errorf("REST parity: REST %d %q, GraphQL %q", res.Status, rest, gqlRESTMessages(tc.want))
				}
			})
		}

		t.Run("username taken", func(t *testing.T) {
			apptest.GQLRegister(t, ts, "Taken_Name", apptest.GQLPassword)
			c, _ := apptest.GQLRegister(t, ts, "upd_taker", apptest.GQLPassword)
			for _, name := range []string{"Taken_Name", "taken_name", "TAKEN_NAME"} {
				r := c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"username": name, "nameFirst": "Should_Not_Stick"}))
				gqlWantUserErrs(t, r, "updateAccount",
					apptest.GQLUserErr{Field: gqlField("username"), Message: "username already taken", Code: "CONFLICT"})
				if apptest.Get(r.Data, "updateAccount", "user") != nil {
					t.Errorf("user should be null: %s", r.Raw)
				}
			}
			if v := apptest.GQLViewer(t, c); v["username"] != "upd_taker" || v["nameFirst"] != "Test" {
				t.Errorf("conflicting update left changes behind: %v", v)
			}
			// Renaming to one's own name in another case is not a conflict.
			r := c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"username": "UPD_Taker"}))
			gqlWantUserErrs(t, r, "updateAccount")
		})

		t.Run("frozen", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "upd_frozen", apptest.GQLPassword)
			gqlSetFlags(t, ts, "upd_frozen", true, false)
			r := c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameFirst": "Melted"}))
			apptest.GQLNoErrors(t, r)
			ue := apptest.GQLUserErrs(t, r, "updateAccount")
			if len(ue) != 1 || ue[0].Message != "account is frozen" || ue[0].Code != "CONFLICT" {
				t.Fatalf("userErrors = %v", ue)
			}
			if apptest.Get(r.Data, "updateAccount", "user") != nil {
				t.Errorf("user should be null: %s", r.Raw)
			}
			v := apptest.GQLViewer(t, c)
			if v["nameFirst"] != "Test" || v["frozen"] != true {
				t.Errorf("frozen account after refused update: %v", v)
			}
		})

		t.Run("suspended", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "upd_susp", apptest.GQLPassword)
			gqlSetFlags(t, ts, "upd_susp", false, true)
			r := c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameFirst": "Nope"}))
			apptest.GQLNoErrors(t, r)
			ue := apptest.GQLUserErrs(t, r, "updateAccount")
			if len(ue) != 1 || ue[0].Message != "account is suspended" || ue[0].Code != "CONFLICT" {
				t.Fatalf("userErrors = %v", ue)
			}
			if v := apptest.GQLViewer(t, c); v == nil || v["suspended"] != true {
				t.Errorf("suspended viewer = %v", v)
			}
		})

		t.Run("api key permissions", func(t *testing.T) {
			_, u := apptest.GQLRegister(t, ts, "upd_key", apptest.GQLPassword)
			id := u["id"].(string)
			for _, perms := range [][]string{nil, {"account.email", "account.password"}} {
				kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, perms))
				r := kc.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameFirst": "ByKey"}))
				msg, ext := apptest.GQLTopError(t, r, "FORBIDDEN", "updateAccount")
				if ext["permission"] != "account.infos" || msg != "you do not have permission to perform this action: account.infos" {
					t.Errorf("forbidden error: %s", r.Raw)
				}
			}
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, []string{"account.infos"}))
			if v := apptest.GQLViewer(t, kc); v["nameFirst"] != "Test" {
				t.Fatalf("a refused update changed the account: %v", v)
			}
			r := kc.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameFirst": "ByKey"}))
			gqlWantUserErrs(t, r, "updateAccount")
			if apptest.Get(r.Data, "updateAccount", "user", "nameFirst") != "ByKey" {
				t.Fatalf("update with account.infos: %s", r.Raw)
			}
		})
	})
}

func TestGraphQLUpdateEmail(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		apptest.GQLRegister(t, ts, "email_other", apptest.GQLPassword)

		t.Run("success", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "email_ok", apptest.GQLPassword)
			r := c.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "New.Address@example.org", "password": apptest.GQLPassword}))
			gqlWantUserErrs(t, r, "updateEmail")
			if apptest.Get(r.Data, "updateEmail", "user", "email") != "New.Address@example.org" {
				t.Fatalf("payload: %s", r.Raw)
			}
			if v := apptest.GQLViewer(t, c); v["email"] != "New.Address@example.org" {
				t.Fatalf("viewer email = %v", v["email"])
			}
			gqlLogin(t, ts, "new.address@EXAMPLE.org", apptest.GQLPassword)
			acts, err := dbtest.RecentActivity(context.Background(), ts.App.Store, gqlDBUser(t, ts, "email_ok").ID, 10)
			if err != nil || len(acts) == 0 || !slices.ContainsFunc(acts, func(a *model.Activity) bool {
				return a.Event == "account:email-changed"
			}) {
				t.Errorf("no account:email-changed activity: %v %v", acts, err)
			}
			if strings.Contains(ts.LogText(), apptest.GQLPassword) {
				t.Errorf("the password appears in the log")
			}
		})

		t.Run("wrong password", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "email_wrong", apptest.GQLPassword)
			r := c.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "changed@example.com", "password": "wrong horse"}))
			gqlWantUserErrs(t, r, "updateEmail",
				apptest.GQLUserErr{Field: gqlField("password"), Message: "invalid password", Code: "INVALID_PASSWORD"})
			if apptest.Get(r.Data, "updateEmail", "user") != nil {
				t.Errorf("user should be null: %s", r.Raw)
			}
			if v := apptest.GQLViewer(t, c); v["email"] != "email_wrong@example.com" {
				t.Errorf("email changed despite the wrong password: %v", v["email"])
			}
		})

		t.Run("duplicate", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "email_dup", apptest.GQLPassword)
			r := c.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "EMAIL_OTHER@example.com", "password": apptest.GQLPassword}))
			gqlWantUserErrs(t, r, "updateEmail",
				apptest.GQLUserErr{Field: gqlField("email"), Message: "email already in use", Code: "CONFLICT"})
			if v := apptest.GQLViewer(t, c); v["email"] != "email_dup@example.com" {
				t.Errorf("email changed despite the conflict: %v", v["email"])
			}
		})

		t.Run("validation", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "email_inv", apptest.GQLPassword)
			for _, tc := range []struct {
				in   map[string]any
				want []apptest.GQLUserErr
			}{
				{map[string]any{"email": "nope", "password": apptest.GQLPassword},
					[]apptest.GQLUserErr{{Field: gqlField("email"), Message: "not a valid email address", Code: "INVALID"}}},
				{map[string]any{"email": "", "password": apptest.GQLPassword},
					[]apptest.GQLUserErr{{Field: gqlField("email"), Message: "length is lower than 1", Code: "INVALID"}}},
				{map[string]any{"email": "Name <a@example.com>", "password": strings.Repeat("p", 513)},
					[]apptest.GQLUserErr{{Field: gqlField("email"), Message: "not a valid email address", Code: "INVALID"},
						{Field: gqlField("password"), Message: "length is greater than 512", Code: "INVALID"}}},
			} {
				r := c.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(tc.in))
				gqlWantUserErrs(t, r, "updateEmail", tc.want...)
				res := c.Do(http.MethodPut, "/api/client/account/email", tc.in)
				rest := res.Errors(t)
				slices.Sort(rest)
				if res.Status != http.StatusBadRequest || !slices.Equal(rest, gqlRESTMessages(tc.want)) {
					t.Errorf("REST parity: REST %d %q, GraphQL %q", res.Status, rest, gqlRESTMessages(tc.want))
				}
			}
		})

		t.Run("frozen", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "email_frozen", apptest.GQLPassword)
			gqlSetFlags(t, ts, "email_frozen", true, false)
			r := c.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "thawed@example.com", "password": apptest.GQLPassword}))
			apptest.GQLNoErrors(t, r)
			if ue := apptest.GQLUserErrs(t, r, "updateEmail"); len(ue) != 1 || ue[0].Message != "account is frozen" || ue[0].Code != "CONFLICT" {
				t.Fatalf("userErrors = %v", ue)
			}
		})

		t.Run("api key without account.email", func(t *testing.T) {
			_, u := apptest.GQLRegister(t, ts, "email_key", apptest.GQLPassword)
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), []string{"account.infos"}))
			r := kc.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "bykey@example.com", "password": apptest.GQLPassword}))
			_, ext := apptest.GQLTopError(t, r, "FORBIDDEN", "updateEmail")
			if ext["permission"] != "account.email" {
				t.Errorf("extensions.permission = %v", ext["permission"])
			}
		})
	})
}

func TestGraphQLChangePassword(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		t.Run("validation", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "pw_valid", apptest.GQLPassword)
			for _, tc := range []struct {
				in   map[string]any
				want []apptest.GQLUserErr
			}{
				{map[string]any{"currentPassword": apptest.GQLPassword, "newPassword": "short"},
					[]apptest.GQLUserErr{{Field: gqlField("newPassword"), Message: "length is lower than 8", Code: "INVALID"}}},
				{map[string]any{"currentPassword": strings.Repeat("c", 513), "newPassword": strings.Repeat("n", 513)},
					[]apptest.GQLUserErr{{Field: gqlField("currentPassword"), Message: "length is greater than 512", Code: "INVALID"},
						{Field: gqlField("newPassword"), Message: "length is greater than 512", Code: "INVALID"}}},
			} {
				r := c.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(tc.in))
				gqlWantUserErrs(t, r, "changePassword", tc.want...)
				if apptest.Get(r.Data, "changePassword", "user") != nil || apptest.Get(r.Data, "changePassword", "revokedSessions") != float64(0) {
					t.Errorf("refused change payload: %s", r.Raw)
				}
			}
			gqlLogin(t, ts, "pw_valid", apptest.GQLPassword) // unchanged
		})

		t.Run("wrong current password", func(t *testing.T) {
			c, _ := apptest.GQLRegister(t, ts, "pw_wrong", apptest.GQLPassword)
			other := gqlLogin(t, ts, "pw_wrong", apptest.GQLPassword)
			r := c.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": "wrong horse", "newPassword": "brand new pw"}))
			gqlWantUserErrs(t, r, "changePassword",
				apptest.GQLUserErr{Field: gqlField("currentPassword"), Message: "invalid password", Code: "INVALID_PASSWORD"})
			if apptest.GQLViewer(t, other) == nil {
				t.Errorf("a refused change revoked another session")
			}
			gqlLogin(t, ts, "pw_wrong", apptest.GQLPassword)
		})

		t.Run("success revokes other sessions, keeps keys", func(t *testing.T) {
			c, u := apptest.GQLRegister(t, ts, "pw_ok", apptest.GQLPassword)
			others := []*apptest.Client{gqlLogin(t, ts, "pw_ok", apptest.GQLPassword), gqlLogin(t, ts, "pw_ok", apptest.GQLPassword)}
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), nil))
			stranger, _ := apptest.GQLRegister(t, ts, "pw_stranger", apptest.GQLPassword)

			r := c.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": apptest.GQLPassword, "newPassword": "brand new pw"}))
			gqlWantUserErrs(t, r, "changePassword")
			if apptest.Get(r.Data, "changePassword", "revokedSessions") != float64(2) ||
				apptest.Get(r.Data, "changePassword", "revokedApiKeys") != float64(0) ||
				apptest.Get(r.Data, "changePassword", "user", "id") != u["id"] {
				t.Fatalf("payload: %s", r.Raw)
			}
			for i, o := range others {
				if v := apptest.GQLViewer(t, o); v != nil {
					t.Errorf("other session %d still signed in: %v", i, v)
				}
			}
			if v := apptest.GQLViewer(t, c); v == nil || v["id"] != u["id"] {
				t.Errorf("current session lost: %v", v)
			}
			if v := apptest.GQLViewer(t, kc); v == nil {
				t.Errorf("api key revoked although revokeApiKeys was false")
			}
			if apptest.GQLViewer(t, stranger) == nil {
				t.Errorf("another user's session was revoked")
			}
			r = ts.Client(t).GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": "pw_ok", "password": apptest.GQLPassword}))
			gqlWantUserErrs(t, r, "login", apptest.GQLUserErr{Message: "invalid username or password", Code: "INVALID_CREDENTIALS"})
			gqlLogin(t, ts, "pw_ok", "brand new pw")
			if strings.Contains(ts.LogText(), "brand new pw") {
				t.Errorf("the new password appears in the log")
			}
		})

		t.Run("revokeApiKeys", func(t *testing.T) {
			c, u := apptest.GQLRegister(t, ts, "pw_keys", apptest.GQLPassword)
			id := u["id"].(string)
			other := gqlLogin(t, ts, "pw_keys", apptest.GQLPassword)
			keys := []*apptest.Client{
				gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, nil)),
				gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, []string{"account.infos"})),
				gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, []string{"account.password"})),
			}
			_, su := apptest.GQLRegister(t, ts, "pw_keys_other", apptest.GQLPassword)
			strangerKey := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, su["id"].(string), nil))

			r := c.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": apptest.GQLPassword, "newPassword": "brand new pw",
				"revokeApiKeys": true}))
			gqlWantUserErrs(t, r, "changePassword")
			if apptest.Get(r.Data, "changePassword", "revokedApiKeys") != float64(len(keys)) ||
				apptest.Get(r.Data, "changePassword", "revokedSessions") != float64(1) {
				t.Fatalf("payload: %s", r.Raw)
			}
			for i, kc := range keys {
				if v := apptest.GQLViewer(t, kc); v != nil {
					t.Errorf("key %d still works: %v", i, v)
				}
			}
			if n := gqlCountAPIKeys(t, ts, id); n != 0 {
				t.Errorf("%d api keys left", n)
			}
			if apptest.GQLViewer(t, other) != nil {
				t.Errorf("other session still signed in")
			}
			if apptest.GQLViewer(t, c) == nil {
				t.Errorf("current session lost")
			}
			if apptest.GQLViewer(t, strangerKey) == nil {
				t.Errorf("another user's api key was revoked")
			}
		})

		t.Run("via api key", func(t *testing.T) {
			_, u := apptest.GQLRegister(t, ts, "pw_bykey", apptest.GQLPassword)
			session := gqlLogin(t, ts, "pw_bykey", apptest.GQLPassword)
			denied := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), []string{"account.infos"}))
			r := denied.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": apptest.GQLPassword, "newPassword": "brand new pw"}))
			_, ext := apptest.GQLTopError(t, r, "FORBIDDEN", "changePassword")
			if ext["permission"] != "account.password" {
				t.Errorf("extensions.permission = %v", ext["permission"])
			}
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), []string{"account.password"}))
			r = kc.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": apptest.GQLPassword, "newPassword": "brand new pw"}))
			gqlWantUserErrs(t, r, "changePassword")
			// Under API-key auth there is no current session to keep.
			if apptest.Get(r.Data, "changePassword", "revokedSessions") != float64(2) {
				t.Errorf("revokedSessions via api key: %s", r.Raw)
			}
			if apptest.GQLViewer(t, session) != nil {
				t.Errorf("session survived a password change made with an api key")
			}
		})
	})
}

func TestGraphQLLogout(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		t.Run("success", func(t *testing.T) {
			c, u := apptest.GQLRegister(t, ts, "bye", apptest.GQLPassword)
			other := gqlLogin(t, ts, "bye", apptest.GQLPassword)
			old := apptest.GQLSessionCookie(t, ts, c)
			if len(old) != 48 {
				t.Fatalf("session cookie %q", old)
			}
			r := c.GQL(apptest.GQLLogoutDoc, nil)
			gqlWantUserErrs(t, r, "logout")
			if apptest.Get(r.Data, "logout", "loggedOut") != true {
				t.Fatalf("payload: %s", r.Raw)
			}
			ck := gqlSetCookie(ts, r.Header)
			if ck == nil || ck.Value != "" || ck.MaxAge >= 0 && ck.Expires.After(time.Now()) {
				t.Errorf("cookie not cleared: %q", r.Header.Values("Set-Cookie"))
			}
			if apptest.GQLSessionCookie(t, ts, c) != "" {
				t.Errorf("client still holds the cookie")
			}
			if v := apptest.GQLViewer(t, c); v != nil {
				t.Errorf("viewer after logout = %v", v)
			}
			if v := apptest.GQLViewer(t, apptest.GQLCookieClient(t, ts, old)); v != nil {
				t.Errorf("replayed cookie still works: %v", v)
			}
			// Logging out again with the dead cookie is unauthenticated.
			apptest.GQLTopError(t, apptest.GQLCookieClient(t, ts, old).GQL(apptest.GQLLogoutDoc, nil), "UNAUTHENTICATED", "logout")
			if v := apptest.GQLViewer(t, other); v == nil || v["id"] != u["id"] {
				t.Errorf("logout ended another session: %v", v)
			}
		})

		t.Run("api key", func(t *testing.T) {
			_, u := apptest.GQLRegister(t, ts, "bye_key", apptest.GQLPassword)
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), nil))
			r := kc.GQL(apptest.GQLLogoutDoc, nil)
			gqlWantUserErrs(t, r, "logout",
				apptest.GQLUserErr{Message: "unable to log out when not using session authentication", Code: "INVALID"})
			if apptest.Get(r.Data, "logout", "loggedOut") != false {
				t.Errorf("loggedOut: %s", r.Raw)
			}
			if apptest.GQLViewer(t, kc) == nil {
				t.Errorf("api key stopped working after a refused logout")
			}
		})

		t.Run("frozen and suspended accounts can log out", func(t *testing.T) {
			for _, tc := range []struct {
				name              string
				frozen, suspended bool
			}{{"bye_frozen", true, false}, {"bye_susp", false, true}} {
				c, _ := apptest.GQLRegister(t, ts, tc.name, apptest.GQLPassword)
				gqlSetFlags(t, ts, tc.name, tc.frozen, tc.suspended)
				r := c.GQL(apptest.GQLLogoutDoc, nil)
				gqlWantUserErrs(t, r, "logout")
				if apptest.Get(r.Data, "logout", "loggedOut") != true || apptest.GQLViewer(t, c) != nil {
					t.Errorf("%s: logout: %s", tc.name, r.Raw)
				}
			}
		})
	})
}

// TWO_FACTOR_REQUIREMENT=all_users: a user without 2FA is refused
// everything but the account page, two-factor setup and logout.
func TestGraphQLTwoFactorRequirement(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.TwoFactorRequirement = account.TwoFactorAllUsers }),
		func(t *testing.T, ts *apptest.Server) {
			c, _ := apptest.GQLRegister(t, ts, "must2fa", apptest.GQLPassword)

			t.Run("viewer works", func(t *testing.T) {
				v := apptest.GQLViewer(t, c)
				if v == nil || v["username"] != "must2fa" || v["requireTwoFactor"] != true {
					t.Fatalf("viewer = %v", v)
				}
			})
			for _, tc := range []struct {
				field, doc string
				vars       map[string]any
			}{
				{"updateEmail", apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "changed@example.com", "password": apptest.GQLPassword})},
				{"changePassword", apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": apptest.GQLPassword, "newPassword": "brand new pw"})},
			} {
				t.Run(tc.field+" forbidden", func(t *testing.T) {
					r := c.GQL(tc.doc, tc.vars)
					msg, _ := apptest.GQLTopError(t, r, "FORBIDDEN", tc.field)
					if msg != "two-factor authentication required" {
						t.Errorf("message = %q", msg)
					}
				})
			}
			t.Run("nothing changed", func(t *testing.T) {
				if v := apptest.GQLViewer(t, c); v["email"] != "must2fa@example.com" {
					t.Errorf("email = %v", v["email"])
				}
				gqlLogin(t, ts, "must2fa", apptest.GQLPassword)
			})
			t.Run("updateAccount allowed", func(t *testing.T) {
				r := c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameFirst": "Still"}))
				gqlWantUserErrs(t, r, "updateAccount")
				if apptest.Get(r.Data, "updateAccount", "user", "nameFirst") != "Still" {
					t.Errorf("payload: %s", r.Raw)
				}
			})
			t.Run("logout allowed", func(t *testing.T) {
				r := c.GQL(apptest.GQLLogoutDoc, nil)
				gqlWantUserErrs(t, r, "logout")
				if apptest.Get(r.Data, "logout", "loggedOut") != true {
					t.Errorf("payload: %s", r.Raw)
				}
			})
		})
}

// Ten concurrent updateAccount calls from one session, each setting its own
// set of fields: all succeed and every field ends up with its value.
func TestGraphQLConcurrentUpdateAccount(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, u := apptest.GQLRegister(t, ts, "conc", apptest.GQLPassword)
		target := map[string]any{"username": "conc_final", "nameFirst": "Grace", "nameLast": "Hopper",
			"language": "fr", "toastPosition": "TOP_CENTER", "startOnGroupedServers": true}
		sets := [][]string{
			{"username"}, {"nameFirst"}, {"nameLast"}, {"language"}, {"toastPosition"}, {"startOnGroupedServers"},
			{"nameFirst", "nameLast"}, {"language", "toastPosition"}, {"username", "startOnGroupedServers"},
			{"nameLast", "language", "startOnGroupedServers"},
		}
		var wg sync.WaitGroup
		errs := make([]string, len(sets))
		start := make(chan struct{})
		for i, set := range sets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := map[string]any{}
				for _, f := range set {
					in[f] = target[f]
				}
				<-start
				r, err := c.TryGQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(in))
				switch {
				case err != nil:
					errs[i] = err.Error()
				case r.Status != http.StatusOK || len(r.Errors) != 0:
					errs[i] = fmt.Sprintf("%d %s", r.Status, r.Raw)
				case !strings.Contains(string(r.Raw), `"userErrors":[]`) || apptest.Get(r.Data, "updateAccount", "user") == nil:
					errs[i] = string(r.Raw)
				}
			}()
		}
		close(start)
		wg.Wait()
		for i, e := range errs {
			if e != "" {
				t.Errorf("call %d %v: %s", i, sets[i], e)
			}
		}
		v := apptest.GQLViewer(t, c)
		for k, want := range target {
			if v[k] != want {
				t.Errorf("final %s = %v, want %v", k, v[k], want)
			}
		}
		if v["email"] != u["email"] || v["id"] != u["id"] {
			t.Errorf("untouched fields changed: %v", v)
		}
		acts, err := dbtest.RecentActivity(context.Background(), ts.App.Store, uuid.MustParse(u["id"].(string)), 50)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range acts {
			if a.Event == "account:update" {
				n++
			}
		}
		if n != len(sets) {
			t.Errorf("%d account:update activities, want %d", n, len(sets))
		}
		if strings.Contains(strings.ToLower(ts.LogText()), "busy") {
			t.Errorf("the log mentions a busy database:\n%s", ts.LogText())
		}
	})
}
