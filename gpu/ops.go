//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"fmt"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// opKind is a queued op of the compute contract.
type opKind uint8

const (
	opEmbed opKind = iota
	opRMSNorm
	opMatMul // one or more weights over one input (MatMul, MatMuls)
	opScale
	opRoundF16
	opRoPE
	opStoreKV
	opAttention
	opActMul
	opAdd
	opPenalize
	opTopK
	opAdvance
	opScreen
)

// op is one queued op. Fields by kind:
//
//	Embed      dst, a=table, b=ids
//	RMSNorm    dst, a=x, b=w, f=eps
//	MatMul     dsts, ws, a=x
//	Scale      dst, a=x, f=s
//	RoundF16   dst, a=x
//	RoPE       dst, a=x, b=pos, c=table, rope
//	StoreKV    dst=cache, a=x, b=pos
//	Attention  dst, a=q, b=k cache, c=v cache, d=pos, attn
//	ActMul     dst, a=gate, b=up, act
//	Add        dst, a, b
//	Penalize   dst=logits, a=ids, f=penalty
//	TopK       dst, a=logits, k
//	Advance    dst=picks, a=ids, b=pos, c=best (a and b are written too)
//	Screen     dst, ws=[w, approx], a=x, b=bound, c=keep (nil: none), k
type op struct {
	kind       opKind
	dst        *tensor
	a, b, c, d *tensor
	dsts, ws   []*tensor
	f          float32
	k          int
	act        compute.Activation
	rope       compute.RoPEParams
	attn       compute.AttnParams
}

// writes returns the tensors op writes.
func (o *op) writes() []*tensor {
	switch o.kind {
	case opMatMul:
		return o.dsts
	case opAdvance:
		return []*tensor{o.dst, o.a, o.b}
	}
	return []*tensor{o.dst}
}

func (b *Backend) queue(o op) {
	b.pending = append(b.pending, o)
}

// Embed: dst rows = table rows ids.
func (b *Backend) Embed(dstT, tableT, idsT compute.Tensor) {
	compute.CheckEmbed(dstT, tableT, idsT)
	b.queue(op{kind: opEmbed, dst: asT("Embed", dstT), a: asT("Embed", tableT), b: asT("Embed", idsT)})
}

// RMSNorm: y = x / sqrt(mean(x^2)+eps) * w per row.
func (b *Backend) RMSNorm(dstT, xT, wT compute.Tensor, eps float32) {
	compute.CheckRMSNorm(dstT, xT, wT)
	w := asT("RMSNorm", wT)
	if w.buf == nil && len(w.chunks) != 1 {
		panic("gpu.RMSNorm: weight split across bindings")
	}
	b.queue(op{kind: opRMSNorm, dst: asT("RMSNorm", dstT), a: asT("RMSNorm", xT), b: w, f: eps})
}

// MatMul: dst [N, T] = w [K, N] x [K, T].
func (b *Backend) MatMul(dstT, wT, xT compute.Tensor) {
	compute.CheckMatMul(dstT, wT, xT)
	w := asT("MatMul", wT)
	if w.chunks == nil {
		panic("gpu.MatMul: the weight is not a model tensor")
	}
	b.queue(op{kind: opMatMul, dsts: []*tensor{asT("MatMul", dstT)}, ws: []*tensor{w}, a: asT("MatMul", xT)})
}

// MatMuls runs several matmuls over one input: one quantization and, for
// I2_S weights on a device with the matvec kernels, one dispatch.
func (b *Backend) MatMuls(dstT, wT []compute.Tensor, xT compute.Tensor) {
	if len(dstT) != len(wT) || len(dstT) == 0 {
		panic(fmt.Sprintf("gpu.MatMuls: %d outputs for %d weights", len(dstT), len(wT)))
	}
	o := op{kind: opMatMul, a: asT("MatMuls", xT)}
	for i := range wT {
		compute.CheckMatMul(dstT[i], wT[i], xT)
		w := asT("MatMuls", wT[i])
		if w.chunks == nil {
			panic("gpu.MatMuls: a weight is not a model tensor")
		}
		o.dsts = append(o.dsts, asT("MatMuls", dstT[i]))
		o.ws = append(o.ws, w)
	}
	b.queue(o)
}

// Scale: dst = x * s.
func (b *Backend) Scale(dstT, xT compute.Tensor, s float32) {
	compute.CheckSame("Scale", dstT, xT)
	b.queue(op{kind: opScale, dst: asT("Scale", dstT), a: asT("Scale", xT), f: s})
}

// RoundF16: dst = x rounded to the nearest F16 value.
func (b *Backend) RoundF16(dstT, xT compute.Tensor) {
	compute.CheckSame("RoundF16", dstT, xT)
	b.queue(op{kind: opRoundF16, dst: asT("RoundF16", dstT), a: asT("RoundF16", xT)})
}

// Add: dst = a + c.
func (b *Backend) Add(dstT, aT, cT compute.Tensor) {
	compute.CheckSame("Add", dstT, aT, cT)
	b.queue(op{kind: opAdd, dst: asT("Add", dstT), a: asT("Add", aT), b: asT("Add", cT)})
}

// ActMul: dst = act(gate) * up.
func (b *Backend) ActMul(dstT, gateT, upT compute.Tensor, act compute.Activation) {
	compute.CheckSame("ActMul", dstT, gateT, upT)
	if act != compute.ReLU2 && act != compute.SiLU {
		panic(fmt.Sprintf("gpu.ActMul: unknown activation %v", act))
	}
	b.queue(op{kind: opActMul, dst: asT("ActMul", dstT), a: asT("ActMul", gateT), b: asT("ActMul", upT), act: act})
}

// maxHeadDim is the largest attention head the kernels take (attn_split
// keeps the group's query heads in shared memory).
const maxHeadDim = 256

// MaxHeadDim is the largest attention head the kernels support.
func (b *Backend) MaxHeadDim() int { return maxHeadDim }

// RoPE rotates with the table rows of the positions.
func (b *Backend) RoPE(dstT, xT, posT, tableT compute.Tensor, p compute.RoPEParams) {
	compute.CheckRoPE(dstT, xT, posT, tableT, p)
	if p.HeadDim > maxHeadDim {
		panic(fmt.Sprintf("gpu.RoPE: heads of %d elements (at most %d)", p.HeadDim, maxHeadDim))
	}
	b.queue(op{kind: opRoPE, dst: asT("RoPE", dstT), a: asT("RoPE", xT), b: asT("RoPE", posT), c: asT("RoPE", tableT), rope: p})
}

// StoreKV writes x's rows into the cache rows of the positions.
func (b *Backend) StoreKV(cacheT, xT, posT compute.Tensor) {
	compute.CheckStoreKV(cacheT, xT, posT)
	c := asT("StoreKV", cacheT)
	b.queue(op{kind: opStoreKV, dst: c, a: asT("StoreKV", xT), b: asT("StoreKV", posT)})
}

// Attention: causal attention of q's rows over the caches.
func (b *Backend) Attention(dstT, qT, kT, vT, posT compute.Tensor, p compute.AttnParams) {
	compute.CheckAttention(dstT, qT, kT, vT, posT, p)
	if p.HeadDim > maxHeadDim || p.HeadDim%8 != 0 || p.NHead > 256 {
		panic(fmt.Sprintf("gpu.Attention: %d heads of %d elements (at most 256 heads of %d, a multiple of 8)", p.NHead, p.HeadDim, maxHeadDim))
	}
	b.queue(op{kind: opAttention, dst: asT("Attention", dstT), a: asT("Attention", qT), b: asT("Attention", kT),
		c: asT("Attention", vT), d: asT("Attention", posT), attn: p})
}

// Penalize applies the repetition penalty on the device.
func (b *Backend) Penalize(logitsT, idsT compute.Tensor, penalty float32) {
	compute.CheckPenalize(logitsT, idsT)
	b.queue(op{kind: opPenalize, dst: asT("Penalize", logitsT), a: asT("Penalize", idsT), f: penalty})
}

// TopK selects the k best logits on the device.
func (b *Backend) TopK(dstT, logitsT compute.Tensor, k int) {
	compute.CheckTopK(dstT, logitsT, k)
	b.queue(op{kind: opTopK, dst: asT("TopK", dstT), a: asT("TopK", logitsT), k: k})
}

// Advance ends a greedy decode step that the device chains to the next
// (see compute.Advancer).
func (b *Backend) Advance(idsT, posT, bestT, picksT compute.Tensor) {
	compute.CheckAdvance(idsT, posT, bestT, picksT)
	b.queue(op{kind: opAdvance, dst: asT("Advance", picksT), a: asT("Advance", idsT), b: asT("Advance", posT), c: asT("Advance", bestT)})
}

// ScreenMatMul computes the rows of a float matmul that can be among its k
// largest outputs (see compute.Screener): the Q8_0 copy's matvec, the
// rows' limits, the k-th largest lower limit (TopK) and the float matvec
// of the rows it keeps, on the device.
func (b *Backend) ScreenMatMul(dstT, wT, approxT, boundT, xT compute.Tensor, k int, keepT compute.Tensor) {
	compute.CheckScreen(dstT, wT, approxT, boundT, xT, k, keepT)
	w, approx := asT("ScreenMatMul", wT), asT("ScreenMatMul", approxT)
	if w.chunks == nil || approx.chunks == nil {
		panic("gpu.ScreenMatMul: the weights are not model tensors")
	}
	var keep *tensor
	if keepT != nil {
		keep = asT("ScreenMatMul", keepT)
	}
	b.queue(op{kind: opScreen, dst: asT("ScreenMatMul", dstT), ws: []*tensor{w, approx}, a: asT("ScreenMatMul", xT),
		b: asT("ScreenMatMul", boundT), c: keep, k: k})
}

// ScreensByDefault is Options.ScreenHead (BITNET_VK_SCREEN=1).
func (b *Backend) ScreensByDefault() bool { return b.screenAuto }

// allI2S reports whether every weight is a one-chunk I2_S tensor (what the
// fused kernels take).
func allI2S(ws []*tensor) bool {
	for _, w := range ws {
		if w.dt != gguf.I2_S || len(w.chunks) != 1 {
			return false
		}
	}
	return true
}
