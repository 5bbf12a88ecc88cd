package engine_test

import (
	"bytes"
	"testing"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/gguf"
	"bitnet/internal/modelgen"
)

// FuzzLoadAndRun corrupts a small model's bytes (header and tensor data)
// and requires Load and a forward pass to fail cleanly or run, never panic.
func FuzzLoadAndRun(f *testing.F) {
	var buf bytes.Buffer
	p := modelgen.Params{Embd: 128, Layers: 1, Heads: 2, HeadsKV: 1, FF: 256, Vocab: 300, Ctx: 64}
	if err := modelgen.Generate(&buf, modelgen.Options{Params: &p, Seed: 5}); err != nil {
		f.Fatal(err)
	}
	model := buf.Bytes()
	f.Add(uint32(0), byte(0), uint32(0), byte(0))
	f.Add(uint32(100), byte(0xff), uint32(len(model)-40), byte(0x7f))
	f.Add(uint32(len(model)/2), byte(0x80), uint32(len(model)-1), byte(1))
	f.Fuzz(func(t *testing.T, off1 uint32, v1 byte, off2 uint32, v2 byte) {
		b := append([]byte(nil), model...)
		b[int(off1)%len(b)] ^= v1
		b[int(off2)%len(b)] ^= v2
		file, err := gguf.ReadBytes(b)
		if err != nil {
			return
		}
		probs := engine.CheckModel(file)
		be := cpu.New(cpu.Options{Threads: 1})
		defer be.Close()
		m, err := engine.Load(file, be)
		// The check and the loader read the same table: a file the check
		// finds loadable loads (a NaN or negative weight scale is the
		// loader's to find), and one that loads passes the check.
		if err == nil && !engine.Compatible(probs) {
			t.Fatalf("loads, but the check finds %v", probs)
		}
		if err != nil {
			return
		}
		st, err := m.NewState(8, 8, gguf.F16)
		if err != nil {
			return
		}
		st.Forward([]int32{1, 2, 3}, true)
		st.Forward([]int32{int32(off1 % 300)}, false)
	})
}
