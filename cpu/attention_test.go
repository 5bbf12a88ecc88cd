package cpu

import (
	"fmt"
	"testing"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// BenchmarkAttentionDecode: one generated token's attention in one layer of
// the 2B model (20 query heads, 5 KV heads of 128) over F16 caches holding
// ctx positions, on 1 and 2 threads.
func BenchmarkAttentionDecode(b *testing.B) {
	for _, ctx := range []int{64, 512, 2048} {
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("ctx=%d/threads=%d", ctx, th), func(b *testing.B) {
				benchAttention(b, th, ctx, 1, 1)
			})
		}
	}
	// As in a model, whose caches have left the processor's caches by the
	// time a layer's turn comes again: 48 layers' caches in turn.
	b.Run("ctx=2048/threads=2/cold", func(b *testing.B) { benchAttention(b, 2, 2048, 1, 48) })
}

// BenchmarkAttentionPrompt: the attention of a prompt's rows rows (the
// last of a cache of ctx positions) in one layer of the 2B model, on 2
// threads.
func BenchmarkAttentionPrompt(b *testing.B) {
	for _, c := range []struct{ ctx, rows int }{{512, 512}, {2048, 512}} {
		b.Run(fmt.Sprintf("ctx=%d/rows=%d", c.ctx, c.rows), func(b *testing.B) {
			benchAttention(b, 2, c.ctx, c.rows, 1)
		})
	}
}

// benchAttention times Attention for the last r query rows of a cache of
// ctx positions (20 query heads, 5 KV heads of 128, F16) on th threads,
// over layers caches in turn.
func benchAttention(b *testing.B, th, ctx, r, layers int) {
	be := New(Options{Threads: th})
	defer be.Close()
	alloc := func(dt gguf.DType, shape ...int) compute.Tensor {
		t, err := be.Alloc(dt, shape...)
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	q, dst := alloc(gguf.F32, 2560, r), alloc(gguf.F32, 2560, r)
	x := make([]float32, 640*ctx)
	for i := range x {
		x[i] = float32((i%640*7+i/640*3)%17-8) * 0.1
	}
	rows := alloc(gguf.F32, 640, ctx)
	if err := be.Write(rows, x); err != nil {
		b.Fatal(err)
	}
	all := make([]int32, ctx)
	for j := range all {
		all[j] = int32(j)
	}
	pos := alloc(gguf.I32, ctx)
	if err := be.WriteInts(pos, all); err != nil {
		b.Fatal(err)
	}
	ks, vs := make([]compute.Tensor, layers), make([]compute.Tensor, layers)
	for l := range layers {
		ks[l], vs[l] = alloc(gguf.F16, 640, ctx), alloc(gguf.F16, 640, ctx)
		be.StoreKV(ks[l], rows, pos)
		be.StoreKV(vs[l], rows, pos)
	}
	last := alloc(gguf.I32, r)
	if err := be.WriteInts(last, all[ctx-r:]); err != nil {
		b.Fatal(err)
	}
	qs := make([]float32, 2560*r)
	for i := range qs {
		qs[i] = float32(i%13-6) * 0.05
	}
	if err := be.Write(q, qs); err != nil {
		b.Fatal(err)
	}
	p := compute.AttnParams{NHead: 20, NKVHead: 5, HeadDim: 128, Scale: 0.0884}
	l := 0
	for b.Loop() {
		be.Attention(dst, q, ks[l], vs[l], last, p)
		l = (l + 1) % layers
	}
}
