package engine_test

import (
	"bitnet/reference"
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"bitnet/engine"
	"bitnet/gguf"
	"bitnet/internal/modelgen"
)

// TestProjectionScales: an upstream `bitnet` model's optional per-projection
// `.scale` tensors multiply the matmul outputs. A model with scale 2 on every
// projection must equal the model whose TQ2_0 block scales are doubled.
func TestProjectionScales(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bitnet.gguf")
	if err := modelgen.GenerateFile(path, modelgen.Options{Arch: "bitnet", Preset: "tiny", Seed: 11, WeightType: "tq2_0"}); err != nil {
		t.Fatal(err)
	}
	projections := []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}
	isProj := func(name string) bool {
		for _, p := range projections {
			if strings.HasSuffix(name, "."+p+".weight") {
				return true
			}
		}
		return false
	}
	withScales := rewrite(t, path, func(w *gguf.Writer, f *gguf.File, add func(gguf.TensorInfo, []byte)) {
		two := make([]byte, 4)
		binary.LittleEndian.PutUint32(two, math.Float32bits(2))
		for _, info := range f.Tensors {
			if isProj(info.Name) {
				name := strings.TrimSuffix(info.Name, ".weight") + ".scale"
				add(gguf.TensorInfo{Name: name, Type: gguf.F32, Shape: []int64{1}}, two)
			}
		}
	})
	doubled := rewrite(t, path, func(w *gguf.Writer, f *gguf.File, add func(gguf.TensorInfo, []byte)) {
		for _, info := range f.Tensors {
			if !isProj(info.Name) {
				continue
			}
			raw, _ := f.TensorData(info)
			raw = append([]byte(nil), raw...)
			for b := 0; b < len(raw); b += gguf.TQ2_0Bytes {
				d := gguf.F16ToF32(binary.LittleEndian.Uint16(raw[b+64:]))
				binary.LittleEndian.PutUint16(raw[b+64:], gguf.F32ToF16(2*d))
			}
			add(info, raw)
		}
	})
	logits := func(f *gguf.File) []float32 {
		be := reference.New()
		defer be.Close()
		m, err := engine.Load(f, be)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := m.NewState(16, 16, gguf.F16)
		lg, err := st.Forward([]int32{1, 7, 300, 42}, true)
		if err != nil {
			t.Fatal(err)
		}
		return lg
	}
	a, b := logits(withScales), logits(doubled)
	plain := logits(rewrite(t, path, func(*gguf.Writer, *gguf.File, func(gguf.TensorInfo, []byte)) {}))
	if md, at := maxAbsDiff(a, b); md > 1e-5 {
		t.Fatalf("scale tensors and doubled block scales differ by %g at %d", md, at)
	}
	if md, _ := maxAbsDiff(a, plain); md < 1e-3 {
		t.Fatalf("scale tensors had no effect (max diff %g)", md)
	}
}
