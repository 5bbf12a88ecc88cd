package cpu

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a persistent set of worker goroutines. run splits [0, n) into a
// few contiguous chunks per worker, which the workers and the caller's
// goroutine claim one at a time until none is left, and returns when every
// chunk is done: a worker that starts late or runs slow (a busy core, a
// hyperthread sibling, a neighbour on a virtual machine) takes fewer chunks
// or none instead of holding the others up. No goroutine is created per op.
//
// Decoding one token runs a few hundred short parallel sections back to
// back, so waking a sleeping goroutine for each (tens of microseconds) would
// cost a large part of a token's time. Workers therefore spin on the job
// counter for a while after each job and only then sleep on a condition
// variable.
type pool struct {
	workers int

	mu     sync.Mutex
	cond   *sync.Cond
	seq    atomic.Uint64 // the current job's generation, incremented for every job
	closed atomic.Bool
	wg     sync.WaitGroup

	// The current job, written by run before it publishes the generation:
	// chunk c covers units [c*units/nChunks, (c+1)*units/nChunks) of align
	// elements each, the last one ending at n.
	fn                       func(lo, hi int)
	n, align, units, nChunks int
	// claim holds the job's generation (bits 32-63), its number of chunks
	// (16-31) and its next chunk (0-15): a claim succeeds only for the
	// generation the claimer saw, so a worker that wakes up after its job
	// is over claims nothing of the next one by mistake, and the fields
	// above are read only after a successful claim (the job cannot end, nor
	// the next one start, before that chunk is done).
	claim atomic.Uint64
	done  atomic.Int64 // chunks of the current job finished

	// Scheduling statistics, when stats is set: the section's start, and per
	// worker (each written by its worker only, a cache line apart) the time
	// from the start to its first chunk and the time running chunks.
	stats   atomic.Bool
	start   time.Time
	slots   []workerSlot
	section SchedStats
}

// workerSlot is one worker's statistics, padded to its own cache lines.
type workerSlot struct {
	delay, busy time.Duration
	_           [112]byte
}

// SchedStats describe the parallel sections run since the statistics were
// reset: how long they took and how the workers spent that time.
type SchedStats struct {
	Workers  int
	Sections int
	// Wall is the time from handing a section out to its last chunk
	// finishing, summed over sections.
	Wall time.Duration
	// Busy is the workers' time running chunks, summed over workers and
	// sections; at most Workers*Wall.
	Busy time.Duration
	// WakeUp is the time between a section's hand-out and each worker's
	// first chunk of it. The rest of Workers*Wall-Busy the workers spent
	// waiting for the slowest one, or woke up too late to take a chunk.
	WakeUp time.Duration
}

// Plus returns the statistics of s and o together (o's worker count).
func (s SchedStats) Plus(o SchedStats) SchedStats {
	return SchedStats{Workers: o.Workers, Sections: s.Sections + o.Sections, Wall: s.Wall + o.Wall,
		Busy: s.Busy + o.Busy, WakeUp: s.WakeUp + o.WakeUp}
}

// spinFor is how long an idle worker polls for the next job before sleeping.
// It spans the work a generation loop does between two tokens (reading and
// sampling the logits): waking a sleeping worker costs tens to hundreds of
// microseconds on a virtual machine, once per token at 200 µs.
const spinFor = 3 * time.Millisecond

// chunksPerWorker is how many chunks run splits a job into per worker
// (fewer when the job has fewer units): more evens out workers of unequal
// speed, fewer keeps each worker's weight stream longer.
// BITNET_CPU_CHUNKS overrides it (1 to 64), to compare on a given machine.
var chunksPerWorker = envInt("BITNET_CPU_CHUNKS", 4, 1, 64)

// envInt reads an integer from the environment, def when unset or outside
// [lo, hi].
func envInt(name string, def, lo, hi int) int {
	v, err := strconv.Atoi(os.Getenv(name))
	if err != nil || v < lo || v > hi {
		return def
	}
	return v
}

func newPool(workers int) *pool {
	if workers < 1 {
		workers = 1
	}
	p := &pool{workers: workers, slots: make([]workerSlot, workers)}
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
		p.work(id, seen)
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
	// Every chunk of the previous job is done, so no worker reads these
	// fields until the new generation is published below.
	p.fn, p.n, p.align, p.units = fn, n, align, units
	p.nChunks = min(units, w*chunksPerWorker, 0xffff)
	p.done.Store(0)
	stats := p.stats.Load()
	if stats {
		p.start = time.Now()
	}
	gen := p.seq.Load() + 1
	p.claim.Store(gen<<32 | uint64(p.nChunks)<<16)
	p.mu.Lock()
	p.seq.Store(gen)
	p.cond.Broadcast()
	p.mu.Unlock()
	p.work(0, gen)
	for spins := 0; p.done.Load() != int64(p.nChunks); spins++ {
		if spins&255 == 255 {
			runtime.Gosched()
		}
	}
	if stats {
		p.section.Wall += time.Since(p.start)
		p.section.Sections++
	}
}

// work claims chunks of job gen and runs them until none is left; id is
// the claimer's statistics slot.
func (p *pool) work(id int, gen uint64) {
	first := true
	for {
		v := p.claim.Load()
		c, nChunks := int(v&0xffff), int(v>>16&0xffff)
		if v>>32 != gen&0xffffffff || c >= nChunks {
			return // another job, or no chunk left
		}
		if !p.claim.CompareAndSwap(v, v+1) {
			continue
		}
		stats := p.stats.Load()
		var t0 time.Time
		if stats {
			t0 = time.Now()
			if first {
				p.slots[id].delay += t0.Sub(p.start)
			}
		}
		first = false
		lo := c * p.units / nChunks * p.align
		hi := min((c+1)*p.units/nChunks*p.align, p.n)
		p.fn(lo, hi)
		if stats {
			p.slots[id].busy += time.Since(t0)
		}
		p.done.Add(1)
	}
}

// setStats turns the scheduling statistics on or off and resets them. It
// must not be called concurrently with run.
func (p *pool) setStats(on bool) {
	p.stats.Store(on)
	p.section = SchedStats{}
	clear(p.slots)
}

// schedStats returns the statistics gathered since setStats. Sections run
// by the caller alone (too little work to split) are not counted.
func (p *pool) schedStats() SchedStats {
	s := p.section
	s.Workers = p.workers
	for i := range p.slots {
		s.Busy += p.slots[i].busy
		s.WakeUp += p.slots[i].delay
	}
	return s
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
