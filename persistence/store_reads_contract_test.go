package persistence_test

import (
	"testing"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/internal/contract"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// Store.MarkRead, the write under api.StoreReadMarkers and the persister's target, passes
// the ReadMarkers contract the Redis/Kafka pipeline (actors.Receipts) passes.
func TestStoreReadMarkersContract(t *testing.T) {
	t.Parallel()
	contract.RunReadMarkers(t, func(t *testing.T) contract.ReadMarkersEnv {
		pool, _ := pgtest.NewPool(t, nil)
		ids, err := cluster.NewIDGenerator(5, nil)
		if err != nil {
			t.Fatal(err)
		}
		store := persistence.NewStore(pool, ids, persistence.StoreConfig{})
		return contract.ReadMarkersEnv{Markers: store, Store: store}
	})
}
