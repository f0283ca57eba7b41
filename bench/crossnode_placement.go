package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// How much of a multi-node run's traffic crossed nodes: from the clients' placement (which
// node each sender and receiver is on) and from the nodes' own bus counters.

// CrossNodeShare is, over every sender's channels weighted by its rate, the share of
// expected deliveries whose receiver is connected to another node than the sender.
type CrossNodeShare struct {
	Expected float64 `json:"expectedPerSecond"` // deliveries per second the placement implies
	Crossing float64 `json:"crossingPerSecond"`
	Share    float64 `json:"share"`
}

// crossNodeShare reads the placement: a sender posts Rate messages/s round-robin over its
// Channels, each delivered to every subscribing client of the channel.
func crossNodeShare(specs []ClientSpec) CrossNodeShare {
	type key struct {
		ch  int64
		url string
	}
	subs := map[key]int{}
	total := map[int64]int{}
	for _, s := range specs {
		if !s.Subscribe {
			continue
		}
		for _, c := range s.Channels {
			subs[key{c, s.URL}]++
			total[c]++
		}
	}
	var out CrossNodeShare
	for _, s := range specs {
		if s.Rate <= 0 || len(s.Channels) == 0 {
			continue
		}
		per := s.Rate / float64(len(s.Channels))
		for _, c := range s.Channels {
			out.Expected += per * float64(total[c])
			out.Crossing += per * float64(total[c]-subs[key{c, s.URL}])
		}
	}
	if out.Expected > 0 {
		out.Share = out.Crossing / out.Expected
	}
	return out
}

// BusTraffic is the nodes' bus counters (parley_bus_*), summed over nodes.
type BusTraffic struct {
	Published     int64 `json:"published"`
	PublishedB    int64 `json:"publishedBytes"`
	Received      int64 `json:"received"` // every interest, before filtering
	ReceivedB     int64 `json:"receivedBytes"`
	Echo          int64 `json:"echo"` // a node's own publishes coming back
	PublishErrors int64 `json:"publishErrors"`
}

// Remote is what nodes received from other nodes.
func (b BusTraffic) Remote() int64 { return b.Received - b.Echo }

// RemotePerPublished is how many other nodes, on average, a published message reached.
func (b BusTraffic) RemotePerPublished() float64 {
	if b.Published == 0 {
		return 0
	}
	return float64(b.Remote()) / float64(b.Published)
}

func (b BusTraffic) minus(a BusTraffic) BusTraffic {
	return BusTraffic{Published: b.Published - a.Published, PublishedB: b.PublishedB - a.PublishedB,
		Received: b.Received - a.Received, ReceivedB: b.ReceivedB - a.ReceivedB, Echo: b.Echo - a.Echo,
		PublishErrors: b.PublishErrors - a.PublishErrors}
}

// busSeries maps a /metrics series (name and labels as the node writes them) to its field.
var busSeries = map[string]func(*BusTraffic) *int64{
	"parley_bus_published_messages_total":                      func(b *BusTraffic) *int64 { return &b.Published },
	"parley_bus_published_bytes_total":                         func(b *BusTraffic) *int64 { return &b.PublishedB },
	`parley_bus_received_messages_total{interest="channel"}`:   func(b *BusTraffic) *int64 { return &b.Received },
	`parley_bus_received_messages_total{interest="user"}`:      func(b *BusTraffic) *int64 { return &b.Received },
	`parley_bus_received_messages_total{interest="broadcast"}`: func(b *BusTraffic) *int64 { return &b.Received },
	"parley_bus_received_bytes_total":                          func(b *BusTraffic) *int64 { return &b.ReceivedB },
	`parley_bus_dropped_messages_total{reason="echo"}`:         func(b *BusTraffic) *int64 { return &b.Echo },
	"parley_bus_publish_errors_total":                          func(b *BusTraffic) *int64 { return &b.PublishErrors },
}

// scrapeBus sums the bus counters of every node.
func (r *runner) scrapeBus(ctx context.Context, errs *[]string) BusTraffic {
	var out BusTraffic
	for _, u := range r.cfg.URLs {
		if err := scrapeBusOne(ctx, r.rest, u, &out); err != nil {
			*errs = append(*errs, err.Error())
		}
	}
	return out
}

func scrapeBusOne(ctx context.Context, c *restClient, base string, out *BusTraffic) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("bus counters of %s: %w", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("bus counters of %s: %w", base, err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		name, val, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		if f := busSeries[name]; f != nil {
			v, _ := strconv.ParseFloat(strings.Fields(val)[0], 64)
			*f(out) += int64(v)
		}
	}
	return nil
}
