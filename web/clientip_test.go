package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // nil: want nil
	}{
		{name: "Empty", in: "", want: nil},
		{name: "OnlySpaces", in: "  ", want: nil},
		{name: "OnlyCommas", in: " , ,", want: nil},
		{name: "CIDR", in: "10.0.0.0/8", want: []string{"10.0.0.0/8"}},
		{name: "BareIPv4", in: "192.0.2.1", want: []string{"192.0.2.1/32"}},
		{name: "BareIPv6", in: "2001:db8::1", want: []string{"2001:db8::1/128"}},
		{name: "IPv6CIDR", in: "2001:db8::/32", want: []string{"2001:db8::/32"}},
		{name: "HostBitsMasked", in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{name: "MappedBare", in: "::ffff:192.0.2.1", want: []string{"192.0.2.1/32"}},
		{name: "MappedCIDR", in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{
			name: "ListWithWhitespace",
			in:   " 10.0.0.0/8 ,\t172.16.0.0/12,192.0.2.7 , fd00::/8,",
			want: []string{"10.0.0.0/8", "172.16.0.0/12", "192.0.2.7/32", "fd00::/8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTrustedProxies(tt.in)
			if err != nil {
				t.Fatalf("ParseTrustedProxies(%q): %v", tt.in, err)
			}
			if tt.want == nil {
				if got != nil {
					t.Fatalf("ParseTrustedProxies(%q) = %v, want nil", tt.in, got)
				}
				return
			}
			var gotS []string
			for _, p := range got {
				gotS = append(gotS, p.String())
			}
			if !reflect.DeepEqual(gotS, tt.want) {
				t.Errorf("ParseTrustedProxies(%q) = %v, want %v", tt.in, gotS, tt.want)
			}
		})
	}
}

func TestParseTrustedProxiesErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		bad  string // the entry the error must name
	}{
		{name: "Hostname", in: "10.0.0.0/8, proxy.local", bad: "proxy.local"},
		{name: "BadBits", in: "10.0.0.0/33", bad: "10.0.0.0/33"},
		{name: "BadOctet", in: "300.1.1.1", bad: "300.1.1.1"},
		{name: "WithPort", in: "10.0.0.1:8080", bad: "10.0.0.1:8080"},
		{name: "Zone", in: "fe80::1%eth0", bad: "fe80::1%eth0"},
		{name: "ShortMappedPrefix", in: "::ffff:0:0/80", bad: "::ffff:0:0/80"},
		{name: "Garbage", in: "192.0.2.1,,*", bad: "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTrustedProxies(tt.in)
			if err == nil {
				t.Fatalf("ParseTrustedProxies(%q) = %v, want an error", tt.in, got)
			}
			if got != nil {
				t.Errorf("ParseTrustedProxies(%q) returned %v with the error, want nil", tt.in, got)
			}
			if !strings.Contains(err.Error(), `"`+tt.bad+`"`) {
				t.Errorf("error %q does not name the bad entry %q", err, tt.bad)
			}
		})
	}
}

func TestClientIPResolve(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.1, 2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	c := ClientIP{Trusted: trusted}
	tests := []struct {
		name       string
		clientIP   ClientIP
		remoteAddr string
		xff        []string // one element per header line
		want       string
	}{
		{name: "NoProxy", clientIP: c, remoteAddr: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "UntrustedPeerForgedXFF", clientIP: c, remoteAddr: "203.0.113.7:5555", xff: []string{"1.1.1.1"}, want: "203.0.113.7"},
		{name: "NothingTrusted", clientIP: ClientIP{}, remoteAddr: "10.0.0.1:80", xff: []string{"1.1.1.1"}, want: "10.0.0.1"},
		{name: "TrustedPeerNoXFF", clientIP: c, remoteAddr: "10.0.0.1:80", want: "10.0.0.1"},
		{name: "TrustedPeer", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "TrustedPeerSpoofedLeft", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"1.1.1.1, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "ChainOfTrustedProxies", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"6.6.6.6, 203.0.113.7, 192.0.2.1, 10.9.9.9"}, want: "203.0.113.7"},
		{name: "AllTrustedTakesLeftMost", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"10.1.1.1, 192.0.2.1, 10.2.2.2"}, want: "10.1.1.1"},
		{name: "MultipleHeaderLines", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"1.1.1.1, 203.0.113.7", "10.5.5.5"}, want: "203.0.113.7"},
		{name: "MultipleHeaderLinesClientInLast", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"10.4.4.4", "1.1.1.1, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "Whitespace", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"  203.0.113.7  ,  10.3.3.3 "}, want: "203.0.113.7"},
		{name: "GarbageRightMostStopsAtPeer", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"203.0.113.7, not-an-ip"}, want: "10.0.0.1"},
		{name: "GarbageStopsAtLastTrusted", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"203.0.113.7, bogus, 10.7.7.7"}, want: "10.7.7.7"},
		{name: "GarbageLeftOfClientIgnored", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"bogus, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "EmptyEntryStops", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"203.0.113.7,,10.7.7.7"}, want: "10.7.7.7"},
		{name: "EntryWithPort", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"203.0.113.7:4711"}, want: "203.0.113.7"},
		{name: "IPv6Peer", clientIP: c, remoteAddr: "[2001:db8:1::5]:443", want: "2001:db8:1::5"},
		{name: "IPv6TrustedPeer", clientIP: c, remoteAddr: "[2001:db8:ffff::1]:443", xff: []string{"2001:db8:1::5"}, want: "2001:db8:1::5"},
		{name: "IPv6ClientBehindIPv4Proxy", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"2001:db8:1::5, 10.2.2.2"}, want: "2001:db8:1::5"},
		{name: "IPv6BracketedWithPort", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"[2001:db8:1::5]:1234"}, want: "2001:db8:1::5"},
		{name: "IPv6ZoneStripped", clientIP: c, remoteAddr: "[fe80::1%eth0]:80", want: "fe80::1"},
		{name: "MappedPeerUntrusted", clientIP: c, remoteAddr: "[::ffff:203.0.113.7]:5555", want: "203.0.113.7"},
		{name: "MappedPeerTrusted", clientIP: c, remoteAddr: "[::ffff:10.0.0.1]:80", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "MappedXFFEntry", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"::ffff:203.0.113.7"}, want: "203.0.113.7"},
		{name: "MappedTrustedXFFEntry", clientIP: c, remoteAddr: "10.0.0.1:80", xff: []string{"203.0.113.7, ::ffff:10.8.8.8"}, want: "203.0.113.7"},
		{name: "BareRemoteAddr", clientIP: c, remoteAddr: "203.0.113.7", want: "203.0.113.7"},
		{name: "UnparsableRemoteAddr", clientIP: c, remoteAddr: "pipe", xff: []string{"203.0.113.7"}, want: "0.0.0.0"},
		{name: "EmptyRemoteAddr", clientIP: c, remoteAddr: "", want: "0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remoteAddr
			for _, line := range tt.xff {
				r.Header.Add("X-Forwarded-For", line)
			}
			got := tt.clientIP.Resolve(r)
			if !got.IsValid() {
				t.Fatalf("Resolve returned the zero Addr")
			}
			if got.String() != tt.want {
				t.Errorf("Resolve = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientIPMiddleware(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	var got netip.Addr
	h := ClientIP{Trusted: trusted}.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = ClientIPFrom(r.Context())
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:80"
	r.Header.Set("X-Forwarded-For", "198.51.100.4")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if want := netip.MustParseAddr("198.51.100.4"); got != want {
		t.Errorf("ClientIPFrom in handler = %s, want %s", got, want)
	}
}

func TestClientIPFrom(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		want netip.Addr
	}{
		{name: "Absent", ctx: context.Background(), want: netip.IPv4Unspecified()},
		{name: "ZeroStored", ctx: WithClientIP(context.Background(), netip.Addr{}), want: netip.IPv4Unspecified()},
		{name: "Stored", ctx: WithClientIP(context.Background(), netip.MustParseAddr("2001:db8::7")), want: netip.MustParseAddr("2001:db8::7")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClientIPFrom(tt.ctx); got != tt.want {
				t.Errorf("ClientIPFrom = %s, want %s", got, tt.want)
			}
		})
	}
}
