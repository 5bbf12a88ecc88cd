//go:build !noasm

package kernels

import (
	"testing"

	"github.com/klauspost/cpuid/v2"

	"bitnet/gguf"
)

// TestQ8RowsAVX512 checks the AVX-512 Q8_0 matvec wherever the CPU can run
// it: the dispatch picks it on Intel CPUs only, so FuzzDotQuant's paths do
// not reach it elsewhere.
func TestQ8RowsAVX512(t *testing.T) {
	if !cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.F16C) {
		t.Skip("this CPU has no AVX-512")
	}
	r := newRand(21)
	for _, nb := range []int{1, 3, 4, 9, 80} {
		const nr = 5
		rb := nb * Q8Bytes
		w := randBytes(r, rb*nr)
		clearNaNScales(gguf.Q8_0, w, rb, nr)
		x := randF32(r, nb*Q8Block, 1)
		out := make([]float32, nr)
		q8RowsAVX512Go(w, x, out)
		for i := range nr {
			want, mag := quantRef64(t, gguf.Q8_0, w[i*rb:(i+1)*rb], x)
			requireClose(t, want, mag, out[i], "blocks=%d row %d", nb, i)
		}
	}
}
