package compute_test

import (
	"testing"

	"bitnet/cpu"
	"bitnet/engine/compute"
	"bitnet/gguf"
)

// TestProfiler: ops are counted only while On, matmuls by weight type and
// shape with the bytes of their weights, and results pass through unchanged.
func TestProfiler(t *testing.T) {
	be := cpu.New(cpu.Options{Threads: 1})
	defer be.Close()
	p := compute.NewProfiler(be)
	alloc := func(shape ...int) compute.Tensor {
		x, err := p.Alloc(gguf.F32, shape...)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	x, y, w := alloc(4, 2), alloc(4, 2), alloc(4)
	if err := p.Write(x, []float32{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(w, []float32{1, 1, 1, 1}); err != nil {
		t.Fatal(err)
	}
	p.Add(y, x, x) // not counted: profiling is off
	p.On = true
	p.Add(y, x, x)
	p.Add(y, y, x)
	p.MatMul(alloc(3, 2), alloc(4, 3), x)
	p.On = false
	p.RMSNorm(alloc(4, 2), x, w, 1e-5)

	got := make([]float32, 8)
	if err := p.Read(y, got); err != nil {
		t.Fatal(err)
	}
	if got[0] != 3 || got[7] != 24 {
		t.Fatalf("Add through the profiler: got %v, want 3x the input", got)
	}
	stats := map[string]compute.OpStat{}
	for _, s := range p.Stats() {
		stats[s.Op] = s
	}
	if len(stats) != 2 || stats["Add"].Calls != 2 {
		t.Fatalf("stats %+v: want Add x2 and one MatMul", stats)
	}
	if mm := stats["MatMul F32 [4 3]"]; mm.Calls != 1 || mm.Bytes != 4*3*4 {
		t.Fatalf("matmul stat %+v: want 1 call reading 48 bytes", mm)
	}
	p.Reset()
	if len(p.Stats()) != 0 {
		t.Fatal("Reset left stats")
	}
}
