package cpu

import (
	"sync"
)

// pool is a persistent set of worker goroutines. run splits [0, n) into one
// contiguous chunk per worker; the caller's goroutine takes the first chunk.
// No goroutine is created per op.
type pool struct {
	workers int
	jobs    chan job
	wg      sync.WaitGroup
	once    sync.Once
}

type job struct {
	fn     func(lo, hi int)
	lo, hi int
	done   *sync.WaitGroup
}

func newPool(workers int) *pool {
	if workers < 1 {
		workers = 1
	}
	p := &pool{workers: workers, jobs: make(chan job)}
	for i := 1; i < workers; i++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for j := range p.jobs {
				j.fn(j.lo, j.hi)
				j.done.Done()
			}
		}()
	}
	return p
}

// run calls fn over [0, n) split in chunks whose boundaries are multiples of
// align (the last chunk takes the rest), and waits for all of them.
func (p *pool) run(n, align int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if align < 1 {
		align = 1
	}
	w := p.workers
	units := (n + align - 1) / align
	if units < w {
		w = units
	}
	if w <= 1 {
		fn(0, n)
		return
	}
	per := (units + w - 1) / w
	var done sync.WaitGroup
	for i := 1; i < w; i++ {
		lo := i * per * align
		hi := min((i+1)*per*align, n)
		if lo >= hi {
			continue
		}
		done.Add(1)
		p.jobs <- job{fn: fn, lo: lo, hi: hi, done: &done}
	}
	fn(0, min(per*align, n))
	done.Wait()
}

func (p *pool) close() {
	p.once.Do(func() {
		close(p.jobs)
		p.wg.Wait()
	})
}
