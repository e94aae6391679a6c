package web

import "testing"

func TestExactJSONText(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want bool
	}{
		{"ascii", `{"password":"correct horse"}`, true},
		{"multibyte", `{"password":"pässwörd ☃ 😀"}`, true},
		{"escaped BMP", `{"password":"\u00e9\u2603"}`, true},
		{"escaped pair", `{"password":"\ud83d\ude00"}`, true},
		{"escaped quote then escape", `{"a":"\"","b":"\u0041"}`, true},
		{"escaped backslash before u", `{"a":"\\ud800"}`, true},
		{"surrogate-like text outside strings", `{"a":1}`, true},
		{"invalid byte 0xff", "{\"password\":\"pass\xffword\"}", false},
		{"truncated sequence", "{\"password\":\"\xe2\x98\"}", false},
		{"overlong encoding", "{\"password\":\"\xc0\xaf\"}", false},
		{"encoded surrogate", "{\"password\":\"\xed\xa0\x80\"}", false},
		{"lone leading surrogate", `{"password":"\ud800"}`, false},
		{"lone leading surrogate at end", `{"password":"\ud800`, false},
		{"lone trailing surrogate", `{"password":"\udc00"}`, false},
		{"leading then non-surrogate", `{"password":"\ud800\u0041"}`, false},
		{"reversed pair", `{"password":"\ude00\ud83d"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExactJSONText([]byte(tc.body)); got != tc.want {
				t.Errorf("ExactJSONText(%q) = %v, want %v", tc.body, got, tc.want)
			}
		})
	}
}
