package kernels

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"bitnet/gguf"
)

func TestExpf(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 2000000; i++ {
		x := -float32(i) * (87.3 / 2000000)
		got := float64(Expf(x))
		want := math.Exp(float64(x))
		ulp := float64(math.Nextafter32(float32(want), float32(math.Inf(1))) - float32(want))
		if e := math.Abs(got-want) / ulp; e > worst {
			worst = e
		}
	}
	if worst > 2 {
		t.Fatalf("Expf is off by %.2f ulp", worst)
	}
	t.Logf("worst error %.2f ulp", worst)
	if Expf(-100) != 0 || Expf(0) != 1 {
		t.Fatalf("Expf(-100) = %g, Expf(0) = %g", Expf(-100), Expf(0))
	}
}

// TestSoftmaxF32: every path gives the generic softmax within one ulp (the
// exponentials are bit-identical; only the float64 sum is ordered
// differently), and the result sums to 1.
func TestSoftmaxF32(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, n := range []int{1, 2, 7, 8, 9, 64, 129, 1000, 4096} {
			r := newRand(uint64(n + 600))
			s := randF32(r, n, 30)
			if n > 3 {
				s[2] = -1e4 // underflows to 0
			}
			want := append([]float32(nil), s...)
			softmaxGeneric(want, 0.088)
			SoftmaxF32(s, 0.088)
			var sum float64
			for k := range s {
				sum += float64(s[k])
				tol := float64(math.Nextafter32(want[k], 2) - want[k])
				if math.Abs(float64(s[k]-want[k])) > tol {
					t.Fatalf("n=%d k=%d: got %g want %g", n, k, s[k], want[k])
				}
			}
			require.InDelta(t, 1, sum, 1e-5, "n=%d", n)
		}
	})
}

// TestExpfVector: the assembly exponential gives Expf's bits over the whole
// range used (and 0 below it).
func TestExpfVector(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		const n = 1 << 20
		s := make([]float32, n)
		for i := range s {
			s[i] = -float32(i) * (90.0 / n)
		}
		want := make([]float32, n)
		for i, v := range s {
			want[i] = Expf(v)
		}
		// scale 1: the maximum is s[0] = 0, so the softmax numerators are Expf(s).
		got := append([]float32(nil), s...)
		cur.softmax(got, 1)
		var sum float64
		for _, v := range want {
			sum += float64(v)
		}
		inv := float32(1 / sum)
		for i := range want {
			if w := want[i] * inv; got[i] != w && math.Abs(float64(got[i]-w)) > float64(math.Nextafter32(w, 2)-w) {
				t.Fatalf("x=%g: got %g want %g", s[i], got[i], w)
			}
		}
	})
}

// TestRoundF16: the bits of gguf.RoundF16 on every path.
func TestRoundF16(t *testing.T) {
	r := newRand(11)
	src := make([]float32, 1<<18)
	for i := range src {
		src[i] = math.Float32frombits(uint32(r.Uint64()))
	}
	src[0], src[1], src[2] = 65520, 65519.99, 6e-8
	eachPath(t, func(t *testing.T) {
		got := make([]float32, len(src))
		RoundF16(got, src)
		for i, v := range src {
			w := gguf.RoundF16(v)
			if math.Float32bits(got[i]) != math.Float32bits(w) && !(w != w && got[i] != got[i]) {
				t.Fatalf("RoundF16(%#x): got %#x want %#x", math.Float32bits(v), math.Float32bits(got[i]), math.Float32bits(w))
			}
		}
	})
}
