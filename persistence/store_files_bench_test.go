package persistence_test

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// BenchmarkAppendFiles is one channel's group commit of batches of 10 messages, without
// files (the fast path) and with one file each (the general path: the files are looked up
// and attached in the same transaction, ADR 0041), in the same run. op = one batch.
func BenchmarkAppendFiles(b *testing.B) {
	for _, withFiles := range []bool{false, true} {
		b.Run(fmt.Sprintf("files=%t", withFiles), func(b *testing.B) {
			f := newFixture(b, "alice")
			alice := f.users["alice"]
			var fileID int64
			if withFiles {
				sum := sha256.Sum256([]byte("x"))
				row, err := f.store.CreateFile(f.ctx, persistence.NewFile{ID: f.store.NextID(), WorkspaceID: f.ws, UploaderID: alice,
					Name: "x.txt", Size: 1, ContentType: "text/plain; charset=utf-8", SHA256: sum[:]})
				if err != nil {
					b.Fatal(err)
				}
				fileID = row.ID
			}
			batch := make([]persistence.NewMessage, 10)
			cpu := newBackendCPU(b, f.store.Pool())
			b.ReportAllocs()
			b.ResetTimer()
			cpu.start()
			for i := 0; i < b.N; i++ {
				for j := range batch {
					batch[j] = persistence.NewMessage{UserID: alice, Content: fmt.Sprintf("m %d %d", i, j), ClientMsgID: fmt.Sprintf("%d-%d", i, j)}
					if withFiles {
						batch[j].FileIDs = []int64{fileID}
					}
				}
				res, err := f.store.AppendMessages(f.ctx, f.ch, batch)
				if err != nil || res[0].Err != nil {
					b.Fatal(err, res[0].Err)
				}
			}
			b.StopTimer()
			msgs := float64(b.N * len(batch))
			b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
			if d, ok := cpu.stop(); ok {
				b.ReportMetric(float64(d.Microseconds())/msgs, "pg-µs/msg")
			}
		})
	}
}
