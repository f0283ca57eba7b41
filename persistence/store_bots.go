package persistence

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// usernamePattern is the users.username CHECK, so a bad name is a 400 naming the field
// rather than a constraint violation.
var usernamePattern = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

// ValidateUsername checks a username a client chose (a bot's): lowercase [a-z0-9_.-],
// 1..MaxUsernameLen characters.
func ValidateUsername(name string) error {
	if !usernamePattern.MatchString(name) {
		return &ValidationError{Field: "username", Reason: "must be 1-64 characters of a-z, 0-9, _ . -"}
	}
	return nil
}

// CreateBotUser creates a bot account (is_bot) and makes it a member of workspaceID with
// the role member: a bot never manages a workspace. Its subject ("bot:<id>") is only a
// key; UpsertUser refuses to sign anyone in as a bot, so the bot authenticates with API
// tokens alone (ADR 0036). A taken username is ErrConflict.
func (s *Store) CreateBotUser(ctx context.Context, workspaceID int64, username, displayName string) (User, error) {
	if err := ValidateUsername(username); err != nil {
		return User{}, err
	}
	if len([]rune(displayName)) > 200 {
		return User{}, &ValidationError{Field: "displayName", Reason: "at most 200 characters"}
	}
	id := s.ids.Next()
	var u User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := scanUser(tx.QueryRow(ctx, `
			INSERT INTO users AS u (id, subject, username, display_name, display_name_set, is_bot)
			VALUES ($1, $2, $3, $4, true, true)
			RETURNING `+userColumns, id, "bot:"+strconv.FormatInt(id, 10), username, displayName), &u)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'member')`,
			workspaceID, id)
		return err
	})
	switch {
	case pgCode(err) == pgUniqueViolation && pgConstraint(err) == "users_username_key":
		return User{}, fmt.Errorf("bot username %q is taken: %w", username, ErrConflict)
	case pgCode(err) == pgForeignKeyViolation:
		return User{}, fmt.Errorf("bot %q in workspace %d: %w", username, workspaceID, ErrNotFound)
	case err != nil:
		return User{}, fmt.Errorf("create bot %q: %w", username, err)
	}
	return u, nil
}
