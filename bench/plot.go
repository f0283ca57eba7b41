package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// writePlot draws the run's series as an SVG: send→deliver latency percentiles per second
// on a log scale above, sends/s and deliveries/s below, the warmup shaded. It is written
// by hand (a polyline chart needs no plotting library).
func writePlot(path string, rep *Report) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
	case ".png":
		return errors.New("PNG output is not supported; write an .svg (any browser shows it, and rsvg-convert or inkscape turn it into a PNG)")
	default:
		return fmt.Errorf("%s: want a .svg file", path)
	}
	return os.WriteFile(path, plotSVG(rep), 0o644)
}

const (
	plotW, plotH             = 960, 625
	plotLeft, plotRight      = 70, 150 // margins; the legend sits in the right one
	latTop, latBottom        = 50, 360
	rateTop, rateBottom      = 410, 550
	plotTitleY, plotFootY    = 28, 588
	plotFont                 = `font-family="sans-serif" font-size="12"`
	plotMinMs, plotFloorMs   = 0.01, 0.1
	plotGridColour, plotAxis = "#e5e5e5", "#444"
)

var percentileSeries = []struct {
	name   string
	colour string
	get    func(Percentiles) float64
}{
	{"p50", "#1f77b4", func(p Percentiles) float64 { return p.P50 }},
	{"p95", "#2ca02c", func(p Percentiles) float64 { return p.P95 }},
	{"p99", "#ff7f0e", func(p Percentiles) float64 { return p.P99 }},
	{"p99.9", "#d62728", func(p Percentiles) float64 { return p.P999 }},
	{"max", "#7f7f7f", func(p Percentiles) float64 { return p.Max }},
}

func plotSVG(rep *Report) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	title := fmt.Sprintf("parley bench %s — %d connections, %d senders × %g msg/s — %s",
		rep.Scenario, rep.Config.Connections, rep.Config.Senders, rep.Config.Rate, rep.Date)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-family="sans-serif" font-size="15" font-weight="bold">%s</text>`+"\n", plotLeft, plotTitleY, html.EscapeString(title))

	pts := rep.Series
	x0, x1 := float64(plotLeft), float64(plotW-plotRight)
	maxSec := 1
	for _, p := range pts {
		maxSec = max(maxSec, p.Second)
	}
	xOf := func(sec int) float64 { return x0 + (x1-x0)*float64(sec)/float64(maxSec) }

	// Latency panel, log scale.
	lo, hi := math.Inf(1), 0.0
	for _, p := range pts {
		if p.Deliver.Count == 0 {
			continue
		}
		for _, s := range percentileSeries {
			v := math.Max(s.get(p.Deliver), plotMinMs)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if hi == 0 {
		lo, hi = plotFloorMs, 10
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	yLat := func(ms float64) float64 {
		ms = math.Max(ms, lo)
		f := (math.Log10(ms) - math.Log10(lo)) / (math.Log10(hi) - math.Log10(lo))
		return latBottom - f*(latBottom-latTop)
	}
	if w := warmupSeconds(pts); w > 0 {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f3f3f3"/>`+"\n", x0, latTop, xOf(w)-x0, rateBottom-latTop)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s fill="#888">warmup</text>`+"\n", x0+4, latTop+14, plotFont)
	}
	for d := lo; d <= hi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := d * m
			if v > hi*1.0001 {
				break
			}
			y := yLat(v)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0, y, x1, y, plotGridColour)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" %s text-anchor="end">%s</text>`+"\n", x0-6, y+4, plotFont, fmtMs(v))
		}
	}
	fmt.Fprintf(&b, `<text x="14" y="%d" %s transform="rotate(-90 14 %d)" text-anchor="middle">send → deliver (log)</text>`+"\n",
		(latTop+latBottom)/2, plotFont, (latTop+latBottom)/2)
	for i, s := range percentileSeries {
		var line []string
		for _, p := range pts {
			if p.Deliver.Count == 0 {
				continue
			}
			line = append(line, fmt.Sprintf("%.1f,%.1f", xOf(p.Second), yLat(s.get(p.Deliver))))
		}
		if len(line) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`+"\n", s.colour, strings.Join(line, " "))
		}
		ly := latTop + 10 + 20*i
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", x1+14, ly, x1+34, ly, s.colour)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s>%s</text>`+"\n", x1+40, ly+4, plotFont, s.name)
	}
	axes(&b, x0, x1, latTop, latBottom)

	// Throughput panel, linear.
	top := 1.0
	for _, p := range pts {
		top = math.Max(top, math.Max(float64(p.Counts.Sends), float64(p.Counts.Deliveries)))
	}
	top = niceCeil(top)
	yRate := func(v float64) float64 { return rateBottom - v/top*(rateBottom-rateTop) }
	for _, f := range []float64{0, 0.5, 1} {
		y := yRate(top * f)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0, y, x1, y, plotGridColour)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" %s text-anchor="end">%s</text>`+"\n", x0-6, y+4, plotFont, siCount(top*f))
	}
	fmt.Fprintf(&b, `<text x="14" y="%d" %s transform="rotate(-90 14 %d)" text-anchor="middle">per second</text>`+"\n",
		(rateTop+rateBottom)/2, plotFont, (rateTop+rateBottom)/2)
	for i, s := range []struct {
		name, colour string
		get          func(Counts) int64
	}{
		{"deliveries/s", "#9467bd", func(c Counts) int64 { return c.Deliveries }},
		{"sends/s", "#8c564b", func(c Counts) int64 { return c.Sends }},
	} {
		var line []string
		for _, p := range pts {
			line = append(line, fmt.Sprintf("%.1f,%.1f", xOf(p.Second), yRate(float64(s.get(p.Counts)))))
		}
		if len(line) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`+"\n", s.colour, strings.Join(line, " "))
		}
		ly := rateTop + 10 + 20*i
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", x1+14, ly, x1+34, ly, s.colour)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s>%s</text>`+"\n", x1+40, ly+4, plotFont, s.name)
	}
	axes(&b, x0, x1, rateTop, rateBottom)
	for sec := 0; sec <= maxSec; sec += tickStep(maxSec) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s text-anchor="middle">%ds</text>`+"\n", xOf(sec), rateBottom+16, plotFont, sec)
	}
	l := rep.Latency.Deliver
	foot := []string{
		fmt.Sprintf("measured window: send→deliver %s", l),
		fmt.Sprintf("%.0f sends/s, %.0f acks/s, %.0f deliveries/s; lost %d, duplicated %d, reordered %d, gaps %d",
			rep.Run.SendsPerSec, rep.Run.AcksPerSec, rep.Run.DeliveriesPerSec, rep.Check.Lost, rep.Check.Duplicated, rep.Check.Reordered, rep.Check.Gaps),
	}
	for i, line := range foot {
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s fill="#444">%s</text>`+"\n", plotLeft, plotFootY+18*i, plotFont, html.EscapeString(line))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func axes(b *bytes.Buffer, x0, x1 float64, top, bottom int) {
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" points="%.1f,%d %.1f,%d %.1f,%d"/>`+"\n", plotAxis, x0, top, x0, bottom, x1, bottom)
}

func warmupSeconds(pts []SeriesPoint) int {
	w := 0
	for _, p := range pts {
		if p.Phase == "warmup" {
			w = max(w, p.Second)
		}
	}
	return w
}

func tickStep(maxSec int) int {
	for _, s := range []int{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600} {
		if maxSec/s <= 12 {
			return s
		}
	}
	return 7200
}

func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func siCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// Replot redraws the plot of a saved report (--json) into plotPath.
func Replot(jsonPath, plotPath string) error {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", jsonPath, err)
	}
	return writePlot(plotPath, &rep)
}
