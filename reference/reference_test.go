package reference_test

import (
	"math/rand/v2"
	"testing"

	"bitnet/gguf"
	"bitnet/reference"
)

// TestDotI2S: the packed ternary dot product equals the plain sum over the
// weights gguf decodes, for random rows.
func TestDotI2S(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{128, 256, 2560} {
		w := make([]int8, k)
		q := make([]int8, k)
		for i := range w {
			w[i] = int8(r.IntN(3) - 1)
			q[i] = int8(r.IntN(256) - 128)
		}
		raw := gguf.EncodeI2S(w, 1)
		var want int32
		for i := range w {
			want += int32(w[i]) * int32(q[i])
		}
		if got := reference.DotI2S(raw[:k/4], q); got != want {
			t.Errorf("k=%d: DotI2S = %d, want %d", k, got, want)
		}
	}
}

// TestQuantizeRow: the scale is 127 over the largest magnitude, products
// round half to even, and the code sum is returned.
func TestQuantizeRow(t *testing.T) {
	x := []float32{127, -63.5, 0.5, 1.5, -127, 2.5, 0}
	q := make([]int8, len(x))
	s, sum := reference.QuantizeRow(x, q)
	want := []int8{127, -64, 0, 2, -127, 2, 0}
	if s != 1 {
		t.Errorf("scale %g, want 1", s)
	}
	var ws int32
	for i := range want {
		if q[i] != want[i] {
			t.Errorf("q[%d] = %d, want %d", i, q[i], want[i])
		}
		ws += int32(want[i])
	}
	if sum != ws {
		t.Errorf("sum %d, want %d", sum, ws)
	}
	// All zeros: the magnitude floor keeps the scale finite.
	s, _ = reference.QuantizeRow(make([]float32, 4), q[:4])
	if s != 127/float32(1e-5) {
		t.Errorf("scale of zeros %g", s)
	}
}
