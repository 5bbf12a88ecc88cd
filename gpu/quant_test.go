//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"bitnet/engine/compute"
	"bitnet/engine/compute/computetest"
	"bitnet/gguf"
	"bitnet/gpu"
)

// randomQuant returns n rows of k values of Q8_0 or Q6_K with random codes
// and group scales and small block scales (fast to make at LM-head sizes,
// unlike encoding).
func randomQuant(rng *rand.Rand, dt gguf.DType, k, n int) []byte {
	blk, vals := gguf.Q8_0Bytes, 32
	if dt == gguf.Q6_K {
		blk, vals = gguf.Q6_KBytes, 256
	}
	raw := make([]byte, k/vals*n*blk)
	for i := 0; i+8 <= len(raw); i += 8 {
		binary.LittleEndian.PutUint64(raw[i:], rng.Uint64())
	}
	for b := 0; b < len(raw); b += blk {
		d := gguf.F32ToF16(float32(0.5+rng.Float64()) / 1024)
		at := b // Q8_0: the scale first
		if dt == gguf.Q6_K {
			at = b + blk - 2
		}
		raw[at], raw[at+1] = byte(d), byte(d>>8)
	}
	return raw
}

// decodeRows decodes n rows of k values of dt.
func decodeRows(dt gguf.DType, raw []byte, k, n int) []float32 {
	rb := len(raw) / n
	dec := make([]float32, k*n)
	for r := range n {
		if err := gguf.DecodeRow(dt, raw[r*rb:(r+1)*rb], dec[r*k:(r+1)*k], 0); err != nil {
			panic(err)
		}
	}
	return dec
}

// refMatMul is w x in float64 (w decoded, n rows of k).
func refMatMul(w, x []float32, k, n, t int) []float32 {
	y := make([]float32, n*t)
	for tt := range t {
		for r := range n {
			var s float64
			for i := range k {
				s += float64(w[r*k+i]) * float64(x[tt*k+i])
			}
			y[tt*n+r] = float32(s)
		}
	}
	return y
}

// TestQuantHead checks the Q8_0 and Q6_K LM-head matmuls against float64
// dot products of the decoded weights: the decode matvec kernels (a few
// tokens, profiled by name), the generic kernels (more tokens), a head of
// more rows than one binding takes, and a captured step replayed on new
// activations.
func TestQuantHead(t *testing.T) {
	for _, o := range []struct {
		sub  bool
		rows int // weight rows per subgroup (0: the default)
	}{{true, 0}, {true, 1}, {true, 3}, {true, 4}, {false, 0}} {
		be := openTestWith(t, gpu.Options{Device: -1, NoSubgroups: !o.sub, HeadRows: o.rows})
		for _, dt := range []gguf.DType{gguf.Q8_0, gguf.Q6_K} {
			for _, s := range []struct{ k, n int }{{2560, 1000}, {768, 515}, {256, 70000}} {
				if (s.n > 1000 && !o.sub) || (o.rows != 0 && s.k != 768) {
					continue
				}
				t.Run(fmt.Sprintf("subgroups=%v/rows=%d/%s/k=%d/n=%d", o.sub, o.rows, dt, s.k, s.n), func(t *testing.T) {
					quantHead(t, be, dt, s.k, s.n)
				})
			}
		}
	}
}

func quantHead(t *testing.T, be *gpu.Backend, dt gguf.DType, k, n int) {
	rng := rand.New(rand.NewPCG(uint64(k), uint64(n)+uint64(dt)))
	raw := randomQuant(rng, dt, k, n)
	dec := decodeRows(dt, raw, k, n)
	w, err := be.Weights(gguf.TensorInfo{Name: "head", Type: dt, Shape: []int64{int64(k), int64(n)}, Size: int64(len(raw))}, raw)
	if err != nil {
		t.Fatal(err)
	}
	xs := func(m int) []float32 {
		v := make([]float32, m)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	check := func(what string, got, want []float32) {
		t.Helper()
		if e := computetest.NMSE(got, want); e > 1e-10 || math.IsNaN(e) {
			t.Errorf("%s: NMSE %.3g", what, e)
		}
	}
	for _, T := range []int{1, 2, 4, 5} {
		x, err := be.Alloc(gguf.F32, k, T)
		if err != nil {
			t.Fatal(err)
		}
		y, err := be.Alloc(gguf.F32, n, T)
		if err != nil {
			t.Fatal(err)
		}
		xv := xs(k * T)
		if err := be.Write(x, xv); err != nil {
			t.Fatal(err)
		}
		fast := be.Subgroups() && T <= 4
		if fast {
			if err := be.ProfileKernels(true); err != nil {
				t.Fatal(err)
			}
		}
		be.MatMul(y, w, x)
		got := make([]float32, n*T)
		if err := be.Read(y, got); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("t=%d", T), got, refMatMul(dec, xv, k, n, T))
		if fast {
			kernel := "matvec_" + strings.ToLower(dt.String())
			var labels []string
			for _, kt := range be.KernelTimes() {
				labels = append(labels, kt.Label)
			}
			if len(labels) == 0 || !strings.HasPrefix(labels[0], kernel+" ") {
				t.Errorf("t=%d: kernels %q, want %s", T, labels, kernel)
			}
			if err := be.ProfileKernels(false); err != nil {
				t.Fatal(err)
			}
		}
		if T == 1 {
			// Captured once, replayed on new activations.
			p, err := be.Capture(func() { be.MatMul(y, w, x) })
			if err != nil {
				t.Fatal(err)
			}
			xv = xs(k)
			if err := be.Write(x, xv); err != nil {
				t.Fatal(err)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			p.Release()
			if err := be.Read(y, got); err != nil {
				t.Fatal(err)
			}
			check("replayed", got, refMatMul(dec, xv, k, n, T))
		}
		be.Free(x)
		be.Free(y)
	}
}

// BenchmarkLMHead times the decode matvec of a 2B-4T-sized LM head (2560 x
// 128256) of each type the head may have, one token, and reports the
// kernel's weight bandwidth from GPU timestamps.
func BenchmarkLMHead(b *testing.B) {
	const k, n = 2560, 128256
	for _, dt := range []gguf.DType{gguf.F16, gguf.Q8_0, gguf.Q6_K} {
		b.Run(dt.String(), func(b *testing.B) {
			be := openTest(b)
			rng := rand.New(rand.NewPCG(1, 2))
			var raw []byte
			if dt == gguf.F16 {
				raw = make([]byte, 2*k*n)
				for i := 0; i < len(raw); i += 2 {
					h := gguf.F32ToF16(float32(rng.NormFloat64()) / 32)
					raw[i], raw[i+1] = byte(h), byte(h>>8)
				}
			} else {
				raw = randomQuant(rng, dt, k, n)
			}
			benchMatvec(b, be, rng, dt, raw, k, n)
		})
	}
}

// BenchmarkMatvecI2S times the I2_S decode matvec, one token, on the 2B-4T
// shapes of the FFN (gate or up: 2560 -> 6912, down: 6912 -> 2560) and the
// attention output (2560 -> 2560), which wait on latency more than on
// memory, and on a matrix of 113 MB (6912 -> 65535, one buffer), which
// shows the kernel's bandwidth; besides GB/s it reports the share of the
// device's copy bandwidth (read plus written, measured on the same backend
// before the matvec), the yardstick for kernels, and the copy bandwidth
// measured again after it (on an H200 the 113 MB matrix's time varied
// fivefold between processes, and the copy after it ran at 40% of the
// usual).
func BenchmarkMatvecI2S(b *testing.B) {
	for _, s := range []struct{ k, n int }{{2560, 6912}, {6912, 2560}, {2560, 2560}, {6912, 65535}} {
		b.Run(fmt.Sprintf("%dx%d", s.k, s.n), func(b *testing.B) {
			be := openTest(b)
			rng := rand.New(rand.NewPCG(uint64(s.k), uint64(s.n)))
			t := make([]int8, s.k*s.n)
			for i := range t {
				t[i] = int8(rng.IntN(3)) - 1
			}
			copyBW, err := be.CopyBandwidth()
			if err != nil {
				b.Fatal(err)
			}
			bw := benchMatvec(b, be, rng, gguf.I2_S, gguf.EncodeI2S(t, 0.8), s.k, s.n)
			after, err := be.CopyBandwidth()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(copyBW/1e9, "copy-GB/s")
			b.ReportMetric(after/1e9, "copy-after-GB/s")
			b.ReportMetric(100*bw/copyBW, "%copy")
		})
	}
}

// benchBatch is the most one-dispatch calls timeKernels records in one
// submission (within the kernel profiler's timestamps per submission).
const benchBatch = 512

// timeKernels runs call b.N times under the kernel profiler, perSubmit
// calls to a submission, after a warm-up call (which builds the pipelines),
// and returns the GPU time of each kernel over the b.N calls. The calls go
// in few submissions, back to back: a GPU left idle between one-call
// submissions lowers its clocks (an H100's F16 head took 706 us per call
// so, 226 us inside the model).
func timeKernels(b *testing.B, be *gpu.Backend, perSubmit int, call func()) []compute.KernelTime {
	b.Helper()
	if err := be.ProfileKernels(true); err != nil {
		b.Fatal(err)
	}
	call()
	if err := be.Flush(); err != nil {
		b.Fatal(err)
	}
	be.KernelTimes()
	b.ResetTimer()
	for i := range b.N {
		call()
		if (i+1)%perSubmit == 0 {
			if err := be.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := be.Flush(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	times := be.KernelTimes()
	if err := be.ProfileKernels(false); err != nil {
		b.Fatal(err)
	}
	return times
}

// benchMatvec uploads a weight [k, n] of type dt and times its matmul with
// one random token under the kernel profiler: it reports the GPU time of
// the kernels per call (the activations' quantization included where it
// is a kernel of its own) and returns the weight bytes per second of the
// kernels that read the weight (also reported).
func benchMatvec(b *testing.B, be *gpu.Backend, rng *rand.Rand, dt gguf.DType, raw []byte, k, n int) float64 {
	b.Helper()
	w, err := be.Weights(gguf.TensorInfo{Name: "w", Type: dt, Shape: []int64{int64(k), int64(n)}, Size: int64(len(raw))}, raw)
	if err != nil {
		b.Fatal(err)
	}
	x, _ := be.Alloc(gguf.F32, k, 1)
	y, _ := be.Alloc(gguf.F32, n, 1)
	xv := make([]float32, k)
	for i := range xv {
		xv[i] = float32(rng.NormFloat64())
	}
	if err := be.Write(x, xv); err != nil {
		b.Fatal(err)
	}
	var bytes int64
	var all, reading float64
	for _, kt := range timeKernels(b, be, benchBatch, func() { be.MatMul(y, w, x) }) {
		all += kt.Time.Seconds()
		if kt.Bytes > 0 {
			bytes += kt.Bytes
			reading += kt.Time.Seconds()
		}
		b.Logf("%s: %d calls, %v", kt.Label, kt.Calls, kt.Time)
	}
	var bw float64
	if all > 0 && reading > 0 {
		bw = float64(bytes) / reading
		b.ReportMetric(all/float64(b.N)*1e6, "gpu-us/op")
		b.ReportMetric(bw/1e9, "GB/s")
	}
	be.Free(x)
	be.Free(y)
	return bw
}

// BenchmarkAttnBlock times the tail of a decode step's attention block on
// the 2B-4T shapes (20 heads of 128, 5 KV heads, F16 caches): attention
// over n positions, the sub-norm and the output projection with its
// residual, as the engine issues them. It reports the GPU time of all
// their kernels per token.
func BenchmarkAttnBlock(b *testing.B) {
	const k, kvd = 2560, 640
	for _, n := range []int{8, 32, 64, 128} {
		b.Run(fmt.Sprintf("positions=%d", n), func(b *testing.B) {
			be := openTestWith(b, gpu.Options{Device: -1})
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			t := make([]int8, k*k)
			for i := range t {
				t[i] = int8(rng.IntN(3)) - 1
			}
			raw := gguf.EncodeI2S(t, 0.8)
			w, err := be.Weights(gguf.TensorInfo{Name: "wo", Type: gguf.I2_S, Shape: []int64{k, k}, Size: int64(len(raw))}, raw)
			if err != nil {
				b.Fatal(err)
			}
			alloc := func(dt gguf.DType, k, n int) compute.Tensor {
				x, err := be.Alloc(dt, k, n)
				if err != nil {
					b.Fatal(err)
				}
				return x
			}
			random := func(x compute.Tensor, k, n int) {
				v := make([]float32, k*n)
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
				if err := be.Write(x, v); err != nil {
					b.Fatal(err)
				}
			}
			kc, vc := alloc(gguf.F16, kvd, 128), alloc(gguf.F16, kvd, 128)
			rows, every, pos := alloc(gguf.F32, kvd, n), alloc(gguf.I32, 1, n), alloc(gguf.I32, 1, 1)
			ids := make([]int32, n)
			for i := range ids {
				ids[i] = int32(i)
			}
			random(rows, kvd, n)
			if err := be.WriteInts(every, ids); err != nil {
				b.Fatal(err)
			}
			be.StoreKV(kc, rows, every)
			be.StoreKV(vc, rows, every)
			if err := be.WriteInts(pos, []int32{int32(n - 1)}); err != nil {
				b.Fatal(err)
			}
			q, x, nw := alloc(gguf.F32, k, 1), alloc(gguf.F32, k, 1), alloc(gguf.F32, k, 1)
			att, sub, y := alloc(gguf.F32, k, 1), alloc(gguf.F32, k, 1), alloc(gguf.F32, k, 1)
			random(q, k, 1)
			random(x, k, 1)
			random(nw, k, 1)
			p := compute.AttnParams{NHead: 20, NKVHead: 5, HeadDim: 128, Scale: float32(1 / math.Sqrt(128))}
			step := func() {
				be.Attention(att, q, kc, vc, pos, p)
				be.RMSNorm(sub, att, nw, 1e-5)
				be.MatMul(y, w, sub)
				be.Add(x, x, y)
			}
			var all float64
			// Two dispatches a step at most: half as many steps per
			// submission.
			for _, kt := range timeKernels(b, be, benchBatch/2, step) {
				all += kt.Time.Seconds()
				b.Logf("%s: %d calls, %v", kt.Label, kt.Calls, kt.Time)
			}
			b.ReportMetric(all/float64(b.N)*1e6, "gpu-us/op")
		})
	}
}
