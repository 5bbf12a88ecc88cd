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
				benchAttention(b, th, ctx, 1)
			})
		}
	}
}

// BenchmarkAttentionPrompt: the attention of a prompt's rows rows (the
// last of a cache of ctx positions) in one layer of the 2B model, on 2
// threads.
func BenchmarkAttentionPrompt(b *testing.B) {
	for _, c := range []struct{ ctx, rows int }{{512, 512}, {2048, 512}} {
		b.Run(fmt.Sprintf("ctx=%d/rows=%d", c.ctx, c.rows), func(b *testing.B) {
			benchAttention(b, 2, c.ctx, c.rows)
		})
	}
}

// benchAttention times Attention for the last r query rows of a cache of
// ctx positions (20 query heads, 5 KV heads of 128, F16) on th threads.
func benchAttention(b *testing.B, th, ctx, r int) {
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
	k, v := alloc(gguf.F16, 640, ctx), alloc(gguf.F16, 640, ctx)
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
	be.StoreKV(k, rows, pos)
	be.StoreKV(v, rows, pos)
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
	for b.Loop() {
		be.Attention(dst, q, k, v, last, p)
	}
}
