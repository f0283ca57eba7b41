package outgoing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-chat/parley/integrations"
)

// Service is one node's part of outgoing webhooks: the relay (PostgreSQL → Kafka) and a
// member of the deliverers' consumer group (Kafka → HTTP).
type Service struct {
	cfg    Config
	store  Store
	client *integrations.Client
	poster Poster
	nextID func() int64
	log    *slog.Logger
	m      *metrics
	hooks  *hookCache

	relay    *relay
	consumer *consumer
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New validates cfg and deps; Start runs the service.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("outgoing webhooks: %w", err)
	}
	if deps.Store == nil || deps.Client == nil || deps.Poster == nil || deps.NextID == nil {
		return nil, errors.New("outgoing webhooks: Store, Client, Poster and NextID are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("outgoing webhooks: %w", err)
	}
	s := &Service{cfg: cfg, store: deps.Store, client: deps.Client, poster: deps.Poster, nextID: deps.NextID,
		log: deps.Logger.With("component", "outgoing-webhooks"), m: m,
		hooks: newHookCache(deps.Store, cfg.HookCacheTTL)}
	s.relay = newRelay(cfg, deps.Store, s.log, m)
	s.consumer = newConsumer(cfg, s.log, s.deliver)
	return s, nil
}

// Start makes sure the topic exists (retrying in the background while Kafka is down: a
// node must start without it) and runs the relay and the consumer until Close.
func (s *Service) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for n := 0; ; n++ {
			tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
			err := EnsureTopic(tctx, s.cfg)
			tcancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.cfg.Health.Fail(fmt.Errorf("ensure outgoing topic: %w", err))
			s.log.Debug("outgoing webhooks: topic not ensured yet", "err", err)
			if sleepCtx(ctx, min(time.Second<<min(n, 3), 5*time.Second)) != nil {
				return
			}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.relay.run(ctx)
		}()
		s.consumer.run(ctx)
	}()
}

// Close stops the relay and the consumer. Deliveries in progress are not committed: the
// group delivers them again (same delivery ids).
func (s *Service) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return errors.Join(s.relay.close(), s.consumer.close())
}
