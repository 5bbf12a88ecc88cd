package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"bitnet/gguf"
)

// Benchmarks report MB/s of weights streamed (b.SetBytes), one thread unless
// the name says otherwise. Compare the large (beyond-cache) cases with
// BenchmarkStreamRead/threads=1 from the same run:
//
//	go test -run '^$' -bench . -benchtime 20x ./cpu/kernels

const gib = 1 << 30

// benchPaths runs f as one sub-benchmark per path.
func benchPaths(b *testing.B, f func(b *testing.B)) {
	for _, name := range Paths() {
		b.Run(name, func(b *testing.B) {
			prev, err := SetPath(name)
			if err != nil {
				b.Fatal(err)
			}
			defer SetPath(prev)
			f(b)
		})
	}
}

// BenchmarkStreamRead measures how fast 1 and 2 goroutines read a 1 GiB
// buffer: the bandwidth the large matvecs can at best reach.
func BenchmarkStreamRead(b *testing.B) {
	buf := make([]byte, gib)
	for i := range buf {
		buf[i] = byte(i)
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			b.SetBytes(gib)
			part := gib / threads
			sums := make([]uint64, threads)
			for b.Loop() {
				var wg sync.WaitGroup
				for t := range threads {
					wg.Go(func() { sums[t] += StreamSum(buf[t*part : (t+1)*part]) })
				}
				wg.Wait()
			}
			runtime.KeepAlive(sums)
		})
	}
}

// i2sShape is a ternary matrix of nRows rows of k weights.
type i2sShape struct {
	name     string
	k, nRows int
}

var i2sShapes = []i2sShape{
	{"ffn_up_2560x6912", 2560, 6912},   // 4.4 MB
	{"ffn_down_6912x2560", 6912, 2560}, // 4.4 MB
	{"layer_17MB", 2560, 27264},        // one layer's ternary weights
	// All 30 layers of the 2B model (521 MB): larger than any cache.
	{"model_521MB", 2560, 30 * 27264},
}

func BenchmarkDotI2SRows(b *testing.B) {
	for _, s := range i2sShapes {
		b.Run(s.name, func(b *testing.B) {
			r := newRand(1)
			w := randTernary(r, s.nRows*s.k/4)
			q := randI8(r, s.k)
			out := make([]int32, s.nRows)
			benchPaths(b, func(b *testing.B) {
				if Path() == "generic" && len(w) > 100<<20 {
					b.Skip("slow")
				}
				b.SetBytes(int64(len(w)))
				for b.Loop() {
					DotI2SRows(w, s.k/4, s.nRows, q, out)
				}
			})
		})
	}
}

// BenchmarkMatI2S is the prefill case: nTok tokens against one matrix.
// MB/s counts weight bytes once per call; tok/s is tokens per second.
func BenchmarkMatI2S(b *testing.B) {
	for _, s := range i2sShapes[:2] {
		for _, nTok := range []int{4, 16, 64} {
			b.Run(fmt.Sprintf("%s/tok=%d", s.name, nTok), func(b *testing.B) {
				r := newRand(2)
				w := randTernary(r, s.nRows*s.k/4)
				q := randI8(r, nTok*s.k)
				out := make([]int32, nTok*s.nRows)
				benchPaths(b, func(b *testing.B) {
					b.SetBytes(int64(len(w)))
					for b.Loop() {
						MatI2S(w, s.k/4, s.nRows, q, s.k, nTok, out, s.nRows)
					}
					b.ReportMetric(float64(nTok*b.N)/b.Elapsed().Seconds(), "tok/s")
				})
			})
		}
	}
}

var f16Shapes = []struct {
	name     string
	k, nRows int
}{
	{"2560x6912", 2560, 6912}, // 35 MB
	// The tied LM head of the 2B model: 656 MB.
	{"lm_head_2560x128256", 2560, 128256},
}

func BenchmarkDotF16Rows(b *testing.B) {
	for _, s := range f16Shapes {
		b.Run(s.name, func(b *testing.B) {
			r := newRand(3)
			w := randF16(r, s.k*s.nRows)
			x := randF32(r, s.k, 1)
			out := make([]float32, s.nRows)
			benchPaths(b, func(b *testing.B) {
				if Path() == "generic" && len(w) > 100<<20 {
					b.Skip("slow")
				}
				b.SetBytes(int64(2 * len(w)))
				for b.Loop() {
					DotF16Rows(w, s.k, s.nRows, x, out)
				}
			})
		})
	}
}

// randQuant returns nRows random rows of k weights of a Q8_0 (q6k false) or
// Q6_K matrix: raw random blocks with finite scales.
func randQuant(seed uint64, q6k bool, k, nRows int) []byte {
	dt, bb, block := gguf.Q8_0, Q8Bytes, Q8Block
	if q6k {
		dt, bb, block = gguf.Q6_K, Q6KBytes, Q6KBlock
	}
	rb := k / block * bb
	w := randBytes(newRand(seed), rb*nRows)
	clearNaNScales(dt, w, rb, nRows)
	return w
}

// BenchmarkDotQuantRows is BenchmarkDotF16Rows for Q8_0 and Q6_K weights,
// 2560 x 32768 (89 and 69 MB, beyond the caches).
func BenchmarkDotQuantRows(b *testing.B) {
	const k, nRows = 2560, 32768
	x := randF32(newRand(8), k, 1)
	out := make([]float32, nRows)
	for _, q6k := range []bool{false, true} {
		name, dot := "q8_0_2560x32768", DotQ8_0Rows
		if q6k {
			name, dot = "q6_k_2560x32768", DotQ6KRows
		}
		b.Run(name, func(b *testing.B) {
			w := randQuant(9, q6k, k, nRows)
			benchPaths(b, func(b *testing.B) {
				b.SetBytes(int64(len(w)))
				for b.Loop() {
					dot(w, x, out)
				}
			})
		})
	}
}

func BenchmarkMatF16(b *testing.B) {
	const k, nRows = 2560, 8192
	for _, nTok := range []int{4, 16} {
		b.Run(fmt.Sprintf("2560x8192/tok=%d", nTok), func(b *testing.B) {
			r := newRand(4)
			w := randF16(r, k*nRows)
			x := randF32(r, nTok*k, 1)
			out := make([]float32, nTok*nRows)
			benchPaths(b, func(b *testing.B) {
				b.SetBytes(int64(2 * len(w)))
				for b.Loop() {
					MatF16(w, k, nRows, x, k, nTok, out, nRows)
				}
				b.ReportMetric(float64(nTok*b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		})
	}
}

// BenchmarkDotF32 runs a float32 matvec, 2560 x 8192 (84 MB), one DotF32 per row.
func BenchmarkDotF32(b *testing.B) {
	const k, nRows = 2560, 8192
	r := newRand(5)
	a := randF32(r, k*nRows, 1)
	x := randF32(r, k, 1)
	out := make([]float32, nRows)
	benchPaths(b, func(b *testing.B) {
		b.SetBytes(int64(4 * len(a)))
		for b.Loop() {
			for n := range out {
				out[n] = DotF32(a[n*k:(n+1)*k], x)
			}
		}
	})
}

func BenchmarkQuantizeRow(b *testing.B) {
	for _, n := range []int{2560, 6912} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := newRand(6)
			x := randF32(r, n, 1)
			q := make([]int8, n)
			benchPaths(b, func(b *testing.B) {
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					QuantizeRow(x, q)
				}
			})
		})
	}
}

func BenchmarkSumI8(b *testing.B) {
	r := newRand(7)
	q := randI8(r, 6912)
	benchPaths(b, func(b *testing.B) {
		b.SetBytes(int64(len(q)))
		for b.Loop() {
			SumI8(q)
		}
	})
}

// BenchmarkEfficiency alternates a streaming read of 1 GiB with a
// beyond-cache matvec (the 2B model's 521 MB of ternary weights, or its LM
// head in F16, 656 MB, Q8_0, 349 MB, or Q6_K, 269 MB) on 1 and on 2 goroutines, each taking one contiguous part (of
// the buffer, and of the matrix's rows), as the CPU backend splits a decode
// matvec. It reports the best rate seen for each, and the kernel's rate as a
// percentage of the stream's. Alternating and keeping the best pass makes the
// ratio robust against other load on the machine.
func BenchmarkEfficiency(b *testing.B) {
	const streamBytes = 1 << 30
	stream := make([]byte, streamBytes)
	for i := range stream {
		stream[i] = byte(i)
	}
	const k = 2560
	const i2sRows, headRows = 30 * 27264, 128256
	r := newRand(1)
	w2 := randTernary(r, i2sRows*k/4)
	q := randI8(r, k)
	w16 := randF16(r, k*headRows)
	x := randF32(r, k, 1)
	w8, w6 := randQuant(10, false, k, headRows), randQuant(11, true, k, headRows)
	out32, out := make([]int32, i2sRows), make([]float32, headRows)
	for _, threads := range []int{1, 2} {
		// par runs f(part) for every part on its own goroutine.
		par := func(f func(part int)) {
			var wg sync.WaitGroup
			for i := range threads {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f(i)
				}()
			}
			wg.Wait()
		}
		run := func(b *testing.B, bytes int, kernel func(part int)) {
			if Path() == "generic" {
				b.Skip("slow")
			}
			best := [2]float64{}
			for b.Loop() {
				t0 := time.Now()
				par(func(i int) {
					StreamSum(stream[i*streamBytes/threads : (i+1)*streamBytes/threads])
				})
				t1 := time.Now()
				par(kernel)
				t2 := time.Now()
				best[0] = max(best[0], streamBytes/t1.Sub(t0).Seconds())
				best[1] = max(best[1], float64(bytes)/t2.Sub(t1).Seconds())
			}
			b.ReportMetric(best[0]/1e9, "stream-GB/s")
			b.ReportMetric(best[1]/1e9, "kernel-GB/s")
			b.ReportMetric(100*best[1]/best[0], "%stream")
		}
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			rows := i2sRows / threads
			b.Run("i2s_521MB", func(b *testing.B) {
				benchPaths(b, func(b *testing.B) {
					run(b, len(w2), func(i int) { DotI2SRows(w2[i*rows*k/4:], k/4, rows, q, out32[i*rows:(i+1)*rows]) })
				})
			})
			// The decode pattern: MatI2S with one token (the single-row
			// kernel), as the CPU backend runs every ternary matvec of a
			// generated token.
			b.Run("i2s_decode_521MB", func(b *testing.B) {
				benchPaths(b, func(b *testing.B) {
					run(b, len(w2), func(i int) { MatI2S(w2[i*rows*k/4:], k/4, rows, q, k, 1, out32[i*rows:], rows) })
				})
			})
			hrows := headRows / threads
			b.Run("f16_lm_head_656MB", func(b *testing.B) {
				benchPaths(b, func(b *testing.B) {
					run(b, 2*len(w16), func(i int) { MatF16(w16[i*hrows*k:], k, hrows, x, k, 1, out[i*hrows:], hrows) })
				})
			})
			rb8, rb6 := k/Q8Block*Q8Bytes, k/Q6KBlock*Q6KBytes
			b.Run("q8_0_lm_head_349MB", func(b *testing.B) {
				benchPaths(b, func(b *testing.B) {
					run(b, len(w8), func(i int) { DotQ8_0Rows(w8[i*hrows*rb8:], x, out[i*hrows:(i+1)*hrows]) })
				})
			})
			b.Run("q6_k_lm_head_269MB", func(b *testing.B) {
				benchPaths(b, func(b *testing.B) {
					run(b, len(w6), func(i int) { DotQ6KRows(w6[i*hrows*rb6:], x, out[i*hrows:(i+1)*hrows]) })
				})
			})
		})
	}
}
