package cpu

import (
	"bitnet/cpu/kernels"
	"bitnet/engine/compute"
)

// attentionBatchFast is the fast path of Attention for several query rows
// over F16 caches. Per KV head, K and V are transposed ([hd][nkv]); per
// query head and block of attnRowBlock rows, the scores are AxpysHeadsF16
// of the rounded query rows over K's columns (each score a chain of fused
// multiply-adds in dimension order, 64 positions of four rows at a time:
// no sum across a vector), and the outputs one F16 matrix product (V
// transposed as weights, the probability rows as tokens). The cache holds
// F16 values, so moving their bits is exact; only summation orders differ
// from the reference.
func (b *Backend) attentionBatchFast(dst, q, kc, vc *tensor, p compute.AttnParams, pos0 int) {
	qk, r := rows(q)
	kvk, _ := rows(kc)
	hd := p.HeadDim
	nkv := pos0 + r
	group := p.NHead / p.NKVHead

	s := &b.scr
	s.attnKT = grow(s.attnKT, p.NKVHead*hd*nkv)
	s.attnVT = grow(s.attnVT, p.NKVHead*hd*nkv)
	kt, vt := s.attnKT, s.attnVT
	b.pool.run(2*p.NKVHead, 1, func(lo, hi int) {
		for it := lo; it < hi; it++ {
			g, src, t := it/2, kc.F16, kt
			if it%2 == 1 {
				src, t = vc.F16, vt
			}
			td := t[g*hd*nkv : (g+1)*hd*nkv]
			// By blocks of 32 positions, whose rows stay in the first-level
			// cache while each dimension's 64 bytes are written.
			for j0 := 0; j0 < nkv; j0 += 32 {
				j1 := min(nkv, j0+32)
				for d := range hd {
					row := td[d*nkv+j0 : d*nkv+j1]
					for j := range row {
						row[j] = src[(j0+j)*kvk+g*hd+d]
					}
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
				clear(scb)
				kernels.AxpysHeadsF16(qh[i0*hd:], hd, hd, kt[g*hd*nkv:], nkv, scb, nk, nk, nb)
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

// attentionDecodeF16 is the fast path of Attention for one query row over
// F16 caches, in three parallel sections: the scores over each chunk of
// attnChunk positions, KV head by KV head (the query heads that share the
// KV head as tokens of one F16 matrix product, ScoresF16, so that a key
// row is read once per group), each head's softmax, and the weighted
// values of each KV head's query heads in slices of attnSlice dimensions
// (AxpysHeadsF16, each value row converted once per group). Every score
// and output element is the sum a single pass over the heads would
// compute; the sections spread a long cache over all the workers, where a
// pass per KV head gave them a few heads each. A cache of up to attnShort
// positions runs as one section, an item per KV head.
func (b *Backend) attentionDecodeF16(dst, q, kc, vc *tensor, p compute.AttnParams, pos0 int) {
	kvk, _ := rows(kc)
	hd := p.HeadDim
	group := p.NHead / p.NKVHead
	n := pos0 + 1 // causal: positions 0..pos0
	// Scratch by head: hd rounded queries and n scores each.
	s := &b.scr
	s.attnQ = grow(s.attnQ, p.NHead*hd)
	s.attnS = grow(s.attnS, p.NHead*n)
	qs, ss := s.attnQ, s.attnS
	kernels.RoundF16(qs, q.F32[:p.NHead*hd])
	// The three kinds of work item: the scores of KV head g over chunk c,
	// the softmax of head h, the values of KV head g in slice sl.
	scores := func(g, c int) {
		j0, h0 := c*attnChunk, g*group
		kernels.ScoresF16(kc.F16[j0*kvk+g*hd:], kvk, min(n-j0, attnChunk), qs[h0*hd:(h0+group)*hd], hd, group,
			ss[h0*n+j0:], n)
	}
	softmax := func(h int) { kernels.SoftmaxF32(ss[h*n:(h+1)*n], p.Scale) }
	values := func(g, sl int) {
		d0 := sl * attnSlice
		width := min(hd-d0, attnSlice)
		out := dst.F32[g*group*hd+d0:]
		for t := range group {
			clear(out[t*hd : t*hd+width])
		}
		kernels.AxpysHeadsF16(ss[g*group*n:], n, n, vc.F16[g*hd+d0:], kvk, out, hd, width, group)
	}
	chunks := (n + attnChunk - 1) / attnChunk
	slices := (hd + attnSlice - 1) / attnSlice
	if n <= attnShort {
		// A short cache: one section, a KV head's group per item.
		b.pool.run(p.NKVHead, 1, func(lo, hi int) {
			for g := lo; g < hi; g++ {
				for c := range chunks {
					scores(g, c)
				}
				for t := range group {
					softmax(g*group + t)
				}
				for sl := range slices {
					values(g, sl)
				}
			}
		})
		return
	}
	b.pool.run(chunks, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			for g := range p.NKVHead {
				scores(g, c)
			}
		}
	})
	b.pool.run(p.NHead, 1, func(lo, hi int) {
		for h := lo; h < hi; h++ {
			softmax(h)
		}
	})
	b.pool.run(p.NKVHead*slices, 1, func(lo, hi int) {
		for it := lo; it < hi; it++ {
			values(it/slices, it%slices)
		}
	})
}

// attnChunk is the number of cache positions per work item of a decode
// row's scores (every KV head's, so that an item reads whole cache rows
// in order: over a cold cache of 2,048 positions 8% faster than an item
// per KV head), attnShort the longest cache whose decode attention runs
// as one section, and attnSlice the number of output dimensions per work
// item of its weighted values; attnRowBlock is the number of a prompt's
// query rows whose scores are computed together (each block stops at its
// last row's causal limit).
const (
	attnChunk    = 64
	attnShort    = 256
	attnSlice    = 64
	attnRowBlock = 32
)
