//go:build linux

package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	colWsloop = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colOther  = color.RGBA{R: 0xa0, G: 0xa0, B: 0xa0, A: 0xff}
	colFloor  = color.RGBA{R: 0x40, G: 0x40, B: 0x40, A: 0xff}
	colRound  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// writeCharts draws one PNG bar chart per scenario and metric: a bar per
// server at its median, wsloop's bar in colour, floor's in dark grey,
// every round's value as a dot.
func writeCharts(dir string, sums []summary) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	byTag := map[string][]summary{}
	var tags []string
	for _, s := range sums {
		if _, ok := byTag[s.Tag]; !ok {
			tags = append(tags, s.Tag)
		}
		byTag[s.Tag] = append(byTag[s.Tag], s)
	}
	var files []string
	for _, tag := range tags {
		group := byTag[tag]
		var ok []summary
		for _, s := range group {
			if s.RoundsOK > 0 {
				ok = append(ok, s)
			}
		}
		if len(ok) == 0 {
			continue
		}
		_, charts := metricsFor(ok[0].Scenario)
		for _, m := range charts {
			f := filepath.Join(dir, fmt.Sprintf("%s_%s.png", tag, m.key))
			if err := drawBar(f, tag, m, ok); err != nil {
				return files, fmt.Errorf("chart %s: %w", f, err)
			}
			files = append(files, f)
		}
	}
	return files, nil
}

func drawBar(file, tag string, m metric, sums []summary) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %s (%s is better)", tag, m.title, m.better)
	p.Y.Label.Text = m.title
	if m.unit != "" {
		p.Y.Label.Text += " (" + m.unit + ")"
	}
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	names := make([]string, len(sums))
	w := vg.Points(28)
	for i := range sums {
		s := &sums[i]
		names[i] = s.Server
		vals := make(plotter.Values, len(sums))
		vals[i] = *m.sum(s) / m.scale
		bar, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bar.LineStyle.Width = vg.Length(0)
		bar.Color = colOther
		switch {
		case strings.HasPrefix(s.Server, "wsloop"):
			bar.Color = colWsloop
		case s.Server == "floor":
			bar.Color = colFloor
		}
		p.Add(bar)
		// Each round's own value.
		var pts plotter.XYs
		for _, r := range s.Raw {
			if r.Error == "" {
				pts = append(pts, plotter.XY{X: float64(i), Y: m.get(&r) / m.scale})
			}
		}
		if len(pts) > 0 {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return err
			}
			sc.GlyphStyle.Color = colRound
			sc.GlyphStyle.Radius = vg.Points(2)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(sc)
		}
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(sums))-0.4
	return p.Save(6*vg.Inch, 3.5*vg.Inch, file)
}
