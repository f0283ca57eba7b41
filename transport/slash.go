package transport

import (
	"net"
	"strings"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/integrations/slash"
	"github.com/parley-chat/parley/transport/api"
)

// startSlash makes the slash-command service (ADR 0038): the actors run commands through
// it (actors.Deps.Commands) and the REST API checks command URLs with its client. Its
// calls go through an integrations.Client of its own, whose timeout is the command's.
func (s *Server) startSlash() error {
	cfg := s.cfg.Slash
	cfg.BaseURL = strings.TrimRight(s.cfg.PublicURL, "/")
	client, err := integrations.NewClient(integrations.ClientConfig{AllowPrivate: s.cfg.WebhookAllowPrivate, Timeout: cfg.Timeout})
	if err != nil {
		return err
	}
	svc, err := slash.New(cfg, s.store, client, s.logger)
	if err != nil {
		return err
	}
	s.slash, s.slashClient = svc, client
	return nil
}

// slashListening gives the service the listen address as its base URL when no public URL
// is configured: an unspecified host (":9000") becomes the loopback address, which only a
// receiver on this machine can use; operators set --public-url.
func (s *Server) slashListening(addr net.Addr) error {
	if s.slash == nil || s.cfg.PublicURL != "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return s.slash.SetBaseURL("http://" + net.JoinHostPort(host, port))
}

var (
	_ api.Commands   = (*actors.System)(nil)
	_ api.URLChecker = (*integrations.Client)(nil)
)
