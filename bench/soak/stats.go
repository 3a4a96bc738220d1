package soak

import (
	"math"
	"slices"
)

// slope is the least-squares slope of ys over xs (units of y per unit of
// x); 0 with fewer than two distinct xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// mean of ys; NaN when empty.
func mean(ys []float64) float64 {
	if len(ys) == 0 {
		return math.NaN()
	}
	var s float64
	for _, y := range ys {
		s += y
	}
	return s / float64(len(ys))
}

// median of ys; NaN when empty.
func median(ys []float64) float64 {
	if len(ys) == 0 {
		return math.NaN()
	}
	s := slices.Clone(ys)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quantile of ys (q in [0,1], nearest rank); NaN when empty.
func quantile(ys []float64, q float64) float64 {
	if len(ys) == 0 {
		return math.NaN()
	}
	s := slices.Clone(ys)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
