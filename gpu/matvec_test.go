//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"bitnet/engine/compute/computetest"
	"bitnet/gguf"
	"bitnet/gpu"
)

// randomFloat returns n rows of k random weights of dt (F32, F16 or BF16).
func randomFloat(rng *rand.Rand, dt gguf.DType, k, n int) []byte {
	var raw []byte
	for range k * n {
		v := float32(rng.NormFloat64()) / 16
		switch dt {
		case gguf.F32:
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		case gguf.F16:
			raw = binary.LittleEndian.AppendUint16(raw, gguf.F32ToF16(v))
		default:
			raw = binary.LittleEndian.AppendUint16(raw, uint16(math.Float32bits(v)>>16))
		}
	}
	return raw
}

// kernelLabels runs f with the profiler on and returns the labels of the
// kernels it ran.
func kernelLabels(t *testing.T, be *gpu.Backend, f func()) []string {
	t.Helper()
	if err := be.ProfileKernels(true); err != nil {
		t.Fatal(err)
	}
	f()
	if err := be.Flush(); err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, kt := range be.KernelTimes() {
		labels = append(labels, kt.Label)
	}
	if err := be.ProfileKernels(false); err != nil {
		t.Fatal(err)
	}
	return labels
}

// ran reports whether one of labels names kernel.
func ran(labels []string, kernel string) bool {
	for _, l := range labels {
		if l == kernel || strings.HasPrefix(l, kernel+" ") {
			return true
		}
	}
	return false
}

// TestFloatMatvec checks the F32, F16 and BF16 matmuls against float64 dot
// products: the decode matvec kernels run (by their profile labels) for up
// to four tokens and rows of whole 16-byte loads, the generic kernels for
// more tokens, other row lengths and devices without subgroups.
func TestFloatMatvec(t *testing.T) {
	for _, sub := range []bool{true, false} {
		be := openTestWith(t, gpu.Options{Device: -1, NoSubgroups: !sub})
		for _, dt := range []gguf.DType{gguf.F32, gguf.F16, gguf.BF16} {
			for _, s := range []struct{ k, n int }{{32, 5}, {64, 33}, {2560, 127}, {256, 1000}, {36, 9}, {42, 7}} {
				t.Run(fmt.Sprintf("subgroups=%v/%s/k=%d/n=%d", sub, dt, s.k, s.n), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(s.k), uint64(s.n)+uint64(dt)))
					raw := randomFloat(rng, dt, s.k, s.n)
					dec := decodeRows(dt, raw, s.k, s.n)
					w, err := be.Weights(gguf.TensorInfo{Name: "w", Type: dt, Shape: []int64{int64(s.k), int64(s.n)}, Size: int64(len(raw))}, raw)
					if err != nil {
						t.Fatal(err)
					}
					per := 8
					if dt == gguf.F32 {
						per = 4
					}
					for _, T := range []int{1, 2, 3, 4, 5} {
						x, _ := be.Alloc(gguf.F32, s.k, T)
						y, _ := be.Alloc(gguf.F32, s.n, T)
						xv := make([]float32, s.k*T)
						for i := range xv {
							xv[i] = float32(rng.NormFloat64())
						}
						if err := be.Write(x, xv); err != nil {
							t.Fatal(err)
						}
						labels := kernelLabels(t, be, func() { be.MatMul(y, w, x) })
						mv := "matvec_" + strings.ToLower(dt.String())
						if fast := be.Subgroups() && T <= 4 && s.k%per == 0; ran(labels, mv) != fast {
							t.Errorf("t=%d: kernels %q; %s expected: %v", T, labels, mv, fast)
						}
						got := make([]float32, s.n*T)
						if err := be.Read(y, got); err != nil {
							t.Fatal(err)
						}
						if e := computetest.NMSE(got, refMatMul(dec, xv, s.k, s.n, T)); e > 1e-10 || math.IsNaN(e) {
							t.Errorf("t=%d: NMSE %.3g", T, e)
						}
						be.Free(x)
						be.Free(y)
					}
				})
			}
		}
	}
}

// randomTQ returns n rows of k weights of TQ2_0 or TQ1_0 with random code
// bytes (TQ2_0's never-written code 3 included) and block scales.
func randomTQ(rng *rand.Rand, dt gguf.DType, k, n int) []byte {
	blk := gguf.TQ2_0Bytes
	if dt == gguf.TQ1_0 {
		blk = gguf.TQ1_0Bytes
	}
	raw := make([]byte, k/256*n*blk)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	for b := blk; b <= len(raw); b += blk {
		d := gguf.F32ToF16(float32(0.5 + rng.Float64()))
		raw[b-2], raw[b-1] = byte(d), byte(d>>8)
	}
	return raw
}

// TestTernaryMatvec checks that the TQ2_0 and TQ1_0 decode matvecs run for up to four
// tokens and give the same bits as the generic kernels (which devices
// without subgroups run), for rows of one and of many blocks, odd row
// counts, and activations with an all-zero block.
func TestTernaryMatvec(t *testing.T) {
	fast := openTest(t)
	generic := openTestWith(t, gpu.Options{Device: -1, NoSubgroups: true})
	for _, dt := range []gguf.DType{gguf.TQ2_0, gguf.TQ1_0} {
		for _, s := range []struct{ k, n int }{{256, 7}, {512, 33}, {2560, 64}, {6912, 45}, {1280, 300}} {
			t.Run(fmt.Sprintf("%s/k=%d/n=%d", dt, s.k, s.n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(s.k), uint64(s.n)+uint64(dt)))
				raw := randomTQ(rng, dt, s.k, s.n)
				info := gguf.TensorInfo{Name: "w", Type: dt, Shape: []int64{int64(s.k), int64(s.n)}, Size: int64(len(raw))}
				for _, T := range []int{1, 2, 3, 4, 5} {
					xv := make([]float32, s.k*T)
					for i := range xv {
						xv[i] = float32(rng.NormFloat64())
					}
					clear(xv[s.k-256 : s.k]) // the first token's last block
					var ys [2][]float32
					for i, be := range []*gpu.Backend{fast, generic} {
						w, err := be.Weights(info, raw)
						if err != nil {
							t.Fatal(err)
						}
						x, _ := be.Alloc(gguf.F32, s.k, T)
						y, _ := be.Alloc(gguf.F32, s.n, T)
						if err := be.Write(x, xv); err != nil {
							t.Fatal(err)
						}
						labels := kernelLabels(t, be, func() { be.MatMul(y, w, x) })
						mv := "matvec_" + strings.ToLower(dt.String())
						if want := i == 0 && be.Subgroups() && T <= 4; ran(labels, mv) != want {
							t.Errorf("t=%d: kernels %q; %s expected: %v", T, labels, mv, want)
						}
						ys[i] = make([]float32, s.n*T)
						if err := be.Read(y, ys[i]); err != nil {
							t.Fatal(err)
						}
						be.Free(x)
						be.Free(y)
					}
					for i := range ys[0] {
						if math.Float32bits(ys[0][i]) != math.Float32bits(ys[1][i]) {
							t.Fatalf("t=%d: y[%d] = %g, the generic kernel gives %g", T, i, ys[0][i], ys[1][i])
						}
					}
				}
			})
		}
	}
}
