package app_test

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
	"accountd/model"
)

const gqlPW = "correct horse"

func TestGraphQLUpdateAccount(t *testing.T) {
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		t.Run("success", func(t *testing.T) {
			c, u := gqlRegister(t, ts, "upd_ok", gqlPW)
			in := map[string]any{"username": "Upd_Renamed", "nameFirst": "Ada", "nameLast": "Lovelace",
				"language": "de", "toastPosition": "TOP_LEFT", "startOnGroupedServers": true}
			r := c.gql(gqlUpdateAccountDoc, gqlIn(in))
			gqlWantUserErrs(t, r, "updateAccount")
			got, _ := get(r.Data, "updateAccount", "user").(map[string]any)
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
			if v := gqlViewer(t, c); !reflect.DeepEqual(v, got) {
				t.Errorf("viewer %v\n!= payload user %v", v, got)
			}
			res := c.do(http.MethodGet, "/api/client/account", nil)
			if ru := res.JSON(t)["user"]; get(ru, "toast_position") != "top_left" || get(ru, "username") != "Upd_Renamed" ||
				get(ru, "language") != "de" || get(ru, "start_on_grouped_servers") != true {
				t.Errorf("REST view after GraphQL update: %s", res.Body)
			}
			// Fields not sent stay as they are.
			r = c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"nameLast": "King"}))
			gqlWantUserErrs(t, r, "updateAccount")
			if g := get(r.Data, "updateAccount", "user").(map[string]any); g["nameFirst"] != "Ada" || g["nameLast"] != "King" ||
				g["toastPosition"] != "TOP_LEFT" || g["username"] != "Upd_Renamed" {
				t.Errorf("partial update: %v", g)
			}
			// An empty input changes nothing and still answers the user.
			r = c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{}))
			gqlWantUserErrs(t, r, "updateAccount")
			if get(r.Data, "updateAccount", "user", "nameLast") != "King" {
				t.Errorf("empty update: %s", r.Raw)
			}
		})

		t.Run("toastPosition enum", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "upd_toast", gqlPW)
			for _, pos := range []string{"TOP_LEFT", "TOP_CENTER", "TOP_RIGHT", "BOTTOM_LEFT", "BOTTOM_CENTER", "BOTTOM_RIGHT"} {
				t.Run(pos, func(t *testing.T) {
					// As a variable and as an enum literal.
					r := c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"toastPosition": pos}))
					gqlWantUserErrs(t, r, "updateAccount")
					if get(r.Data, "updateAccount", "user", "toastPosition") != pos {
						t.Fatalf("toastPosition: %s", r.Raw)
					}
					r = c.gql(`mutation { updateAccount(input: {toastPosition: `+pos+`}) { user { toastPosition } userErrors { message } } }`, nil)
					gqlNoErrors(t, r)
					if get(r.Data, "updateAccount", "user", "toastPosition") != pos {
						t.Fatalf("toastPosition literal: %s", r.Raw)
					}
					res := c.do(http.MethodGet, "/api/client/account", nil)
					if get(res.JSON(t), "user", "toast_position") != strings.ToLower(pos) {
						t.Fatalf("REST toast_position: %s", res.Body)
					}
				})
			}
			t.Run("unknown value", func(t *testing.T) {
				before := gqlViewer(t, c)
				for _, r := range []*gqlResponse{
					c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"toastPosition": "MIDDLE", "nameFirst": "Changed"})),
					c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"toastPosition": "top_left", "nameFirst": "Changed"})),
					c.gql(`mutation { updateAccount(input: {toastPosition: MIDDLE, nameFirst: "Changed"}) { userErrors { message } } }`, nil),
				} {
					if len(r.Errors) == 0 || get(r.Data, "updateAccount") != nil {
						t.Errorf("want a top-level error and no payload: %s", r.Raw)
						continue
					}
					gqlCheckRequestIDs(t, r)
					if c := r.Errors[0].Extensions["code"]; c != "GRAPHQL_VALIDATION_FAILED" {
						t.Errorf("extensions.code = %v, want GRAPHQL_VALIDATION_FAILED: %s", c, r.Raw)
					}
				}
				if after := gqlViewer(t, c); !reflect.DeepEqual(before, after) {
					t.Errorf("a refused update changed the account:\n before %v\n after  %v", before, after)
				}
			})
		})

		pattern := "does not match pattern /^[a-zA-Z0-9_]+$/"
		langs := "must be one of ar, de, el, en, es, fr, it, nl, no, pl, pt, ro, ru, sk, sv, tr, vi, zh"
		inv := func(field, msg string) gqlUserErr {
			return gqlUserErr{Field: gqlField(field), Message: msg, Code: "INVALID"}
		}
		for i, tc := range []struct {
			name string
			in   map[string]any
			want []gqlUserErr
		}{
			{"username too short", map[string]any{"username": "ab"}, []gqlUserErr{inv("username", "length is lower than 3")}},
			{"username too long", map[string]any{"username": strings.Repeat("a", 16)}, []gqlUserErr{inv("username", "length is greater than 15")}},
			{"username pattern", map[string]any{"username": "bad name!"}, []gqlUserErr{inv("username", pattern)}},
			{"username empty", map[string]any{"username": ""},
				[]gqlUserErr{inv("username", "length is lower than 3"), inv("username", pattern)}},
			{"names", map[string]any{"nameFirst": "", "nameLast": strings.Repeat("n", 256)},
				[]gqlUserErr{inv("nameFirst", "length is lower than 1"), inv("nameLast", "length is greater than 255")}},
			{"language unknown", map[string]any{"language": "xx"}, []gqlUserErr{inv("language", langs)}},
			{"language too short", map[string]any{"language": "x"},
				[]gqlUserErr{inv("language", "length is lower than 2"), inv("language", langs)}},
			{"several fields, valid ones not applied", map[string]any{"username": "a-b", "language": "zz", "nameFirst": "Fine",
				"startOnGroupedServers": true},
				[]gqlUserErr{inv("username", pattern), inv("language", langs)}},
		} {
			t.Run("validation/"+tc.name, func(t *testing.T) {
				c, _ := gqlRegister(t, ts, fmt.Sprintf("upd_v%d", i), gqlPW)
				before := gqlViewer(t, c)
				r := c.gql(gqlUpdateAccountDoc, gqlIn(tc.in))
				gqlWantUserErrs(t, r, "updateAccount", tc.want...)
				if get(r.Data, "updateAccount", "user") != nil {
					t.Errorf("user should be null: %s", r.Raw)
				}
				if after := gqlViewer(t, c); !reflect.DeepEqual(before, after) {
					t.Errorf("a refused update changed the account:\n before %v\n after  %v", before, after)
				}
				// Same messages as REST's PATCH /api/client/account.
				res := c.do(http.MethodPatch, "/api/client/account", gqlSnakeKeys(tc.in))
				rest := res.Errors(t)
				slices.Sort(rest)
				if res.Status != http.StatusBadRequest || !slices.Equal(rest, gqlRESTMessages(tc.want)) {
					t.Errorf("REST parity: REST %d %q, GraphQL %q", res.Status, rest, gqlRESTMessages(tc.want))
				}
			})
		}

		t.Run("username taken", func(t *testing.T) {
			gqlRegister(t, ts, "Taken_Name", gqlPW)
			c, _ := gqlRegister(t, ts, "upd_taker", gqlPW)
			for _, name := range []string{"Taken_Name", "taken_name", "TAKEN_NAME"} {
				r := c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"username": name, "nameFirst": "Should_Not_Stick"}))
				gqlWantUserErrs(t, r, "updateAccount",
					gqlUserErr{Field: gqlField("username"), Message: "username already taken", Code: "CONFLICT"})
				if get(r.Data, "updateAccount", "user") != nil {
					t.Errorf("user should be null: %s", r.Raw)
				}
			}
			if v := gqlViewer(t, c); v["username"] != "upd_taker" || v["nameFirst"] != "Test" {
				t.Errorf("conflicting update left changes behind: %v", v)
			}
			// Renaming to one's own name in another case is not a conflict.
			r := c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"username": "UPD_Taker"}))
			gqlWantUserErrs(t, r, "updateAccount")
		})

		t.Run("frozen", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "upd_frozen", gqlPW)
			gqlSetFlags(t, ts, "upd_frozen", true, false)
			r := c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"nameFirst": "Melted"}))
			gqlNoErrors(t, r)
			ue := gqlUserErrs(t, r, "updateAccount")
			if len(ue) != 1 || ue[0].Message != "account is frozen" || ue[0].Code != "CONFLICT" {
				t.Fatalf("userErrors = %v", ue)
			}
			if get(r.Data, "updateAccount", "user") != nil {
				t.Errorf("user should be null: %s", r.Raw)
			}
			v := gqlViewer(t, c)
			if v["nameFirst"] != "Test" || v["frozen"] != true {
				t.Errorf("frozen account after refused update: %v", v)
			}
		})

		t.Run("suspended", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "upd_susp", gqlPW)
			gqlSetFlags(t, ts, "upd_susp", false, true)
			r := c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"nameFirst": "Nope"}))
			gqlNoErrors(t, r)
			ue := gqlUserErrs(t, r, "updateAccount")
			if len(ue) != 1 || ue[0].Message != "account is suspended" || ue[0].Code != "CONFLICT" {
				t.Fatalf("userErrors = %v", ue)
			}
			if v := gqlViewer(t, c); v == nil || v["suspended"] != true {
				t.Errorf("suspended viewer = %v", v)
			}
		})

		t.Run("api key permissions", func(t *testing.T) {
			_, u := gqlRegister(t, ts, "upd_key", gqlPW)
			id := u["id"].(string)
			for _, perms := range [][]string{nil, {"account.email", "account.password"}} {
				kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, perms))
				r := kc.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"nameFirst": "ByKey"}))
				msg, ext := gqlTopError(t, r, "FORBIDDEN", "updateAccount")
				if ext["permission"] != "account.infos" || msg != "you do not have permission to perform this action: account.infos" {
					t.Errorf("forbidden error: %s", r.Raw)
				}
			}
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, []string{"account.infos"}))
			if v := gqlViewer(t, kc); v["nameFirst"] != "Test" {
				t.Fatalf("a refused update changed the account: %v", v)
			}
			r := kc.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"nameFirst": "ByKey"}))
			gqlWantUserErrs(t, r, "updateAccount")
			if get(r.Data, "updateAccount", "user", "nameFirst") != "ByKey" {
				t.Fatalf("update with account.infos: %s", r.Raw)
			}
		})
	})
}

func TestGraphQLUpdateEmail(t *testing.T) {
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		gqlRegister(t, ts, "email_other", gqlPW)

		t.Run("success", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "email_ok", gqlPW)
			r := c.gql(gqlUpdateEmailDoc, gqlIn(map[string]any{"email": "New.Address@example.org", "password": gqlPW}))
			gqlWantUserErrs(t, r, "updateEmail")
			if get(r.Data, "updateEmail", "user", "email") != "New.Address@example.org" {
				t.Fatalf("payload: %s", r.Raw)
			}
			if v := gqlViewer(t, c); v["email"] != "New.Address@example.org" {
				t.Fatalf("viewer email = %v", v["email"])
			}
			gqlLogin(t, ts, "new.address@EXAMPLE.org", gqlPW)
			acts, err := ts.App.Store.RecentActivity(context.Background(), gqlDBUser(t, ts, "email_ok").ID, 10)
			if err != nil || len(acts) == 0 || !slices.ContainsFunc(acts, func(a *model.Activity) bool {
				return a.Event == "account:email-changed"
			}) {
				t.Errorf("no account:email-changed activity: %v %v", acts, err)
			}
			if strings.Contains(ts.LogText(), gqlPW) {
				t.Errorf("the password appears in the log")
			}
		})

		t.Run("wrong password", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "email_wrong", gqlPW)
			r := c.gql(gqlUpdateEmailDoc, gqlIn(map[string]any{"email": "changed@example.com", "password": "wrong horse"}))
			gqlWantUserErrs(t, r, "updateEmail",
				gqlUserErr{Field: gqlField("password"), Message: "invalid password", Code: "INVALID_PASSWORD"})
			if get(r.Data, "updateEmail", "user") != nil {
				t.Errorf("user should be null: %s", r.Raw)
			}
			if v := gqlViewer(t, c); v["email"] != "email_wrong@example.com" {
				t.Errorf("email changed despite the wrong password: %v", v["email"])
			}
		})

		t.Run("duplicate", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "email_dup", gqlPW)
			r := c.gql(gqlUpdateEmailDoc, gqlIn(map[string]any{"email": "EMAIL_OTHER@example.com", "password": gqlPW}))
			gqlWantUserErrs(t, r, "updateEmail",
				gqlUserErr{Field: gqlField("email"), Message: "email already in use", Code: "CONFLICT"})
			if v := gqlViewer(t, c); v["email"] != "email_dup@example.com" {
				t.Errorf("email changed despite the conflict: %v", v["email"])
			}
		})

		t.Run("validation", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "email_inv", gqlPW)
			for _, tc := range []struct {
				in   map[string]any
				want []gqlUserErr
			}{
				{map[string]any{"email": "nope", "password": gqlPW},
					[]gqlUserErr{{Field: gqlField("email"), Message: "not a valid email address", Code: "INVALID"}}},
				{map[string]any{"email": "", "password": gqlPW},
					[]gqlUserErr{{Field: gqlField("email"), Message: "length is lower than 1", Code: "INVALID"}}},
				{map[string]any{"email": "Name <a@example.com>", "password": strings.Repeat("p", 513)},
					[]gqlUserErr{{Field: gqlField("email"), Message: "not a valid email address", Code: "INVALID"},
						{Field: gqlField("password"), Message: "length is greater than 512", Code: "INVALID"}}},
			} {
				r := c.gql(gqlUpdateEmailDoc, gqlIn(tc.in))
				gqlWantUserErrs(t, r, "updateEmail", tc.want...)
				res := c.do(http.MethodPut, "/api/client/account/email", tc.in)
				rest := res.Errors(t)
				slices.Sort(rest)
				if res.Status != http.StatusBadRequest || !slices.Equal(rest, gqlRESTMessages(tc.want)) {
					t.Errorf("REST parity: REST %d %q, GraphQL %q", res.Status, rest, gqlRESTMessages(tc.want))
				}
			}
		})

		t.Run("frozen", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "email_frozen", gqlPW)
			gqlSetFlags(t, ts, "email_frozen", true, false)
			r := c.gql(gqlUpdateEmailDoc, gqlIn(map[string]any{"email": "thawed@example.com", "password": gqlPW}))
			gqlNoErrors(t, r)
			if ue := gqlUserErrs(t, r, "updateEmail"); len(ue) != 1 || ue[0].Message != "account is frozen" || ue[0].Code != "CONFLICT" {
				t.Fatalf("userErrors = %v", ue)
			}
		})

		t.Run("api key without account.email", func(t *testing.T) {
			_, u := gqlRegister(t, ts, "email_key", gqlPW)
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), []string{"account.infos"}))
			r := kc.gql(gqlUpdateEmailDoc, gqlIn(map[string]any{"email": "bykey@example.com", "password": gqlPW}))
			_, ext := gqlTopError(t, r, "FORBIDDEN", "updateEmail")
			if ext["permission"] != "account.email" {
				t.Errorf("extensions.permission = %v", ext["permission"])
			}
		})
	})
}

func TestGraphQLChangePassword(t *testing.T) {
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		t.Run("validation", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "pw_valid", gqlPW)
			for _, tc := range []struct {
				in   map[string]any
				want []gqlUserErr
			}{
				{map[string]any{"currentPassword": gqlPW, "newPassword": "short"},
					[]gqlUserErr{{Field: gqlField("newPassword"), Message: "length is lower than 8", Code: "INVALID"}}},
				{map[string]any{"currentPassword": strings.Repeat("c", 513), "newPassword": strings.Repeat("n", 513)},
					[]gqlUserErr{{Field: gqlField("currentPassword"), Message: "length is greater than 512", Code: "INVALID"},
						{Field: gqlField("newPassword"), Message: "length is greater than 512", Code: "INVALID"}}},
			} {
				r := c.gql(gqlChangePassDoc, gqlIn(tc.in))
				gqlWantUserErrs(t, r, "changePassword", tc.want...)
				if get(r.Data, "changePassword", "user") != nil || get(r.Data, "changePassword", "revokedSessions") != float64(0) {
					t.Errorf("refused change payload: %s", r.Raw)
				}
			}
			gqlLogin(t, ts, "pw_valid", gqlPW) // unchanged
		})

		t.Run("wrong current password", func(t *testing.T) {
			c, _ := gqlRegister(t, ts, "pw_wrong", gqlPW)
			other := gqlLogin(t, ts, "pw_wrong", gqlPW)
			r := c.gql(gqlChangePassDoc, gqlIn(map[string]any{"currentPassword": "wrong horse", "newPassword": "brand new pw"}))
			gqlWantUserErrs(t, r, "changePassword",
				gqlUserErr{Field: gqlField("currentPassword"), Message: "invalid password", Code: "INVALID_PASSWORD"})
			if gqlViewer(t, other) == nil {
				t.Errorf("a refused change revoked another session")
			}
			gqlLogin(t, ts, "pw_wrong", gqlPW)
		})

		t.Run("success revokes other sessions, keeps keys", func(t *testing.T) {
			c, u := gqlRegister(t, ts, "pw_ok", gqlPW)
			others := []*client{gqlLogin(t, ts, "pw_ok", gqlPW), gqlLogin(t, ts, "pw_ok", gqlPW)}
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), nil))
			stranger, _ := gqlRegister(t, ts, "pw_stranger", gqlPW)

			r := c.gql(gqlChangePassDoc, gqlIn(map[string]any{"currentPassword": gqlPW, "newPassword": "brand new pw"}))
			gqlWantUserErrs(t, r, "changePassword")
			if get(r.Data, "changePassword", "revokedSessions") != float64(2) ||
				get(r.Data, "changePassword", "revokedApiKeys") != float64(0) ||
				get(r.Data, "changePassword", "user", "id") != u["id"] {
				t.Fatalf("payload: %s", r.Raw)
			}
			for i, o := range others {
				if v := gqlViewer(t, o); v != nil {
					t.Errorf("other session %d still signed in: %v", i, v)
				}
			}
			if v := gqlViewer(t, c); v == nil || v["id"] != u["id"] {
				t.Errorf("current session lost: %v", v)
			}
			if v := gqlViewer(t, kc); v == nil {
				t.Errorf("api key revoked although revokeApiKeys was false")
			}
			if gqlViewer(t, stranger) == nil {
				t.Errorf("another user's session was revoked")
			}
			r = ts.client(t).gql(gqlLoginDoc, gqlIn(map[string]any{"user": "pw_ok", "password": gqlPW}))
			gqlWantUserErrs(t, r, "login", gqlUserErr{Message: "invalid username or password", Code: "INVALID_CREDENTIALS"})
			gqlLogin(t, ts, "pw_ok", "brand new pw")
			if strings.Contains(ts.LogText(), "brand new pw") {
				t.Errorf("the new password appears in the log")
			}
		})

		t.Run("revokeApiKeys", func(t *testing.T) {
			c, u := gqlRegister(t, ts, "pw_keys", gqlPW)
			id := u["id"].(string)
			other := gqlLogin(t, ts, "pw_keys", gqlPW)
			keys := []*client{
				gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, nil)),
				gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, []string{"account.infos"})),
				gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, []string{"account.password"})),
			}
			_, su := gqlRegister(t, ts, "pw_keys_other", gqlPW)
			strangerKey := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, su["id"].(string), nil))

			r := c.gql(gqlChangePassDoc, gqlIn(map[string]any{"currentPassword": gqlPW, "newPassword": "brand new pw",
				"revokeApiKeys": true}))
			gqlWantUserErrs(t, r, "changePassword")
			if get(r.Data, "changePassword", "revokedApiKeys") != float64(len(keys)) ||
				get(r.Data, "changePassword", "revokedSessions") != float64(1) {
				t.Fatalf("payload: %s", r.Raw)
			}
			for i, kc := range keys {
				if v := gqlViewer(t, kc); v != nil {
					t.Errorf("key %d still works: %v", i, v)
				}
			}
			if n := gqlCountAPIKeys(t, ts, id); n != 0 {
				t.Errorf("%d api keys left", n)
			}
			if gqlViewer(t, other) != nil {
				t.Errorf("other session still signed in")
			}
			if gqlViewer(t, c) == nil {
				t.Errorf("current session lost")
			}
			if gqlViewer(t, strangerKey) == nil {
				t.Errorf("another user's api key was revoked")
			}
		})

		t.Run("via api key", func(t *testing.T) {
			_, u := gqlRegister(t, ts, "pw_bykey", gqlPW)
			session := gqlLogin(t, ts, "pw_bykey", gqlPW)
			denied := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), []string{"account.infos"}))
			r := denied.gql(gqlChangePassDoc, gqlIn(map[string]any{"currentPassword": gqlPW, "newPassword": "brand new pw"}))
			_, ext := gqlTopError(t, r, "FORBIDDEN", "changePassword")
			if ext["permission"] != "account.password" {
				t.Errorf("extensions.permission = %v", ext["permission"])
			}
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), []string{"account.password"}))
			r = kc.gql(gqlChangePassDoc, gqlIn(map[string]any{"currentPassword": gqlPW, "newPassword": "brand new pw"}))
			gqlWantUserErrs(t, r, "changePassword")
			// Under API-key auth there is no current session to keep.
			if get(r.Data, "changePassword", "revokedSessions") != float64(2) {
				t.Errorf("revokedSessions via api key: %s", r.Raw)
			}
			if gqlViewer(t, session) != nil {
				t.Errorf("session survived a password change made with an api key")
			}
		})
	})
}

func TestGraphQLLogout(t *testing.T) {
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		t.Run("success", func(t *testing.T) {
			c, u := gqlRegister(t, ts, "bye", gqlPW)
			other := gqlLogin(t, ts, "bye", gqlPW)
			old := gqlSessionCookie(t, ts, c)
			if len(old) != 48 {
				t.Fatalf("session cookie %q", old)
			}
			r := c.gql(gqlLogoutDoc, nil)
			gqlWantUserErrs(t, r, "logout")
			if get(r.Data, "logout", "loggedOut") != true {
				t.Fatalf("payload: %s", r.Raw)
			}
			ck := gqlSetCookie(ts, r.Header)
			if ck == nil || ck.Value != "" || ck.MaxAge >= 0 && ck.Expires.After(time.Now()) {
				t.Errorf("cookie not cleared: %q", r.Header.Values("Set-Cookie"))
			}
			if gqlSessionCookie(t, ts, c) != "" {
				t.Errorf("client still holds the cookie")
			}
			if v := gqlViewer(t, c); v != nil {
				t.Errorf("viewer after logout = %v", v)
			}
			if v := gqlViewer(t, gqlCookieClient(t, ts, old)); v != nil {
				t.Errorf("replayed cookie still works: %v", v)
			}
			// Logging out again with the dead cookie is unauthenticated.
			gqlTopError(t, gqlCookieClient(t, ts, old).gql(gqlLogoutDoc, nil), "UNAUTHENTICATED", "logout")
			if v := gqlViewer(t, other); v == nil || v["id"] != u["id"] {
				t.Errorf("logout ended another session: %v", v)
			}
		})

		t.Run("api key", func(t *testing.T) {
			_, u := gqlRegister(t, ts, "bye_key", gqlPW)
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), nil))
			r := kc.gql(gqlLogoutDoc, nil)
			gqlWantUserErrs(t, r, "logout",
				gqlUserErr{Message: "unable to log out when not using session authentication", Code: "INVALID"})
			if get(r.Data, "logout", "loggedOut") != false {
				t.Errorf("loggedOut: %s", r.Raw)
			}
			if gqlViewer(t, kc) == nil {
				t.Errorf("api key stopped working after a refused logout")
			}
		})

		t.Run("frozen and suspended accounts can log out", func(t *testing.T) {
			for _, tc := range []struct {
				name              string
				frozen, suspended bool
			}{{"bye_frozen", true, false}, {"bye_susp", false, true}} {
				c, _ := gqlRegister(t, ts, tc.name, gqlPW)
				gqlSetFlags(t, ts, tc.name, tc.frozen, tc.suspended)
				r := c.gql(gqlLogoutDoc, nil)
				gqlWantUserErrs(t, r, "logout")
				if get(r.Data, "logout", "loggedOut") != true || gqlViewer(t, c) != nil {
					t.Errorf("%s: logout: %s", tc.name, r.Raw)
				}
			}
		})
	})
}

// TWO_FACTOR_REQUIREMENT=all_users: a user without 2FA is refused
// everything but the account page, two-factor setup and logout.
func TestGraphQLTwoFactorRequirement(t *testing.T) {
	eachServer(t, gqlConfig(func(cfg *app.Config) { cfg.TwoFactorRequirement = account.TwoFactorAllUsers }),
		func(t *testing.T, ts *testServer) {
			c, _ := gqlRegister(t, ts, "must2fa", gqlPW)

			t.Run("viewer works", func(t *testing.T) {
				v := gqlViewer(t, c)
				if v == nil || v["username"] != "must2fa" || v["requireTwoFactor"] != true {
					t.Fatalf("viewer = %v", v)
				}
			})
			for _, tc := range []struct {
				field, doc string
				vars       map[string]any
			}{
				{"updateEmail", gqlUpdateEmailDoc, gqlIn(map[string]any{"email": "changed@example.com", "password": gqlPW})},
				{"changePassword", gqlChangePassDoc, gqlIn(map[string]any{"currentPassword": gqlPW, "newPassword": "brand new pw"})},
			} {
				t.Run(tc.field+" forbidden", func(t *testing.T) {
					r := c.gql(tc.doc, tc.vars)
					msg, _ := gqlTopError(t, r, "FORBIDDEN", tc.field)
					if msg != "two-factor authentication required" {
						t.Errorf("message = %q", msg)
					}
				})
			}
			t.Run("nothing changed", func(t *testing.T) {
				if v := gqlViewer(t, c); v["email"] != "must2fa@example.com" {
					t.Errorf("email = %v", v["email"])
				}
				gqlLogin(t, ts, "must2fa", gqlPW)
			})
			t.Run("updateAccount allowed", func(t *testing.T) {
				r := c.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"nameFirst": "Still"}))
				gqlWantUserErrs(t, r, "updateAccount")
				if get(r.Data, "updateAccount", "user", "nameFirst") != "Still" {
					t.Errorf("payload: %s", r.Raw)
				}
			})
			t.Run("logout allowed", func(t *testing.T) {
				r := c.gql(gqlLogoutDoc, nil)
				gqlWantUserErrs(t, r, "logout")
				if get(r.Data, "logout", "loggedOut") != true {
					t.Errorf("payload: %s", r.Raw)
				}
			})
		})
}

// Ten concurrent updateAccount calls from one session, each setting its own
// set of fields: all succeed and every field ends up with its value.
func TestGraphQLConcurrentUpdateAccount(t *testing.T) {
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		c, u := gqlRegister(t, ts, "conc", gqlPW)
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
				r, err := gqlTry(c, gqlUpdateAccountDoc, gqlIn(in))
				switch {
				case err != nil:
					errs[i] = err.Error()
				case r.Status != http.StatusOK || len(r.Errors) != 0:
					errs[i] = fmt.Sprintf("%d %s", r.Status, r.Raw)
				case !strings.Contains(string(r.Raw), `"userErrors":[]`) || get(r.Data, "updateAccount", "user") == nil:
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
		v := gqlViewer(t, c)
		for k, want := range target {
			if v[k] != want {
				t.Errorf("final %s = %v, want %v", k, v[k], want)
			}
		}
		if v["email"] != u["email"] || v["id"] != u["id"] {
			t.Errorf("untouched fields changed: %v", v)
		}
		acts, err := ts.App.Store.RecentActivity(context.Background(), uuid.MustParse(u["id"].(string)), 50)
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
