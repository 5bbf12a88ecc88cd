//go:build !noasm

package kernels

// Declarations of the NEON kernels in kernels_arm64.s. Each computes what its
// pure-Go twin in generic.go computes, over a length the Go wrappers in
// dispatch_arm64.go trim to the kernel's step.

// i2sRowsSDOT sets out[r] = sum_k code(w[r*stride:], k) * q[k] for r < nRows,
// K = 128*nBlocks (nBlocks, nRows > 0) with SDOT (FEAT_DotProd).
//
//go:noescape
func i2sRowsSDOT(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)

// i2sRowsNEON is i2sRowsSDOT with widening multiplies (SMULL/SMLAL, SADALP).
//
//go:noescape
func i2sRowsNEON(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)

// i2sRows4SDOT is i2sRowsSDOT for nRows a positive multiple of 4: it runs
// four rows at a time so that each load of q serves four rows.
//
//go:noescape
func i2sRows4SDOT(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)

// i2sRows4NEON is i2sRows4SDOT with widening multiplies.
//
//go:noescape
func i2sRows4NEON(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)

// i2sTile4SDOT sets out[t*outStride+r] = sum_k code(w[r*stride:], k) *
// q[t*qStride+k] for t < 4 and r < nRows, K = 128*nBlocks (nBlocks, nRows >
// 0; qStride and outStride in elements), unpacking each weight block once
// for the four tokens.
//
//go:noescape
func i2sTile4SDOT(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)

// i2sTile4NEON is i2sTile4SDOT with widening multiplies.
//
//go:noescape
func i2sTile4NEON(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)

// i2sTile2SDOT is i2sTile4SDOT for two tokens (t < 2).
//
//go:noescape
func i2sTile2SDOT(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)

// i2sTile2NEON is i2sTile4NEON for two tokens (t < 2).
//
//go:noescape
func i2sTile2NEON(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)

// sumI8NEON returns sum_k q[k] for k < n; n is a positive multiple of 16.
//
//go:noescape
func sumI8NEON(q *int8, n int) int32

// absMaxNEON returns max(0, max_k |x[k]|) for k < n; n is a positive
// multiple of 16.
//
//go:noescape
func absMaxNEON(x *float32, n int) float32

// quantNEON sets q[k] = clamp(roundHalfEven(x[k]*s), -128, 127) for k < n
// (float32 product) and returns the sum of q; n is a positive multiple of 16.
//
//go:noescape
func quantNEON(x *float32, n int, s float32, q *int8) int32

// f16RowsNEON sets out[r] = sum_k f32(w[r*stride/2+k]) * x[k] for r < nRows,
// k < n; n is a positive multiple of 16, stride in bytes, nRows > 0.
//
//go:noescape
func f16RowsNEON(w *uint16, x *float32, n int, nRows int, stride int, out *float32)

// f16Tile4NEON sets out[t*outStride+r] = sum_k f32(w[r*stride/2+k]) *
// x[t*xStride+k] for t < 4, r < nRows, k < n; n a positive multiple of 16,
// stride in bytes, xStride and outStride in elements, nRows > 0.
//
//go:noescape
func f16Tile4NEON(w *uint16, x *float32, xStride int, n int, nRows int, stride int, out *float32, outStride int)

// f16Tile2NEON is f16Tile4NEON for two tokens (t < 2).
//
//go:noescape
func f16Tile2NEON(w *uint16, x *float32, xStride int, n int, nRows int, stride int, out *float32, outStride int)

// dotF32NEON returns sum_k a[k]*b[k] for k < n; n is a positive multiple of 16.
//
//go:noescape
func dotF32NEON(a *float32, b *float32, n int) float32

// axpyF32NEON sets y[k] += a*x[k] (fused) for k < n; n is a positive
// multiple of 4.
//
//go:noescape
func axpyF32NEON(a float32, x *float32, y *float32, n int)

// sumSqF64NEON returns sum_k float64(x[k])^2 for k < n in float64; n is a
// positive multiple of 8.
//
//go:noescape
func sumSqF64NEON(x *float32, n int) float64

// scaleMulF32NEON sets dst[k] = (x[k]*s)*w[k] for k < n; n is a positive
// multiple of 4.
//
//go:noescape
func scaleMulF32NEON(dst *float32, x *float32, w *float32, s float32, n int)

// scaleF32NEON sets dst[k] = x[k]*s for k < n; n is a positive multiple of 4.
//
//go:noescape
func scaleF32NEON(dst *float32, x *float32, s float32, n int)

// addF32NEON sets dst[k] = a[k]+b[k] for k < n; n is a positive multiple of 4.
//
//go:noescape
func addF32NEON(dst *float32, a *float32, b *float32, n int)

// relu2MulF32NEON sets dst[k] = (r*r)*up[k] with r = max(gate[k], 0) for k < n;
// n is a positive multiple of 4.
//
//go:noescape
func relu2MulF32NEON(dst *float32, gate *float32, up *float32, n int)

// dequantI32NEON sets dst[k] = (float32(dots[k]-sum)/div)*mul for k < n;
// n is a positive multiple of 4.
//
//go:noescape
func dequantI32NEON(dst *float32, dots *int32, sum int32, div float32, mul float32, n int)

// axpysF32NEON sets acc[d] += p[j]*v[j*stride/4+d] for j = 0..n-1 in order,
// d < hd (stride in bytes; one fused multiply-add per term); n > 0, hd a
// positive multiple of 4.
//
//go:noescape
func axpysF32NEON(p *float32, v *float32, stride int, n int, hd int, acc *float32)

// axpysF16NEON is axpysF32NEON with F16 values: acc[d] += p[j]*v[j*stride/2+d].
//
//go:noescape
func axpysF16NEON(p *float32, v *uint16, stride int, n int, hd int, acc *float32)

// f32ToF16NEON sets dst[k] = f16(src[k]) for k < n, rounding to nearest even;
// n is a positive multiple of 8.
//
//go:noescape
func f32ToF16NEON(dst *uint16, src *float32, n int)

// roundF16NEON sets dst[k] = f32(f16(src[k])) for k < n; n is a positive
// multiple of 4.
//
//go:noescape
func roundF16NEON(dst *float32, src *float32, n int)

// streamSumNEON returns the wrapping sum of the little-endian uint64 words of
// p[:n]; n is a positive multiple of 64.
//
//go:noescape
func streamSumNEON(p *byte, n int) uint64

// scaleMaxF32NEON sets s[k] *= scale for k < n and returns the largest
// result; n is a positive multiple of 4.
//
//go:noescape
func scaleMaxF32NEON(s *float32, n int, scale float32) float32

// expSubF32NEON sets s[k] = Expf(s[k]-mx) for k < n, with the bits of the Go
// Expf as compiled for arm64, and returns the sum of the results in float64
// (four partial sums); n is a positive multiple of 4.
//
//go:noescape
func expSubF32NEON(s *float32, n int, mx float32) float64
