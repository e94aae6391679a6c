package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

type clientIPKey struct{}

// ParseTrustedProxies parses TRUSTED_PROXIES: a comma-separated list of
// CIDRs or bare IPs (a bare IP becomes a /32 or /128). Whitespace and empty
// entries are ignored and an empty list gives nil, which trusts no proxy.
// IPv4-mapped IPv6 entries are unmapped, because Resolve compares unmapped
// addresses and a mapped prefix would otherwise never match.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parseTrustedProxy(entry)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: invalid entry %q: %w", entry, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// parseTrustedProxy parses one entry of ParseTrustedProxies.
func parseTrustedProxy(entry string) (netip.Prefix, error) {
	if !strings.Contains(entry, "/") {
		addr, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or CIDR")
		}
		if addr.Zone() != "" {
			return netip.Prefix{}, errors.New("IPv6 zones are not allowed")
		}
		addr = addr.Unmap()
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(entry)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP address or CIDR")
	}
	if p.Addr().Is4In6() {
		// ::ffff:0:0/96 is the whole IPv4 space; anything shorter would also
		// cover addresses that are not IPv4 at all.
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("an IPv4-mapped prefix must be /96 or longer")
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// ClientIP resolves the address of the client behind a request, believing
// X-Forwarded-For only from the proxies it is told to trust. The result is
// what per-IP rate limits, API-key allowed_ips and activity records use, so
// a client must not be able to choose it by sending a header.
type ClientIP struct {
	// Trusted lists the proxies whose X-Forwarded-For is believed.
	Trusted []netip.Prefix
}

// Middleware stores the resolved client IP in the request context, so that
// it is computed once and every layer sees the same address.
func (c ClientIP) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, st := withState(r)
		st.ip = c.Resolve(r)
		next.ServeHTTP(w, r)
	})
}

// Resolve returns the client IP of r (REST.md §2). It is the socket peer,
// unless the peer is a trusted proxy; then X-Forwarded-For is walked from
// the right, because each trusted proxy appends the address it saw, and the
// first entry that is not itself a trusted proxy is the client. Entries to
// the left of that one were written by the client and prove nothing. When
// every entry is trusted the left-most is taken; an unparsable entry ends the
// walk at the last good address. The result is never the zero Addr: an
// unparsable RemoteAddr gives 0.0.0.0, so downstream code always has a valid
// address to compare and store.
func (c ClientIP) Resolve(r *http.Request) netip.Addr {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return netip.IPv4Unspecified()
	}
	if !c.trusted(peer) {
		return peer
	}
	var entries []string
	for _, line := range r.Header.Values("X-Forwarded-For") {
		entries = append(entries, strings.Split(line, ",")...)
	}
	client := peer
	for i := len(entries) - 1; i >= 0; i-- {
		addr, ok := parseAddr(strings.TrimSpace(entries[i]))
		if !ok {
			break
		}
		client = addr
		if !c.trusted(addr) {
			break
		}
	}
	return client
}

// trusted reports whether addr is one of the trusted proxies.
func (c ClientIP) trusted(addr netip.Addr) bool {
	for _, p := range c.Trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ClientIPFrom returns the client IP stored by ClientIP.Middleware, or
// 0.0.0.0 when there is none, so callers always get a valid address.
func ClientIPFrom(ctx context.Context) netip.Addr {
	if addr, ok := ctx.Value(clientIPKey{}).(netip.Addr); ok && addr.IsValid() {
		return addr
	}
	if st := stateFrom(ctx); st != nil && st.ip.IsValid() {
		return st.ip
	}
	return netip.IPv4Unspecified()
}

// WithClientIP returns a context carrying addr, for tests and for work that
// does not come in through HTTP.
func WithClientIP(ctx context.Context, addr netip.Addr) context.Context {
	return context.WithValue(ctx, clientIPKey{}, addr)
}

// parseAddr parses an address as it appears in RemoteAddr ("ip:port" from
// net/http, a bare IP when a request is built by hand) or in an
// X-Forwarded-For entry (a bare IP, or "ip:port" / "[ipv6]:port" as some
// proxies write it).
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalizeAddr(ap.Addr()), true
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		return normalizeAddr(addr), true
	}
	return netip.Addr{}, false
}

// normalizeAddr unmaps IPv4-mapped IPv6 (::ffff:1.2.3.4 is the IPv4 client
// 1.2.3.4 on a dual-stack socket) and drops any IPv6 zone, which names a
// local interface and would stop prefixes from matching.
func normalizeAddr(addr netip.Addr) netip.Addr {
	return addr.Unmap().WithZone("")
}
