package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"bitnet/cpu"
	"bitnet/engine/compute"
	"bitnet/engine/compute/computetest"
	"bitnet/gguf"
)

// TestScreen runs the shared checks of the screened matmul (the LM head of
// greedy and top-k decoding).
func TestScreen(t *testing.T) {
	be := cpu.New(cpu.Options{Threads: 2})
	defer be.Close()
	computetest.RunScreen(t, be)
}

// BenchmarkScreenedHead times the LM head of 2B-4T's shapes (2560 x 128256,
// random F16 weights and input) in full and screened for k = 1 and 40, and
// reports the rows a screened call computes exactly.
func BenchmarkScreenedHead(b *testing.B) {
	const K, N = 2560, 128256
	be := cpu.New(cpu.Options{})
	defer be.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 2*K*N)
	for i := 0; i < K*N; i++ {
		h := gguf.F32ToF16(float32(rng.NormFloat64() * 0.05))
		raw[2*i], raw[2*i+1] = byte(h), byte(h>>8)
	}
	q8 := make([]byte, N*(K/32)*34)
	bound := make([]float32, N)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := make([]float32, K)
			for r := w * N / workers; r < (w+1)*N/workers; r++ {
				rb := K / 32 * 34
				_, c, err := compute.ScreenRow(q8[r*rb:r*rb], gguf.F16, raw[2*K*r:2*K*(r+1)], wr)
				if err != nil {
					panic(err)
				}
				bound[r] = c
			}
		}()
	}
	wg.Wait()
	weight := func(name string, dt gguf.DType, raw []byte) compute.Tensor {
		t, err := be.Weights(gguf.TensorInfo{Name: name, Type: dt, Shape: []int64{K, N}, Size: int64(len(raw))}, raw)
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	w, approx := weight("head", gguf.F16, raw), weight("head.screen", gguf.Q8_0, q8)
	alloc := func(vals []float32, shape ...int) compute.Tensor {
		t, err := be.Alloc(gguf.F32, shape...)
		if err != nil {
			b.Fatal(err)
		}
		if vals != nil {
			if err := be.Write(t, vals); err != nil {
				b.Fatal(err)
			}
		}
		return t
	}
	xs := make([]float32, K)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	x, bt, dst := alloc(xs, K, 1), alloc(bound, N), alloc(nil, N, 1)
	b.Run("full", func(b *testing.B) {
		b.SetBytes(2 * K * N)
		for b.Loop() {
			be.MatMul(dst, w, x)
		}
	})
	for _, k := range []int{1, 40} {
		b.Run(fmt.Sprintf("screened_k%d", k), func(b *testing.B) {
			c0, r0 := be.ScreenStats()
			b.SetBytes(2 * K * N) // the full head's, for comparison
			for b.Loop() {
				be.ScreenMatMul(dst, w, approx, bt, x, k, nil)
			}
			c1, r1 := be.ScreenStats()
			b.ReportMetric(float64(r1-r0)/float64(c1-c0), "rows/op")
		})
	}
}
