package cpu

import (
	"fmt"
	"math"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// QuantizeRow quantizes activations to int8 per row as the I2_S matmul does:
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

// dotI2SRow returns sum_k T[k]*q[k] with T in {-1,0,1} for one I2_S row
// (len(q)/4 bytes). Code 3 counts as 0.
func dotI2SRow(row []byte, q []int8) int32 {
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

func ternary(c byte) int32 {
	if c == 3 {
		return 0
	}
	return int32(c) - 1
}

// MatMul: dst [N, T] = w [K, N] applied to each of the T rows of x [K, T].
func (b *Backend) MatMul(dstT, wT, xT compute.Tensor) {
	dst, w, x := asT("MatMul", dstT), asT("MatMul", wT), asT("MatMul", xT)
	K, N := w.shape[0], compute.Elements(w.shape)/w.shape[0]
	xk, T := rows(x)
	dk, dT := rows(dst)
	if xk != K || dk != N || dT != T || x.f32 == nil || dst.f32 == nil {
		panic(fmt.Sprintf("cpu.MatMul: dst %v = w %v (%s) x %v", dst.shape, w.shape, w.dt, x.shape))
	}
	if !b.opt.Reference && b.matmulFast(dst.f32, w, x.f32, K, N, T) {
		return
	}
	switch w.dt {
	case gguf.I2_S:
		b.matmulI2S(dst.f32, w, x.f32, K, N, T)
	case gguf.TQ1_0, gguf.TQ2_0:
		b.matmulTQ(dst.f32, w, x.f32, K, N, T)
	default:
		b.matmulFloat(dst.f32, w, x.f32, K, N, T)
	}
}

func (b *Backend) matmulI2S(dst []float32, w *tensor, x []float32, K, N, T int) {
	q := make([]int8, K*T)
	scales := make([]float32, T)
	for t := 0; t < T; t++ {
		scales[t], _ = QuantizeRow(x[t*K:(t+1)*K], q[t*K:(t+1)*K])
	}
	rb := K / 4
	b.pool.run(N, 8, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			row := w.raw[n*rb : (n+1)*rb]
			for t := 0; t < T; t++ {
				d := dotI2SRow(row, q[t*K:(t+1)*K])
				dst[t*N+n] = float32(d) / scales[t] * w.scale
			}
		}
	})
}

func (b *Backend) matmulTQ(dst []float32, w *tensor, x []float32, K, N, T int) {
	nb := K / 256
	q := make([]int8, K*T)
	ds := make([]float32, nb*T)
	for t := 0; t < T; t++ {
		for i := 0; i < nb; i++ {
			o := t*K + i*256
			ds[t*nb+i] = QuantizeQ8K(x[o:o+256], q[o:o+256])
		}
	}
	rowBytes := nb * 66
	ternary := gguf.TernaryTQ2_0
	if w.dt == gguf.TQ1_0 {
		rowBytes, ternary = nb*54, gguf.TernaryTQ1_0
	}
	b.pool.run(N, 1, func(lo, hi int) {
		tern := make([]int8, K)
		d := make([]float32, nb)
		for n := lo; n < hi; n++ {
			if err := ternary(w.raw[n*rowBytes:(n+1)*rowBytes], tern, d); err != nil {
				panic(fmt.Sprintf("cpu.MatMul: %s row %d: %v", w.dt, n, err))
			}
			for t := 0; t < T; t++ {
				var sumf float32
				for i := 0; i < nb; i++ {
					var sumi int32
					qb := q[t*K+i*256 : t*K+i*256+256]
					for j, v := range tern[i*256 : i*256+256] {
						sumi += int32(v) * int32(qb[j])
					}
					sumf += float32(sumi) * (ds[t*nb+i] * d[i])
				}
				dst[t*N+n] = sumf
			}
		}
	})
}

func (b *Backend) matmulFloat(dst []float32, w *tensor, x []float32, K, N, T int) {
	b.pool.run(N, 1, func(lo, hi int) {
		row := make([]float32, K)
		for n := lo; n < hi; n++ {
			rowToF32(w, n, row)
			for t := 0; t < T; t++ {
				xr := x[t*K : (t+1)*K]
				var s float64
				for k, v := range row {
					s += float64(v) * float64(xr[k])
				}
				dst[t*N+n] = float32(s)
			}
		}
	})
}
