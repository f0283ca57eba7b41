// Package slash runs parley's slash commands over HTTP (ADR 0038): it implements
// actors.Commands. Invoke finds the command of the channel's workspace, mints a response
// URL, POSTs the call signed like an outgoing webhook (integrations.NewRequest) through the
// SSRF-guarded integrations.Client, and reads the receiver's response; Redeem spends a use of
// a response URL. Delivering a response is the actors' job (actors.System.RunCommand).
package slash

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/persistence"
)

// ResponsePath is where response URLs are served: ResponsePath + token.
const ResponsePath = "/hooks/commands/"

// Config configures the Service.
type Config struct {
	// BaseURL is this server as a command's receiver reaches it (scheme, host, optional
	// path prefix), e.g. https://chat.example.com; response URLs are BaseURL +
	// ResponsePath + token. Empty: set it with SetBaseURL before the first call (the node
	// does, from its listen address, when no public URL is configured).
	BaseURL string
	// Timeout bounds one call to a receiver, connection to last byte. Default 3 s (Slack's:
	// a receiver that needs longer answers at once and uses the response URL).
	Timeout time.Duration
	// ResponseTTL is how long a response URL works. Default 30 minutes (Slack's).
	ResponseTTL time.Duration
	// ResponseUses is how many responses a response URL takes. Default 5 (Slack's).
	ResponseUses int
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
	if c.ResponseTTL == 0 {
		c.ResponseTTL = 30 * time.Minute
	}
	if c.ResponseUses == 0 {
		c.ResponseUses = 5
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout %v is negative", c.Timeout))
	}
	if c.ResponseTTL < time.Second {
		errs = append(errs, fmt.Errorf("ResponseTTL %v is below 1 s", c.ResponseTTL))
	}
	if c.ResponseUses < 1 {
		errs = append(errs, fmt.Errorf("ResponseUses %d must be positive", c.ResponseUses))
	}
	if c.BaseURL != "" {
		if err := checkBase(c.BaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkBase(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("BaseURL %q is not an absolute http(s) URL", raw)
	}
	return nil
}

// Store is what the Service needs of persistence.Store.
type Store interface {
	SlashCommandFor(ctx context.Context, channelID int64, name string) (persistence.SlashCommand, error)
	CreateSlashResponse(ctx context.Context, hash []byte, r persistence.SlashResponse, uses int, expires time.Time) error
	RedeemSlashResponse(ctx context.Context, hash []byte) (persistence.SlashResponse, error)
}

// Service implements actors.Commands.
type Service struct {
	cfg    Config
	store  Store
	client *integrations.Client
	log    *slog.Logger
	base   atomic.Pointer[string]
}

var _ actors.Commands = (*Service)(nil)

// New validates cfg; store and client are required, log nil discards.
func New(cfg Config, store Store, client *integrations.Client, log *slog.Logger) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("slash: invalid config: %w", err)
	}
	if store == nil || client == nil {
		return nil, errors.New("slash: store and client are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, store: store, client: client, log: log.With("component", "slash")}
	if cfg.BaseURL != "" {
		s.base.Store(&cfg.BaseURL)
	}
	return s, nil
}

// SetBaseURL sets Config.BaseURL once the node knows its address (it listens after the
// actors start).
func (s *Service) SetBaseURL(raw string) error {
	if err := checkBase(raw); err != nil {
		return fmt.Errorf("slash: %w", err)
	}
	raw = strings.TrimRight(raw, "/")
	s.base.Store(&raw)
	return nil
}

// request is the JSON body POSTed to a receiver. Ids are strings, as everywhere in the API.
type request struct {
	Command     string `json:"command"`
	Text        string `json:"text"`
	UserID      int64  `json:"userId,string"`
	ChannelID   int64  `json:"channelId,string"`
	WorkspaceID int64  `json:"workspaceId,string"`
	ParentID    int64  `json:"parentId,string,omitempty"`
	ResponseURL string `json:"responseUrl"`
}

// response is a receiver's answer; text is a synonym of content (Slack's name).
type response struct {
	Content    *string `json:"content"`
	Text       *string `json:"text"`
	Visibility string  `json:"visibility"`
}

// Invoke implements actors.Commands.
func (s *Service) Invoke(ctx context.Context, call actors.CommandCall) (actors.CommandReply, error) {
	cmd, err := s.store.SlashCommandFor(ctx, call.ChannelID, call.Command)
	if errors.Is(err, persistence.ErrNotFound) {
		return actors.CommandReply{}, fmt.Errorf("%w: %s is not a command of this workspace (start the message with //%s to post it as text)",
			actors.ErrUnknownCommand, call.Command, call.Command[1:])
	}
	if err != nil {
		return actors.CommandReply{}, err
	}
	token, hash, err := newToken()
	if err != nil {
		return actors.CommandReply{}, err
	}
	base := s.base.Load()
	if base == nil {
		return actors.CommandReply{}, errors.New("slash: no BaseURL for response URLs")
	}
	if err := s.store.CreateSlashResponse(ctx, hash, persistence.SlashResponse{CommandID: cmd.ID, UserID: call.UserID,
		ChannelID: call.ChannelID, ParentID: call.ParentID}, s.cfg.ResponseUses, time.Now().Add(s.cfg.ResponseTTL)); err != nil {
		return actors.CommandReply{}, err
	}
	body, err := json.Marshal(request{Command: call.Command, Text: call.Text, UserID: call.UserID, ChannelID: call.ChannelID,
		WorkspaceID: cmd.WorkspaceID, ParentID: call.ParentID, ResponseURL: *base + ResponsePath + token})
	if err != nil {
		return actors.CommandReply{}, err
	}
	delivery, _, err := newToken()
	if err != nil {
		return actors.CommandReply{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := integrations.NewRequest(ctx, cmd.URL, []byte(cmd.Secret), delivery[:32], body, time.Now())
	if err != nil {
		return actors.CommandReply{}, failed(call.Command, "its URL cannot be called", err)
	}
	start := time.Now()
	status, raw, err := s.client.Do(req)
	if err != nil {
		s.log.Info("slash command call failed", "command", call.Command, "command_id", cmd.ID, "elapsed", time.Since(start), "err", err)
		switch {
		case errors.Is(err, integrations.ErrPrivateAddress):
			return actors.CommandReply{}, failed(call.Command, "its URL resolves to a refused (private) address", err)
		case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
			return actors.CommandReply{}, failed(call.Command, "its receiver did not answer within "+s.cfg.Timeout.String(), err)
		}
		return actors.CommandReply{}, failed(call.Command, "its receiver could not be reached", err)
	}
	if status < 200 || status > 299 {
		return actors.CommandReply{}, failed(call.Command, "its receiver answered HTTP "+strconv.Itoa(status), nil)
	}
	return s.parse(call.Command, raw, cmd.BotUserID)
}

// parse reads a receiver's 2xx body: empty (say nothing) or {content|text, visibility}.
func (s *Service) parse(name string, raw []byte, bot int64) (actors.CommandReply, error) {
	if len(strings.TrimSpace(string(raw))) == 0 {
		return actors.CommandReply{Visibility: persistence.VisibilityEphemeral, BotUserID: bot}, nil
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return actors.CommandReply{}, failed(name, "its receiver's answer is not a JSON object {content, visibility}", nil)
	}
	content := ""
	switch {
	case r.Content != nil:
		content = *r.Content
	case r.Text != nil:
		content = *r.Text
	}
	content, vis, err := persistence.ValidateCommandReply(content, r.Visibility)
	if err != nil {
		return actors.CommandReply{}, failed(name, "its receiver's answer is refused: "+err.Error(), nil)
	}
	return actors.CommandReply{Content: content, Visibility: vis, BotUserID: bot}, nil
}

// Redeem implements actors.Commands.
func (s *Service) Redeem(ctx context.Context, token string) (actors.CommandCall, int64, error) {
	if len(token) != 64 {
		return actors.CommandCall{}, 0, fmt.Errorf("response URL: %w", persistence.ErrNotFound)
	}
	raw, err := hex.DecodeString(token)
	if err != nil {
		return actors.CommandCall{}, 0, fmt.Errorf("response URL: %w", persistence.ErrNotFound)
	}
	sum := sha256.Sum256(raw)
	r, err := s.store.RedeemSlashResponse(ctx, sum[:])
	if err != nil {
		return actors.CommandCall{}, 0, err
	}
	return actors.CommandCall{Command: r.Command, UserID: r.UserID, ChannelID: r.ChannelID, ParentID: r.ParentID}, r.BotUserID, nil
}

// failed is a command_failed error: its text (shown to the caller on STOMP) says what
// went wrong without the URL; cause, when there is one, is for the logs only.
func failed(name, what string, cause error) error {
	if cause != nil {
		return &failure{text: name + ": " + what, cause: cause}
	}
	return fmt.Errorf("%w: %s: %s", actors.ErrCommandFailed, name, what)
}

type failure struct {
	text  string
	cause error
}

func (f *failure) Error() string   { return actors.ErrCommandFailed.Error() + ": " + f.text }
func (f *failure) Unwrap() []error { return []error{actors.ErrCommandFailed, f.cause} }

// newToken is 32 random bytes in hex and the SHA-256 of those bytes.
func newToken() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("slash: random token: %w", err)
	}
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(b[:]), sum[:], nil
}
