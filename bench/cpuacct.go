package bench

// A node's CPU over the run is the growth of its process_cpu_seconds_total, which starts
// again at 0 when the node restarts: After − Connected went negative after a restart (issue
// 27). The scrapes between them (the sampler's) say which process answered
// (process_start_time_seconds), so the growth is summed per process, as Prometheus's
// increase() treats a counter reset.

// cpuPoint is one scrape of a node: its process's start time and CPU seconds.
type cpuPoint struct {
	start, cpu float64
}

// cpuOver sums the CPU growth over points in scrape order. A new process (another start
// time, or the counter going down when start times are missing) counts from 0: it started
// inside the run. The CPU a process used between its last scrape and its death is not seen;
// the sum is a lower bound, never negative.
func cpuOver(points []cpuPoint) float64 {
	var total float64
	for i := 1; i < len(points); i++ {
		prev, cur := points[i-1], points[i]
		if cur.start == prev.start && cur.cpu >= prev.cpu {
			total += cur.cpu - prev.cpu
		} else {
			total += cur.cpu
		}
	}
	return total
}

// nodeCPU is node n's CPU from the connected scrape to the last, through the sampler's
// series (a node dead at the end has no After scrape: its last sample counts).
func nodeCPU(n *NodeMetrics, series []ServerSample) float64 {
	if n.Connected == nil {
		return 0
	}
	point := func(m map[string]float64) cpuPoint {
		return cpuPoint{start: m["process_start_time_seconds"], cpu: m["process_cpu_seconds_total"]}
	}
	pts := []cpuPoint{point(n.Connected)}
	for _, s := range series {
		if s.URL == n.URL {
			pts = append(pts, point(s.Metrics))
		}
	}
	if n.After != nil {
		pts = append(pts, point(n.After))
	}
	return cpuOver(pts)
}
