package cpu

import (
	"testing"
	"time"
)

func TestZZPool(t *testing.T) {
	p := newPool(2)
	defer p.close()
	var sink [2]int
	const n = 200000
	t0 := time.Now()
	var lat time.Duration
	for i := 0; i < n; i++ {
		pub := time.Now()
		p.run(2, 1, func(lo, hi int) {
			if lo == 1 {
				lat += time.Since(pub)
			}
			sink[lo]++
		})
	}
	d := time.Since(t0)
	t.Logf("round trip %v, worker start latency %v", d/n, lat/n)
	t0 = time.Now()
	for i := 0; i < n; i++ {
		_ = time.Now()
	}
	t.Logf("time.Now %v", time.Since(t0)/n)
}
