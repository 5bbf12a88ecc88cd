//go:build !noasm

package kernels

//go:generate go run ./asm -out kernels_amd64.s -stubs stubs_amd64.go

import (
	"math"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
)

// fastImpls returns the assembly paths this CPU supports, best first.
func fastImpls() []*impl {
	var list []*impl
	c := &cpuid.CPU
	avx2 := c.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3, cpuid.F16C, cpuid.BMI2)
	if avx2 && c.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.AVX512VNNI) {
		list = append(list, avx512Impl)
		if c.VendorID == cpuid.Intel {
			// On a Xeon (Emerald Rapids, 2 vCPUs) the AVX-512 Q8_0
			// matvec with the F16 kernel's prefetches streams 8.0-8.3
			// GB/s a thread against the AVX2 one's 6.8-6.9; on an AMD
			// EPYC (Zen 4) an AVX-512 one measured no faster, and far
			// PREFETCHT1 prefetches slowed its Q6_K kernel down.
			avx512Impl.q8Rows = q8RowsAVX512Go
		}
	}
	if avx2 {
		list = append(list, avx2Impl)
	}
	withAVX2Helpers(list...)
	avx512Impl.axpysHeads16 = axpysHeadsF16AVX512
	return list
}

// withAVX2Helpers sets the attention and elementwise helpers of p, which
// both paths run in AVX2 (with F16C and FMA): they are small next to the
// matvecs. A path without its own Q8_0 or Q6_K matvec gets the AVX2 one.
func withAVX2Helpers(list ...*impl) {
	for _, p := range list {
		p.dots, p.axpys = dotsF32AVX2Go, axpysF32AVX2Go
		p.axpys16 = axpysF16AVX2Go
		p.toF16, p.roundF16 = f32ToF16AVX2Go, roundF16AVX2Go
		p.softmax, p.scale = softmaxAVX2Go, scaleF32AVX2Go
		p.sumSq, p.scaleMul = sumSqF64AVX2Go, scaleMulF32AVX2Go
		p.add, p.relu2Mul = addF32AVX2Go, relu2MulF32AVX2Go
		p.dequant = dequantI32AVX2Go
		if p.q8Rows == nil {
			p.q8Rows = q8RowsAVX2Go
		}
		if p.q6kRows == nil {
			p.q6kRows = q6kRowsAVX2Go
		}
	}
}

var avx512Impl = &impl{
	name:      "avx512vnni",
	i2sRows:   i2sRowsVNNIGo,
	i2sMat:    i2sMatFast(i2sRowsVNNI, i2sTile4VNNI, i2sTile2VNNI),
	i2sTile:   tileTokens,
	f16Rows:   f16RowsAVX512Go,
	f16Mat:    f16MatAVX512(0),
	f16Tile:   tileTokens,
	f16Scores: f16MatAVX512(scoresPrefetchRows),
	dotF32:    dotF32AVX512Go,
	axpy:      axpyF32AVX2Go,
	sumI8:     sumI8Fast,
	quantize:  quantizeFast,
	quantS:    quantFast,
	stream:    streamAVX512Go,
	q6kRows:   q6kRowsAVX512Go,
}

var avx2Impl = &impl{
	name:      "avx2",
	i2sRows:   i2sRowsFast(i2sRowsAVX2),
	i2sMat:    i2sMatFast(i2sRowsAVX2, i2sTile4AVX2, i2sTile2AVX2),
	i2sTile:   tileTokens,
	f16Rows:   f16RowsAVX2Go,
	f16Mat:    f16MatAVX2(0),
	f16Tile:   tileTokens,
	f16Scores: f16MatAVX2(scoresPrefetchRows),
	dotF32:    dotF32AVX2Go,
	axpy:      axpyF32AVX2Go,
	sumI8:     sumI8Fast,
	quantize:  quantizeFast,
	quantS:    quantFast,
	stream:    streamFast,
}

type (
	i2sRowsKernel func(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)
	i2sTileKernel func(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)
)

func i2sRowsFast(kern i2sRowsKernel) func(w []byte, rowBytes int, q []int8, out []int32) {
	return func(w []byte, rowBytes int, q []int8, out []int32) {
		kern(&w[0], &q[0], len(q)/BlockSize, len(out), rowBytes, &out[0])
	}
}

func i2sMatFast(rows i2sRowsKernel, tile, tile2 i2sTileKernel) func(w []byte, rowBytes, nRows int, q []int8, k, nTok int, out []int32, ldOut int) {
	return func(w []byte, rowBytes, nRows int, q []int8, k, nTok int, out []int32, ldOut int) {
		nb := k / BlockSize
		forTiles(rowBytes, nRows, nTok,
			func(r0, nr, t int) { tile(&w[r0*rowBytes], &q[t*k], k, nb, nr, rowBytes, &out[t*ldOut+r0], ldOut) },
			func(r0, nr, t int) { tile2(&w[r0*rowBytes], &q[t*k], k, nb, nr, rowBytes, &out[t*ldOut+r0], ldOut) },
			func(r0, nr, t int) { rows(&w[r0*rowBytes], &q[t*k], nb, nr, rowBytes, &out[t*ldOut+r0]) })
	}
}

func f16RowsAVX512Go(w []uint16, rowLen int, x []float32, out []float32) {
	f16RowsAVX512(&w[0], &x[0], len(x), len(out), 2*rowLen, &out[0])
}

// scoresPrefetchRows is how many rows ahead the tile kernels prefetch for
// ScoresF16: a cache's key rows are a few hundred bytes of a longer row,
// where the weights' prefetch within the row would fetch another head's
// (16 rows: see axpys4F16AVX512 in the generator).
const scoresPrefetchRows = 16

// f16MatAVX512 returns MatF16 on f16Tile4AVX512 (groups of four tokens,
// prefetching pfRows rows ahead, or within the row with 0) and
// f16RowsAVX512 (the rest).
func f16MatAVX512(pfRows int) func(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int) {
	return func(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int) {
		matF16Tiled(w, rowLen, nRows, x, k, nTok, out, ldOut, k,
			func(wr *uint16, x *float32, nr int, out *float32) {
				f16Tile4AVX512(wr, x, k, k, nr, 2*rowLen, out, ldOut, pfRows)
			},
			func(wr *uint16, x *float32, nr int, out *float32) {
				f16Tile2AVX512(wr, x, k, k, nr, 2*rowLen, out, ldOut, pfRows)
			},
			func(wr *uint16, x *float32, nr int, out *float32) { f16RowsAVX512(wr, x, k, nr, 2*rowLen, out) })
	}
}

func f16RowsAVX2Go(w []uint16, rowLen int, x []float32, out []float32) {
	n := len(x) &^ 7
	if n > 0 {
		f16RowsAVX2(&w[0], &x[0], n, len(out), 2*rowLen, &out[0])
	} else {
		clear(out)
	}
	if n < len(x) {
		for r := range out {
			out[r] += dotF16Generic(w[r*rowLen+n:], x[n:])
		}
	}
}

// f16MatAVX2 is f16MatAVX512 on the AVX2 kernels, which take columns in
// multiples of 8.
func f16MatAVX2(pfRows int) func(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int) {
	return func(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int) {
		n := k &^ 7
		if n == 0 {
			matF16Generic(w, rowLen, nRows, x, k, nTok, out, ldOut)
			return
		}
		matF16Tiled(w, rowLen, nRows, x, k, nTok, out, ldOut, n,
			func(wr *uint16, x *float32, nr int, out *float32) {
				f16Tile4AVX2(wr, x, k, n, nr, 2*rowLen, out, ldOut, pfRows)
			},
			func(wr *uint16, x *float32, nr int, out *float32) {
				f16Tile2AVX2(wr, x, k, n, nr, 2*rowLen, out, ldOut, pfRows)
			},
			func(wr *uint16, x *float32, nr int, out *float32) { f16RowsAVX2(wr, x, n, nr, 2*rowLen, out) })
	}
}

// axpysHeadsF16AVX512 runs four heads at a time through the
// axpys4F16x*AVX512 kernels, 64, then 32, then 16 columns at a time, and
// the rest (heads, columns) through the AVX2 kernel, whose columns are the
// same sums.
func axpysHeadsF16AVX512(p []float32, pStride, n int, v []uint16, stride int, acc []float32, accStride, width, heads int) {
	w16 := width &^ 15
	t := 0
	for ; t+4 <= heads && w16 > 0; t += 4 {
		d := 0
		for ; d+64 <= w16; d += 64 {
			axpys4F16x64AVX512(&p[t*pStride], pStride, &v[d], 2*stride, n, &acc[t*accStride+d], accStride)
		}
		if d+32 <= w16 {
			axpys4F16x32AVX512(&p[t*pStride], pStride, &v[d], 2*stride, n, &acc[t*accStride+d], accStride)
			d += 32
		}
		if d < w16 {
			axpys4F16x16AVX512(&p[t*pStride], pStride, &v[d], 2*stride, n, &acc[t*accStride+d], accStride)
		}
		if w16 < width {
			axpysHeadsWith(axpysF16AVX2Go)(p[t*pStride:], pStride, n, v[w16:], stride, acc[t*accStride+w16:], accStride, width-w16, 4)
		}
	}
	if t < heads {
		axpysHeadsWith(axpysF16AVX2Go)(p[t*pStride:], pStride, n, v, stride, acc[t*accStride:], accStride, width, heads-t)
	}
}

// The Q8_0 and Q6_K wrappers take DotQ8_0Rows' and DotQ6KRows' checked
// arguments: len(x) a non-zero multiple of the block, out not empty.
func q6kRowsAVX512Go(w []byte, x []float32, out []float32) {
	q6kRowsAVX512(&w[0], &x[0], len(x)/Q6KBlock, len(out), &out[0])
}

func q8RowsAVX2Go(w []byte, x []float32, out []float32) {
	q8RowsAVX2(&w[0], &x[0], len(x)/Q8Block, len(out), &out[0])
}

func q8RowsAVX512Go(w []byte, x []float32, out []float32) {
	q8RowsAVX512(&w[0], &x[0], len(x)/Q8Block, len(out), &out[0])
}

func q6kRowsAVX2Go(w []byte, x []float32, out []float32) {
	q6kRowsAVX2(&w[0], &x[0], len(x)/Q6KBlock, len(out), &out[0])
}

func dotF32AVX512Go(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	return dotF32AVX512(&a[0], &b[0], len(a))
}

func dotF32AVX2Go(a, b []float32) float32 {
	n := len(a) &^ 7
	var s float32
	if n > 0 {
		s = dotF32AVX2(&a[0], &b[0], n)
	}
	if n < len(a) {
		s += dotF32Generic(a[n:], b[n:])
	}
	return s
}

func sumI8Fast(q []int8) int32 {
	n := len(q) &^ 31
	var s int32
	if n > 0 {
		s = int32(sumI8AVX2(&q[0], n) - 128*int64(n))
	}
	return s + sumI8Generic(q[n:])
}

func quantizeFast(x []float32, q []int8) (float32, int32) {
	n8 := len(x) &^ 7
	m := absMaxGeneric(x[n8:])
	if n8 > 0 {
		m = max(m, absMaxAVX2(&x[0], n8))
	}
	s := quantScale(m)
	return s, quantFast(x, s, q)
}

func quantFast(x []float32, s float32, q []int8) int32 {
	n := len(x) &^ 31
	var sum int32
	if n > 0 {
		sum = quantAVX2(&x[0], n, s, &q[0])
	}
	return sum + quantGeneric(x[n:], s, q[n:])
}

func streamFast(b []byte) uint64 {
	n := len(b) &^ 255
	var s uint64
	if n > 0 {
		s = streamSumAVX2((*byte)(unsafe.Pointer(&b[0])), n)
	}
	return s + streamSumGeneric(b[n:])
}

func streamAVX512Go(b []byte) uint64 {
	n := len(b) &^ 511
	var s uint64
	if n > 0 {
		s = streamSumAVX512((*byte)(unsafe.Pointer(&b[0])), n)
	}
	return s + streamFast(b[n:])
}

// i2sRowsVNNIGo runs groups of four rows through i2sRows4VNNI, which loads
// each slice of q once per four rows, and the rest through i2sRowsVNNI.
func i2sRowsVNNIGo(w []byte, rowBytes int, q []int8, out []int32) {
	nb := len(q) / BlockSize
	n4 := len(out) &^ 3
	if n4 > 0 {
		i2sRows4VNNI(&w[0], &q[0], nb, n4, rowBytes, &out[0])
	}
	if n4 < len(out) {
		i2sRowsVNNI(&w[n4*rowBytes], &q[0], nb, len(out)-n4, rowBytes, &out[n4])
	}
}

func axpyF32AVX2Go(a float32, x, y []float32) {
	n := len(x) &^ 7
	if n > 0 {
		axpyF32AVX2(a, &x[0], &y[0], n)
	}
	if n < len(x) {
		axpyF32Generic(a, x[n:], y[n:len(x)])
	}
}

func dotsF32AVX2Go(q, k []float32, stride, n int, out []float32) {
	hd := len(q) &^ 7
	if hd == 0 {
		dotsF32Generic(q, k, stride, n, out)
		return
	}
	dotsF32AVX2(&q[0], &k[0], 4*stride, n, hd, &out[0])
	if hd < len(q) {
		for j := 0; j < n; j++ {
			out[j] += dotF32Generic(q[hd:], k[j*stride+hd:j*stride+len(q)])
		}
	}
}

func axpysF32AVX2Go(p, v []float32, stride int, acc []float32) {
	hd := len(acc) &^ 7
	if hd > 0 {
		axpysF32AVX2(&p[0], &v[0], 4*stride, len(p), hd, &acc[0])
	}
	if hd < len(acc) {
		axpysF32Generic(p, v[hd:], stride, acc[hd:])
	}
}

func sumSqF64AVX2Go(x []float32) float64 {
	n := len(x) &^ 15
	var s float64
	if n > 0 {
		s = sumSqF64AVX2(&x[0], n)
	}
	return s + sumSqF64Generic(x[n:])
}

func scaleMulF32AVX2Go(dst, x, w []float32, s float32) {
	n := len(dst) &^ 7
	if n > 0 {
		scaleMulF32AVX2(&dst[0], &x[0], &w[0], s, n)
	}
	scaleMulF32Generic(dst[n:], x[n:], w[n:], s)
}

func addF32AVX2Go(dst, a, b []float32) {
	n := len(dst) &^ 7
	if n > 0 {
		addF32AVX2(&dst[0], &a[0], &b[0], n)
	}
	addF32Generic(dst[n:], a[n:], b[n:])
}

func relu2MulF32AVX2Go(dst, g, u []float32) {
	n := len(dst) &^ 7
	if n > 0 {
		relu2MulF32AVX2(&dst[0], &g[0], &u[0], n)
	}
	relu2MulF32Generic(dst[n:], g[n:], u[n:])
}

func dequantI32AVX2Go(dst []float32, dots []int32, sum int32, div, mul float32) {
	n := len(dst) &^ 7
	if n > 0 {
		dequantI32AVX2(&dst[0], &dots[0], sum, div, mul, n)
	}
	dequantI32Generic(dst[n:], dots[n:], sum, div, mul)
}

func axpysF16AVX2Go(p []float32, v []uint16, stride int, acc []float32) {
	hd := len(acc) &^ 7
	if hd > 0 {
		axpysF16AVX2(&p[0], &v[0], 2*stride, len(p), hd, &acc[0])
	}
	if hd < len(acc) {
		axpysF16Generic(p, v[hd:], stride, acc[hd:])
	}
}

func f32ToF16AVX2Go(dst []uint16, src []float32) {
	n := len(src) &^ 7
	if n > 0 {
		f32ToF16AVX2(&dst[0], &src[0], n)
	}
	f32ToF16Generic(dst[n:], src[n:])
}

func roundF16AVX2Go(dst, src []float32) {
	n := len(src) &^ 7
	if n > 0 {
		roundF16AVX2(&dst[0], &src[0], n)
	}
	roundF16Generic(dst[n:], src[n:])
}

func scaleF32AVX2Go(dst, x []float32, s float32) {
	n := len(dst) &^ 7
	if n > 0 {
		scaleF32AVX2(&dst[0], &x[0], s, n)
	}
	scaleF32Generic(dst[n:], x[n:], s)
}

func softmaxAVX2Go(s []float32, scale float32) {
	n := len(s) &^ 7
	mx := float32(math.Inf(-1))
	if n > 0 {
		mx = scaleMaxF32AVX2(&s[0], n, scale)
	}
	for k := n; k < len(s); k++ {
		s[k] *= scale
		mx = max(mx, s[k])
	}
	var sum float64
	if n > 0 {
		sum = expSubF32AVX2(&s[0], n, mx)
	}
	for k := n; k < len(s); k++ {
		e := Expf(s[k] - mx)
		s[k] = e
		sum += float64(e)
	}
	scaleF32AVX2Go(s, s, float32(1/sum))
}
