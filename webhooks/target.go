package webhooks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// TargetPolicy decides which URLs and addresses Tally delivers to.
//
// Always refused: link-local addresses (169.254.0.0/16 with the cloud
// metadata address, fe80::/10), unspecified and multicast addresses.
// Refused unless AllowLocal: plain http, loopback (127.0.0.0/8, ::1),
// private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) and the
// carrier-grade NAT range 100.64/10. The policy is applied to the URL at
// registration and to every resolved address at each connection (see
// webhooks/webhttp), so a name that resolves to a refused address later
// (DNS rebinding) is refused too.
type TargetPolicy struct {
	AllowLocal bool
}

// Resolver resolves host names; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL checks a URL and every address its host resolves to.
func (p TargetPolicy) CheckURL(ctx context.Context, r Resolver, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("url %q: want an absolute https URL: %w", raw, ErrTargetRefused)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowLocal:
	default:
		return fmt.Errorf("url %q: the scheme must be https: %w", raw, ErrTargetRefused)
	}
	if u.User != nil {
		return fmt.Errorf("url %q: credentials in the URL are not allowed: %w", raw, ErrTargetRefused)
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(a)
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") && !p.AllowLocal {
		return fmt.Errorf("host %s: loopback: %w", host, ErrTargetRefused)
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", host, err)
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return fmt.Errorf("host %s: %w", host, err)
		}
	}
	return nil
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// CheckAddr checks one address Tally would connect to.
func (p TargetPolicy) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	switch {
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return fmt.Errorf("address %s is link-local (cloud metadata lives there), always refused: %w", a, ErrTargetRefused)
	case a.IsUnspecified(), a.IsMulticast():
		return fmt.Errorf("address %s is not a unicast host: %w", a, ErrTargetRefused)
	case nat64.Contains(a), sixToFour.Contains(a):
		// An IPv4 address embedded in IPv6: judged as that address.
		var v4 [4]byte
		b := a.As16()
		if sixToFour.Contains(a) {
			copy(v4[:], b[2:6])
		} else {
			copy(v4[:], b[12:16])
		}
		return p.CheckAddr(netip.AddrFrom4(v4))
	case p.AllowLocal:
		return nil
	case a.IsLoopback():
		return fmt.Errorf("address %s is loopback (allowed only with --webhooks-allow-local): %w", a, ErrTargetRefused)
	case a.IsPrivate(), cgnat.Contains(a):
		return fmt.Errorf("address %s is private (allowed only with --webhooks-allow-local): %w", a, ErrTargetRefused)
	}
	return nil
}

// DialControl is a net.Dialer Control function: it refuses a connection
// to an address the policy refuses, after DNS resolution.
func (p TargetPolicy) DialControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dialing %s: %w", address, ErrTargetRefused)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dialing %s: %w", address, ErrTargetRefused)
	}
	return p.CheckAddr(a)
}
