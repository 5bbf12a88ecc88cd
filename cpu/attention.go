package cpu

import (
	"bitnet/cpu/kernels"
	"bitnet/engine/compute"
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

func (b *Backend) attentionBatchFast(dst, q, kc, vc *tensor, p compute.AttnParams, pos0 int) {
	qk, r := rows(q)
	kvk, _ := rows(kc)
	hd := p.HeadDim
	nkv := pos0 + r
	group := p.NHead / p.NKVHead

	// Per KV head, V transposed as [hd][nkv]; K is used in place (rows of
	// kvk elements).
	vt := make([]uint16, p.NKVHead*hd*nkv)
	b.pool.run(p.NKVHead, 1, func(lo, hi int) {
		for g := lo; g < hi; g++ {
			vd := vt[g*hd*nkv : (g+1)*hd*nkv]
			for j := 0; j < nkv; j++ {
				for d, h := range vc.F16[j*kvk+g*hd : j*kvk+(g+1)*hd] {
					vd[d*nkv+j] = h
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
				kernels.RoundF16(qh[i*hd:(i+1)*hd], q.F32[i*qk+h*hd:i*qk+(h+1)*hd])
			}
			// Row blocks: block [i0, i0+nb) attends to keys [0, Pos0+i0+nb).
			for i0 := 0; i0 < r; i0 += attnRowBlock {
				nb := min(attnRowBlock, r-i0)
				nk := pos0 + i0 + nb
				scb := sc[:nb*nk] // rows of nk scores, packed as MatF16's tokens
				kernels.MatF16(kc.F16[g*hd:], kvk, nk, qh[i0*hd:], hd, nb, scb, nk)
				for i := i0; i < i0+nb; i++ {
					n := pos0 + i + 1
					s := scb[(i-i0)*nk : (i-i0+1)*nk]
					kernels.SoftmaxF32(s[:n], p.Scale)
					clear(s[n:])
				}
				kernels.MatF16(vt[g*hd*nkv:], nkv, hd, scb, nk, nb, out[i0*hd:], hd)
			}
			for i := 0; i < r; i++ {
				copy(dst.F32[i*qk+h*hd:(i+1)*qk], out[i*hd:(i+1)*hd])
			}
		}
	})
}

// attentionDecodeF16 is the fast path of Attention for one query row (or a
// few) over F16 caches. The query heads that share a KV head are taken
// together: their scores are one F16 matrix product (the cached K rows as
// weights, up to four rounded query heads as tokens), so each key row is
// read once per group, not once per head.
func (b *Backend) attentionDecodeF16(dst, q, kc, vc *tensor, p compute.AttnParams, pos0 int) {
	qk, r := rows(q)
	kvk, _ := rows(kc)
	hd := p.HeadDim
	group := p.NHead / p.NKVHead
	nkv := pos0 + r
	// Scratch by (row, head) index, so the workers share it without overlap.
	s := &b.scr
	s.attnQ = grow(s.attnQ, r*p.NHead*hd)
	s.attnS = grow(s.attnS, r*p.NHead*nkv)
	qs, ss := s.attnQ, s.attnS
	b.pool.run(r*p.NHead, 1, func(lo, hi int) {
		for idx := lo; idx < hi; {
			i, h := idx/p.NHead, idx%p.NHead
			kvh := h / group
			// Heads h .. h+G-1: same row, same KV head, within this range.
			G := min(hi-idx, group-h%group, 4)
			qg := qs[idx*hd : (idx+G)*hd]
			kernels.RoundF16(qg, q.F32[i*qk+h*hd:i*qk+(h+G)*hd])
			n := pos0 + i + 1 // causal: positions 0..Pos0+i
			scores := ss[idx*nkv : idx*nkv+G*n]
			kernels.MatF16(kc.F16[kvh*hd:], kvk, n, qg, hd, G, scores, n)
			for g := 0; g < G; g++ {
				sc := scores[g*n : (g+1)*n]
				kernels.SoftmaxF32(sc, p.Scale)
				out := dst.F32[i*qk+(h+g)*hd : i*qk+(h+g+1)*hd]
				clear(out)
				kernels.AxpysF16(sc, vc.F16[kvh*hd:], kvk, out)
			}
			idx += G
		}
	})
}
