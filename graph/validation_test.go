package graph

import (
	"encoding/json"
	"testing"
)

func TestStripSuggestion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Cannot query field "usernam" on type "User". Did you mean "username"?`, `Cannot query field "usernam" on type "User".`},
		{`Value "TOP_LEF" does not exist in "ToastPosition" enum. Did you mean the enum value "TOP_LEFT" or "TOP_RIGHT"?`,
			`Value "TOP_LEF" does not exist in "ToastPosition" enum.`},
		{`Field "viewer" of type "User" must have a selection of subfields. Did you mean "viewer { ... }"?`,
			`Field "viewer" of type "User" must have a selection of subfields.`},
		{`Cannot query field "usernam" on type "User".`, `Cannot query field "usernam" on type "User".`},
		// A quoted literal may say anything; without a trailing clause
		// nothing is cut.
		{`String cannot represent a non string value: "x Did you mean y".`, `String cannot represent a non string value: "x Did you mean y".`},
	} {
		if got := stripSuggestion(tc.in); got != tc.want {
			t.Errorf("stripSuggestion(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScalarAccepts(t *testing.T) {
	for _, tc := range []struct {
		scalar string
		v      any
		want   bool
	}{
		{"Int", json.Number("10"), true},
		{"Int", json.Number("-2147483648"), true},
		{"Int", json.Number("2147483648"), false},
		{"Int", json.Number("1.5"), false},
		{"Int", json.Number("1e1"), false},
		{"Int", "10", false},
		{"Int", int64(7), true},
		{"Int", float64(7), true},
		{"Int", 7.5, false},
		{"Int", true, false},
		{"Float", json.Number("1.5"), true},
		{"Float", json.Number("1e400"), false},
		{"Float", float64(1), true},
		{"Float", int64(1), true},
		{"Float", "1.5", false},
		{"Float", false, false},
		{"String", "x", true},
		{"String", json.Number("123"), false},
		{"String", true, false},
		{"Boolean", true, true},
		{"Boolean", "true", false},
		{"Boolean", json.Number("1"), false},
		{"ID", "abc", true},
		{"ID", json.Number("4"), true},
		{"ID", json.Number("4.5"), false},
		{"ID", false, false},
		{"Time", "2030-01-02T03:04:05Z", true},
		{"Time", "next tuesday", false},
		{"Time", json.Number("5"), false},
		{"JSON", map[string]any{"a": 1}, true},
	} {
		if got := scalarAccepts(tc.scalar, tc.v); got != tc.want {
			t.Errorf("scalarAccepts(%s, %#v) = %v, want %v", tc.scalar, tc.v, got, tc.want)
		}
	}
}

func TestHasLoneSurrogateEscape(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want bool
	}{
		{`{ viewer { id } }`, false},
		{`mutation { login(input: {user: "a", password: "pw\ud800"}) { user { id } } }`, true},
		{`mutation { login(input: {user: "a", password: "\udc00pw"}) { user { id } } }`, true},
		{`mutation { login(input: {user: "a", password: "\ud800\u0041"}) { user { id } } }`, true},
		{`mutation { login(input: {user: "a", password: "\ud83d\ude00"}) { user { id } } }`, false},
		{`mutation { login(input: {user: "a", password: "\u00e9\\ud800"}) { user { id } } }`, false},
		{`mutation { login(input: {user: "a\"", password: "\ud800"}) { user { id } } }`, true},
		{"# \\ud800 in a comment\n{ viewer { id } }", false},
		{`{ viewer { apiKeys(search: """\ud800 is text in a block string""") { totalCount } } }`, false},
		{`{ viewer { apiKeys(search: """a \""" b""", after: "\udfff") { totalCount } } }`, true},
	} {
		if got := hasLoneSurrogateEscape(tc.doc); got != tc.want {
			t.Errorf("hasLoneSurrogateEscape(%s) = %v, want %v", tc.doc, got, tc.want)
		}
	}
}
