package soak

import (
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotProcs are the processes drawn, in legend order, with their colours.
var plotProcs = []struct {
	name string
	col  color.RGBA
}{
	{"worker0", color.RGBA{0x1f, 0x77, 0xb4, 0xff}},
	{"worker1", color.RGBA{0xff, 0x7f, 0x0e, 0xff}},
	{"worker2", color.RGBA{0x8c, 0x56, 0x4b, 0xff}},
	{"worker3", color.RGBA{0xe3, 0x77, 0xc2, 0xff}},
	{"supervisor", color.RGBA{0x7f, 0x7f, 0x7f, 0xff}},
	{"nats", color.RGBA{0x2c, 0xa0, 0x2c, 0xff}},
	{"edge", color.RGBA{0x94, 0x67, 0xbd, 0xff}},
	{"harness", color.RGBA{0xd6, 0x27, 0x28, 0xff}},
}

var windowFill = color.NRGBA{0xff, 0xc8, 0x00, 0x50}

// writePlots draws fds, goroutines and RSS over time, one line per
// process, with the fault windows shaded; it returns the files' names.
func writePlots(dir string, samples []sample, windows []Window) ([]string, error) {
	var files []string
	for _, m := range []metric{metricFDs, metricGoroutines, metricRSS} {
		p := plot.New()
		p.Title.Text = m.title + " over time"
		p.X.Label.Text = "seconds"
		p.Y.Label.Text = m.title
		if m.unit != "" {
			p.Y.Label.Text += " (" + m.unit + ")"
		}
		p.Legend.Top = true
		ymax := 0.0
		var lines []*plotter.Line
		var names []string
		for _, pp := range plotProcs {
			ts, ys := series(samples, pp.name, m, 0)
			var xy plotter.XYs
			for i := range ts {
				if ys[i] < 0 {
					continue
				}
				v := ys[i] / m.scale
				xy = append(xy, plotter.XY{X: ts[i], Y: v})
				ymax = math.Max(ymax, v)
			}
			if len(xy) == 0 {
				continue
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return files, err
			}
			l.Color = pp.col
			l.Width = vg.Points(1)
			lines = append(lines, l)
			names = append(names, pp.name)
		}
		ymax *= 1.4 // headroom for the legend and the window labels
		if err := shadeWindows(p, windows, ymax); err != nil {
			return files, err
		}
		for i, l := range lines {
			p.Add(l)
			p.Legend.Add(names[i], l)
		}
		p.Y.Min = 0
		p.Y.Max = ymax
		name := "soak-" + m.key + ".png"
		if err := p.Save(10*vg.Inch, 5*vg.Inch, filepath.Join(dir, name)); err != nil {
			return files, err
		}
		files = append(files, name)
	}
	name, err := writeChurnPlot(dir, samples, windows)
	if err != nil {
		return files, err
	}
	return append(files, name), nil
}

// shadeWindows shades the fault windows up to ymax, with their names.
func shadeWindows(p *plot.Plot, windows []Window, ymax float64) error {
	k := 0
	for _, w := range windows {
		if w.Name == "baseline" || w.Name == "churn" || w.Name == "steady" || w.Name == "settle" {
			continue
		}
		k++
		poly, err := plotter.NewPolygon(plotter.XYs{{X: w.From, Y: 0}, {X: w.To, Y: 0}, {X: w.To, Y: ymax}, {X: w.From, Y: ymax}})
		if err != nil {
			return err
		}
		poly.Color = windowFill
		poly.LineStyle.Width = 0
		p.Add(poly)
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: w.From, Y: ymax * (0.97 - 0.05*float64(k%3))}}, Labels: []string{w.Name}})
		if err != nil {
			return err
		}
		p.Add(lab)
	}
	return nil
}

// writeChurnPlot draws the churn's completed and failed connections per
// second between samples.
func writeChurnPlot(dir string, samples []sample, windows []Window) (string, error) {
	p := plot.New()
	p.Title.Text = "churn: connections per second"
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = "connections/s"
	p.Legend.Top = true
	var ok, failed plotter.XYs
	var prev *sample
	ymax := 1.0
	for i := range samples {
		s := &samples[i]
		if s.Proc != "churn" {
			continue
		}
		if prev != nil && s.T > prev.T {
			dt := s.T - prev.T
			ok = append(ok, plotter.XY{X: s.T, Y: float64(s.ChurnOK-prev.ChurnOK) / dt})
			failed = append(failed, plotter.XY{X: s.T, Y: float64(s.ChurnFailed-prev.ChurnFailed) / dt})
			ymax = math.Max(ymax, ok[len(ok)-1].Y)
		}
		prev = s
	}
	ymax *= 1.4
	if err := shadeWindows(p, windows, ymax); err != nil {
		return "", err
	}
	for _, l := range []struct {
		name string
		xy   plotter.XYs
		col  color.RGBA
	}{{"completed", ok, plotProcs[0].col}, {"failed", failed, plotProcs[len(plotProcs)-1].col}} {
		if len(l.xy) == 0 {
			continue
		}
		line, err := plotter.NewLine(l.xy)
		if err != nil {
			return "", err
		}
		line.Color = l.col
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	p.Y.Min, p.Y.Max = 0, ymax
	name := "soak-churn.png"
	return name, p.Save(10*vg.Inch, 5*vg.Inch, filepath.Join(dir, name))
}
