package integrations

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

var (
	// ErrBadURL is a receiver URL parley will not call: not http(s), no host, userinfo.
	ErrBadURL = errors.New("bad receiver URL")
	// ErrPrivateAddress is a destination in a loopback, private, link-local or otherwise
	// internal range while ClientConfig.AllowPrivate is off (SSRF, ADR 0037).
	ErrPrivateAddress = errors.New("receiver address is private")
)

// ClientConfig configures the client of outgoing integrations.
type ClientConfig struct {
	// AllowPrivate lets requests reach loopback, private, link-local, CGNAT and unspecified
	// addresses. Off by default: an integration a chat user configures must not reach the
	// operator's internal network (--webhook-allow-private turns it on, logged).
	AllowPrivate bool
	// Timeout bounds a whole request, response body included. Default 10 s.
	Timeout time.Duration
	// MaxResponseBytes is the most of a response body read; the rest is dropped. Default
	// 64 KiB.
	MaxResponseBytes int64
}

// Client sends integration requests. It checks each connection's resolved address when
// it dials, so a name that resolves (or re-resolves) to an internal address is refused as
// surely as a literal one, never follows redirects and never uses a proxy from the
// environment (the proxy would reach what the check refuses).
type Client struct {
	cfg  ClientConfig
	http *http.Client
}

// NewClient makes a Client; it fails on a negative setting.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 {
		return nil, fmt.Errorf("integrations client: negative Timeout or MaxResponseBytes")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = 64 << 10
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		dialer.Control = refusePrivate
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		ForceAttemptHTTP2:     true,
	}
	return &Client{cfg: cfg, http: &http.Client{
		Transport:     tr,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Do sends req and returns the status and at most MaxResponseBytes of the body. A refused
// destination is an error wrapping ErrPrivateAddress; a redirect is returned as it is.
func (c *Client) Do(req *http.Request) (int, []byte, error) {
	if req.URL.User != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		return 0, nil, fmt.Errorf("%w: %s", ErrBadURL, req.URL.Redacted())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes))
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, body, nil
}

// CheckURL validates a receiver URL when an integration is created: http or https, a
// host, no userinfo; a literal internal address or a localhost name is ErrPrivateAddress
// unless AllowPrivate. Names are not resolved here: Do checks the address it dials.
func (c *Client) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || len(raw) > 2048 {
		return fmt.Errorf("%w: an http or https URL with a host and no credentials, at most 2048 bytes", ErrBadURL)
	}
	if c.cfg.AllowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil && internal(ip) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ip)
	}
	return nil
}

// refusePrivate is the dialer's Control: it sees the address actually dialled.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable %q", ErrPrivateAddress, address)
	}
	if internal(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
	}
	return nil
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// internal reports an address no integration should reach without the operator's leave.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() || cgnat.Contains(ip) || (ip.Is4() && ip.As4()[0] == 0)
}
