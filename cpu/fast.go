package cpu

import (
	"fmt"

	"bitnet/cpu/kernels"
	"bitnet/engine/compute"
	"bitnet/gguf"
)

// The fast path: the same arithmetic as the reference loops in matmul.go,
// through the kernels package (assembly on amd64) and cache blocking. Integer
// results are identical to the reference; float matvecs (F16, F32 weights)
// differ only in summation order.

// rowBlock is the number of weight rows processed against every token before
// moving on, so a block of weights stays in cache while the tokens stream by.
const rowBlock = 32

// tokenBlock is the number of prompt tokens whose quantized activations are
// kept hot in cache while a worker's weight rows stream through.
const tokenBlock = 32

// scratch buffers reused across calls (the backend is not used concurrently).
type scratch struct {
	q    []int8
	dots []int32
	scl  []float32
	sums []int32
	// decode attention: rounded queries and scores, by query head
	attnQ, attnS []float32
	// prompt attention: the caches' K and V transposed, by KV head
	attnKT, attnVT []uint16
	// matmulF16Fast: a tail of tokens padded to a tile
	x4 []float32
	// ScreenMatMul: the rows' bounds, the threshold's candidates, the
	// rows kept
	screenLo, screenHi []float32
	screenCands        []compute.Candidate
	screenRows         []int32
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// matmulFast runs the matmul on the fast path and reports whether it had one
// for the weight type.
func (b *Backend) matmulFast(dst []float32, w *tensor, x []float32, K, N, T int) bool {
	switch {
	case w.DType() == gguf.I2_S && !w.Code3:
		b.matmulI2SFast(dst, w, x, K, N, T)
	case w.DType() == gguf.F16:
		b.matmulF16Fast(dst, w, x, K, N, T)
	case w.DType() == gguf.F32:
		b.matmulF32Fast(dst, w, x, K, N, T)
	case w.DType() == gguf.Q8_0 && K%kernels.Q8Block == 0:
		b.matmulQuantFast(dst, w, x, K, N, T, kernels.DotQ8_0Rows)
	case w.DType() == gguf.Q6_K && K%kernels.Q6KBlock == 0:
		b.matmulQuantFast(dst, w, x, K, N, T, kernels.DotQ6KRows)
	default:
		return false
	}
	return true
}

func (b *Backend) matmulI2SFast(dst []float32, w *tensor, x []float32, K, N, T int) {
	s := &b.scr
	// A tail of tile-1 tokens past the kernel's tiles is padded to a whole
	// tile (whose extra row is computed from stale activations and
	// dropped): on 2 AVX-512 cores a 2B-4T pass of 3 tokens ran 8-10%
	// faster so (one of 2 tokens was 5-10% slower padded to 4; a pair now
	// runs as a tile of two).
	tile, Tp := kernels.MatI2STile(), T
	if r := T % tile; tile > 2 && r == tile-1 {
		Tp = T + 1
	}
	s.q = grow(s.q, K*Tp)
	s.scl = grow(s.scl, T)
	s.sums = grow(s.sums, T)
	s.dots = grow(s.dots, N*Tp)
	for t := 0; t < T; t++ {
		s.scl[t], s.sums[t] = kernels.QuantizeRow(x[t*K:(t+1)*K], s.q[t*K:(t+1)*K])
	}
	rb := K / 4
	q, dots, scl, sums := s.q, s.dots, s.scl, s.sums
	b.pool.run(N, rowBlock, func(lo, hi int) {
		// Tokens in blocks whose int8 rows stay in L2 while the worker's
		// weight rows pass by, weight rows in blocks reused by every token.
		rows := rowBlock
		if T == 1 {
			rows = hi - lo // a matvec streams its whole range in one call
		}
		for t0 := 0; t0 < Tp; t0 += tokenBlock {
			nt := min(tokenBlock, Tp-t0)
			for r := lo; r < hi; r += rows {
				n := min(rows, hi-r)
				kernels.MatI2S(w.Raw[r*rb:], rb, n, q[t0*K:], K, nt, dots[t0*N+r:], N)
			}
		}
		for t := 0; t < T; t++ {
			kernels.DequantI32(dst[t*N+lo:t*N+hi], dots[t*N+lo:], sums[t], scl[t], w.Scale)
		}
	})
}

func (b *Backend) matmulF16Fast(dst []float32, w *tensor, x []float32, K, N, T int) {
	// A tail of tile-1 tokens runs as a whole tile, its last token
	// repeated, into a block of its own (as matmulI2SFast pads).
	Tm, tail := T, 0
	if tile := kernels.MatF16Tile(); tile > 2 && tile <= f16TailTile && T%tile == tile-1 {
		tail, Tm = tile, T-(tile-1)
		s := &b.scr
		s.x4 = grow(s.x4, K*tail)
		copy(s.x4, x[Tm*K:T*K])
		copy(s.x4[(tail-1)*K:], x[(T-1)*K:T*K])
	}
	x4 := b.scr.x4
	b.pool.run(N, rowBlock, func(lo, hi int) {
		rows := rowBlock
		if T == 1 {
			rows = hi - lo
		}
		var o4 [f16TailTile * rowBlock]float32
		for r := lo; r < hi; r += rows {
			n := min(rows, hi-r)
			if Tm > 0 {
				kernels.MatF16(w.F16[r*K:], K, n, x, K, Tm, dst[r:], N)
			}
			if tail > 0 {
				kernels.MatF16(w.F16[r*K:], K, n, x4, K, tail, o4[:], rowBlock)
				for t := range tail - 1 {
					copy(dst[(Tm+t)*N+r:(Tm+t)*N+r+n], o4[t*rowBlock:t*rowBlock+n])
				}
			}
		}
	})
}

// f16TailTile is the largest token tile matmulF16Fast pads a tail to.
const f16TailTile = 4

func (b *Backend) matmulF32Fast(dst []float32, w *tensor, x []float32, K, N, T int) {
	b.pool.run(N, rowBlock, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			for t := 0; t < T; t++ {
				dst[t*N+n] = floatRow(w, n, x[t*K:(t+1)*K], K, nil)
			}
		}
	})
}

// quantBlockBytes bounds the weight rows a quantized matmul of several
// tokens runs every token over before it moves on, so that they stay in
// a core's L2 cache while the tokens pass.
const quantBlockBytes = 256 << 10

// matmulQuantFast runs a matmul with Q8_0 or Q6_K weights (a quantized LM
// head, the screen's copy): for one token each worker streams its rows in
// one call, for several it takes them in blocks of about quantBlockBytes,
// each read from memory once for all the tokens (it read them once per
// token: `logits` of 256 tokens with `--lm-head q8_0` on a 2B-4T model
// took 7.4-7.7 s so, 6.9 s now, on 2 cores).
func (b *Backend) matmulQuantFast(dst []float32, w *tensor, x []float32, K, N, T int, dot func(w []byte, x, out []float32)) {
	rb := w.RowB
	b.pool.run(N, rowBlock, func(lo, hi int) {
		rows := hi - lo
		if T > 1 {
			rows = max(1, quantBlockBytes/rb)
		}
		for r := lo; r < hi; r += rows {
			e := min(r+rows, hi)
			for t := 0; t < T; t++ {
				dot(w.Raw[r*rb:e*rb], x[t*K:(t+1)*K], dst[t*N+r:t*N+e])
			}
		}
	})
}

// MatMuls runs several matmuls over the same input x. For one token and
// ternary weights it quantizes x once and splits the rows of all the weights
// among the workers in one pass, so each worker streams one contiguous run
// of rows; otherwise it runs them one by one.
func (b *Backend) MatMuls(dstT, wT []compute.Tensor, xT compute.Tensor) {
	if len(dstT) != len(wT) {
		panic(fmt.Sprintf("cpu.MatMuls: %d outputs for %d weights", len(dstT), len(wT)))
	}
	x := asT("MatMuls", xT)
	K, T := rows(x)
	fused := T == 1 && x.F32 != nil
	ws := make([]*tensor, len(wT))
	dsts := make([]*tensor, len(wT))
	total := 0
	for i := range wT {
		w, dst := asT("MatMuls", wT[i]), asT("MatMuls", dstT[i])
		ws[i], dsts[i] = w, dst
		N := compute.Elements(w.Shape()) / w.Shape()[0]
		dk, dT := rows(dst)
		if w.DType() != gguf.I2_S || w.Code3 || w.Shape()[0] != K || dk != N || dT != 1 || dst.F32 == nil {
			fused = false
		}
		total += N
	}
	if !fused {
		for i := range wT {
			b.MatMul(dstT[i], wT[i], xT)
		}
		return
	}
	s := &b.scr
	s.q = grow(s.q, K)
	s.dots = grow(s.dots, total)
	scl, sum := kernels.QuantizeRow(x.F32[:K], s.q)
	q, dots := s.q, s.dots
	rb := K / 4
	b.pool.run(total, rowBlock, func(lo, hi int) {
		base := 0
		for i, w := range ws {
			N := len(dsts[i].F32) // checked: one row of N
			a, e := max(lo, base), min(hi, base+N)
			if a < e {
				r := a - base
				kernels.MatI2S(w.Raw[r*rb:], rb, e-a, q, K, 1, dots[a:], e-a)
				kernels.DequantI32(dsts[i].F32[r:r+e-a], dots[a:], sum, scl, w.Scale)
			}
			base += N
		}
	})
}
