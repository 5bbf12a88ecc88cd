// Package reference is the numeric oracle: the backend contract
// (compute.Backend) implemented as plainly as the paper and bitnet.cpp
// define it, one scalar loop per op on one goroutine. It is the file to read
// to learn the numerics; the fast CPU backend and the Vulkan backend are
// checked against it by the conformance suite (computetest), and the golden
// tests check it against bitnet.cpp's logits.
//
// The arithmetic, op by op:
//   - RMSNorm: y = (x * (1/sqrt(mean(x^2) + eps))) * w, the sum of squares
//     in float64, everything else in float32 in that order.
//   - MatMul with ternary I2_S weights (W1.58A8): each token's activations
//     are quantized to int8 with s = 127/max|x| (QuantizeRow), the ternary
//     dot product is exact in int32 (DotI2S), and y = float32(dot) / s *
//     wscale. TQ1_0/TQ2_0 weights use ggml's per-256 Q8_K activation blocks
//     (QuantizeQ8K, DotTQ). Float weights (F32, F16, BF16, Q8_0) are
//     dequantized and summed in float64 (DotF64).
//   - RoPE: x0*cos - x1*sin, x0*sin + x1*cos with the host's float64 table
//     rounded to float32; NeoX pairs (i, i+d/2) or normal pairs (2i, 2i+1).
//   - Attention: q rounded to the cache type, scores summed in float32 in
//     dimension order and scaled, softmax with the row maximum subtracted
//     (exponentials in float32, their sum in float64), probabilities times V
//     in float32.
//   - RoundF16: float32 to the nearest F16, ties to even, and back (the
//     engine rounds the input of an F16-weight MatMul with it where the
//     architecture's numerics say so: llama).
//   - ActMul: relu(g)^2 * u, or g / (1 + exp(-g)) * u.
package reference

import (
	"fmt"
	"math"

	"bitnet/engine/compute"
	"bitnet/engine/compute/host"
	"bitnet/gguf"
)

// Backend is the oracle. It is not safe for concurrent use.
type Backend struct {
	host.Store
	cands []compute.Candidate
}

var _ compute.Backend = (*Backend)(nil)

// New returns the oracle.
func New() *Backend { return &Backend{Store: host.Store{Name: name}} }

// Name returns "reference".
func (b *Backend) Name() string { return "reference" }

// Device describes the oracle.
func (b *Backend) Device() string { return "scalar oracle, 1 thread" }

// Close does nothing.
func (b *Backend) Close() error { return nil }

// Flush does nothing: every op runs when called.
func (b *Backend) Flush() error { return nil }

const name = "reference"

func asT(op string, t compute.Tensor) *host.Tensor { return host.As(name, op, t) }

// RMSNorm: y = x * (1/sqrt(mean(x^2)+eps)) * w per row.
func (b *Backend) RMSNorm(dstT, xT, wT compute.Tensor, eps float32) {
	dst, x, w := asT("RMSNorm", dstT), asT("RMSNorm", xT), asT("RMSNorm", wT)
	compute.CheckSame("RMSNorm", dst, x)
	k, r := compute.RowsOf(x)
	if w.F32 == nil || len(w.F32) != k {
		panic(fmt.Sprintf("reference.RMSNorm: weight %v %s for rows of %d", w.Shape(), w.DType(), k))
	}
	for i := 0; i < r; i++ {
		RMSNormRow(dst.F32[i*k:(i+1)*k], x.F32[i*k:(i+1)*k], w.F32, eps)
	}
}

// RMSNormRow normalizes one row (the sum of squares in float64, the rest in
// float32, as ggml's rms_norm followed by mul).
func RMSNormRow(dst, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	mean := float32(sum / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	for i, v := range x {
		dst[i] = (v * scale) * w[i]
	}
}

// Scale multiplies elementwise by s.
func (b *Backend) Scale(dstT, xT compute.Tensor, s float32) {
	dst, x := asT("Scale", dstT), asT("Scale", xT)
	compute.CheckSame("Scale", dst, x)
	for i, v := range x.F32 {
		dst.F32[i] = v * s
	}
}

// Add: dst = a + b.
func (b *Backend) Add(dstT, aT, bT compute.Tensor) {
	dst, a, c := asT("Add", dstT), asT("Add", aT), asT("Add", bT)
	compute.CheckSame("Add", dst, a, c)
	for i := range dst.F32 {
		dst.F32[i] = a.F32[i] + c.F32[i]
	}
}

// RoundF16 rounds each element to the nearest F16 value, ties to even.
func (b *Backend) RoundF16(dstT, xT compute.Tensor) {
	dst, x := asT("RoundF16", dstT), asT("RoundF16", xT)
	compute.CheckSame("RoundF16", dst, x)
	for i, v := range x.F32 {
		dst.F32[i] = gguf.F16ToF32(gguf.F32ToF16(v))
	}
}

// ActMul: dst = act(gate) * up.
func (b *Backend) ActMul(dstT, gateT, upT compute.Tensor, act compute.Activation) {
	dst, g, u := asT("ActMul", dstT), asT("ActMul", gateT), asT("ActMul", upT)
	compute.CheckSame("ActMul", dst, g, u)
	for i, v := range g.F32 {
		switch act {
		case compute.ReLU2:
			r := max(v, 0)
			dst.F32[i] = r * r * u.F32[i]
		case compute.SiLU:
			dst.F32[i] = SiLU(v) * u.F32[i]
		default:
			panic(fmt.Sprintf("reference.ActMul: unknown activation %v", act))
		}
	}
}

// SiLU is g / (1 + exp(-g)), the exponential in float64.
func SiLU(g float32) float32 { return g / (1 + float32(math.Exp(float64(-g)))) }

// RoPE rotates each head of each row with the table row of its position.
func (b *Backend) RoPE(dstT, xT, posT, tableT compute.Tensor, p compute.RoPEParams) {
	k, r, n := compute.CheckRoPE(dstT, xT, posT, tableT, p)
	dst, x, pos, table := asT("RoPE", dstT), asT("RoPE", xT), asT("RoPE", posT), asT("RoPE", tableT)
	half := p.Dims / 2
	for i := 0; i < r; i++ {
		ps := int(pos.I32[i])
		if ps < 0 || ps >= n {
			panic(fmt.Sprintf("reference.RoPE: position %d outside the table's %d", ps, n))
		}
		cs := table.F32[ps*p.Dims : (ps+1)*p.Dims]
		row, out := x.F32[i*k:(i+1)*k], dst.F32[i*k:(i+1)*k]
		for h := 0; h < k; h += p.HeadDim {
			xh, oh := row[h:h+p.HeadDim], out[h:h+p.HeadDim]
			for j := 0; j < half; j++ {
				c, s := cs[2*j], cs[2*j+1]
				a, bi := 2*j, 2*j+1
				if p.NeoX {
					a, bi = j, j+half
				}
				x0, x1 := xh[a], xh[bi]
				oh[a] = x0*c - x1*s
				oh[bi] = x0*s + x1*c
			}
			copy(oh[p.Dims:], xh[p.Dims:])
		}
	}
}

// StoreKV writes x's rows into the cache at rows pos[0], pos[0]+1, ...
// (F16 caches round to nearest even).
func (b *Backend) StoreKV(cacheT, xT, posT compute.Tensor) {
	k, _, cn := compute.CheckStoreKV(cacheT, xT, posT)
	c, x := asT("StoreKV", cacheT), asT("StoreKV", xT)
	pos0 := host.Consecutive(name, "StoreKV", asT("StoreKV", posT).I32, cn)
	for i, v := range x.F32 {
		switch c.DType() {
		case gguf.F32:
			c.F32[pos0*k+i] = v
		case gguf.F16:
			c.F16[pos0*k+i] = gguf.F32ToF16(v)
		default:
			panic(fmt.Sprintf("reference.StoreKV: cache type %s", c.DType()))
		}
	}
}

// kv returns element e of row j of a cache of rows of k elements.
func kv(c *host.Tensor, j, k, e int) float32 {
	if c.F16 != nil {
		return gguf.F16ToF32(c.F16[j*k+e])
	}
	return c.F32[j*k+e]
}

// Attention: causal softmax(Q.K^T*scale) V with grouped KV heads.
func (b *Backend) Attention(dstT, qT, kT, vT, posT compute.Tensor, p compute.AttnParams) {
	r, nctx := compute.CheckAttention(dstT, qT, kT, vT, posT, p)
	dst, q, kc, vc := asT("Attention", dstT), asT("Attention", qT), asT("Attention", kT), asT("Attention", vT)
	pos0 := host.Consecutive(name, "Attention", asT("Attention", posT).I32, nctx)
	qk, _ := compute.RowsOf(q)
	kvk, _ := compute.RowsOf(kc)
	hd := p.HeadDim
	group := p.NHead / p.NKVHead
	qh := make([]float32, hd)
	sc := make([]float32, pos0+r)
	for i := 0; i < r; i++ {
		n := pos0 + i + 1 // causal: positions 0..pos0+i
		for h := 0; h < p.NHead; h++ {
			kv0 := (h / group) * hd
			for d := range qh {
				qh[d] = q.F32[i*qk+h*hd+d]
				if kc.DType() == gguf.F16 {
					qh[d] = gguf.RoundF16(qh[d])
				}
			}
			mx := float32(math.Inf(-1))
			for j := 0; j < n; j++ {
				var s float32
				for d, qv := range qh {
					s += qv * kv(kc, j, kvk, kv0+d)
				}
				s *= p.Scale
				sc[j] = s
				mx = max(mx, s)
			}
			var sum float64
			for j := 0; j < n; j++ {
				e := float32(math.Exp(float64(sc[j] - mx)))
				sc[j] = e
				sum += float64(e)
			}
			inv := float32(1 / sum)
			out := dst.F32[i*qk+h*hd : i*qk+(h+1)*hd]
			clear(out)
			for j := 0; j < n; j++ {
				pr := sc[j] * inv
				for d := range out {
					out[d] += pr * kv(vc, j, kvk, kv0+d)
				}
			}
		}
	}
}

// MatMul: dst [N, T] = w [K, N] applied to each of the T rows of x [K, T].
func (b *Backend) MatMul(dstT, wT, xT compute.Tensor) {
	dst, w, x := asT("MatMul", dstT), asT("MatMul", wT), asT("MatMul", xT)
	K, N := w.Shape()[0], compute.Elements(w.Shape())/w.Shape()[0]
	xk, T := compute.RowsOf(x)
	dk, dT := compute.RowsOf(dst)
	if xk != K || dk != N || dT != T || x.F32 == nil || dst.F32 == nil {
		panic(fmt.Sprintf("reference.MatMul: dst %v = w %v (%s) x %v", dst.Shape(), w.Shape(), w.DType(), x.Shape()))
	}
	y := func(t, n int) *float32 { return &dst.F32[t*N+n] }
	switch w.DType() {
	case gguf.I2_S:
		q := make([]int8, K*T)
		s := make([]float32, T)
		for t := 0; t < T; t++ {
			s[t], _ = QuantizeRow(x.F32[t*K:(t+1)*K], q[t*K:(t+1)*K])
		}
		for n := 0; n < N; n++ {
			for t := 0; t < T; t++ {
				*y(t, n) = float32(DotI2S(w.Raw[n*K/4:(n+1)*K/4], q[t*K:(t+1)*K])) / s[t] * w.Scale
			}
		}
	case gguf.TQ1_0, gguf.TQ2_0:
		nb := K / 256
		q := make([]int8, K*T)
		ds := make([]float32, nb*T)
		for t := 0; t < T; t++ {
			QuantizeQ8KRow(x.F32[t*K:(t+1)*K], q[t*K:(t+1)*K], ds[t*nb:(t+1)*nb])
		}
		rowBytes, decode := nb*66, gguf.TernaryTQ2_0
		if w.DType() == gguf.TQ1_0 {
			rowBytes, decode = nb*54, gguf.TernaryTQ1_0
		}
		tern, d := make([]int8, K), make([]float32, nb)
		for n := 0; n < N; n++ {
			if err := decode(w.Raw[n*rowBytes:(n+1)*rowBytes], tern, d); err != nil {
				panic(fmt.Sprintf("reference.MatMul: %s row %d: %v", w.DType(), n, err))
			}
			for t := 0; t < T; t++ {
				*y(t, n) = DotTQ(tern, d, q[t*K:(t+1)*K], ds[t*nb:(t+1)*nb])
			}
		}
	default:
		row := make([]float32, K)
		for n := 0; n < N; n++ {
			w.Row(n, row)
			for t := 0; t < T; t++ {
				*y(t, n) = DotF64(row, x.F32[t*K:(t+1)*K])
			}
		}
	}
}

// QuantizeRow quantizes activations to int8 as the I2_S matmul does:
// m = max(max|x|, 1e-5), s = 127/m, q = clamp(roundHalfEven(x*s), -128, 127)
// with the product in float32. It returns s and sum(q).
func QuantizeRow(x []float32, q []int8) (s float32, sum int32) {
	var m float32
	for _, v := range x {
		m = max(m, float32(math.Abs(float64(v))))
	}
	m = max(m, 1e-5)
	s = 127 / m
	for i, v := range x {
		p := v * s
		r := math.RoundToEven(float64(p))
		r = min(max(r, -128), 127)
		q[i] = int8(r)
		sum += int32(q[i])
	}
	return s, sum
}

// DotI2S returns sum_k T[k]*q[k] for one I2_S row (len(q)/4 bytes; byte j
// of a 32-byte block holds weights j, 32+j, 64+j and 96+j of its 128 in bits
// 7:6, 5:4, 3:2, 1:0, code c meaning c-1, code 3 counting as 0).
func DotI2S(row []byte, q []int8) int32 {
	ternary := func(c byte) int32 {
		if c == 3 {
			return 0
		}
		return int32(c) - 1
	}
	var acc int32
	for blk := 0; blk < len(q)/128; blk++ {
		b := row[blk*32 : blk*32+32]
		qb := q[blk*128 : blk*128+128]
		for j := 0; j < 32; j++ {
			v := b[j]
			acc += ternary(v>>6) * int32(qb[j])
			acc += ternary(v>>4&3) * int32(qb[32+j])
			acc += ternary(v>>2&3) * int32(qb[64+j])
			acc += ternary(v&3) * int32(qb[96+j])
		}
	}
	return acc
}

// QuantizeQ8K quantizes one 256-element block as ggml's Q8_K: the signed
// value of largest magnitude maps to -127 and q = min(127, roundHalfEven(x *
// -127/max)). It returns the block scale (0 for an all-zero block).
func QuantizeQ8K(x []float32, q []int8) float32 {
	var amax, mx float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, mx = a, v
		}
	}
	if amax == 0 {
		clear(q)
		return 0
	}
	iscale := -127 / mx
	for i, v := range x {
		r := math.RoundToEven(float64(iscale * v))
		q[i] = int8(min(r, 127))
	}
	return 1 / iscale
}

// QuantizeQ8KRow quantizes a row of 256-element blocks (QuantizeQ8K) into
// q, with the block scales in ds.
func QuantizeQ8KRow(x []float32, q []int8, ds []float32) {
	for i := range ds {
		ds[i] = QuantizeQ8K(x[i*256:(i+1)*256], q[i*256:(i+1)*256])
	}
}

// DotTQ is one output of a TQ1_0/TQ2_0 matmul: per 256-weight block the
// exact integer dot of the ternary weights tern with the Q8_K activations q,
// times the block's weight scale d and activation scale ds, summed in
// float32.
func DotTQ(tern []int8, d []float32, q []int8, ds []float32) float32 {
	var sumf float32
	for i := range d {
		var sumi int32
		qb := q[i*256 : i*256+256]
		for j, v := range tern[i*256 : i*256+256] {
			sumi += int32(v) * int32(qb[j])
		}
		sumf += float32(sumi) * (ds[i] * d[i])
	}
	return sumf
}

// DotF64 is the dot product of a dequantized weight row and x, summed in
// float64.
func DotF64(row, x []float32) float32 {
	var s float64
	for k, v := range row {
		s += float64(v) * float64(x[k])
	}
	return float32(s)
}

// Penalize applies the repetition penalty (compute.Penalize).
func (b *Backend) Penalize(logitsT, idsT compute.Tensor, penalty float32) {
	compute.CheckPenalize(logitsT, idsT)
	compute.Penalize(asT("Penalize", logitsT).F32, asT("Penalize", idsT).I32, penalty)
}

// TopK selects the k largest logits (compute.TopK).
func (b *Backend) TopK(dstT, logitsT compute.Tensor, k int) {
	compute.CheckTopK(dstT, logitsT, k)
	dst := asT("TopK", dstT)
	b.cands = compute.TopK(b.cands, asT("TopK", logitsT).F32, k)
	for i, c := range b.cands {
		dst.I32[i] = c.ID
		dst.I32[k+i] = int32(math.Float32bits(c.Logit))
	}
}
