// Package cpu is the fast pure-Go backend: rows split across a persistent
// worker pool, vector kernels (assembly on amd64) from cpu/kernels. It is
// checked against the numeric oracle, package reference, whose arithmetic it
// reuses where it has no faster path.
package cpu

import (
	"fmt"
	"math"
	"runtime"

	"github.com/klauspost/cpuid/v2"

	"bitnet/cpu/kernels"
	"bitnet/engine/compute"
	"bitnet/engine/compute/host"
	"bitnet/gguf"
	"bitnet/reference"
)

// Options configures the backend.
type Options struct {
	// Threads is the number of workers; 0 means the number of CPUs.
	Threads int
}

// Backend implements compute.Backend on the CPU.
type Backend struct {
	host.Store
	ref  *reference.Backend // the ops without a faster path
	opt  Options
	pool *pool
	scr  scratch
	screenCounters
}

var _ compute.Backend = (*Backend)(nil)

// New returns a CPU backend.
func New(opt Options) *Backend {
	if opt.Threads <= 0 {
		opt.Threads = DefaultThreads()
	}
	return &Backend{Store: host.Store{Name: name}, ref: reference.New(), opt: opt, pool: newPool(opt.Threads)}
}

// DefaultThreads is the number of physical cores (memory-bound kernels gain
// nothing from hyper-threads), or the number of CPUs when that is unknown.
func DefaultThreads() int {
	if n := cpuid.CPU.PhysicalCores; n > 0 {
		return min(n, runtime.NumCPU())
	}
	return runtime.NumCPU()
}

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// Device describes the path and thread count.
func (b *Backend) Device() string {
	return fmt.Sprintf("%d threads, %s kernels", b.opt.Threads, kernels.Path())
}

// Threads returns the worker count.
func (b *Backend) Threads() int { return b.opt.Threads }

// Close stops the worker pool.
func (b *Backend) Close() error {
	b.pool.close()
	return nil
}

// Flush is a no-op: every op runs when called.
func (b *Backend) Flush() error { return nil }

// tensor is the host tensor both CPU backends use.
type tensor = host.Tensor

const name = "cpu"

func asT(op string, t compute.Tensor) *tensor { return host.As(name, op, t) }

func rows(t *tensor) (k, n int) { return compute.RowsOf(t) }

// RMSNorm: y = x * (1/sqrt(mean(x^2)+eps)) * w; the sum of squares in float64,
// the rest in float32, in that order (as ggml's rms_norm followed by mul).
func (b *Backend) RMSNorm(dstT, xT, wT compute.Tensor, eps float32) {
	dst, x, w := asT("RMSNorm", dstT), asT("RMSNorm", xT), asT("RMSNorm", wT)
	compute.CheckSame("RMSNorm", dst, x)
	k, r := rows(x)
	if w.F32 == nil || len(w.F32) != k {
		panic(fmt.Sprintf("cpu.RMSNorm: weight %v %s for rows of %d", w.Shape(), w.DType(), k))
	}
	norm := rmsNormRowFast
	if r == 1 {
		norm(dst.F32[:k], x.F32[:k], w.F32, eps)
		return
	}
	b.pool.run(r, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			norm(dst.F32[i*k:(i+1)*k], x.F32[i*k:(i+1)*k], w.F32, eps)
		}
	})
}

// rmsNormRowFast is reference.RMSNormRow with the sum of squares in vector
// partial sums (float64; the order of summation differs) and the scaling
// vectorized (bit-identical).
func rmsNormRowFast(dst, x, w []float32, eps float32) {
	mean := float32(kernels.SumSquaresF64(x) / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	kernels.ScaleMulF32(dst, x, w, scale)
}

// Scale multiplies elementwise by s (the reference's loop).
func (b *Backend) Scale(dst, x compute.Tensor, v float32) { b.ref.Scale(dst, x, v) }

// Add: dst = a + b.
func (b *Backend) Add(dstT, aT, bT compute.Tensor) {
	dst, a, c := asT("Add", dstT), asT("Add", aT), asT("Add", bT)
	compute.CheckSame("Add", dst, a, c)
	kernels.AddF32(dst.F32, a.F32, c.F32)
}

// RoundF16 rounds each element to the nearest F16 value, ties to even.
func (b *Backend) RoundF16(dstT, xT compute.Tensor) {
	dst, x := asT("RoundF16", dstT), asT("RoundF16", xT)
	compute.CheckSame("RoundF16", dst, x)
	kernels.RoundF16(dst.F32, x.F32)
}

// ActMul: dst = act(gate) * up.
func (b *Backend) ActMul(dstT, gateT, upT compute.Tensor, act compute.Activation) {
	dst, g, u := asT("ActMul", dstT), asT("ActMul", gateT), asT("ActMul", upT)
	compute.CheckSame("ActMul", dst, g, u)
	switch act {
	case compute.ReLU2:
		kernels.ReLU2MulF32(dst.F32, g.F32, u.F32)
	case compute.SiLU:
		for i, v := range g.F32 {
			dst.F32[i] = reference.SiLU(v) * u.F32[i]
		}
	default:
		panic(fmt.Sprintf("cpu.ActMul: unknown activation %v", act))
	}
}

// RoPE rotates each head of each row with the table row of its position
// (the reference's loop: it is memory-bound and small).
func (b *Backend) RoPE(dst, x, pos, table compute.Tensor, p compute.RoPEParams) {
	b.ref.RoPE(dst, x, pos, table, p)
}

// StoreKV writes x's rows into the cache at rows pos[0], pos[0]+1, ...
func (b *Backend) StoreKV(cacheT, xT, posT compute.Tensor) {
	k, r, cn := compute.CheckStoreKV(cacheT, xT, posT)
	c, x := asT("StoreKV", cacheT), asT("StoreKV", xT)
	pos0 := host.Consecutive(name, "StoreKV", asT("StoreKV", posT).I32, cn)
	_ = r
	switch c.DType() {
	case gguf.F32:
		copy(c.F32[pos0*k:], x.F32)
	case gguf.F16:
		kernels.F32ToF16(c.F16[pos0*k:], x.F32)
	default:
		panic(fmt.Sprintf("cpu.StoreKV: cache type %s", c.DType()))
	}
}

// attendFast computes one head's attention output acc [hd] for the query
// qh [hd] over the len(sc) positions of the F32 caches k and v whose rows
// (stride elements apart) start at k[0] and v[0]; sc is scratch for the
// scores. The softmax is the reference's (scaled float32 scores, row maximum
// subtracted, float64 sum of the exponentials), the products use the vector
// kernels. F16 caches take attentionDecodeF16.
func attendFast(qh, k, v []float32, stride int, sc, acc []float32, scale float32) {
	kernels.DotsF32(qh, k, stride, sc)
	kernels.SoftmaxF32(sc, scale)
	clear(acc)
	kernels.AxpysF32(sc, v, stride, acc)
}

// Attention: causal softmax(Q.K^T*scale) V with grouped KV heads, as the
// reference computes it (Q rounded to the cache type, float32 scores, the
// row maximum subtracted, the exponentials summed in float64) with vector
// kernels: only summation orders differ.
func (b *Backend) Attention(dstT, qT, kT, vT, posT compute.Tensor, p compute.AttnParams) {
	r, nctx := compute.CheckAttention(dstT, qT, kT, vT, posT, p)
	dst, q, kc, vc := asT("Attention", dstT), asT("Attention", qT), asT("Attention", kT), asT("Attention", vT)
	pos0 := host.Consecutive(name, "Attention", asT("Attention", posT).I32, nctx)
	qk, _ := rows(q)
	kvk, _ := rows(kc)
	hd := p.HeadDim
	group := p.NHead / p.NKVHead
	nkv := pos0 + r
	if r > 1 && kc.DType() == gguf.F16 {
		b.attentionBatchFast(dst, q, kc, vc, p, pos0)
		return
	}
	if kc.F16 != nil { // one row
		b.attentionDecodeF16(dst, q, kc, vc, p, pos0)
		return
	}
	// F32 caches.
	b.pool.run(r*p.NHead, 1, func(lo, hi int) {
		sc := make([]float32, nkv)
		acc := make([]float32, hd)
		for idx := lo; idx < hi; idx++ {
			i, h := idx/p.NHead, idx%p.NHead
			kvh := h / group
			n := pos0 + i + 1 // causal: positions 0..pos0+i
			attendFast(q.F32[i*qk+h*hd:i*qk+(h+1)*hd], kc.F32[kvh*hd:], vc.F32[kvh*hd:], kvk, sc[:n], acc, p.Scale)
			copy(dst.F32[i*qk+h*hd:], acc)
		}
	})
}

// Penalize applies the repetition penalty (compute.Penalize).
func (b *Backend) Penalize(logits, ids compute.Tensor, penalty float32) {
	b.ref.Penalize(logits, ids, penalty)
}

// TopK selects the k largest logits (compute.TopK).
func (b *Backend) TopK(dst, logits compute.Tensor, k int) { b.ref.TopK(dst, logits, k) }

// SetSchedStats turns the worker pool's scheduling statistics on or off and
// resets them (a few clock reads per worker and parallel section while on).
func (b *Backend) SetSchedStats(on bool) { b.pool.setStats(on) }

// SchedStats returns the worker pool's statistics since SetSchedStats.
func (b *Backend) SchedStats() SchedStats { return b.pool.schedStats() }
