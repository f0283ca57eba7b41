package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// JanitorConfig configures a Janitor.
type JanitorConfig struct {
	// Interval is the time between sweeps. Default 1 minute.
	Interval time.Duration
	// UnattachedTTL is how long an upload that no message or avatar uses is kept. Default
	// 24 hours (SPEC).
	UnattachedTTL time.Duration
	// Batch is how many files one statement of a sweep handles. Default 100.
	Batch int
	// Now is the clock (tests move it). Default time.Now.
	Now func() time.Time
}

func (c JanitorConfig) withDefaults() JanitorConfig {
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
	if c.UnattachedTTL == 0 {
		c.UnattachedTTL = 24 * time.Hour
	}
	if c.Batch == 0 {
		c.Batch = 100
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c JanitorConfig) validate() error {
	var errs []error
	if c.Interval < time.Second {
		errs = append(errs, fmt.Errorf("Interval %s is below 1s", c.Interval))
	}
	if c.UnattachedTTL < time.Minute {
		errs = append(errs, fmt.Errorf("UnattachedTTL %s is below 1m", c.UnattachedTTL))
	}
	if c.Batch < 1 {
		errs = append(errs, fmt.Errorf("Batch %d must be positive", c.Batch))
	}
	return errors.Join(errs...)
}

// Janitor removes files nobody can reach any more: it marks uploads never attached within
// UnattachedTTL as deleted, then removes the blobs of every file marked deleted (those
// too, and files whose last message was deleted) and finally their rows. Blobs go before
// rows, so a crash in between leaves a row to retry, never an unreachable blob. Any node
// may run one; two sweeping at once delete the same blobs twice, which Blobs allows.
type Janitor struct {
	cfg   JanitorConfig
	store *persistence.Store
	blobs Blobs
	log   *slog.Logger
}

// NewJanitor validates cfg and returns a janitor over store and blobs.
func NewJanitor(cfg JanitorConfig, store *persistence.Store, blobs Blobs, log *slog.Logger) (*Janitor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("files: invalid janitor config: %w", err)
	}
	if store == nil || blobs == nil {
		return nil, errors.New("files: janitor needs a Store and Blobs")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Janitor{cfg: cfg, store: store, blobs: blobs, log: log.With("component", "files-janitor")}, nil
}

// Run sweeps every Interval until ctx ends.
func (j *Janitor) Run(ctx context.Context) {
	t := time.NewTicker(j.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if expired, removed, err := j.Sweep(ctx); err != nil {
			if ctx.Err() == nil {
				j.log.Warn("sweep failed", "err", err)
			}
		} else if expired+removed > 0 {
			j.log.Info("swept files", "expired", expired, "removed", removed)
		}
	}
}

// Sweep runs one pass: expired is how many unattached uploads it marked deleted, removed
// how many files' blobs and rows it removed.
func (j *Janitor) Sweep(ctx context.Context) (expired, removed int, err error) {
	cutoff := j.cfg.Now().Add(-j.cfg.UnattachedTTL)
	for {
		n, err := j.store.ExpireUnattachedFiles(ctx, cutoff, j.cfg.Batch)
		expired += n
		if err != nil {
			return expired, removed, err
		}
		if n < j.cfg.Batch {
			break
		}
	}
	for {
		ds, err := j.store.DeletedFiles(ctx, j.cfg.Batch)
		if err != nil || len(ds) == 0 {
			return expired, removed, err
		}
		ids := make([]int64, 0, len(ds))
		for _, d := range ds {
			if err := j.blobs.Delete(ctx, ContentKey(d.ID)); err != nil {
				return expired, removed, err
			}
			if d.HasThumbnail {
				if err := j.blobs.Delete(ctx, ThumbnailKey(d.ID)); err != nil {
					return expired, removed, err
				}
			}
			ids = append(ids, d.ID)
		}
		if err := j.store.PurgeFiles(ctx, ids); err != nil {
			return expired, removed, err
		}
		removed += len(ids)
		if len(ds) < j.cfg.Batch {
			return expired, removed, nil
		}
	}
}
