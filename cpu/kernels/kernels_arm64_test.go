//go:build !noasm

package kernels

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExpSubNEONBits: the NEON exponential of the softmax gives the bits of
// Expf (as the Go compiler builds it for arm64) over the whole range, the
// cut-off at -87.3 and -Inf included, and sums them in float64.
func TestExpSubNEONBits(t *testing.T) {
	const n = 1 << 20
	s := make([]float32, 0, n+16)
	for i := 0; i < n; i++ {
		s = append(s, -float32(i)*(90.0/n))
	}
	s = append(s, float32(math.Copysign(0, -1)), -1e-30, -1e-45, -87.3, math.Nextafter32(-87.3, 0), math.Nextafter32(-87.3, -100),
		float32(math.Inf(-1)), -0.5, -0.34657359, -88.72, -103.97, -1.5, 0)
	s = s[:len(s)&^3]
	for _, mx := range []float32{0, 1.25, -3} {
		x := make([]float32, len(s))
		for i, v := range s {
			x[i] = v + mx
		}
		want := make([]float32, len(x))
		var wantSum float64
		for i, v := range x {
			want[i] = Expf(v - mx)
			wantSum += float64(want[i])
		}
		got := append([]float32(nil), x...)
		sum := expSubF32NEON(&got[0], len(got), mx)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("mx=%g x=%g: got %g (%#x) want %g (%#x)", mx, x[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			}
		}
		require.InDelta(t, wantSum, sum, wantSum*float64(len(x))*0x1p-52, "mx=%g", mx)
	}
}

// TestScaleMaxNEON: the scaled scores and their maximum, NaN included.
func TestScaleMaxNEON(t *testing.T) {
	r := newRand(21)
	for _, n := range []int{4, 8, 64, 1000} {
		s := randF32(r, n, 10)
		want := make([]float32, n)
		mx := float32(math.Inf(-1))
		for i, v := range s {
			want[i] = v * 0.125
			mx = max(mx, want[i])
		}
		got := append([]float32(nil), s...)
		require.Equal(t, mx, scaleMaxF32NEON(&got[0], n, 0.125), "n=%d", n)
		require.Equal(t, want, got, "n=%d", n)
		got[n/2] = float32(math.NaN())
		require.True(t, math.IsNaN(float64(scaleMaxF32NEON(&got[0], n, 1))), "n=%d NaN", n)
	}
}
