package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/persistence"
)

// Slash commands (ADR 0038): registration by a workspace's owner or admins, the REST
// half of running them (postMessage hands a command call to Commands), and the response
// URLs a command's receiver POSTs to later.

// Commands runs slash commands and delivers their responses (actors.System). Both
// methods do I/O and return once the response is delivered.
type Commands interface {
	// RunCommand runs content's command for userID in channelID (the handler has checked
	// that userID may post there).
	RunCommand(ctx context.Context, userID, channelID, parentID int64, content string) (persistence.CommandOutcome, error)
	// CommandResponse delivers a response POSTed to a response URL (token).
	CommandResponse(ctx context.Context, token, content, visibility string) (persistence.CommandOutcome, error)
}

// URLChecker refuses a URL that outgoing calls must not reach (integrations.Client).
type URLChecker interface {
	CheckURL(raw string) error
}

// errUnknownCommand is actors.ErrUnknownCommand's code, for a server without commands.
var errUnknownCommand = errcode.New(errcode.UnknownCommand, "unknown command")

type createCommandRequest struct {
	Command string `json:"command"`
	URL     string `json:"url"`
}

type createCommandResponse struct {
	persistence.SlashCommand
	// Secret signs every call (X-Parley-Signature); shown in this response only.
	Secret string `json:"secret"`
}

type commandList struct {
	Items []persistence.SlashCommand `json:"items"`
}

type commandResponseRequest struct {
	Content    *string `json:"content,omitempty"`
	Text       *string `json:"text,omitempty"` // a synonym of content (Slack's name)
	Visibility string  `json:"visibility,omitempty"`
}

// commandManager is the caller's access to {wid} when it may manage its commands:
// owners and admins, as for members (persistence.WorkspaceAccess.CanManageMembers).
func (a *API) commandManager(ctx context.Context, r *http.Request, me persistence.User) (persistence.WorkspaceAccess, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return wa, err
	}
	return wa, wa.CanManageMembers()
}

func (a *API) createCommand(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.commandManager(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	var req createCommandRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if err := persistence.ValidateSlashName(req.Command); err != nil {
		return 0, nil, err
	}
	if a.slashURLs == nil {
		return 0, nil, fmt.Errorf("%w: slash commands are not enabled on this server", errcode.ErrUnavailable)
	}
	if len(req.URL) > 2048 {
		return 0, nil, &persistence.ValidationError{Field: "url", Reason: "at most 2048 characters"}
	}
	if err := a.slashURLs.CheckURL(req.URL); err != nil {
		return 0, nil, &persistence.ValidationError{Field: "url", Reason: urlReason(err)}
	}
	secret, err := integrations.NewSecret()
	if err != nil {
		return 0, nil, err
	}
	c, err := a.store.CreateSlashCommand(ctx, persistence.NewSlashCommand{WorkspaceID: wa.WorkspaceID, Name: req.Command,
		URL: req.URL, Secret: secret, CreatedBy: me.ID})
	if err != nil {
		return 0, nil, err
	}
	a.log.Info("slash command registered", "workspace_id", wa.WorkspaceID, "command", c.Command, "command_id", c.ID, "by", me.ID)
	return http.StatusCreated, createCommandResponse{SlashCommand: c, Secret: secret}, nil
}

// urlReason says why a URL was refused, for the caller who gave it.
func urlReason(err error) string {
	if errors.Is(err, integrations.ErrPrivateAddress) {
		return "refused: loopback, link-local and private addresses are not allowed (the operator may allow them with --webhook-allow-private)"
	}
	return "must be an absolute http(s) URL with a host and no user info: " + err.Error()
}

func (a *API) listCommands(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.commandManager(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	cs, err := a.store.SlashCommands(ctx, wa.WorkspaceID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, commandList{Items: cs}, nil
}

func (a *API) deleteCommand(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.commandManager(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	if err := a.store.DeleteSlashCommand(ctx, wa.WorkspaceID, id); err != nil {
		return 0, nil, err
	}
	a.log.Info("slash command deleted", "workspace_id", wa.WorkspaceID, "command_id", id, "by", me.ID)
	return http.StatusNoContent, nil, nil
}

// runCommand is postMessage for a command call: nothing is posted but the response.
func (a *API) runCommand(ctx context.Context, me persistence.User, channelID, parentID int64, content string) (int, any, error) {
	if a.commands == nil {
		name, _, _ := persistence.ParseSlash(content)
		return 0, nil, fmt.Errorf("%w: %s: slash commands are not enabled on this server (start with // to post it as text)",
			errUnknownCommand, name)
	}
	out, err := a.commands.RunCommand(ctx, me.ID, channelID, parentID, content)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// commandResponse takes a response POSTed to a response URL: no Authorization, the
// unguessable token is the credential (like an incoming webhook's secret).
func (a *API) commandResponse(ctx context.Context, r *http.Request, _ persistence.User) (int, any, error) {
	token := r.PathValue("token")
	var req commandResponseRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	content := ""
	switch {
	case req.Content != nil:
		content = *req.Content
	case req.Text != nil:
		content = *req.Text
	}
	content, vis, err := persistence.ValidateCommandReply(content, req.Visibility)
	if err != nil {
		return 0, nil, err
	}
	if content == "" {
		return 0, nil, &persistence.ValidationError{Field: "content", Reason: "must not be blank"}
	}
	if a.commands == nil {
		return 0, nil, fmt.Errorf("response URL: %w", persistence.ErrNotFound)
	}
	out, err := a.commands.CommandResponse(ctx, token, content, vis)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}
