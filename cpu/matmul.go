package cpu

import (
	"fmt"

	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/reference"
)

// MatMul: dst [N, T] = w [K, N] applied to each of the T rows of x [K, T].
func (b *Backend) MatMul(dstT, wT, xT compute.Tensor) {
	dst, w, x := asT("MatMul", dstT), asT("MatMul", wT), asT("MatMul", xT)
	K, N := w.Shape()[0], compute.Elements(w.Shape())/w.Shape()[0]
	xk, T := rows(x)
	dk, dT := rows(dst)
	if xk != K || dk != N || dT != T || x.F32 == nil || dst.F32 == nil {
		panic(fmt.Sprintf("cpu.MatMul: dst %v = w %v (%s) x %v", dst.Shape(), w.Shape(), w.DType(), x.Shape()))
	}
	if b.matmulFast(dst.F32, w, x.F32, K, N, T) {
		return
	}
	// No fast path for the type: the reference's arithmetic, rows split
	// across the workers.
	switch w.DType() {
	case gguf.I2_S:
		b.matmulI2S(dst.F32, w, x.F32, K, N, T)
	case gguf.TQ1_0, gguf.TQ2_0:
		b.matmulTQ(dst.F32, w, x.F32, K, N, T)
	default:
		b.matmulFloat(dst.F32, w, x.F32, K, N, T)
	}
}

func (b *Backend) matmulI2S(dst []float32, w *tensor, x []float32, K, N, T int) {
	q := make([]int8, K*T)
	scales := make([]float32, T)
	for t := 0; t < T; t++ {
		scales[t], _ = reference.QuantizeRow(x[t*K:(t+1)*K], q[t*K:(t+1)*K])
	}
	rb := K / 4
	b.pool.run(N, 8, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			row := w.Raw[n*rb : (n+1)*rb]
			for t := 0; t < T; t++ {
				d := reference.DotI2S(row, q[t*K:(t+1)*K])
				dst[t*N+n] = float32(d) / scales[t] * w.Scale
			}
		}
	})
}

func (b *Backend) matmulTQ(dst []float32, w *tensor, x []float32, K, N, T int) {
	nb := K / 256
	q := make([]int8, K*T)
	ds := make([]float32, nb*T)
	for t := 0; t < T; t++ {
		reference.QuantizeQ8KRow(x[t*K:(t+1)*K], q[t*K:(t+1)*K], ds[t*nb:(t+1)*nb])
	}
	rowBytes := nb * 66
	ternary := gguf.TernaryTQ2_0
	if w.DType() == gguf.TQ1_0 {
		rowBytes, ternary = nb*54, gguf.TernaryTQ1_0
	}
	b.pool.run(N, 1, func(lo, hi int) {
		tern := make([]int8, K)
		d := make([]float32, nb)
		for n := lo; n < hi; n++ {
			if err := ternary(w.Raw[n*rowBytes:(n+1)*rowBytes], tern, d); err != nil {
				panic(fmt.Sprintf("cpu.MatMul: %s row %d: %v", w.DType(), n, err))
			}
			for t := 0; t < T; t++ {
				dst[t*N+n] = reference.DotTQ(tern, d, q[t*K:(t+1)*K], ds[t*nb:(t+1)*nb])
			}
		}
	})
}

func (b *Backend) matmulFloat(dst []float32, w *tensor, x []float32, K, N, T int) {
	b.pool.run(N, 1, func(lo, hi int) {
		row := make([]float32, K)
		for n := lo; n < hi; n++ {
			w.Row(n, row)
			for t := 0; t < T; t++ {
				dst[t*N+n] = reference.DotF64(row, x[t*K:(t+1)*K])
			}
		}
	})
}
