package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a persistent set of worker goroutines. run splits [0, n) into one
// contiguous chunk per worker; the caller's goroutine takes the first chunk.
// No goroutine is created per op.
//
// Decoding one token runs a few hundred short parallel sections back to
// back, so waking a sleeping goroutine for each (tens of microseconds) would
// cost a large part of a token's time. Workers therefore spin on the job
// counter for a while after each job and only then sleep on a condition
// variable.
type pool struct {
	workers int

	mu   sync.Mutex
	cond *sync.Cond
	seq  atomic.Uint64 // incremented for every job
	// the current job
	fn      func(lo, hi int)
	chunks  [][2]int // one per worker, reused by every job
	pending atomic.Int32
	closed  atomic.Bool
	wg      sync.WaitGroup
}

// spinFor is how long an idle worker polls for the next job before sleeping.
// It spans the work a generation loop does between two tokens (reading and
// sampling the logits): waking a sleeping worker costs tens to hundreds of
// microseconds on a virtual machine, once per token at 200 µs.
const spinFor = 3 * time.Millisecond

func newPool(workers int) *pool {
	if workers < 1 {
		workers = 1
	}
	p := &pool{workers: workers, chunks: make([][2]int, workers)}
	p.cond = sync.NewCond(&p.mu)
	for i := 1; i < workers; i++ {
		p.wg.Add(1)
		go p.worker(i)
	}
	return p
}

func (p *pool) worker(id int) {
	defer p.wg.Done()
	var seen uint64
	for {
		// Spin, then sleep, until a new job (or close) appears.
		deadline := time.Now().Add(spinFor)
		for spins := 0; p.seq.Load() == seen && !p.closed.Load(); spins++ {
			if spins&255 == 255 {
				if time.Now().After(deadline) {
					p.mu.Lock()
					for p.seq.Load() == seen && !p.closed.Load() {
						p.cond.Wait()
					}
					p.mu.Unlock()
					break
				}
				runtime.Gosched()
			}
		}
		if p.closed.Load() {
			return
		}
		seen = p.seq.Load()
		if id < len(p.chunks) {
			c := p.chunks[id]
			if c[0] < c[1] {
				p.fn(c[0], c[1])
			}
		}
		p.pending.Add(-1)
	}
}

// run calls fn over [0, n) split in chunks whose boundaries are multiples of
// align (the last chunk takes the rest), and waits for all of them. It must
// not be called concurrently.
func (p *pool) run(n, align int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if align < 1 {
		align = 1
	}
	w := p.workers
	units := (n + align - 1) / align
	if units < 2 || w == 1 {
		fn(0, n)
		return
	}
	per := (units + w - 1) / w
	chunks := p.chunks
	for i := range chunks {
		chunks[i] = [2]int{min(i*per*align, n), min((i+1)*per*align, n)}
	}
	p.fn = fn
	p.pending.Store(int32(w - 1))
	p.mu.Lock()
	p.seq.Add(1)
	p.cond.Broadcast()
	p.mu.Unlock()
	if chunks[0][0] < chunks[0][1] {
		fn(chunks[0][0], chunks[0][1])
	}
	for spins := 0; p.pending.Load() != 0; spins++ {
		if spins&255 == 255 {
			runtime.Gosched()
		}
	}
	p.fn = nil
}

func (p *pool) close() {
	if p.closed.Swap(true) {
		return
	}
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}
