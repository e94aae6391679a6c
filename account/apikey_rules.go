package account

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"accountd/model"
)

// The limits of an API key's fields (REST.md §4, and ours for list sizes:
// the catalog is smaller than maxListEntries, and an allow-list longer
// than maxAllowedIPs is a mistake, not a policy).
const (
	minKeyNameLen  = 3
	maxKeyNameLen  = 31
	maxAllowedIPs  = 100
	maxListEntries = 512
	// maxEchoLen bounds how much of a bad entry an error message repeats.
	maxEchoLen = 64
)

// APIKeyFields are the editable fields of a key, as a client sent them. On
// create, nil means the default (no name, empty lists, no expiry); on
// update, nil leaves the field as it is.
type APIKeyFields struct {
	Name              *string
	AllowedIPs        *[]string
	UserPermissions   *[]string
	AdminPermissions  *[]string
	ServerPermissions *[]string
	// SetExpires says whether Expires was given; a nil Expires then
	// clears the expiry.
	SetExpires bool
	Expires    *time.Time
}

// checkAPIKeyFields validates the given fields and returns them as a patch
// in canonical form: networks masked and IPv4-mapped addresses unmapped,
// lists without duplicates.
func (s *Service) checkAPIKeyFields(v *model.Validation, in APIKeyFields, now time.Time) model.APIKeyPatch {
	var p model.APIKeyPatch
	if in.Name != nil {
		checkLength(v, "name", *in.Name, minKeyNameLen, maxKeyNameLen)
		checkText(v, "name", *in.Name)
		p.Name = in.Name
	}
	if in.AllowedIPs != nil {
		ips := checkAllowedIPs(v, "allowed_ips", *in.AllowedIPs)
		p.AllowedIPs = &ips
	}
	for _, l := range []struct {
		field, list string
		in          *[]string
		out         **[]string
	}{
		{"user_permissions", "user", in.UserPermissions, &p.UserPermissions},
		{"admin_permissions", "admin", in.AdminPermissions, &p.AdminPermissions},
		{"server_permissions", "server", in.ServerPermissions, &p.ServerPermissions},
	} {
		if l.in != nil {
			perms := s.checkPermissions(v, l.field, l.list, *l.in)
			*l.out = &perms
		}
	}
	if in.SetExpires {
		p.SetExpires = true
		if in.Expires != nil {
			// Compared as stored (to the microsecond), so a key cannot be
			// created already expired.
			t := in.Expires.UTC().Truncate(time.Microsecond)
			p.Expires = &t
			if !t.After(now) {
				v.Add("expires", "time must be in the future")
			}
		}
	}
	return p
}

// checkAllowedIPs parses an allow-list of addresses and networks. A bare
// address becomes a /32 or /128 network.
func checkAllowedIPs(v *model.Validation, field string, entries []string) []netip.Prefix {
	if len(entries) > maxAllowedIPs {
		v.Add(field, fmt.Sprintf("too many entries (at most %d)", maxAllowedIPs))
		return nil
	}
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		p, ok := parseNetwork(e)
		if !ok {
			v.Add(field, "invalid ip address or network: "+echo(e))
			continue
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// parseNetwork reads "1.2.3.4", "10.0.0.0/8", "2001:db8::/32" and the like.
// Zones are refused; IPv4-mapped IPv6 is stored as IPv4, which is how the
// client address is compared.
func parseNetwork(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// checkPermissions checks every entry of a permission list against the
// catalog (list is "user", "admin" or "server").
func (s *Service) checkPermissions(v *model.Validation, field, list string, perms []string) []string {
	if len(perms) > maxListEntries {
		v.Add(field, fmt.Sprintf("too many entries (at most %d)", maxListEntries))
		return nil
	}
	out := make([]string, 0, len(perms))
	for _, perm := range perms {
		if !s.catalog.Has(list, perm) {
			v.Add(field, "invalid permission: "+echo(perm))
			continue
		}
		if !slices.Contains(out, perm) {
			out = append(out, perm)
		}
	}
	return out
}

// echo shortens client input an error message repeats.
func echo(s string) string {
	if len(s) <= maxEchoLen {
		return s
	}
	return truncate(s, maxEchoLen) + "…"
}

// exceedsActor checks that a key with k's lists and restrictions gives no
// more than the actor may hand out (REST.md §5), and returns the rules it
// breaks. Through an API key, each permission list must be a subset of
// the calling key's own, and (ours) the calling key's restrictions carry
// over: the new key may be used from no address the caller could not be
// used from, and may live no longer than the caller. Otherwise a key
// limited to one network or one hour could mint an unlimited one. Signed
// in with a session, the user holds every user and server permission, and
// admin permissions only if an admin. Admin permissions also need an admin
// user in both cases: a key's rights are the intersection of its lists and
// its user's.
func exceedsActor(actor *model.Actor, k *model.APIKey) error {
	var v model.Validation
	c := actor.APIKey
	if (len(k.AdminPermissions) > 0 && !actor.User.Admin) || (c != nil && (!subset(k.UserPermissions, c.UserPermissions) ||
		!subset(k.AdminPermissions, c.AdminPermissions) || !subset(k.ServerPermissions, c.ServerPermissions))) {
		v.Add("permissions", "more permissions than self")
	}
	if c != nil && !withinNetworks(k.AllowedIPs, c.AllowedIPs) {
		v.Add("allowed_ips", "wider than the calling api key's")
	}
	if c != nil && c.Expires != nil && (k.Expires == nil || k.Expires.After(*c.Expires)) {
		v.Add("expires", "later than the calling api key's")
	}
	return v.Err()
}

// withinNetworks reports whether every address ps allows is allowed by
// of; an empty list allows every address.
func withinNetworks(ps, of []netip.Prefix) bool {
	if len(of) == 0 {
		return true
	}
	if len(ps) == 0 {
		return false
	}
	for _, p := range ps {
		if !slices.ContainsFunc(of, func(q netip.Prefix) bool { return q.Bits() <= p.Bits() && q.Contains(p.Addr()) }) {
			return false
		}
	}
	return true
}

func subset(list, of []string) bool {
	for _, p := range list {
		if !slices.Contains(of, p) {
			return false
		}
	}
	return true
}
