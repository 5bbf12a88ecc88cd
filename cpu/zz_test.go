package cpu

import (
	"testing"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

func BenchmarkZZAttn(b *testing.B) {
	for _, th := range []int{1, 2} {
		be := New(Options{Threads: th})
		q, _ := be.Alloc(gguf.F32, 2560, 1)
		dst, _ := be.Alloc(gguf.F32, 2560, 1)
		k, _ := be.Alloc(gguf.F16, 640, 256)
		v, _ := be.Alloc(gguf.F16, 640, 256)
		qs := make([]float32, 2560)
		for i := range qs {
			qs[i] = float32(i%13) * 0.01
		}
		be.Write(q, qs)
		p := compute.AttnParams{NHead: 20, NKVHead: 5, HeadDim: 128, Pos0: 63, Scale: 0.088}
		b.Run("threads", func(b *testing.B) {
			for b.Loop() {
				be.Attention(dst, q, k, v, p)
			}
		})
		be.Close()
	}
}
