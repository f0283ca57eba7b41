-- At most one pending invitation per invitee and workspace, so that two admins inviting the
-- same person at the same moment get one invitation and one 409, not two tokens.
-- Expired pending invitations are revoked by the application before a new one is made.

-- +goose Up
CREATE UNIQUE INDEX invitations_pending_username ON invitations (workspace_id, username)
    WHERE status = 'pending' AND username IS NOT NULL;
CREATE UNIQUE INDEX invitations_pending_email ON invitations (workspace_id, lower(email))
    WHERE status = 'pending' AND email IS NOT NULL;

-- +goose Down
DROP INDEX invitations_pending_email;
DROP INDEX invitations_pending_username;
