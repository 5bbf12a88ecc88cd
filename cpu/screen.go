package cpu

import (
	"math"
	"sync/atomic"

	"bitnet/cpu/kernels"
	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/reference"
)

var (
	_ compute.Screener      = (*Backend)(nil)
	_ compute.ScreenCounter = (*Backend)(nil)
)

// ScreenMatMul runs the Q8_0 approximation over every row, applies the
// screen's rule (compute.ScreenRows, the rows of keep kept whatever their
// limits) and computes the rows it keeps with the weights themselves,
// each as MatMul computes it (floatRow).
func (b *Backend) ScreenMatMul(dstT, wT, approxT, boundT, xT compute.Tensor, k int, keepT compute.Tensor) {
	K, N := compute.CheckScreen(dstT, wT, approxT, boundT, xT, k, keepT)
	dst, w, aw, bound, x := asT("ScreenMatMul", dstT), asT("ScreenMatMul", wT), asT("ScreenMatMul", approxT), asT("ScreenMatMul", boundT), asT("ScreenMatMul", xT)
	s := &b.scr
	xs := x.F32
	var x1 float32
	for _, v := range xs {
		x1 += float32(math.Abs(float64(v)))
	}
	a := dst.F32 // the approximation, then the exact rows
	b.matmulQuantFast(a, aw, xs, K, N, 1, kernels.DotQ8_0Rows)
	s.screenLo = grow(s.screenLo, N)
	s.screenHi = grow(s.screenHi, N)
	lo, hi := s.screenLo, s.screenHi
	b.pool.run(N, 256, func(l, h int) {
		for r := l; r < h; r++ {
			lo[r], hi[r] = compute.ScreenLimits(a[r], bound.F32[r], x1)
		}
	})
	if keepT != nil {
		inf := float32(math.Inf(1))
		for _, id := range asT("ScreenMatMul", keepT).I32 {
			if id >= 0 && int(id) < N {
				lo[id], hi[id] = -inf, inf
			}
		}
	}
	m, all, cands := compute.ScreenRows(lo, k, s.screenCands)
	s.screenCands = cands
	if all {
		b.screened.Add(int64(N))
		b.screenCalls.Add(1)
		b.MatMul(dstT, wT, xT)
		return
	}
	kept := s.screenRows[:0]
	negInf := float32(math.Inf(-1))
	for r := range N {
		if hi[r] < m {
			a[r] = negInf
		} else {
			kept = append(kept, int32(r))
		}
	}
	s.screenRows = kept
	b.pool.run(len(kept), 8, func(l, h int) {
		var buf []float32
		if w.DType() == gguf.BF16 {
			buf = make([]float32, K)
		}
		for _, r := range kept[l:h] {
			a[r] = floatRow(w, int(r), xs, K, buf)
		}
	})
	b.screened.Add(int64(len(kept)))
	b.screenCalls.Add(1)
}

// ScreensByDefault is true: on the CPU a screened 2B-4T head takes 20.7
// ms instead of 33.6 (2 threads), and decoding gains 12-13%.
func (b *Backend) ScreensByDefault() bool { return true }

// floatRow returns output row r of MatMul(w, x) for a float weight w [K, N]
// and one token x, with MatMul's arithmetic for w's type: the F16 kernel
// matmulF16Fast runs on row blocks, the F32 dot matmulF32Fast runs (it
// calls floatRow), and the reference's float64 dot of matmulFloat for the
// others (BF16); buf holds K values for those.
func floatRow(w *tensor, r int, x []float32, K int, buf []float32) float32 {
	switch w.DType() {
	case gguf.F16:
		var out [1]float32
		kernels.MatF16(w.F16[r*K:(r+1)*K], K, 1, x, K, 1, out[:], 1)
		return out[0]
	case gguf.F32:
		return kernels.DotF32(w.F32[r*K:(r+1)*K], x)
	default:
		w.Row(r, buf)
		return reference.DotF64(buf, x)
	}
}

// ScreenStats returns how many screened matmuls ran and how many rows they
// computed exactly in all.
func (b *Backend) ScreenStats() (calls, rows int64) {
	return b.screenCalls.Load(), b.screened.Load()
}

// screenCounters count ScreenMatMul's calls and exactly computed rows.
type screenCounters struct {
	screenCalls, screened atomic.Int64
}
