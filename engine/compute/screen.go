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
// order), each row's limits are ScreenLimits(a_r, c_r, X1), and the screen
// keeps the rows that ScreenRows keeps. c_r is large enough that lo_r <=
// (w x)_r <= hi_r for every finite x whatever the summation order of
// either matmul, so a row that is not kept has an exact output below the
// k-th largest one, and TopK(k) of the screened outputs equals TopK(k) of
// MatMul(w, x) whenever MatMul's outputs are finite.
type Screener interface {
	// ScreenMatMul writes to dst [N, 1] MatMul(w, x)'s value at every row
	// the screen (approx Q8_0 [K, N], bound F32 [N]) keeps for the k
	// largest outputs (1 <= k <= min(N, MaxTopK)), computed as MatMul
	// computes it, and -Inf at the other rows (or, where the backend
	// computes them too, MatMul's values). x is [K, 1]. The rows listed in
	// keep (I32, entries outside [0, N) ignored; nil: none) get limits
	// -Inf and +Inf (see ScreenLimits): they are computed, and left out of
	// the threshold, so that an op that changes their outputs afterwards
	// (Penalize, with the same ids) leaves TopK equal to the full
	// matmul's with that op.
	ScreenMatMul(dst, w, approx, bound, x Tensor, k int, keep Tensor)
	// ScreensByDefault says whether the engine's automatic mode screens
	// large heads on this backend (where screening was measured to pay).
	ScreensByDefault() bool
}

// ScreenCounter is implemented by screening backends that count their
// work: the screened matmuls run so far and the rows they computed
// exactly.
type ScreenCounter interface {
	ScreenStats() (calls, rows int64)
}

// CheckScreen checks ScreenMatMul's arguments: w a float weight [K, N]
// with K a multiple of 32, approx Q8_0 and bound F32 [N] for it, x and
// dst F32 [K, 1] and [N, 1], 1 <= k <= min(N, MaxTopK), keep nil or I32;
// it returns K and N.
func CheckScreen(dst, w, approx, bound, x Tensor, k int, keep Tensor) (K, N int) {
	if keep != nil {
		CheckInts("ScreenMatMul", "keep", keep, -1)
	}
	K, N, T := CheckMatMul(dst, w, x)
	ak, an := RowsOf(approx)
	bk, bn := RowsOf(bound)
	switch w.DType() {
	case gguf.F32, gguf.F16, gguf.BF16:
	default:
		shapeErr("ScreenMatMul", "weights of type %s (want F32, F16 or BF16)", w.DType())
	}
	if T != 1 || K%gguf.QK8_0 != 0 || approx.DType() != gguf.Q8_0 || ak != K || an != N ||
		bound.DType() != gguf.F32 || bk*bn != N || k < 1 || k > min(N, MaxTopK) {
		shapeErr("ScreenMatMul", "dst %v = w %v x %v, approx %v (%s), bound %v (%s), k %d",
			dst.Shape(), w.Shape(), x.Shape(), approx.Shape(), approx.DType(), bound.Shape(), bound.DType(), k)
	}
	return K, N
}

// ScreenSlack is added to every screening bound b_r: it covers the
// absolute errors of a device that flushes subnormal results to zero
// (at most 2^-126 per operation, a few thousand operations per row).
const ScreenSlack = 0x1p-96

// unitRoundoff is float32's unit roundoff.
const unitRoundoff = 0x1p-24

// ScreenBound returns the screening bound c of a weight row of n values
// (as float32, exactly as MatMul reads them) whose largest magnitude is
// wmax and whose Q8_0 approximation (decoded, as MatMul reads it) errs by
// at most emax: rounded up to float32, a c with
//
//	|MatMul(w, x) - MatMul(wq, x)| + rounding of X1, c*X1, a ± b <= c*X1
//
// for every finite x of the row's length. With g = γ_{n+2} (the relative
// error bound of a float32 sum of n+2 rounded terms, as any order of a
// row's products, a Q8_0 block's scaling and the blocks' sum gives), each
// matmul errs by at most g*sum|w_i x_i| <= g*wmax*X1 (wq: g*(wmax+emax)*X1),
// the weights differ by at most emax*X1, and rounding a ± b adds
// u*(|a| + b):
//
//	c = (emax + g*(2*wmax + emax) + 3u*(wmax + emax)) * (1 + 2g)
//
// where the last factor covers X1's and c*X1's own rounding. NaN or
// infinite arguments give +Inf (the row's bounds then rule nothing out).
func ScreenBound(wmax, emax float64, n int) float32 {
	if math.IsNaN(wmax+emax) || math.IsInf(wmax+emax, 0) {
		return float32(math.Inf(1))
	}
	m := float64(n + 2)
	g := m * unitRoundoff / (1 - m*unitRoundoff)
	c := (emax + g*(2*wmax+emax) + 3*unitRoundoff*(wmax+emax)) * (1 + 2*g)
	f := float32(c)
	if float64(f) < c {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// ScreenLimits returns the limits of a row with approximate output a and
// bound c for an input whose magnitudes sum to x1: with b = c*x1 +
// ScreenSlack, lo = a - b and hi = a + b (float32 operations), or -Inf and
// +Inf (the row kept whatever the others hold) when either is NaN or x1 is
// not finite.
func ScreenLimits(a, c, x1 float32) (lo, hi float32) {
	b := c*x1 + ScreenSlack
	lo, hi = a-b, a+b
	if lo != lo || hi != hi || isInfOrNaN(x1) {
		return float32(math.Inf(-1)), float32(math.Inf(1))
	}
	return lo, hi
}

// ScreenRows returns the threshold m of the screen's rule for the k
// largest outputs and whether every row is kept: m is the k-th largest of
// the rows' lower limits lo, and a row r is kept when !(hi_r < m); every
// row is, when m is not finite. cands is scratch for TopK and is returned
// for reuse.
func ScreenRows(lo []float32, k int, cands []Candidate) (m float32, all bool, _ []Candidate) {
	cands = TopK(cands, lo, k)
	if len(cands) < k {
		return 0, true, cands
	}
	m = cands[k-1].Logit
	return m, isInfOrNaN(m), cands
}

func isInfOrNaN(v float32) bool { return v != v || math.IsInf(float64(v), 0) }

// ScreenRow makes the screen of one weight row: src holds the row in type
// dt (F32, F16 or BF16) and w has its length (a multiple of 32). It
// decodes the row into w, appends its Q8_0 quantization to q8 and returns
// the longer q8 and the row's ScreenBound.
func ScreenRow(q8 []byte, dt gguf.DType, src []byte, w []float32) ([]byte, float32, error) {
	switch dt {
	case gguf.F32, gguf.F16, gguf.BF16:
	default:
		return q8, 0, fmt.Errorf("screen: weights of type %s (want F32, F16 or BF16)", dt)
	}
	if err := gguf.DecodeRow(dt, src, w, 0); err != nil {
		return q8, 0, err
	}
	q8, wmax, emax, err := gguf.AppendQ8_0Err(q8, w)
	if err != nil {
		return q8, 0, err
	}
	return q8, ScreenBound(wmax, emax, len(w)), nil
}
