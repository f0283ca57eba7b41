package outbound

import "testing"

// An outbox going idle gives its queue slices back and the next burst takes one: neither
// may allocate once the pools are warm (each did, boxing the slice for sync.Pool).
func TestItemsPoolAllocatesNothingWhenWarm(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	putItems(getItems())
	allocs := testing.AllocsPerRun(1000, func() {
		a, b := getItems(), getItems()
		a = append(a, outItem{kind: itemReceipt, a: "r"})
		putItems(a)
		putItems(b)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per get/put cycle, want 0", allocs)
	}
	if s := getItems(); len(s) != 0 {
		t.Fatalf("a pooled slice came back with %d items", len(s))
	}
}
