// Package kernels holds the inner loops of CPU inference: ternary (I2_S) by
// int8 dot products, F16 and F32 dot products, per-token int8 activation
// quantization and a memory bandwidth probe.
//
// Every kernel has a pure-Go twin (the *Generic functions in generic.go) that
// defines what it computes. An assembly path is chosen at start-up from the
// CPU features, in this order. On amd64 (generated with avo, see ./asm):
//
//	"avx512vnni"  AVX-512 F/BW/VL + AVX512_VNNI (+ AVX2, FMA, F16C, BMI2)
//	"avx2"        AVX2, FMA, F16C
//	"generic"     pure Go
//
// On arm64 (NEON, written by hand in kernels_arm64.s):
//
//	"neon-dotprod"  NEON + the dot-product extension (SDOT): Apple M1 and
//	                later, Graviton 2 and later, Cortex-A76 (Raspberry Pi 5)
//	"neon"          NEON (Cortex-A72, Raspberry Pi 4)
//	"generic"       pure Go
//
// The two arm64 paths differ only in the I2_S dot products (SDOT or
// widening multiplies); every other kernel is the same NEON code on both.
//
// The assembly is left out by the build tag noasm and skipped at run time when
// the environment variable BITNET_NOASM is 1 (or true); BITNET_KERNELS=NAME
// picks another of the paths the CPU supports (to compare them on one
// machine). Path reports the choice.
//
// Integer kernels (DotI2S*, MatI2S, SumI8, QuantizeRow) give identical results
// on every path. Float kernels (DotF16*, MatF16, DotF32) accumulate in float32
// with several partial sums, so their last bits depend on the path; the tests
// hold every path to within 1e-5 * sum |w*x| of a float64 sum.
//
// The kernels are safe for concurrent use; the path switch SetPath is not.
package kernels

import (
	"fmt"
	"os"
	"reflect"
	"strings"
)

// impl is one set of kernel implementations. Kernels that a path does not
// accelerate fall back to the generic code.
type impl struct {
	name string

	// i2sRows sets out[r] = sum_k code(w[r*rowBytes:], k)*q[k] for r < len(out).
	i2sRows func(w []byte, rowBytes int, q []int8, out []int32)
	// i2sMat is MatI2S with arguments already checked.
	i2sMat func(w []byte, rowBytes, nRows int, q []int8, k, nTok int, out []int32, ldOut int)
	// i2sTile is how many tokens i2sMat takes together (MatI2STile; 0: 1).
	i2sTile int
	// f16Tile is how many tokens f16Mat takes together (MatF16Tile; 0: 1).
	f16Tile int

	f16Rows func(w []uint16, rowLen int, x []float32, out []float32)
	// q8Rows and q6kRows are DotQ8_0Rows and DotQ6KRows, arguments checked.
	q8Rows  func(w []byte, x []float32, out []float32)
	q6kRows func(w []byte, x []float32, out []float32)
	f16Mat  func(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int)
	// f16Scores is f16Mat for short rows (ScoresF16); f16Mat where a path
	// has no variant of its own.
	f16Scores func(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int)
	dotF32    func(a, b []float32) float32
	axpy      func(a float32, x, y []float32)
	dots      func(q, k []float32, stride, n int, out []float32)
	axpys     func(p, v []float32, stride int, acc []float32)
	axpys16   func(p []float32, v []uint16, stride int, acc []float32)
	// axpysHeads16 is AxpysHeadsF16, arguments checked; where a path has
	// none of its own, axpys16 once per head (axpysHeadsWith).
	axpysHeads16 func(p []float32, pStride, n int, v []uint16, stride int, acc []float32, accStride, width, heads int)
	toF16        func(dst []uint16, src []float32)
	roundF16     func(dst, src []float32)
	softmax      func(s []float32, scale float32)
	scale        func(dst, x []float32, s float32)

	sumSq    func(x []float32) float64
	scaleMul func(dst, x, w []float32, s float32)
	add      func(dst, a, b []float32)
	relu2Mul func(dst, g, u []float32)
	dequant  func(dst []float32, dots []int32, sum int32, div, mul float32)

	sumI8    func(q []int8) int32
	quantize func(x []float32, q []int8) (float32, int32)
	// quantS is quantGeneric's job for a given scale s with |x[k]*s| < 2^31.
	quantS func(x []float32, s float32, q []int8) int32
	stream func(b []byte) uint64
}

var genericImpl = &impl{
	name:     "generic",
	i2sRows:  i2sRowsGeneric,
	i2sMat:   matI2SGeneric,
	f16Rows:  f16RowsGeneric,
	q8Rows:   q8RowsGeneric,
	q6kRows:  q6kRowsGeneric,
	f16Mat:   matF16Generic,
	dotF32:   dotF32Generic,
	axpy:     axpyF32Generic,
	dots:     dotsF32Generic,
	axpys:    axpysF32Generic,
	axpys16:  axpysF16Generic,
	toF16:    f32ToF16Generic,
	roundF16: roundF16Generic,
	softmax:  softmaxGeneric,
	scale:    scaleF32Generic,
	sumSq:    sumSqF64Generic,
	scaleMul: scaleMulF32Generic,
	add:      addF32Generic,
	relu2Mul: relu2MulF32Generic,
	dequant:  dequantI32Generic,
	sumI8:    sumI8Generic,
	quantize: quantizeRowGeneric,
	quantS:   quantGeneric,
	stream:   streamSumGeneric,
}

// impls lists the paths this build and CPU support, best first; the generic
// path is always last.
var impls []*impl

// cur is the active path.
var cur *impl

func init() {
	impls = append(fastImpls(), genericImpl)
	for _, p := range impls {
		withGenericFallbacks(p)
	}
	var warn string
	cur, warn = startPath(os.Getenv("BITNET_KERNELS"), os.Getenv("BITNET_NOASM"))
	if warn != "" {
		fmt.Fprintln(os.Stderr, "warning:", warn)
	}
}

// startPath is the path to start with given the values of BITNET_KERNELS
// and BITNET_NOASM: the best one by default, a warning when the name asked
// for is not available.
func startPath(kernelsEnv, noasm string) (p *impl, warning string) {
	p = impls[0]
	if name := strings.TrimSpace(kernelsEnv); name != "" {
		found := false
		for _, q := range impls {
			if q.name == name {
				p, found = q, true
			}
		}
		if !found {
			warning = fmt.Sprintf("BITNET_KERNELS: path %q not available (have %v); using %s", name, Paths(), p.name)
		}
	}
	if noasmEnv(noasm) {
		p = genericImpl
	}
	return p, warning
}

// withGenericFallbacks sets every kernel p leaves nil to the generic one.
func withGenericFallbacks(p *impl) {
	g := genericImpl
	fill(&p.i2sRows, g.i2sRows)
	fill(&p.i2sMat, g.i2sMat)
	fill(&p.f16Rows, g.f16Rows)
	fill(&p.q8Rows, g.q8Rows)
	fill(&p.q6kRows, g.q6kRows)
	fill(&p.f16Mat, g.f16Mat)
	fill(&p.f16Scores, p.f16Mat)
	fill(&p.dotF32, g.dotF32)
	fill(&p.axpy, g.axpy)
	fill(&p.dots, g.dots)
	fill(&p.axpys, g.axpys)
	fill(&p.axpys16, g.axpys16)
	fill(&p.axpysHeads16, axpysHeadsWith(p.axpys16))
	fill(&p.toF16, g.toF16)
	fill(&p.roundF16, g.roundF16)
	fill(&p.softmax, g.softmax)
	fill(&p.scale, g.scale)
	fill(&p.sumSq, g.sumSq)
	fill(&p.scaleMul, g.scaleMul)
	fill(&p.add, g.add)
	fill(&p.relu2Mul, g.relu2Mul)
	fill(&p.dequant, g.dequant)
	fill(&p.sumI8, g.sumI8)
	fill(&p.quantize, g.quantize)
	fill(&p.quantS, g.quantS)
	fill(&p.stream, g.stream)
}

// fill sets the function *f to g when it is nil.
func fill[F any](f *F, g F) {
	if reflect.ValueOf(f).Elem().IsNil() {
		*f = g
	}
}

func noasmEnv(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// Path reports the active implementation: "avx512vnni", "avx2",
// "neon-dotprod", "neon" or "generic".
func Path() string { return cur.name }

// Paths lists the implementations usable on this machine and build, best
// first; "generic" is always last.
func Paths() []string {
	names := make([]string, len(impls))
	for i, p := range impls {
		names[i] = p.name
	}
	return names
}

// SetPath selects an implementation by name (one of Paths) and returns the
// previously active one. It is meant for tests, benchmarks and start-up; it
// must not run concurrently with kernels.
func SetPath(name string) (prev string, err error) {
	for _, p := range impls {
		if p.name == name {
			prev = cur.name
			cur = p
			return prev, nil
		}
	}
	return cur.name, fmt.Errorf("kernels: path %q not available (have %v)", name, Paths())
}

// BlockSize is the number of weights in one I2_S block; BlockBytes its size.
const (
	BlockSize  = 128
	BlockBytes = 32
)

// MaxK is the largest row length the I2_S kernels accept. Below it no int32
// partial sum can overflow on any path, whatever the codes and activations.
const MaxK = 1 << 20

func checkK(k int) {
	if k <= 0 || k%BlockSize != 0 || k > MaxK {
		panic(fmt.Sprintf("kernels: I2_S row length %d is not a positive multiple of %d up to %d", k, BlockSize, MaxK))
	}
}

// DotI2S returns sum_k code[k]*q[k] over one I2_S weight row w and the int8
// activations q, where K = len(q) must be a positive multiple of 128 and w
// holds at least K/4 bytes.
//
// code[k] is the raw 2-bit code of weight k read as an unsigned number
// 0..3 (byte b of 128-weight block i holds weights i*128+b, +32, +64, +96 in
// bits 7:6, 5:4, 3:2, 1:0). The ternary weight is code-1, so the caller gets
// the ternary dot product as DotI2S(w, q) - SumI8(q). Code 3 is never written
// by the I2_S packer; if present it counts as 3 here. The sum is exact int32
// arithmetic.
func DotI2S(w []byte, q []int8) int32 {
	k := len(q)
	checkK(k)
	if len(w) < k/4 {
		panic(fmt.Sprintf("kernels: DotI2S row has %d bytes, want %d", len(w), k/4))
	}
	var out [1]int32
	cur.i2sRows(w[:k/4], k/4, q, out[:])
	return out[0]
}

// DotI2SRows computes DotI2S for nRows consecutive weight rows against the
// same activations: out[n] = DotI2S(w[n*rowBytes:], q) for n < nRows.
// K = len(q) must be a positive multiple of 128, rowBytes (the distance
// between rows in w) at least K/4, and out at least nRows long.
func DotI2SRows(w []byte, rowBytes, nRows int, q []int8, out []int32) {
	k := len(q)
	checkK(k)
	if nRows <= 0 {
		return
	}
	checkRows("DotI2SRows", len(w), rowBytes, k/4, nRows)
	if len(out) < nRows {
		panic(fmt.Sprintf("kernels: DotI2SRows out has %d entries, want %d", len(out), nRows))
	}
	cur.i2sRows(w, rowBytes, q, out[:nRows])
}

// MatI2S multiplies a block of I2_S weight rows by a block of quantized
// tokens: for t < nTok and n < nRows,
//
//	out[t*ldOut+n] = DotI2S(w[n*rowBytes:], q[t*k:(t+1)*k])
//
// k must be a positive multiple of 128, rowBytes at least k/4, len(q) at least
// nTok*k, ldOut at least nRows and len(out) at least (nTok-1)*ldOut+nRows.
// Each weight byte is unpacked once per group of four tokens, so prefill reads
// and decodes the weights a quarter as often as nTok separate DotI2SRows calls.
// To split the work across threads, pass each worker a row range: w sliced at
// its first row and out sliced at the same column.
func MatI2S(w []byte, rowBytes, nRows int, q []int8, k, nTok int, out []int32, ldOut int) {
	checkK(k)
	if nRows <= 0 || nTok <= 0 {
		return
	}
	checkRows("MatI2S", len(w), rowBytes, k/4, nRows)
	checkTokens("MatI2S", len(q), k, nTok, len(out), ldOut, nRows)
	cur.i2sMat(w, rowBytes, nRows, q, k, nTok, out, ldOut)
}

// MatI2STile is how many tokens MatI2S computes together on the current
// path, each weight row decoded once for all of them; of the tokens past a
// multiple of it, a pair runs as a tile of two where the path has one, the
// others one at a time. A matmul of a few tokens can pad them to a whole
// tile, where one tile costs less than its tokens otherwise.
func MatI2STile() int { return max(1, cur.i2sTile) }

// MatF16Tile is how many tokens MatF16 computes together on the current
// path, each weight converted once for all of them (see MatI2STile).
func MatF16Tile() int { return max(1, cur.f16Tile) }

// SumI8 returns the sum of q, exactly.
func SumI8(q []int8) int32 { return cur.sumI8(q) }

// QuantizeRow quantizes one token's activations to int8 the way the W1.58A8
// matmul does, writing q[:len(x)]:
//
//	m    = max(max_k |x[k]|, 1e-5)                         (float32)
//	s    = 127 / m                                         (float32)
//	q[k] = clamp(roundHalfEven(x[k]*s), -128, 127)         (float32 product)
//
// It returns s and sum_k q[k]. The result is bit-identical on every path.
// x must be finite; q must be at least len(x) long.
func QuantizeRow(x []float32, q []int8) (scale float32, sum int32) {
	if len(q) < len(x) {
		panic(fmt.Sprintf("kernels: QuantizeRow q has %d entries, want %d", len(q), len(x)))
	}
	return cur.quantize(x, q[:len(x)])
}

// DotF16 returns sum_k f32(w[k])*x[k] for k < len(x), where w holds IEEE
// half-precision weights (at least len(x) of them). Accumulation is float32.
func DotF16(w []uint16, x []float32) float32 {
	if len(w) < len(x) {
		panic(fmt.Sprintf("kernels: DotF16 row has %d weights, want %d", len(w), len(x)))
	}
	if len(x) == 0 {
		return 0
	}
	var out [1]float32
	cur.f16Rows(w[:len(x)], len(x), x, out[:])
	return out[0]
}

// DotF16Rows computes DotF16 for nRows weight rows against the same x:
// out[n] = DotF16(w[n*rowLen:], x) for n < nRows. rowLen (the distance
// between rows in w, in elements) must be at least len(x).
func DotF16Rows(w []uint16, rowLen, nRows int, x []float32, out []float32) {
	if nRows <= 0 {
		return
	}
	checkRows("DotF16Rows", len(w), rowLen, len(x), nRows)
	if len(out) < nRows {
		panic(fmt.Sprintf("kernels: DotF16Rows out has %d entries, want %d", len(out), nRows))
	}
	if len(x) == 0 {
		clear(out[:nRows])
		return
	}
	cur.f16Rows(w, rowLen, x, out[:nRows])
}

// MatF16 multiplies a block of F16 weight rows by a block of float32 tokens:
// for t < nTok and n < nRows,
//
//	out[t*ldOut+n] = DotF16(w[n*rowLen:], x[t*k:(t+1)*k])
//
// with the same size rules as MatI2S (rowLen >= k, in elements). Weights are
// converted once per group of four tokens.
func MatF16(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int) {
	matF16("MatF16", cur.f16Mat, w, rowLen, nRows, x, k, nTok, out, ldOut)
}

// matF16 checks MatF16's arguments for fn (named name in panics) and runs it.
func matF16(name string, fn func(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int),
	w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int) {
	if nRows <= 0 || nTok <= 0 {
		return
	}
	if k < 0 {
		panic(fmt.Sprintf("kernels: %s k = %d", name, k))
	}
	checkRows(name, len(w), rowLen, k, nRows)
	checkTokens(name, len(x), k, nTok, len(out), ldOut, nRows)
	if k == 0 {
		for t := 0; t < nTok; t++ {
			clear(out[t*ldOut : t*ldOut+nRows])
		}
		return
	}
	fn(w, rowLen, nRows, x, k, nTok, out, ldOut)
}

// ScoresF16 is MatF16 for rows of a few hundred bytes that lie far apart,
// such as one KV head's key rows of an F16 cache (rowLen the cache row's
// length, k the head's): the same sums, with the memory fetched for rows
// ahead rather than further along the row.
func ScoresF16(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int) {
	matF16("ScoresF16", cur.f16Scores, w, rowLen, nRows, x, k, nTok, out, ldOut)
}

// DotF32 returns sum_k a[k]*b[k] for k < len(a), accumulated in float32;
// b must be at least len(a) long.
func DotF32(a, b []float32) float32 {
	if len(b) < len(a) {
		panic(fmt.Sprintf("kernels: DotF32 b has %d entries, want %d", len(b), len(a)))
	}
	return cur.dotF32(a, b[:len(a)])
}

// AxpyF32 sets y[k] += a*x[k] for k < len(x); y must be at least len(x)
// long. The assembly paths fuse the multiply and the add, so the last bits
// depend on the path.
func AxpyF32(a float32, x, y []float32) {
	if len(y) < len(x) {
		panic(fmt.Sprintf("kernels: AxpyF32 y has %d entries, want %d", len(y), len(x)))
	}
	cur.axpy(a, x, y[:len(x)])
}

// DotsF32 sets out[j] = sum_d q[d]*k[j*stride+d] for j < len(out), d <
// len(q): the scores of one query against len(out) cached keys stored
// stride elements apart. Accumulation is float32; the last bits depend on
// the path, as for DotF32.
func DotsF32(q, k []float32, stride int, out []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	checkStrided("DotsF32", len(k), n, len(q), stride)
	cur.dots(q, k, stride, n, out)
}

// AxpysF32 sets acc[d] += p[j]*v[j*stride+d] for j = 0..len(p)-1 in this
// order and d < len(acc): the probability-weighted sum of len(p) cached
// values stored stride elements apart. The assembly paths fuse each multiply
// and add, as AxpyF32.
func AxpysF32(p, v []float32, stride int, acc []float32) {
	n := len(p)
	if n == 0 {
		return
	}
	checkStrided("AxpysF32", len(v), n, len(acc), stride)
	cur.axpys(p, v, stride, acc)
}

// AxpysHeadsF16 is AxpysF16 for several rows of weights over the same
// values, such as the query heads that share a KV head: for t < heads,
//
//	AxpysF16(p[t*pStride:t*pStride+n], v, stride, acc[t*accStride:t*accStride+width])
//
// with each column's sum the same as that call's (the same fused
// multiply-adds in the same order), where a path converts each value row
// once for several heads.
func AxpysHeadsF16(p []float32, pStride, n int, v []uint16, stride int, acc []float32, accStride, width, heads int) {
	if n <= 0 || heads <= 0 || width <= 0 {
		return
	}
	if pStride < n || accStride < width || len(p) < (heads-1)*pStride+n || len(acc) < (heads-1)*accStride+width {
		panic(fmt.Sprintf("kernels: AxpysHeadsF16 %d heads of %d weights (stride %d, have %d) and %d outputs (stride %d, have %d)",
			heads, n, pStride, len(p), width, accStride, len(acc)))
	}
	checkStrided("AxpysHeadsF16", len(v), n, width, stride)
	cur.axpysHeads16(p, pStride, n, v, stride, acc, accStride, width, heads)
}

// axpysHeadsWith returns AxpysHeadsF16 as one call of axpys16 per head.
func axpysHeadsWith(axpys16 func(p []float32, v []uint16, stride int, acc []float32)) func(p []float32, pStride, n int, v []uint16, stride int, acc []float32, accStride, width, heads int) {
	return func(p []float32, pStride, n int, v []uint16, stride int, acc []float32, accStride, width, heads int) {
		for t := range heads {
			axpys16(p[t*pStride:t*pStride+n], v, stride, acc[t*accStride:t*accStride+width])
		}
	}
}

// AxpysF16 is AxpysF32 with values in F16.
func AxpysF16(p []float32, v []uint16, stride int, acc []float32) {
	n := len(p)
	if n == 0 {
		return
	}
	checkStrided("AxpysF16", len(v), n, len(acc), stride)
	cur.axpys16(p, v, stride, acc)
}

// F32ToF16 sets dst[k] to src[k] rounded to F16 (nearest, ties to even, as
// gguf.F32ToF16) for k < len(src); the same bits on every path.
func F32ToF16(dst []uint16, src []float32) {
	if len(dst) < len(src) {
		panic(fmt.Sprintf("kernels: F32ToF16 %d outputs for %d inputs", len(dst), len(src)))
	}
	cur.toF16(dst[:len(src)], src)
}

// RoundF16 sets dst[k] to src[k] rounded to the nearest F16 value (ties to
// even), as float32, for k < len(src); the same bits on every path.
func RoundF16(dst, src []float32) {
	if len(dst) < len(src) {
		panic(fmt.Sprintf("kernels: RoundF16 %d outputs for %d inputs", len(dst), len(src)))
	}
	cur.roundF16(dst[:len(src)], src)
}

// SoftmaxF32 replaces the attention scores s with their softmax after
// scaling: s[k] *= scale, m = max s, s[k] = Expf(s[k]-m), then each divided
// by their sum (accumulated in float64; in partial sums on the assembly
// paths, so the last bit of the divisor may differ between paths).
func SoftmaxF32(s []float32, scale float32) {
	if len(s) > 0 {
		cur.softmax(s, scale)
	}
}

// ScaleF32 sets dst[k] = x[k]*s for k < len(dst); the same bits on every
// path. x must be at least len(dst) long; dst may be x.
func ScaleF32(dst, x []float32, s float32) {
	if len(x) < len(dst) {
		panic(fmt.Sprintf("kernels: ScaleF32 %d inputs for %d outputs", len(x), len(dst)))
	}
	cur.scale(dst, x[:len(dst)], s)
}

// SumSquaresF64 returns sum_k float64(x[k])^2. The products are exact; the
// float64 summation order depends on the path (a relative difference of
// about 1e-16).
func SumSquaresF64(x []float32) float64 { return cur.sumSq(x) }

// ScaleMulF32 sets dst[k] = (x[k]*s)*w[k] for k < len(dst), rounding each
// product to float32: the same bits on every path. x and w must be at least
// len(dst) long.
func ScaleMulF32(dst, x, w []float32, s float32) {
	checkLen("ScaleMulF32", len(dst), len(x), len(w))
	cur.scaleMul(dst, x[:len(dst)], w[:len(dst)], s)
}

// AddF32 sets dst[k] = a[k]+b[k] for k < len(dst); the same bits on every
// path. dst may alias a or b.
func AddF32(dst, a, b []float32) {
	checkLen("AddF32", len(dst), len(a), len(b))
	cur.add(dst, a[:len(dst)], b[:len(dst)])
}

// ReLU2MulF32 sets dst[k] = (r*r)*u[k] with r = max(g[k], 0), rounding each
// product to float32 (squared-ReLU gating); the same bits on every path.
// dst may alias g or u.
func ReLU2MulF32(dst, g, u []float32) {
	checkLen("ReLU2MulF32", len(dst), len(g), len(u))
	cur.relu2Mul(dst, g[:len(dst)], u[:len(dst)])
}

// DequantI32 sets dst[k] = (float32(dots[k]-sum)/div)*mul for k < len(dst),
// rounding after each operation: the scaling of integer matvec results
// (int8 activations with scale div and sum sum, ternary weights with scale
// mul). The same bits on every path; dots must be at least len(dst) long.
func DequantI32(dst []float32, dots []int32, sum int32, div, mul float32) {
	if len(dots) < len(dst) {
		panic(fmt.Sprintf("kernels: DequantI32 %d dots for %d outputs", len(dots), len(dst)))
	}
	cur.dequant(dst, dots[:len(dst)], sum, div, mul)
}

// checkStrided panics unless n rows of rowLen elements, stride apart, fit in
// have elements.
func checkStrided(fn string, have, n, rowLen, stride int) {
	if stride < rowLen || have < (n-1)*stride+rowLen {
		panic(fmt.Sprintf("kernels: %s: %d entries for %d rows of %d, stride %d", fn, have, n, rowLen, stride))
	}
}

func checkLen(fn string, n, a, b int) {
	if a < n || b < n {
		panic(fmt.Sprintf("kernels: %s inputs of %d and %d entries for %d outputs", fn, a, b, n))
	}
}

// StreamSum returns the wrapping sum of the len(b)/8 little-endian uint64
// words of b (trailing bytes are ignored). It reads memory as fast as one
// core can and exists to measure the bandwidth the matvec kernels compete
// with; see BenchmarkStreamRead.
func StreamSum(b []byte) uint64 { return cur.stream(b) }

func checkRows(fn string, have, stride, rowLen, nRows int) {
	if stride < rowLen {
		panic(fmt.Sprintf("kernels: %s row stride %d is below the row length %d", fn, stride, rowLen))
	}
	if need := (nRows-1)*stride + rowLen; have < need {
		panic(fmt.Sprintf("kernels: %s weights have %d entries, want %d", fn, have, need))
	}
}

func checkTokens(fn string, haveIn, k, nTok, haveOut, ldOut, nRows int) {
	if haveIn < nTok*k {
		panic(fmt.Sprintf("kernels: %s activations have %d entries, want %d", fn, haveIn, nTok*k))
	}
	if ldOut < nRows {
		panic(fmt.Sprintf("kernels: %s ldOut %d is below nRows %d", fn, ldOut, nRows))
	}
	if need := (nTok-1)*ldOut + nRows; haveOut < need {
		panic(fmt.Sprintf("kernels: %s out has %d entries, want %d", fn, haveOut, need))
	}
}
