package gguf_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"bitnet/gguf"
	"bitnet/internal/modelgen"
)

// sharedDir is the reference data directory (../shared from the repository
// root), or "" when it is absent.
func sharedDir() string {
	dir := filepath.Join("..", "..", "shared")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

func writerSeeds(f *testing.F) {
	// The smallest model the generator makes (about 70 KB): larger seeds
	// slow the fuzzer down.
	small := &modelgen.Params{Embd: 128, Layers: 1, Heads: 2, HeadsKV: 1, FF: 128, Vocab: 260, Ctx: 64}
	var model bytes.Buffer
	if err := modelgen.Generate(&model, modelgen.Options{Params: small}); err != nil {
		f.Fatal(err)
	}
	f.Add(model.Bytes())
	w := gguf.NewWriter()
	w.Set("general.alignment", uint32(8))
	w.Set("a", gguf.Array{Elem: gguf.TypeArray, Values: []gguf.Array{{Elem: gguf.TypeString, Values: []string{"x", "yz"}}}})
	w.Set("b", []bool{true, false})
	w.Set("c", float64(1.5))
	w.AddTensor("q8", gguf.Q8_0, []int64{32, 2}, make([]byte, 68))
	w.AddTensor("bf", gguf.BF16, []int64{3}, make([]byte, 6))
	w.AddTensor("tq2", gguf.TQ2_0, []int64{256}, make([]byte, 66))
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
}

// sharedSeeds adds the headers (up to the data section, at most 64 KiB) of
// the reference files, read in place.
func sharedSeeds(f *testing.F) {
	dir := sharedDir()
	if dir == "" {
		return
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.gguf"))
	for _, p := range paths {
		g, err := gguf.Open(p)
		if err != nil {
			continue
		}
		n := g.DataOffset
		g.Close()
		if n > 64<<10 {
			continue
		}
		fh, err := os.Open(p)
		if err != nil {
			continue
		}
		b := make([]byte, n)
		_, err = fh.ReadAt(b, 0)
		fh.Close()
		if err == nil {
			f.Add(b)
		}
	}
}

// FuzzRead checks that no input makes the reader panic or allocate more than
// a small multiple of its size, and that whatever it accepts is consistent:
// every tensor's data is readable, the model check runs, and writing the file
// back gives a file that reads back to the same bytes.
func FuzzRead(f *testing.F) {
	writerSeeds(f)
	sharedSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		file, err := gguf.ReadBytes(data)
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(16*len(data))+1<<20; got > limit {
			t.Fatalf("parsing %d bytes allocated %d bytes (limit %d)", len(data), got, limit)
		}
		if err != nil {
			return
		}
		if _, err := gguf.Read(bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("ReadBytes accepted what Read rejects: %v", err)
		}
		w := gguf.NewWriter()
		for _, kv := range file.KV {
			if err := w.SetKV(kv); err != nil {
				t.Fatalf("metadata the reader accepted is refused by the writer: %v", err)
			}
			file.String(kv.Key)
			file.Int(kv.Key)
			file.Float32(kv.Key)
			file.Strings(kv.Key)
			file.Int32s(kv.Key)
		}
		for _, ti := range file.Tensors {
			raw, err := file.TensorData(ti)
			if err != nil {
				t.Fatalf("tensor %q: %v", ti.Name, err)
			}
			if int64(len(raw)) != ti.Size {
				t.Fatalf("tensor %q: %d bytes, want %d", ti.Name, len(raw), ti.Size)
			}
			if err := w.AddTensor(ti.Name, ti.Type, ti.Shape, raw); err != nil {
				t.Fatalf("tensor the reader accepted is refused by the writer: %v", err)
			}
		}
		var out1, out2 bytes.Buffer
		if _, err := w.WriteTo(&out1); err != nil {
			t.Fatal(err)
		}
		again, err := gguf.ReadBytes(out1.Bytes())
		if err != nil {
			t.Fatalf("rewritten file does not read: %v", err)
		}
		w2 := gguf.NewWriter()
		for _, kv := range again.KV {
			w2.SetKV(kv)
		}
		for _, ti := range again.Tensors {
			raw, _ := again.TensorData(ti)
			w2.AddTensor(ti.Name, ti.Type, ti.Shape, raw)
		}
		if _, err := w2.WriteTo(&out2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out1.Bytes(), out2.Bytes()) {
			t.Fatal("writing a read file twice gives different bytes")
		}
	})
}
