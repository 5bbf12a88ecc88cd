// Package computetest is the conformance suite of compute.Backend: a table of
// op cases with seeded random inputs, odd sizes and the real model's sizes,
// run on a backend under test and on the numeric oracle (package
// reference). Float outputs are compared by normalized mean squared error;
// ternary matmuls (exact integer sums and an identical float32 epilogue)
// must match bit for bit. Outputs are poisoned with NaN and followed by a
// guard row, so unwritten and overwritten elements are caught.
package computetest

import (
	"bitnet/reference"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// DefaultNMSE is the tolerance of float ops: sum((a-b)^2) / sum(b^2).
const DefaultNMSE = 1e-7

// Case is one op invocation. Run performs it on be with inputs made from the
// seed and returns the output tensor (a Rows view of a poisoned buffer).
type Case struct {
	Name string
	// Exact requires bit-identical outputs (ternary matmuls).
	Exact bool
	// NMSE overrides DefaultNMSE when non-zero.
	NMSE float64
	// Large marks cases skipped in -short mode (real-size LM head, long
	// contexts, long prompts).
	Large bool
	Run   func(h *Harness) compute.Tensor
}

// Harness builds inputs on one backend with a seeded generator.
type Harness struct {
	T   testing.TB
	BE  compute.Backend
	rng *rand.Rand

	base compute.Tensor // the poisoned buffer behind the last Output
}

// Rand returns the harness's generator.
func (h *Harness) Rand() *rand.Rand { return h.rng }

// Floats returns n random values, normal with the given standard deviation
// (never all zero).
func (h *Harness) Floats(n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(h.rng.NormFloat64() * std)
	}
	return v
}

// Alloc allocates a tensor on the backend, failing the test on error.
func (h *Harness) Alloc(dt gguf.DType, shape ...int) compute.Tensor {
	t, err := h.BE.Alloc(dt, shape...)
	if err != nil {
		h.T.Fatal(err)
	}
	return t
}

// Input uploads values into a new F32 tensor [k, rows].
func (h *Harness) Input(vals []float32, k, rows int) compute.Tensor {
	t := h.Alloc(gguf.F32, k, rows)
	if err := h.BE.Write(t, vals); err != nil {
		h.T.Fatal(err)
	}
	return t
}

// Ints uploads values into a new I32 tensor [len(vals)].
func (h *Harness) Ints(vals []int32) compute.Tensor {
	t := h.Alloc(gguf.I32, len(vals))
	if err := h.BE.WriteInts(t, vals); err != nil {
		h.T.Fatal(err)
	}
	return t
}

// Positions returns an I32 tensor of the n consecutive positions pos0, ...
func (h *Harness) Positions(pos0, n int) compute.Tensor {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(pos0 + i)
	}
	return h.Ints(p)
}

// RoPETable uploads compute.RoPETable of positions 0..n-1 as [Dims, n].
func (h *Harness) RoPETable(n int, p compute.RoPEParams) compute.Tensor {
	return h.Input(compute.RoPETable(n, p), p.Dims, n)
}

// Output allocates [k, rows+1] filled with NaN and returns the first rows as
// the op's destination; the extra row is the guard checked by Check.
func (h *Harness) Output(k, rows int) compute.Tensor {
	t := h.Alloc(gguf.F32, k, rows+1)
	nan := make([]float32, k*(rows+1))
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	if err := h.BE.Write(t, nan); err != nil {
		h.T.Fatal(err)
	}
	h.base = t
	return h.BE.Rows(t, 0, rows)
}

// IntOutput is Output for I32 results: [k, rows+1] filled with the bits of
// NaN, the first rows returned.
func (h *Harness) IntOutput(k, rows int) compute.Tensor {
	t := h.Alloc(gguf.I32, k, rows+1)
	poison := make([]int32, k*(rows+1))
	for i := range poison {
		poison[i] = int32(math.Float32bits(float32(math.NaN())))
	}
	if err := h.BE.WriteInts(t, poison); err != nil {
		h.T.Fatal(err)
	}
	h.base = t
	return h.BE.Rows(t, 0, rows)
}

// Weight wraps raw bytes as a weight tensor of the given type and shape.
func (h *Harness) Weight(name string, dt gguf.DType, raw []byte, shape ...int) compute.Tensor {
	info := gguf.TensorInfo{Name: name, Type: dt, Size: int64(len(raw))}
	for _, d := range shape {
		info.Shape = append(info.Shape, int64(d))
	}
	w, err := h.BE.Weights(info, raw)
	if err != nil {
		h.T.Fatal(err)
	}
	return w
}

// Result reads a case's output and its guard row.
type Result struct {
	Out, Guard []float32
}

func run(t testing.TB, be compute.Backend, c Case, seed uint64) Result {
	h := &Harness{T: t, BE: be, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	out := c.Run(h)
	k, rows := compute.RowsOf(out)
	res := Result{Out: readAny(t, be, out)}
	if h.base != nil {
		res.Guard = readAny(t, be, be.Rows(h.base, rows, 1))
	}
	_ = k
	return res
}

// readAny reads an F32 or F16 tensor, or an I32 one as the float32 values of
// its bits.
func readAny(t testing.TB, be compute.Backend, x compute.Tensor) []float32 {
	n := compute.Elements(x.Shape())
	out := make([]float32, n)
	if x.DType() == gguf.I32 {
		v := make([]int32, n)
		if err := be.ReadInts(x, v); err != nil {
			t.Fatalf("read: %v", err)
		}
		for i, b := range v {
			out[i] = math.Float32frombits(uint32(b))
		}
		return out
	}
	if err := be.Read(x, out); err != nil {
		t.Fatalf("read: %v", err)
	}
	return out
}

// Compare checks got against want for case c and returns a description of
// the first problem, or "".
func Compare(c Case, got, want Result) string {
	if len(got.Out) != len(want.Out) {
		return fmt.Sprintf("output has %d values, want %d", len(got.Out), len(want.Out))
	}
	for i, v := range got.Out {
		if math.IsNaN(float64(v)) && !math.IsNaN(float64(want.Out[i])) {
			return fmt.Sprintf("output[%d] is NaN (unwritten?), want %g", i, want.Out[i])
		}
	}
	for i, v := range got.Guard {
		if !math.IsNaN(float64(v)) {
			return fmt.Sprintf("guard[%d] = %g: the op wrote past its output", i, v)
		}
	}
	if c.Exact {
		for i, v := range got.Out {
			if math.Float32bits(v) != math.Float32bits(want.Out[i]) {
				return fmt.Sprintf("output[%d] = %g (%#08x), want exactly %g (%#08x)", i, v, math.Float32bits(v), want.Out[i], math.Float32bits(want.Out[i]))
			}
		}
		return ""
	}
	tol := c.NMSE
	if tol == 0 {
		tol = DefaultNMSE
	}
	if e := NMSE(got.Out, want.Out); e > tol || math.IsNaN(e) {
		return fmt.Sprintf("normalized MSE %.3g > %.3g", e, tol)
	}
	return ""
}

// NMSE is sum((a-b)^2)/sum(b^2) (0 when both are zero).
func NMSE(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return num
	}
	return num / den
}

// Run runs every case on be and on the numeric oracle (package reference)
// and compares them.
func Run(t *testing.T, be compute.Backend, cases []Case) {
	ref := reference.New()
	defer ref.Close()
	runAgainst(t, be, ref, cases, false)
}

// RunIdentical runs every case on be and on other, two configurations of
// one backend that must compute the same sums in the same order (a kernel
// variant and the default), and requires bit-identical outputs.
func RunIdentical(t *testing.T, be, other compute.Backend, cases []Case) {
	runAgainst(t, be, other, cases, true)
}

// runAgainst runs every case on be and on ref and compares them, every
// case bit for bit when exact.
func runAgainst(t *testing.T, be, ref compute.Backend, cases []Case, exact bool) {
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if c.Large && testing.Short() {
				t.Skip("real-size case; runs without -short")
			}
			c.Exact = c.Exact || exact
			seed := uint64(1000 + i)
			want := run(t, ref, c, seed)
			got := run(t, be, c, seed)
			if msg := Compare(c, got, want); msg != "" {
				t.Fatalf("%s (seed %d)", msg, seed)
			}
		})
	}
}
