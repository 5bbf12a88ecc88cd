package cpu

import (
	"math"

	"bitnet/cpu/kernels"
	"bitnet/engine/compute"
	"bitnet/gguf"
)

// attentionBatchFast is the fast path of Attention for several query rows:
// per head, the scores are one F16 matrix product (K rows as weights, the
// rounded Q rows as tokens) and the output another (V transposed as weights,
// the probability rows as tokens). The cache holds F16 values, so converting
// them to F16 bits is exact; only summation order differs from the
// reference. The caches must be F16.
// attnRowBlock is the number of query rows whose scores are computed
// together; each block stops at its last row's causal limit.
const attnRowBlock = 32

func (b *Backend) attentionBatchFast(dst, q, kc, vc *tensor, p compute.AttnParams) {
	qk, r := rows(q)
	kvk, _ := rows(kc)
	hd := p.HeadDim
	nkv := p.Pos0 + r
	group := p.NHead / p.NKVHead

	// Per KV head: K as [nkv][hd] and V transposed as [hd][nkv], in F16 bits.
	kh := make([]uint16, p.NKVHead*nkv*hd)
	vt := make([]uint16, p.NKVHead*hd*nkv)
	b.pool.run(p.NKVHead, 1, func(lo, hi int) {
		for g := lo; g < hi; g++ {
			kd, vd := kh[g*nkv*hd:(g+1)*nkv*hd], vt[g*hd*nkv:(g+1)*hd*nkv]
			for j := 0; j < nkv; j++ {
				krow := kc.f32[j*kvk+g*hd : j*kvk+(g+1)*hd]
				vrow := vc.f32[j*kvk+g*hd : j*kvk+(g+1)*hd]
				for d := 0; d < hd; d++ {
					kd[j*hd+d] = gguf.F32ToF16(krow[d])
					vd[d*nkv+j] = gguf.F32ToF16(vrow[d])
				}
			}
		}
	})
	b.pool.run(p.NHead, 1, func(lo, hi int) {
		qh := make([]float32, r*hd)
		sc := make([]float32, attnRowBlock*nkv)
		out := make([]float32, r*hd)
		for h := lo; h < hi; h++ {
			g := h / group
			for i := 0; i < r; i++ {
				row := qh[i*hd : (i+1)*hd]
				copy(row, q.f32[i*qk+h*hd:i*qk+(h+1)*hd])
				for d := range row {
					row[d] = gguf.RoundF16(row[d])
				}
			}
			// Row blocks: block [i0, i0+nb) attends to keys [0, Pos0+i0+nb).
			for i0 := 0; i0 < r; i0 += attnRowBlock {
				nb := min(attnRowBlock, r-i0)
				nk := p.Pos0 + i0 + nb
				scb := sc[:nb*nk] // rows of nk scores, packed as MatF16's tokens
				kernels.MatF16(kh[g*nkv*hd:], hd, nk, qh[i0*hd:], hd, nb, scb, nk)
				for i := i0; i < i0+nb; i++ {
					n := p.Pos0 + i + 1
					s := scb[(i-i0)*nk : (i-i0+1)*nk]
					mx := float32(math.Inf(-1))
					for j := 0; j < n; j++ {
						s[j] *= p.Scale
						mx = max(mx, s[j])
					}
					var sum float64
					for j := 0; j < n; j++ {
						e := expf(s[j] - mx)
						s[j] = e
						sum += float64(e)
					}
					inv := float32(1 / sum)
					for j := 0; j < n; j++ {
						s[j] *= inv
					}
					clear(s[n:])
				}
				kernels.MatF16(vt[g*hd*nkv:], nkv, hd, scb, nk, nb, out[i0*hd:], hd)
			}
			for i := 0; i < r; i++ {
				copy(dst.f32[i*qk+h*hd:(i+1)*qk], out[i*hd:(i+1)*hd])
			}
		}
	})
}
