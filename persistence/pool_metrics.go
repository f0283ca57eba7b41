package persistence

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports the pool's own statistics. Under overload the first thing to know is
// whether work waits for a connection or for PostgreSQL: in the 10,000-user benchmark
// (docs/BENCHMARKS.md) thousands of goroutines waited to acquire while every connection sat
// idle in PostgreSQL, which only goroutine dumps showed until these existed.
type poolCollector struct {
	pool                                  *pgxpool.Pool
	acquired, idle, total, max            *prometheus.Desc
	acquires, emptyAcquires, waitSeconds  *prometheus.Desc
	canceledAcquires, newConns, destroyed *prometheus.Desc
}

// RegisterPoolMetrics registers parley_db_<name>_* for pool with reg: "pool" for the main
// pool, "send_pool" for the send lane (StoreConfig.SendPool).
func RegisterPoolMetrics(reg prometheus.Registerer, pool *pgxpool.Pool, name string) error {
	d := func(metric, help string) *prometheus.Desc {
		return prometheus.NewDesc("parley_db_"+name+"_"+metric, help, nil, nil)
	}
	return reg.Register(&poolCollector{
		pool:             pool,
		acquired:         d("acquired_conns", "PostgreSQL connections checked out of the pool now."),
		idle:             d("idle_conns", "PostgreSQL connections idle in the pool now."),
		total:            d("conns", "PostgreSQL connections open now."),
		max:              d("max_conns", "Pool size (--db-max-conns; the send lane: --db-send-conns)."),
		acquires:         d("acquires_total", "Connections acquired from the pool."),
		emptyAcquires:    d("empty_acquires_total", "Acquires that had to wait: no idle connection at the time."),
		waitSeconds:      d("acquire_wait_seconds_total", "Time spent acquiring connections, waits included."),
		canceledAcquires: d("canceled_acquires_total", "Acquires given up because their context ended."),
		newConns:         d("new_conns_total", "Connections opened."),
		destroyed:        d("destroyed_conns_total", "Connections closed as broken, too old or too long idle."),
	})
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.acquires, c.emptyAcquires,
		c.waitSeconds, c.canceledAcquires, c.newConns, c.destroyed} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.waitSeconds, s.AcquireDuration().Seconds())
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(c.newConns, float64(s.NewConnsCount()))
	counter(c.destroyed, float64(s.MaxLifetimeDestroyCount()+s.MaxIdleDestroyCount()))
}
