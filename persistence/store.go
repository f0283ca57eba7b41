package persistence

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/cluster"
)

// Store is parley's PostgreSQL data access: every read and write of the resource model.
// It is safe for concurrent use. Methods that act for a user take the user's id but do not
// check permissions, except where a method says so: callers decide with ChannelAccess /
// WorkspaceAccess and the policy in policy.go first.
type Store struct {
	pool *pgxpool.Pool
	ids  *cluster.IDGenerator
	cfg  StoreConfig
	now  func() time.Time
	// retriesSeen is when (unix ns) a group commit last met a stored clientMsgId; for a
	// while after it, group commits look for them first (store_append_multi.go).
	retriesSeen atomic.Int64
}

// NewStore returns a Store on pool making ids with ids; cfg's zero values are defaults.
func NewStore(pool *pgxpool.Pool, ids *cluster.IDGenerator, cfg StoreConfig) *Store {
	return &Store{pool: pool, ids: ids, cfg: cfg.withDefaults(), now: time.Now}
}

func (c StoreConfig) withDefaults() StoreConfig {
	if c.InDoubtWait == 0 {
		c.InDoubtWait = DefaultInDoubtWait
	}
	if c.ChannelMentionMax <= 0 {
		c.ChannelMentionMax = DefaultChannelMentionMax
	}
	return c
}

// Pool is the store's connection pool (health checks, tests).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// sendPool is where message commits take their connections: the send lane when there is
// one, else the main pool (StoreConfig.SendPool, ADR 0051).
func (s *Store) sendPool() *pgxpool.Pool {
	if s.cfg.SendPool != nil {
		return s.cfg.SendPool
	}
	return s.pool
}

// NextID makes a new id.
func (s *Store) NextID() int64 { return s.ids.Next() }

// nowUTC is the store's clock at PostgreSQL's precision, so that a value returned by a
// write equals the value a later read finds.
func (s *Store) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// ChannelAccess loads what userID is in channelID and its workspace, in one query.
// A missing channel is ErrNotFound; every other decision is the caller's, through the
// methods of Access.
func (s *Store) ChannelAccess(ctx context.Context, userID, channelID int64) (Access, error) {
	a := Access{UserID: userID, ChannelID: channelID}
	var role *string
	var creator int64
	err := s.pool.QueryRow(ctx, `
		SELECT c.workspace_id, c.type, c.archived, c.created_by, c.last_seq, wm.role,
		       EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = c.id AND cm.user_id = $1)
		FROM channels c
		LEFT JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = $1
		WHERE c.id = $2`, userID, channelID).
		Scan(&a.WorkspaceID, &a.Type, &a.Archived, &creator, &a.LastSeq, &role, &a.Member)
	if errors.Is(err, pgx.ErrNoRows) {
		return Access{}, ErrNotFound
	}
	if err != nil {
		return Access{}, fmt.Errorf("channel access: %w", err)
	}
	a.intern(role)
	a.Creator = creator == userID
	return a, nil
}

// WorkspaceAccess loads userID's role in workspaceID (RoleNone when not a member, or
// when the workspace does not exist: the caller cannot tell the two apart, by design).
func (s *Store) WorkspaceAccess(ctx context.Context, userID, workspaceID int64) (WorkspaceAccess, error) {
	a := WorkspaceAccess{WorkspaceID: workspaceID, UserID: userID}
	var role string
	err := s.pool.QueryRow(ctx, `SELECT wm.role, u.is_bot FROM workspace_members wm JOIN users u ON u.id = wm.user_id
		WHERE wm.workspace_id = $1 AND wm.user_id = $2`,
		workspaceID, userID).Scan(&role, &a.Bot)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("workspace access: %w", err)
	}
	a.Role = Role(role)
	return a, nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// PostgreSQL error codes the store translates.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgCheckViolation      = "23514"
	pgDeadlockDetected    = "40P01"
)

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func pgConstraint(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
