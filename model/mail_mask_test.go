package model

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.com":         "a***@e***.com",
		"Bob.Smith@mail.example.co": "B***@m***.co",
		"x@y.org":                   "x***@y***.org",
		"zoë@bücher.de":             "z***@b***.de",
		"éclair@example.com":        "é***@e***.com",
		"a@localhost":               "a***@l***",
		"a@host.":                   "a***@h***",
		"first@[192.0.2.1]":         "f***@[***.1]",
		"":                          "***",
		"no-at-sign":                "***",
		"@example.com":              "***",
		"alice@":                    "***",
		"a@b@example.com":           "a***@e***.com",
	} {
		got := MaskEmail(in)
		if got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("MaskEmail(%q) = %q: not valid UTF-8", in, got)
		}
	}
	// The local part and the domain's name never show beyond their first
	// character.
	got := MaskEmail("secretname@hiddendomain.example.com")
	for _, part := range []string{"secretname", "ecretname", "hiddendomain", "iddendomain", "example"} {
		if strings.Contains(got, part) {
			t.Errorf("MaskEmail shows %q: %q", part, got)
		}
	}
}
