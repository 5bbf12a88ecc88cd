package computetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// RunScreen checks a compute.Screener against its own MatMul: for F32, F16
// and BF16 weights, row lengths 64, 256 and 2560 (2B-4T's) and k from 1 to
// 256, the rows ScreenMatMul computes hold MatMul's bits and the others
// -Inf, TopK(k) of both is the same (ties at the top included), every
// row's exact output lies within the screen's bounds, and a random head
// keeps few rows for k = 1; a penalty window's rows are computed and
// TopK after the penalty is the same; an input with a NaN or an
// overflowing sum of magnitudes keeps every row.
func RunScreen(t *testing.T, be compute.Backend) {
	sc, ok := be.(compute.Screener)
	if !ok {
		t.Fatalf("%s does not implement compute.Screener", be.Name())
	}
	for _, dt := range []gguf.DType{gguf.F32, gguf.F16, gguf.BF16} {
		for _, kn := range [][2]int{{64, 300}, {256, 2000}, {2560, 4096}} {
			K, N := kn[0], kn[1]
			t.Run(fmt.Sprintf("%s/%dx%d", dt, K, N), func(t *testing.T) {
				h := &Harness{T: t, BE: be, rng: rand.New(rand.NewPCG(uint64(K*N), uint64(dt)))}
				vals := h.Floats(K*N, 0.05)
				// Rows 5 and 17 are the same, along x: the largest
				// outputs, tied.
				xs := h.Floats(K, 1)
				for i := range K {
					vals[5*K+i] = xs[i] * 0.08
					vals[17*K+i] = xs[i] * 0.08
				}
				w, approx, bound, errSign := h.screened(dt, vals, K, N)
				for _, k := range []int{1, 2, 3, 40, 256} {
					kept := h.checkScreen(sc, w, approx, bound, xs, K, N, k, nil)
					if k == 1 && kept > N/10 {
						t.Errorf("k 1: %d of %d rows kept, want at most %d", kept, N, N/10)
					}
				}
				// A repetition penalty's window, with the two best rows:
				// penalized, they fall behind rows the screen must
				// not have ruled out.
				for _, k := range []int{1, 40} {
					h.checkScreen(sc, w, approx, bound, xs, K, N, k, []int32{5, 17, 3, int32(200 % N), -1})
				}
				nan := append([]float32(nil), xs...)
				nan[K/2] = float32(math.NaN())
				if kept := h.checkScreen(sc, w, approx, bound, nan, K, N, 1, nil); kept != N {
					t.Errorf("an input with a NaN: %d of %d rows kept, want all", kept, N)
				}
				// An input along the signs of row 3's quantization
				// errors: its approximation errs by about half its bound.
				h.checkScreen(sc, w, approx, bound, errSign, K, N, 1, nil)
				huge := h.Floats(K, 1e37)
				if kept := h.checkScreen(sc, w, approx, bound, huge, K, N, 1, nil); kept != N {
					t.Errorf("an input whose magnitudes sum past float32: %d of %d rows kept, want all", kept, N)
				}
			})
		}
	}
}

// screened uploads vals as a weight of type dt [K, N] with its screen
// (compute.ScreenRow of each row), and returns the signs of row 3's
// quantization errors.
func (h *Harness) screened(dt gguf.DType, vals []float32, K, N int) (w, approx, bound compute.Tensor, errSign []float32) {
	esz := 2
	if dt == gguf.F32 {
		esz = 4
	}
	raw := make([]byte, esz*K*N)
	for i, v := range vals {
		switch dt {
		case gguf.F32:
			putU32(raw[4*i:], math.Float32bits(v))
		case gguf.F16:
			b := gguf.F32ToF16(v)
			raw[2*i], raw[2*i+1] = byte(b), byte(b>>8)
		default:
			b := uint16(math.Float32bits(v) >> 16)
			raw[2*i], raw[2*i+1] = byte(b), byte(b>>8)
		}
	}
	var q8 []byte
	c := make([]float32, N)
	wr, wq := make([]float32, K), make([]float32, K)
	for r := range N {
		at := len(q8)
		var err error
		q8, c[r], err = compute.ScreenRow(q8, dt, raw[r*esz*K:(r+1)*esz*K], wr)
		if err != nil {
			h.T.Fatal(err)
		}
		if r == 3 {
			if err := gguf.DecodeQ8_0(q8[at:], wq); err != nil {
				h.T.Fatal(err)
			}
			for i := range K {
				errSign = append(errSign, float32(math.Copysign(1, float64(wr[i]-wq[i]))))
			}
		}
	}
	w = h.Weight("w", dt, raw, K, N)
	approx = h.Weight("w_screen", gguf.Q8_0, q8, K, N)
	return w, approx, h.Input(c, N, 1), errSign
}

// checkScreen runs ScreenMatMul and MatMul on x and checks the screened
// outputs against the full ones; it returns how many rows were kept. With
// keep (a penalty window), those rows must be computed, and TopK must be
// the same after a penalty of 1000 on them.
func (h *Harness) checkScreen(sc compute.Screener, w, approx, bound compute.Tensor, xs []float32, K, N, k int, keep []int32) int {
	t, be := h.T, h.BE
	x := h.Input(xs, K, 1)
	full, got, a := h.Alloc(gguf.F32, N, 1), h.Alloc(gguf.F32, N, 1), h.Alloc(gguf.F32, N, 1)
	be.MatMul(full, w, x)
	be.MatMul(a, approx, x)
	var ids compute.Tensor
	if keep != nil {
		ids = h.Ints(keep)
	}
	sc.ScreenMatMul(got, w, approx, bound, x, k, ids)
	want, out, av, c := make([]float32, N), make([]float32, N), make([]float32, N), make([]float32, N)
	read := func() {
		for _, r := range []struct {
			t compute.Tensor
			v []float32
		}{{full, want}, {got, out}, {a, av}, {bound, c}} {
			if err := be.Read(r.t, r.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	read()
	var x1 float32
	for _, v := range xs {
		x1 += float32(math.Abs(float64(v)))
	}
	kept := 0
	for r := range N {
		switch {
		case math.Float32bits(out[r]) == math.Float32bits(want[r]) || out[r] != out[r] && want[r] != want[r]:
			kept++
		case !math.IsInf(float64(out[r]), -1):
			t.Fatalf("k %d: row %d holds %g, want MatMul's %g or -Inf", k, r, out[r], want[r])
		}
		if isFinite(x1) && isFinite(want[r]) {
			if lo, hi := compute.ScreenLimits(av[r], c[r], x1); !(lo <= want[r] && want[r] <= hi) {
				t.Fatalf("row %d: MatMul %g outside the screen's bounds [%g, %g]", r, want[r], lo, hi)
			}
		}
	}
	if kept < k {
		t.Fatalf("k %d: %d rows kept", k, kept)
	}
	for _, id := range keep {
		if id >= 0 && math.Float32bits(out[id]) != math.Float32bits(want[id]) {
			t.Fatalf("k %d: row %d of the window holds %g, want MatMul's %g", k, id, out[id], want[id])
		}
	}
	if keep != nil {
		be.Penalize(full, ids, 1000)
		be.Penalize(got, ids, 1000)
		read()
	}
	if k <= N {
		tw, tg := compute.TopK(nil, want, k), compute.TopK(nil, out, k)
		for i := range tw {
			if tw[i].ID != tg[i].ID || math.Float32bits(tw[i].Logit) != math.Float32bits(tg[i].Logit) {
				t.Fatalf("k %d: TopK %d is %+v, want %+v", k, i, tg[i], tw[i])
			}
		}
		if k >= 2 && keep == nil && isFinite(x1) && (tw[0].ID != 5 || tw[1].ID != 17) {
			t.Fatalf("the tied rows 5 and 17 are not the two best: %+v", tw[:2])
		}
	}
	for _, tt := range []compute.Tensor{x, full, got, a, ids} {
		if tt != nil {
			be.Free(tt)
		}
	}
	return kept
}

func isFinite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
