package engine_test

import (
	"bitnet/reference"
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"bitnet/engine"
	"bitnet/gguf"
	"bitnet/internal/testdata"
)

// rewrite copies a model file through the writer, letting edit change the
// metadata and tensors, and returns the parsed result.
func rewrite(t *testing.T, path string, edit func(w *gguf.Writer, f *gguf.File, add func(gguf.TensorInfo, []byte))) *gguf.File {
	t.Helper()
	src, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w := gguf.NewWriter()
	for _, kv := range src.KV {
		if err := w.SetKV(kv); err != nil {
			t.Fatal(err)
		}
	}
	var infos []gguf.TensorInfo
	data := map[string][]byte{}
	add := func(info gguf.TensorInfo, raw []byte) {
		infos = append(infos, info)
		data[info.Name] = raw
	}
	edit(w, src, add)
	for _, info := range src.Tensors {
		if _, done := data[info.Name]; done {
			continue
		}
		raw, err := src.TensorData(info)
		if err != nil {
			t.Fatal(err)
		}
		add(info, append([]byte(nil), raw...))
	}
	for _, info := range infos {
		if data[info.Name] == nil {
			continue // dropped
		}
		if err := w.AddTensor(info.Name, info.Type, info.Shape, data[info.Name]); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.ReadBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func loadErr(t *testing.T, f *gguf.File) error {
	t.Helper()
	be := reference.New()
	defer be.Close()
	_, err := engine.Load(f, be)
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	return err
}

func TestLoadErrors(t *testing.T) {
	path := testdata.Path(t, "golden/tiny-i2_s.gguf")
	withScale := func(s float32) *gguf.File {
		return rewrite(t, path, func(w *gguf.Writer, f *gguf.File, add func(gguf.TensorInfo, []byte)) {
			info, _ := f.Tensor("blk.1.attn_v.weight")
			raw, _ := f.TensorData(info)
			raw = append([]byte(nil), raw...)
			binary.LittleEndian.PutUint32(raw[info.Elements()/4:], math.Float32bits(s))
			add(info, raw)
		})
	}
	cases := []struct {
		name string
		file func() *gguf.File
		want []string
		is   error
	}{
		{"nan scale", func() *gguf.File { return withScale(float32(math.NaN())) }, []string{`"blk.1.attn_v.weight"`, "scale", "NaN"}, nil},
		{"inf scale", func() *gguf.File { return withScale(float32(math.Inf(1))) }, []string{`"blk.1.attn_v.weight"`, "+Inf"}, nil},
		{"negative scale", func() *gguf.File { return withScale(-0.5) }, []string{`"blk.1.attn_v.weight"`, "-0.5"}, nil},
		{"unknown architecture", func() *gguf.File {
			return rewrite(t, path, func(w *gguf.Writer, f *gguf.File, add func(gguf.TensorInfo, []byte)) {
				w.Set("general.architecture", "mamba")
			})
		}, []string{`"mamba"`, "bitnet-b1.58", "bitnet-25", "bitnet", "llama"}, engine.ErrUnsupportedArch},
		{"missing tensor", func() *gguf.File {
			return rewrite(t, path, func(w *gguf.Writer, f *gguf.File, add func(gguf.TensorInfo, []byte)) {
				info, _ := f.Tensor("blk.1.ffn_up.weight")
				add(info, nil)
			})
		}, []string{`"blk.1.ffn_up.weight"`}, engine.ErrMissingTensor},
		{"wrong shape", func() *gguf.File {
			return rewrite(t, path, func(w *gguf.Writer, f *gguf.File, add func(gguf.TensorInfo, []byte)) {
				info, _ := f.Tensor("blk.0.attn_k.weight") // [256 128]
				info.Shape = []int64{256, 64}
				n := info.Elements()
				raw, _ := f.TensorData(info)
				raw = append(append([]byte(nil), raw[:n/4]...), make([]byte, 32)...)
				binary.LittleEndian.PutUint32(raw[n/4:], math.Float32bits(1))
				add(info, raw)
			})
		}, []string{`"blk.0.attn_k.weight"`, "[256 64]", "want [256 128]"}, engine.ErrShape},
		{"missing hyperparameter", func() *gguf.File {
			return rewrite(t, path, func(w *gguf.Writer, f *gguf.File, add func(gguf.TensorInfo, []byte)) {
				w.Delete("bitnet-b1.58.attention.layer_norm_rms_epsilon")
			})
		}, []string{"bitnet-b1.58.attention.layer_norm_rms_epsilon"}, gguf.ErrMissingKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := loadErr(t, c.file())
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
		})
	}
}

// TestZeroScale: a zero I2_S scale is valid (the tensor is zero) and must
// not produce NaN.
func TestZeroScale(t *testing.T) {
	path := testdata.Path(t, "golden/tiny-i2_s.gguf")
	f := rewrite(t, path, func(w *gguf.Writer, f *gguf.File, add func(gguf.TensorInfo, []byte)) {
		for _, name := range []string{"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.ffn_down.weight"} {
			info, _ := f.Tensor(name)
			raw, _ := f.TensorData(info)
			raw = append([]byte(nil), raw...)
			binary.LittleEndian.PutUint32(raw[info.Elements()/4:], 0)
			add(info, raw)
		}
	})
	be := reference.New()
	defer be.Close()
	m, err := engine.Load(f, be)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := m.NewState(16, 16, gguf.F16)
	lg, err := st.Forward([]int32{1, 2, 3}, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range lg {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("logit %d is %v", i, v)
		}
	}
}

// goldenI2S loads the golden I2_S model on the reference backend.
func goldenI2S(t *testing.T) *engine.Model {
	be := reference.New()
	t.Cleanup(func() { be.Close() })
	return loadModel(t, testdata.Path(t, "golden/tiny-i2_s.gguf"), be)
}

func TestContextErrors(t *testing.T) {
	m := goldenI2S(t)
	st, _ := m.NewState(4, 4, gguf.F16)
	if _, err := st.Forward([]int32{1, 2, 3, 4, 5}, false); !errors.Is(err, engine.ErrContextFull) {
		t.Fatalf("5 tokens in a context of 4: %v", err)
	}
	if _, _, err := st.Generate([]int32{1, 2, 3, 4, 5, 6}, engine.GenerateOptions{MaxNewTokens: 1}); !errors.Is(err, engine.ErrContextFull) || !strings.Contains(err.Error(), "--ctx-size") {
		t.Fatalf("Generate with a long prompt: %v", err)
	}
	if _, err := st.Forward([]int32{9999}, false); err == nil || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("out-of-vocabulary token: %v", err)
	}
	// Generation stops at a full context instead of failing.
	st.Reset()
	out, _, err := st.Generate([]int32{1, 2}, engine.GenerateOptions{MaxNewTokens: 100})
	if err != nil || len(out) != 3 {
		t.Fatalf("generation in a context of 4 after 2 prompt tokens: %d tokens, %v", len(out), err)
	}
}

// TestStateTooLarge: a KV cache that cannot be allocated is an error naming
// the context size, not a crash.
func TestStateTooLarge(t *testing.T) {
	_, err := goldenI2S(t).NewState(1<<30, 16, gguf.F16)
	if err == nil || !strings.Contains(err.Error(), "1073741824 tokens") || !strings.Contains(err.Error(), "--ctx-size") {
		t.Fatalf("huge context: %v", err)
	}
}
