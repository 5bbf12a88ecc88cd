package compute

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Profiler wraps a Backend and, while On, adds the wall time of every op to
// a per-op total. It flushes the backend after each timed op so that device
// backends, which queue work, are timed too (which slows them); the CPU
// backend runs ops synchronously and is timed as it runs.
type Profiler struct {
	Backend
	On bool

	mu    sync.Mutex
	stats map[string]*OpStat
}

// OpStat is the accumulated cost of one op kind.
type OpStat struct {
	Op    string        // "MatMul I2_S", "RMSNorm", ...
	Calls int           // number of calls
	Time  time.Duration // total wall time
	Bytes int64         // weight bytes read (MatMul only)
}

// NewProfiler wraps b; profiling starts off.
func NewProfiler(b Backend) *Profiler { return &Profiler{Backend: b} }

// Reset clears the totals.
func (p *Profiler) Reset() {
	p.mu.Lock()
	p.stats = nil
	p.mu.Unlock()
}

// Stats returns the totals, most expensive first.
func (p *Profiler) Stats() []OpStat {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]OpStat, 0, len(p.stats))
	for _, s := range p.stats {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	return out
}

// MaxHeadDim forwards to the wrapped backend's limit, if it has one.
func (p *Profiler) MaxHeadDim() int {
	if l, ok := p.Backend.(HeadDimLimiter); ok {
		return l.MaxHeadDim()
	}
	return 1 << 30
}

func (p *Profiler) time(op string, bytes int64, f func()) {
	if !p.On {
		f()
		return
	}
	t0 := time.Now()
	f()
	_ = p.Backend.Flush()
	d := time.Since(t0)
	p.mu.Lock()
	if p.stats == nil {
		p.stats = map[string]*OpStat{}
	}
	s := p.stats[op]
	if s == nil {
		s = &OpStat{Op: op}
		p.stats[op] = s
	}
	s.Calls++
	s.Time += d
	s.Bytes += bytes
	p.mu.Unlock()
}

func (p *Profiler) Embed(dst, table, ids Tensor) {
	p.time("Embed", 0, func() { p.Backend.Embed(dst, table, ids) })
}

func (p *Profiler) RMSNorm(dst, x, w Tensor, eps float32) {
	p.time("RMSNorm", 0, func() { p.Backend.RMSNorm(dst, x, w, eps) })
}

func (p *Profiler) MatMul(dst, w, x Tensor) {
	bytes, _ := w.DType().ByteSize(int64(Elements(w.Shape())))
	p.time(fmt.Sprint("MatMul ", w.DType(), w.Shape()), bytes, func() { p.Backend.MatMul(dst, w, x) })
}

// MatMuls forwards to the wrapped backend's MatMuls (one timed op), or runs
// the matmuls one by one.
func (p *Profiler) MatMuls(dst, w []Tensor, x Tensor) {
	m, ok := p.Backend.(MultiMatMuler)
	if !ok {
		for i := range w {
			p.MatMul(dst[i], w[i], x)
		}
		return
	}
	var bytes int64
	name := "MatMuls"
	for _, t := range w {
		b, _ := t.DType().ByteSize(int64(Elements(t.Shape())))
		bytes += b
		name += fmt.Sprint(" ", t.DType(), t.Shape())
	}
	p.time(name, bytes, func() { m.MatMuls(dst, w, x) })
}

func (p *Profiler) Scale(dst, x Tensor, s float32) {
	p.time("Scale", 0, func() { p.Backend.Scale(dst, x, s) })
}

func (p *Profiler) RoPE(dst, x, pos, table Tensor, rp RoPEParams) {
	p.time("RoPE", 0, func() { p.Backend.RoPE(dst, x, pos, table, rp) })
}

func (p *Profiler) StoreKV(cache, x, pos Tensor) {
	p.time("StoreKV", 0, func() { p.Backend.StoreKV(cache, x, pos) })
}

func (p *Profiler) Attention(dst, q, k, v, pos Tensor, ap AttnParams) {
	p.time("Attention", 0, func() { p.Backend.Attention(dst, q, k, v, pos, ap) })
}

func (p *Profiler) Penalize(logits, ids Tensor, penalty float32) {
	p.time("Penalize", 0, func() { p.Backend.Penalize(logits, ids, penalty) })
}

func (p *Profiler) TopK(dst, logits Tensor, k int) {
	p.time("TopK", 0, func() { p.Backend.TopK(dst, logits, k) })
}

func (p *Profiler) RoundF16(dst, x Tensor) {
	p.time("RoundF16", 0, func() { p.Backend.RoundF16(dst, x) })
}

func (p *Profiler) ActMul(dst, gate, up Tensor, act Activation) {
	p.time("ActMul", 0, func() { p.Backend.ActMul(dst, gate, up, act) })
}

func (p *Profiler) Add(dst, a, b Tensor) {
	p.time("Add", 0, func() { p.Backend.Add(dst, a, b) })
}
