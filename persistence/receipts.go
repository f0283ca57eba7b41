package persistence

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/segmentio/kafka-go"
)

// The read-receipt pipeline (SPEC guarantee 4, DESIGN "receipt aggregator"): read markers
// reach Redis at once, the node's aggregator coalesces them and produces them to the topic
// "read-receipts" (keyed by channel); the persister consumes batches and writes each batch
// with one GREATEST upsert; batches the database keeps refusing go to "read-receipts-dlt",
// whose consumer reconciles each key from the Redis cache.

// ReadMarker is the highest seq a user has read in a channel, or in one thread of it
// (ThreadID, the root's id; replies take the channel's seqs), and when that was recorded
// (the lag metric measures from ReadAt to the PostgreSQL commit). A thread marker takes
// the same path as a channel marker (ADR 0040): only the table it lands in differs.
//
// It is an alias of an unnamed struct type, declared identically in cluster and here:
// identical unnamed struct types are one type in Go, so the receipt aggregator hands the
// same slice to the Kafka producer and to the Redis parking store without persistence and
// cluster importing each other.
type ReadMarker = struct {
	UserID    int64
	ChannelID int64
	ThreadID  int64 // the thread's root id; 0: the channel's own marker (ADR 0040)
	Seq       int64
	ReadAt    time.Time
}

// ReceiptTopics says where the pipeline lives in Kafka; producer, persister and DLT
// consumer embed it.
type ReceiptTopics struct {
	// Brokers are the bootstrap host:port addresses. Required.
	Brokers []string
	// Topic carries read markers keyed by channel id. Default "read-receipts".
	Topic string
	// DLTTopic receives the batches the persister could not write. Default "read-receipts-dlt".
	DLTTopic string
	// Partitions of Topic when EnsureReceiptTopics creates it. Default 8.
	Partitions int
	// DLTPartitions of DLTTopic when EnsureReceiptTopics creates it. Default 1: the DLT
	// carries only what failed.
	DLTPartitions int
	// ReplicationFactor of created topics; -1 (the default) takes the broker's.
	ReplicationFactor int
	// Retention of created topics. Default 48 h: a persister can be down for two days
	// and still catch up from its committed offsets.
	Retention time.Duration
}

// Default topic names and consumer groups.
const (
	DefaultReceiptTopic    = "read-receipts"
	DefaultReceiptDLTTopic = "read-receipts-dlt"
	DefaultPersisterGroup  = "read-receipt-persister"
	DefaultDLTGroup        = "read-receipt-dlt-reconciler"
)

func (c ReceiptTopics) withDefaults() ReceiptTopics {
	if c.Topic == "" {
		c.Topic = DefaultReceiptTopic
	}
	if c.DLTTopic == "" {
		c.DLTTopic = DefaultReceiptDLTTopic
	}
	if c.Partitions == 0 {
		c.Partitions = 8
	}
	if c.DLTPartitions == 0 {
		c.DLTPartitions = 1
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.Retention == 0 {
		c.Retention = 48 * time.Hour
	}
	return c
}

func (c *ReceiptTopics) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka brokers are required")
	}
	if c.Topic == c.DLTTopic {
		return fmt.Errorf("receipt topic and DLT topic are both %q", c.Topic)
	}
	if c.Partitions < 1 || c.DLTPartitions < 1 {
		return fmt.Errorf("receipt topic partitions must be positive, got %d and %d", c.Partitions, c.DLTPartitions)
	}
	if c.Retention < time.Minute {
		return fmt.Errorf("receipt topic retention %s is below 1m", c.Retention)
	}
	return nil
}

// EnsureReceiptTopics creates the receipt topic and its DLT when they are missing, with
// the configured partitions and retention. Existing topics are left as they are.
func EnsureReceiptTopics(ctx context.Context, topics ReceiptTopics) error {
	topics = topics.withDefaults()
	if err := topics.validate(); err != nil {
		return err
	}
	retention := strconv.FormatInt(topics.Retention.Milliseconds(), 10)
	mk := func(name string, parts int) kafka.TopicConfig {
		return kafka.TopicConfig{Topic: name, NumPartitions: parts, ReplicationFactor: topics.ReplicationFactor,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: retention}}}
	}
	// An own transport, closed after use: kafka-go's DefaultTransport keeps pooled
	// connections (and their goroutines) alive for the life of the process.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(topics.Brokers...), Timeout: 10 * time.Second, Transport: tr}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		mk(topics.Topic, topics.Partitions), mk(topics.DLTTopic, topics.DLTPartitions),
	}})
	if err != nil {
		return fmt.Errorf("create receipt topics: %w", err)
	}
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	return nil
}

// receiptValue is a marker on the wire: JSON, ids as decimal strings as everywhere in
// parley's JSON, readAt in Unix milliseconds.
type receiptValue struct {
	UserID    int64 `json:"userId,string"`
	ChannelID int64 `json:"channelId,string"`
	ThreadID  int64 `json:"threadId,string,omitempty"`
	Seq       int64 `json:"seq"`
	ReadAtMS  int64 `json:"readAt"`
}

func encodeReceipt(m ReadMarker) kafka.Message {
	key := strconv.AppendInt(nil, m.ChannelID, 10)
	v := make([]byte, 0, 96)
	v = append(v, `{"userId":"`...)
	v = strconv.AppendInt(v, m.UserID, 10)
	v = append(v, `","channelId":"`...)
	v = append(v, key...)
	if m.ThreadID != 0 {
		v = append(v, `","threadId":"`...)
		v = strconv.AppendInt(v, m.ThreadID, 10)
	}
	v = append(v, `","seq":`...)
	v = strconv.AppendInt(v, m.Seq, 10)
	v = append(v, `,"readAt":`...)
	v = strconv.AppendInt(v, m.ReadAt.UnixMilli(), 10)
	v = append(v, '}')
	return kafka.Message{Key: key, Value: v}
}

func decodeReceipt(b []byte) (ReadMarker, error) {
	var v receiptValue
	if err := json.Unmarshal(b, &v); err != nil {
		return ReadMarker{}, fmt.Errorf("decode read receipt: %w", err)
	}
	if v.UserID <= 0 || v.ChannelID <= 0 || v.ThreadID < 0 || v.Seq < 0 {
		return ReadMarker{}, fmt.Errorf("invalid read receipt %s", b)
	}
	return ReadMarker{UserID: v.UserID, ChannelID: v.ChannelID, ThreadID: v.ThreadID, Seq: v.Seq, ReadAt: time.UnixMilli(v.ReadAtMS)}, nil
}

// dedupeMarkers keeps the highest seq per (user, channel, thread), sorted by key so that
// concurrent upserts lock rows in one order and cannot deadlock.
func dedupeMarkers(in []ReadMarker) []ReadMarker {
	type key struct{ u, c, t int64 }
	idx := make(map[key]int, len(in))
	out := make([]ReadMarker, 0, len(in))
	for _, m := range in {
		k := key{m.UserID, m.ChannelID, m.ThreadID}
		if i, ok := idx[k]; ok {
			if m.Seq > out[i].Seq {
				out[i] = m
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b ReadMarker) int {
		return cmp.Or(cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.ChannelID, b.ChannelID), cmp.Compare(a.ThreadID, b.ThreadID))
	})
	return out
}

// execer is what the receipt writers need from a pool.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// upsertReadMarkersSQL writes a whole batch in one statement. GREATEST keeps a marker from
// moving backwards whatever order batches arrive in; the WHERE skips rows that would not
// advance (no dead tuple for a no-op). Markers of users or channels that no longer exist
// are dropped by the joins instead of failing the batch on a foreign key.
const upsertReadMarkersSQL = `INSERT INTO read_receipts (user_id, channel_id, last_read_seq, updated_at)
SELECT t.user_id, t.channel_id, t.seq, now()
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS t(user_id, channel_id, seq)
JOIN users u ON u.id = t.user_id
JOIN channels c ON c.id = t.channel_id
ON CONFLICT (user_id, channel_id) DO UPDATE
SET last_read_seq = GREATEST(read_receipts.last_read_seq, EXCLUDED.last_read_seq), updated_at = now()
WHERE read_receipts.last_read_seq < EXCLUDED.last_read_seq`

// upsertThreadMarkersSQL is upsertReadMarkersSQL for thread markers (thread_reads). A
// marker of a root that is gone, or that names another channel, is dropped by the join.
const upsertThreadMarkersSQL = `INSERT INTO thread_reads (user_id, root_id, channel_id, last_read_seq, updated_at)
SELECT t.user_id, m.id, m.channel_id, t.seq, now()
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS t(user_id, channel_id, root_id, seq)
JOIN users u ON u.id = t.user_id
JOIN messages m ON m.id = t.root_id AND m.channel_id = t.channel_id AND m.parent_id IS NULL
ON CONFLICT (user_id, root_id) DO UPDATE
SET last_read_seq = GREATEST(thread_reads.last_read_seq, EXCLUDED.last_read_seq), updated_at = now()
WHERE thread_reads.last_read_seq < EXCLUDED.last_read_seq`

// upsertReadMarkers writes deduplicated markers with one statement per kind (channel
// markers, thread markers). Both are max-merges, so a retry after the second failed
// redoes the first harmlessly.
func upsertReadMarkers(ctx context.Context, db execer, markers []ReadMarker) error {
	var users, channels, seqs, tusers, tchannels, troots, tseqs []int64
	for _, m := range markers {
		if m.ThreadID != 0 {
			tusers, tchannels, troots, tseqs = append(tusers, m.UserID), append(tchannels, m.ChannelID), append(troots, m.ThreadID), append(tseqs, m.Seq)
			continue
		}
		users, channels, seqs = append(users, m.UserID), append(channels, m.ChannelID), append(seqs, m.Seq)
	}
	if len(users) > 0 {
		if _, err := db.Exec(ctx, upsertReadMarkersSQL, users, channels, seqs); err != nil {
			return fmt.Errorf("upsert %d read markers: %w", len(users), err)
		}
	}
	if len(tusers) > 0 {
		if _, err := db.Exec(ctx, upsertThreadMarkersSQL, tusers, tchannels, troots, tseqs); err != nil {
			return fmt.Errorf("upsert %d thread read markers: %w", len(tusers), err)
		}
	}
	return nil
}
