package main

import (
	"bitnet/engine"
	"bitnet/internal/testdata"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bitnet/gguf"
	"bitnet/internal/modelgen"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func inspectJSON(t *testing.T, path string) inspectReport {
	t.Helper()
	code, out, errs := runCLI("inspect", path, "--json")
	require.Equal(t, 0, code, errs)
	var rep inspectReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	return rep
}

func TestInspectGenerated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	require.NoError(t, modelgen.GenerateFile(path, modelgen.Options{Seed: 5}))

	code, out, errs := runCLI("inspect", path)
	require.Equal(t, 0, code, errs)
	for _, want := range []string{
		"version:      3", "alignment:    32",
		`general.architecture`, `"bitnet-b1.58"`,
		"tokenizer.ggml.tokens", "[string x 512] [\"Ā\", \"ā\"",
		"blk.1.ffn_down.weight", "I2_S  [512, 256]", "32800",
		"I2_S  14 tensors", "all  24 tensors",
		"verdict: compatible: loadable as bitnet-b1.58: 2 layers, n_embd 256, 4 heads (2 kv), n_ff 512, vocab 512",
	} {
		assert.Contains(t, out, want)
	}

	rep := inspectJSON(t, path)
	assert.Equal(t, uint32(3), rep.Version)
	assert.Equal(t, int64(32), rep.Alignment)
	assert.Len(t, rep.Tensors, 24)
	assert.Equal(t, 24, rep.Totals.Tensors)
	assert.Equal(t, "compatible", rep.Check.Verdict)
	assert.Empty(t, rep.Check.Problems)
	var sum int64
	for _, tt := range rep.Tensors {
		sum += tt.Bytes
	}
	assert.Equal(t, sum, rep.Totals.DataBytes)
	assert.Equal(t, rep.FileSize-rep.DataOffset, rep.Totals.DataBytes)
	for _, kv := range rep.Metadata {
		switch kv.Key {
		case "tokenizer.ggml.tokens":
			require.NotNil(t, kv.Array)
			assert.Equal(t, "string", kv.Array.ElemType)
			assert.Equal(t, 512, kv.Array.Len)
			assert.Len(t, kv.Array.First, 8)
		case "tokenizer.ggml.add_bos_token":
			assert.Equal(t, true, kv.Value)
		case "bitnet-b1.58.attention.layer_norm_rms_epsilon":
			assert.Equal(t, "float32", kv.Type)
			assert.Equal(t, 1e-5, kv.Value)
		}
	}
}

func TestInspectProblems(t *testing.T) {
	dir := t.TempDir()
	w, err := modelgen.Build(modelgen.Options{Seed: 1})
	require.NoError(t, err)
	// Rebuild the same model with one tensor missing, one reshaped, one
	// retyped, one extra, plus odd metadata values.
	var buf bytes.Buffer
	_, err = w.WriteTo(&buf)
	require.NoError(t, err)
	src, err := gguf.ReadBytes(buf.Bytes())
	require.NoError(t, err)
	w2 := gguf.NewWriter()
	for _, kv := range src.KV {
		require.NoError(t, w2.SetKV(kv))
	}
	require.NoError(t, w2.Set("x.nan", float32(0)/float32(zero())))
	require.NoError(t, w2.Set("x.nested", gguf.Array{Elem: gguf.TypeArray, Values: []gguf.Array{{Elem: gguf.TypeInt32, Values: []int32{1, 2}}}}))
	for _, ti := range src.Tensors {
		data, err := src.TensorData(ti)
		require.NoError(t, err)
		switch ti.Name {
		case "blk.0.attn_q.weight":
			continue
		case "blk.1.attn_k.weight":
			require.NoError(t, w2.AddTensor(ti.Name, gguf.F32, []int64{256, 64}, make([]byte, 256*64*4)))
		case "blk.0.ffn_norm.weight":
			require.NoError(t, w2.AddTensor(ti.Name, gguf.F16, []int64{256}, make([]byte, 512)))
		default:
			require.NoError(t, w2.AddTensor(ti.Name, ti.Type, ti.Shape, data))
		}
	}
	require.NoError(t, w2.AddTensor("rope_freqs.weight", gguf.F32, []int64{32}, make([]byte, 128)))
	path := filepath.Join(dir, "broken.gguf")
	require.NoError(t, w2.WriteFile(path))

	code, out, errs := runCLI("inspect", path)
	require.Equal(t, 0, code, errs)
	for _, want := range []string{
		"verdict: incompatible: cannot be loaded: 3 problems",
		"missing: blk.0.attn_q.weight: required tensor is absent",
		"shape: blk.1.attn_k.weight: shape [256 64], want [256 128]",
		"type: blk.0.ffn_norm.weight: type F16 is not supported here (want F32)",
		"unused: rope_freqs.weight",
		"x.nan", "NaN",
		"[array x 1] [[int32 x 2] [1, 2]]",
	} {
		assert.Contains(t, out, want)
	}
	rep := inspectJSON(t, path)
	assert.Equal(t, "incompatible", rep.Check.Verdict)
	kinds := []engine.ProblemKind{}
	for _, p := range rep.Check.Problems {
		kinds = append(kinds, p.Kind)
	}
	assert.Equal(t, []engine.ProblemKind{engine.ProblemMissing, engine.ProblemType, engine.ProblemShape, engine.ProblemUnused}, kinds)
}

func zero() float32 { return 0 }

func TestInspectVocabOnly(t *testing.T) {
	w := gguf.NewWriter()
	require.NoError(t, w.Set("general.architecture", "llama"))
	require.NoError(t, w.Set("tokenizer.ggml.tokens", []string{"a", "b"}))
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	require.NoError(t, w.WriteFile(path))
	code, out, _ := runCLI("inspect", path)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "verdict: vocab-only: vocab only, no tensors")
	rep := inspectJSON(t, path)
	assert.Equal(t, "vocab-only", rep.Check.Verdict)
	assert.Equal(t, []inspectTensor{}, rep.Tensors)
}

func TestInspectErrors(t *testing.T) {
	code, _, errs := runCLI("inspect")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "want exactly one FILE")
	code, _, _ = runCLI("inspect", "a", "b")
	assert.Equal(t, 2, code)
	code, _, _ = runCLI("inspect", "--bogus", "a")
	assert.Equal(t, 2, code)

	path := filepath.Join(t.TempDir(), "junk.gguf")
	require.NoError(t, os.WriteFile(path, []byte("not a gguf file at all"), 0o644))
	code, _, errs = runCLI("inspect", path)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "bad magic")
	code, _, errs = runCLI("inspect", filepath.Join(t.TempDir(), "absent.gguf"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "no such file")
}

func TestInspectSharedFiles(t *testing.T) {
	for _, c := range []struct {
		file, verdict string
		tensors       int
	}{
		{"models/stories260K.gguf", "compatible", 48},
		{"models/tinybitnet-stories.gguf", "compatible", 46},
		{"golden/tiny-i2_s.gguf", "compatible", 24},
		{"golden/tiny-f32.gguf", "compatible", 24},
		{"models/ggml-vocab-llama-bpe.gguf", "vocab-only", 0},
		{"models/ggml-vocab-llama-spm.gguf", "vocab-only", 0},
	} {
		// Each file is required in CI (a missing one fails there).
		rep := inspectJSON(t, testdata.Path(t, c.file))
		assert.Equal(t, c.verdict, rep.Check.Verdict, "%s: %v", c.file, rep.Check.Problems)
		assert.Len(t, rep.Tensors, c.tensors, c.file)
		if strings.Contains(c.file, "llama-bpe") {
			for _, kv := range rep.Metadata {
				if kv.Key == "tokenizer.ggml.merges" {
					assert.Equal(t, 280147, kv.Array.Len)
				}
			}
		}
	}
}
