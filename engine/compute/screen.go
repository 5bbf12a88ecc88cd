package compute

import (
	"fmt"
	"math"

	"bitnet/gguf"
)

// Screener is implemented by backends that can find a matmul's largest
// outputs without computing all of them exactly: an int8 approximation of
// the weights is run first, and only the rows that it cannot rule out are
// computed with the weights themselves. The engine uses it for the LM head
// of greedy and top-k decoding, where it reads about half the bytes of an
// F16 head and returns the same candidates.
//
// The screen of a row r of a float weight w (F32, F16 or BF16) [K, N] is its
// Q8_0 quantization (approx) and a bound c_r (ScreenBound). For an input x
// [K, 1], with a = MatMul(approx, x) and X1 = sum_i |x_i| (float32, any
// order), the screen keeps the rows that ScreenRows keeps of
//
//	lo_r = a_r - b_r,  hi_r = a_r + b_r,  b_r = c_r*X1 + ScreenSlack
//
// (float32 operations). c_r is large enough that lo_r <= (w x)_r <= hi_r
// for every finite x whatever the summation order of either matmul, so a
// row that is not kept has an exact output below the k-th largest one, and
// TopK(k) of the screened outputs equals TopK(k) of MatMul(w, x) whenever
// MatMul's outputs are finite.
type Screener interface {
	// ScreenMatMul writes to dst [N, 1] MatMul(w, x)'s value at every row
	// the screen (approx Q8_0 [K, N], bound F32 [N]) keeps for the k
	// largest outputs (1 <= k <= min(N, MaxTopK)), computed as MatMul
	// computes it, and -Inf at every other row. x is [K, 1].
	ScreenMatMul(dst, w, approx, bound, x Tensor, k int)
}

// ScreenCounter is implemented by screening backends that count their
// work: the screened matmuls run so far and the rows they computed
// exactly.
type ScreenCounter interface {
	ScreenStats() (calls, rows int64)
}

// ScreenSlack is added to every screening bound b_r: it covers the
// absolute errors of a device that flushes subnormal results to zero
// (at most 2^-126 per operation, a few thousand operations per row).
const ScreenSlack = 0x1p-96

// unitRoundoff is float32's unit roundoff.
const unitRoundoff = 0x1p-24

// ScreenBound returns the screening bound c of a weight row w (as float32
// values, exactly as MatMul reads them) and its approximation wq (the Q8_0
// row decoded, exactly as MatMul reads it): rounded up to float32, a c with
//
//	|MatMul(w, x) - MatMul(wq, x)| + rounding of X1, c*X1, a ± b <= c*X1
//
// for every finite x of the row's length. With W = max|w_i|, E =
// max|w_i - wq_i| (both exact in float64) and g = γ_{K+2} (the relative
// error bound of a float32 sum of K+2 rounded terms, as any order of a
// row's products, a Q8_0 block's scaling and the blocks' sum gives), each
// matmul errs by at most g*sum|w_i x_i| <= g*W*X1 (wq: g*(W+E)*X1), the
// weights differ by at most E*X1, and rounding a ± b adds u*(|a| + b):
//
//	c = (E + g*(2W + E) + 3u*(W + E)) * (1 + 2g)
//
// where the last factor covers X1's and c*X1's own rounding. A row with a
// value that is not finite gets +Inf (its bounds then rule nothing out).
func ScreenBound(w, wq []float32) float32 {
	var wmax, emax, sum float64
	for i, v := range w {
		a := float64(v)
		e := a - float64(wq[i])
		sum += e // NaN or infinite if any value is
		if a < 0 {
			a = -a
		}
		if e < 0 {
			e = -e
		}
		if a > wmax {
			wmax = a
		}
		if e > emax {
			emax = e
		}
	}
	if math.IsNaN(sum) || math.IsInf(sum, 0) || math.IsInf(wmax, 0) {
		return float32(math.Inf(1))
	}
	n := float64(len(w) + 2)
	g := n * unitRoundoff / (1 - n*unitRoundoff)
	c := (emax + g*(2*wmax+emax) + 3*unitRoundoff*(wmax+emax)) * (1 + 2*g)
	f := float32(c)
	if float64(f) < c {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// ScreenRows returns the threshold m of the screen's rule for the k
// largest outputs and whether every row is kept: m is the k-th largest of
// lo (in Candidate.Less order), and a row r is kept when !(hi_r < m).
// Every row is kept when x1 (sum |x_i|) or m is not finite or any lo_r is
// NaN. cands is scratch for TopK and is returned for reuse.
func ScreenRows(lo []float32, k int, x1 float32, cands []Candidate) (m float32, all bool, _ []Candidate) {
	if isInfOrNaN(x1) {
		return 0, true, cands
	}
	for _, v := range lo {
		if v != v {
			return 0, true, cands
		}
	}
	cands = TopK(cands, lo, k)
	if len(cands) < k {
		return 0, true, cands
	}
	m = cands[k-1].Logit
	return m, isInfOrNaN(m), cands
}

func isInfOrNaN(v float32) bool { return v != v || math.IsInf(float64(v), 0) }

// ScreenRow makes the screen of one weight row: src holds the row in type
// dt (F32, F16 or BF16) and w, wq have its length (a multiple of 32). It
// decodes the row into w, appends its Q8_0 quantization to q8, decodes
// that into wq and returns the longer q8 and the row's ScreenBound.
func ScreenRow(q8 []byte, dt gguf.DType, src []byte, w, wq []float32) ([]byte, float32, error) {
	switch dt {
	case gguf.F32, gguf.F16, gguf.BF16:
	default:
		return q8, 0, fmt.Errorf("screen: weights of type %s (want F32, F16 or BF16)", dt)
	}
	if err := gguf.DecodeRow(dt, src, w, 0); err != nil {
		return q8, 0, err
	}
	at := len(q8)
	q8, err := gguf.AppendQ8_0(q8, w)
	if err != nil {
		return q8, 0, err
	}
	if err := gguf.DecodeQ8_0(q8[at:], wq); err != nil {
		return q8, 0, err
	}
	return q8, ScreenBound(w, wq), nil
}
