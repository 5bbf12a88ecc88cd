package kernels

import (
	"encoding/binary"
	"math"

	"bitnet/gguf"
)

// This file holds the pure-Go twins of the kernels. They are the definition
// of what each kernel computes and the generic path.

// dotI2SGeneric returns sum_k code[k]*q[k] for one I2_S row w (K/4 bytes) and
// K = len(q) activations; code[k] is the unsigned 2-bit code of weight k.
func dotI2SGeneric(w []byte, q []int8) int32 {
	var s int32
	for i := 0; i < len(q)/BlockSize; i++ {
		wb := w[i*BlockBytes : i*BlockBytes+BlockBytes]
		qb := q[i*BlockSize : i*BlockSize+BlockSize]
		for b, c := range wb {
			s += int32(c>>6)*int32(qb[b]) +
				int32(c>>4&3)*int32(qb[32+b]) +
				int32(c>>2&3)*int32(qb[64+b]) +
				int32(c&3)*int32(qb[96+b])
		}
	}
	return s
}

func i2sRowsGeneric(w []byte, rowBytes int, q []int8, out []int32) {
	for n := range out {
		out[n] = dotI2SGeneric(w[n*rowBytes:], q)
	}
}

func matI2SGeneric(w []byte, rowBytes, nRows int, q []int8, k, nTok int, out []int32, ldOut int) {
	for t := 0; t < nTok; t++ {
		i2sRowsGeneric(w, rowBytes, q[t*k:(t+1)*k], out[t*ldOut:t*ldOut+nRows])
	}
}

// sumI8Generic returns the sum of q.
func sumI8Generic(q []int8) int32 {
	var s int32
	for _, v := range q {
		s += int32(v)
	}
	return s
}

// absMaxGeneric returns max(0, max_k |x[k]|).
func absMaxGeneric(x []float32) float32 {
	var m float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > m {
			m = a
		}
	}
	return m
}

// quantScale returns 127 / max(m, 1e-5) in float32.
func quantScale(m float32) float32 {
	if m < 1e-5 {
		m = 1e-5
	}
	return 127 / m
}

// quantGeneric sets q[k] = clamp(roundHalfEven(x[k]*s), -128, 127), the
// product rounded to float32 first, and returns the sum of q.
func quantGeneric(x []float32, s float32, q []int8) int32 {
	var sum int32
	for k, v := range x {
		p := v * s
		r := math.RoundToEven(float64(p))
		r = max(min(r, 127), -128)
		q[k] = int8(r)
		sum += int32(q[k])
	}
	return sum
}

// quantizeRowGeneric is QuantizeRow's definition.
func quantizeRowGeneric(x []float32, q []int8) (float32, int32) {
	s := quantScale(absMaxGeneric(x))
	return s, quantGeneric(x, s, q)
}

// f16ToF32 converts an IEEE half-precision value exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1F
	man := uint32(h) & 0x3FF
	switch {
	case exp == 0x1F: // Inf, NaN
		return math.Float32frombits(sign | 0x7F800000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	default: // subnormal: man * 2^-24
		f := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
}

// dotF16Generic returns sum_k f32(w[k])*x[k] for k < len(x), accumulated in
// float32 in four interleaved partial sums.
func dotF16Generic(w []uint16, x []float32) float32 {
	var s0, s1, s2, s3 float32
	w = w[:len(x)]
	k := 0
	for ; k+4 <= len(x); k += 4 {
		s0 += f16ToF32(w[k]) * x[k]
		s1 += f16ToF32(w[k+1]) * x[k+1]
		s2 += f16ToF32(w[k+2]) * x[k+2]
		s3 += f16ToF32(w[k+3]) * x[k+3]
	}
	for ; k < len(x); k++ {
		s0 += f16ToF32(w[k]) * x[k]
	}
	return (s0 + s1) + (s2 + s3)
}

func f16RowsGeneric(w []uint16, rowLen int, x []float32, out []float32) {
	for n := range out {
		out[n] = dotF16Generic(w[n*rowLen:], x)
	}
}

func matF16Generic(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int) {
	for t := 0; t < nTok; t++ {
		f16RowsGeneric(w, rowLen, x[t*k:(t+1)*k], out[t*ldOut:t*ldOut+nRows])
	}
}

// dotF32Generic returns sum_k a[k]*b[k], accumulated in float32 in four
// interleaved partial sums.
func dotF32Generic(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	b = b[:len(a)]
	k := 0
	for ; k+4 <= len(a); k += 4 {
		s0 += a[k] * b[k]
		s1 += a[k+1] * b[k+1]
		s2 += a[k+2] * b[k+2]
		s3 += a[k+3] * b[k+3]
	}
	for ; k < len(a); k++ {
		s0 += a[k] * b[k]
	}
	return (s0 + s1) + (s2 + s3)
}

// streamSumGeneric returns the wrapping sum of the little-endian uint64
// words of b.
func streamSumGeneric(b []byte) uint64 {
	var s0, s1, s2, s3 uint64
	i := 0
	for ; i+32 <= len(b); i += 32 {
		s0 += binary.LittleEndian.Uint64(b[i:])
		s1 += binary.LittleEndian.Uint64(b[i+8:])
		s2 += binary.LittleEndian.Uint64(b[i+16:])
		s3 += binary.LittleEndian.Uint64(b[i+24:])
	}
	for ; i+8 <= len(b); i += 8 {
		s0 += binary.LittleEndian.Uint64(b[i:])
	}
	return s0 + s1 + s2 + s3
}

// axpyF32Generic sets y[k] += a*x[k].
func axpyF32Generic(a float32, x, y []float32) {
	for k, v := range x {
		y[k] += a * v
	}
}

func dotsF32Generic(q, k []float32, stride, n int, out []float32) {
	for j := 0; j < n; j++ {
		out[j] = dotF32Generic(q, k[j*stride:j*stride+len(q)])
	}
}

func axpysF32Generic(p, v []float32, stride int, acc []float32) {
	for j, pj := range p {
		axpyF32Generic(pj, v[j*stride:j*stride+len(acc)], acc)
	}
}

// sumSqF64Generic sums in four interleaved float64 partial sums.
func sumSqF64Generic(x []float32) float64 {
	var s0, s1, s2, s3 float64
	k := 0
	for ; k+4 <= len(x); k += 4 {
		s0 += float64(x[k]) * float64(x[k])
		s1 += float64(x[k+1]) * float64(x[k+1])
		s2 += float64(x[k+2]) * float64(x[k+2])
		s3 += float64(x[k+3]) * float64(x[k+3])
	}
	for ; k < len(x); k++ {
		s0 += float64(x[k]) * float64(x[k])
	}
	return (s0 + s1) + (s2 + s3)
}

func scaleMulF32Generic(dst, x, w []float32, s float32) {
	for k := range dst {
		dst[k] = (x[k] * s) * w[k]
	}
}

func addF32Generic(dst, a, b []float32) {
	for k := range dst {
		dst[k] = a[k] + b[k]
	}
}

func relu2MulF32Generic(dst, g, u []float32) {
	for k := range dst {
		r := max(g[k], 0)
		dst[k] = (r * r) * u[k]
	}
}

func dequantI32Generic(dst []float32, dots []int32, sum int32, div, mul float32) {
	for k, d := range dots {
		dst[k] = float32(d-sum) / div * mul
	}
}

func axpysF16Generic(p []float32, v []uint16, stride int, acc []float32) {
	for j, pj := range p {
		for d, h := range v[j*stride : j*stride+len(acc)] {
			acc[d] += pj * f16ToF32(h)
		}
	}
}

func f32ToF16Generic(dst []uint16, src []float32) {
	for k, v := range src {
		dst[k] = gguf.F32ToF16(v)
	}
}

func roundF16Generic(dst, src []float32) {
	for k, v := range src {
		dst[k] = gguf.RoundF16(v)
	}
}

func scaleF32Generic(dst, x []float32, s float32) {
	for k := range dst {
		dst[k] = x[k] * s
	}
}

func softmaxGeneric(s []float32, scale float32) {
	mx := float32(math.Inf(-1))
	for k := range s {
		s[k] *= scale
		mx = max(mx, s[k])
	}
	var sum float64
	for k, v := range s {
		e := Expf(v - mx)
		s[k] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for k := range s {
		s[k] *= inv
	}
}

// Expf returns e^x for x <= 0 in float32 arithmetic (the Cephes expf
// polynomial; no fused multiply-adds on amd64, while on arm64 the Go
// compiler fuses them): within 2 ulp of the correctly rounded value, and 0
// below -87.3. The softmax of the fast attention paths uses it (the assembly
// computes the same operations in the same order, fused where the compiler
// fuses them, so the bits agree); the reference uses
// float32(math.Exp(float64(x))).
func Expf(x float32) float32 {
	if x < -87.3 {
		return 0
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	n := int32(x*log2e - 0.5) // round to nearest for x <= 0
	fn := float32(n)
	r := x - fn*c1 - fn*c2
	z := r * r
	y := ((((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r+5.0000001201e-1)*z + r) + 1
	return y * math.Float32frombits(uint32(n+127)<<23)
}
