// Package persistence is parley's PostgreSQL access (pgx v5, no ORM) and its Kafka
// read-receipt pipeline. PostgreSQL is the source of truth: a message is acknowledged only
// once its transaction has committed here.
package persistence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBConfig configures the PostgreSQL pool.
type DBConfig struct {
	// URL is a libpq-style connection URL. Default: postgres://postgres@127.0.0.1:5432/parley?sslmode=disable.
	URL string
	// MaxConns caps the pool. Default 16 connections: the group commit needs few, REST reads more.
	MaxConns int32
	// CreateDatabase creates the database named in URL when it is missing (the embedded default).
	CreateDatabase bool
	// Tracer, when set, sees every query (tests use it to count queries).
	Tracer pgx.QueryTracer
}

// DefaultDatabaseURL is the local PostgreSQL of the embedded default.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/parley?sslmode=disable"

func (c DBConfig) withDefaults() DBConfig {
	if c.URL == "" {
		c.URL = DefaultDatabaseURL
	}
	if c.MaxConns == 0 {
		c.MaxConns = 16
	}
	return c
}

// OpenDB validates cfg, creates the database if asked to, and returns a connected pool.
func OpenDB(ctx context.Context, cfg DBConfig, logger *slog.Logger) (*pgxpool.Pool, error) {
	cfg = cfg.withDefaults()
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if cfg.MaxConns < 1 {
		return nil, fmt.Errorf("database max conns must be positive, got %d", cfg.MaxConns)
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.ConnConfig.Tracer = cfg.Tracer
	if cfg.CreateDatabase {
		if err := ensureDatabase(ctx, pcfg.ConnConfig, logger); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", pcfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// ensureDatabase connects to the server's maintenance database and creates the target
// database when it does not exist. Several nodes may race here: a duplicate_database error
// means another one won, which is fine.
func ensureDatabase(ctx context.Context, target *pgx.ConnConfig, logger *slog.Logger) error {
	name := target.Database
	if name == "" {
		return errors.New("database url names no database")
	}
	admin := target.Copy()
	admin.Database = "postgres"
	admin.Tracer = nil
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, admin)
	if err != nil {
		return fmt.Errorf("connect to postgres to create database %q: %w", name, err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(cctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	// Another node starting at the same moment may create it first: duplicate_database
	// when its CREATE had committed, a unique violation on pg_database's name index when
	// both were in flight (seen with `make cluster`, three nodes started together).
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	logger.Info("created database", "database", name)
	return nil
}
