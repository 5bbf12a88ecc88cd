package cpu

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPoolCoversEveryIndexOnce runs many jobs of random sizes back to back
// and checks that every index is visited exactly once, in chunks whose
// boundaries are multiples of align.
func TestPoolCoversEveryIndexOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 8} {
		p := newPool(workers)
		r := rand.New(rand.NewPCG(uint64(workers), 1))
		p.setStats(true)
		parallel := 0
		for job := range 2000 {
			n, align := r.IntN(300), 1+r.IntN(40)
			seen := make([]atomic.Int32, n)
			p.run(n, align, func(lo, hi int) {
				if lo%align != 0 || (hi%align != 0 && hi != n) || lo >= hi {
					t.Errorf("job %d: chunk [%d, %d) of n %d, align %d", job, lo, hi, n, align)
				}
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			})
			for i := range seen {
				require.Equal(t, int32(1), seen[i].Load(), "workers %d job %d index %d of %d", workers, job, i, n)
			}
			if workers > 1 && (n+align-1)/align >= 2 {
				parallel++
			}
		}
		s := p.schedStats()
		require.Equal(t, parallel, s.Sections)
		require.Equal(t, workers, s.Workers)
		require.LessOrEqual(t, s.Busy, time.Duration(workers)*s.Wall)
		p.close()
	}
}

// TestPoolSlowWorker checks that a job does not wait for a worker that is
// held up: with one chunk stalled, the other chunks are all taken by the
// other goroutines meanwhile.
func TestPoolSlowWorker(t *testing.T) {
	p := newPool(4)
	defer p.close()
	var done atomic.Int32
	release := make(chan struct{})
	var stalled atomic.Bool
	go func() {
		// Let the other chunks finish while one is stalled, then release it.
		for done.Load() < 15 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	p.run(16, 1, func(lo, hi int) {
		if stalled.CompareAndSwap(false, true) {
			<-release
		}
		done.Add(int32(hi - lo))
	})
	require.Equal(t, int32(16), done.Load())
}
