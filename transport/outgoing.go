package transport

import (
	"context"

	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/integrations/outgoing"
)

// startOutgoing runs this node's part of outgoing webhooks (ADR 0037): the relay from
// PostgreSQL to the "outgoing-webhooks" topic of the read receipts' Kafka, and a member of
// the deliverers' consumer group, whose replies go through the channel actors like any
// post. The HTTP client refuses private destinations unless WebhookAllowPrivate; the API
// checks new hooks' URLs with the same client. It stops before the database pool closes
// (closers run in reverse).
func (s *Server) startOutgoing() error {
	client, err := integrations.NewClient(integrations.ClientConfig{AllowPrivate: s.cfg.WebhookAllowPrivate})
	if err != nil {
		return err
	}
	s.outgoingURLs = client
	cfg := s.cfg.OutgoingWebhooks
	cfg.Brokers = s.kafkaBrokers
	cfg.Health = s.deps.kafka
	if len(s.cfg.KafkaBrokers) > 0 && cfg.ReplicationFactor == 0 && cfg.MinInsyncReplicas == 0 {
		// The deliveries topic is replicated like the receipt topics (ADR 0045).
		cfg.ReplicationFactor, cfg.MinInsyncReplicas = s.cfg.KafkaReplicationFactor, s.cfg.KafkaMinInsyncReplicas
	}
	svc, err := outgoing.New(cfg, outgoing.Deps{Store: s.store, Client: client, Poster: s.realtime,
		NextID: s.ids.Next, Logger: s.logger, Registerer: s.reg})
	if err != nil {
		return err
	}
	svc.Start()
	s.closers.push("outgoing webhooks", func(context.Context) error { return svc.Close() })
	return nil
}
