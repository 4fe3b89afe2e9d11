package main

import (
	"sort"
	"time"
)

type summary struct {
	n              int
	mean, p50, p99 time.Duration
}

func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var total time.Duration
	for _, d := range s {
		total += d
	}
	return summary{n: len(s), mean: total / time.Duration(len(s)), p50: s[len(s)/2], p99: s[len(s)*99/100]}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
