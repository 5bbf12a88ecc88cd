package engine_test

import (
	"bytes"
	"fmt"
	"testing"

	"bitnet/engine"
	"bitnet/gguf"
	"bitnet/internal/modelgen"
	"bitnet/internal/testdata"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rebuild reads a generated model and writes it again through edit, which
// may change metadata and must add the tensors it wants kept.
func rebuild(t *testing.T, o modelgen.Options, edit func(w *gguf.Writer, src *gguf.File)) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, modelgen.Generate(&buf, o))
	src, err := gguf.ReadBytes(buf.Bytes())
	require.NoError(t, err)
	w := gguf.NewWriter()
	for _, kv := range src.KV {
		require.NoError(t, w.SetKV(kv))
	}
	edit(w, src)
	var out bytes.Buffer
	_, err = w.WriteTo(&out)
	require.NoError(t, err)
	f, err := gguf.ReadBytes(out.Bytes())
	require.NoError(t, err)
	return f
}

func copyTensors(t *testing.T, w *gguf.Writer, src *gguf.File, skip func(gguf.TensorInfo) bool) {
	for _, ti := range src.Tensors {
		if skip != nil && skip(ti) {
			continue
		}
		raw, err := src.TensorData(ti)
		require.NoError(t, err)
		require.NoError(t, w.AddTensor(ti.Name, ti.Type, ti.Shape, raw))
	}
}

func TestCheckModelArchitectures(t *testing.T) {
	for _, arch := range []string{"bitnet-b1.58", "bitnet", "llama"} {
		f := rebuild(t, modelgen.Options{Arch: arch}, func(w *gguf.Writer, src *gguf.File) { copyTensors(t, w, src, nil) })
		assert.Empty(t, engine.CheckModel(f), arch)
	}
	// bitnet-25 is the same graph under its older name.
	f := rebuild(t, modelgen.Options{}, func(w *gguf.Writer, src *gguf.File) {
		w.Set("general.architecture", "bitnet-25")
		for _, kv := range src.KV {
			if len(kv.Key) > 13 && kv.Key[:13] == "bitnet-b1.58." {
				w.Delete(kv.Key)
				require.NoError(t, w.SetKV(gguf.KV{Key: "bitnet-25." + kv.Key[13:], Type: kv.Type, Value: kv.Value}))
			}
		}
		copyTensors(t, w, src, nil)
	})
	assert.Empty(t, engine.CheckModel(f))
}

func TestCheckModelProblems(t *testing.T) {
	f := rebuild(t, modelgen.Options{}, func(w *gguf.Writer, src *gguf.File) {
		copyTensors(t, w, src, func(ti gguf.TensorInfo) bool {
			return ti.Name == "output_norm.weight" || ti.Name == "blk.1.ffn_sub_norm.weight" ||
				ti.Name == "blk.0.ffn_up.weight" || ti.Name == "blk.0.attn_v.weight"
		})
		w.AddTensor("blk.0.ffn_up.weight", gguf.F32, []int64{512, 256}, make([]byte, 512*256*4))
		w.AddTensor("blk.0.attn_v.weight", gguf.Q8_0, []int64{256, 128}, make([]byte, 256*128/32*34))
		w.AddTensor("blk.1.ffn_sub_norm.weight", gguf.F32, []int64{512, 1}, make([]byte, 2048)) // trailing 1 is fine
		w.AddTensor("blk.0.attn_q.bias", gguf.F32, []int64{256}, make([]byte, 1024))
	})
	probs := engine.CheckModel(f)
	var got []string
	for _, p := range probs {
		got = append(got, p.String())
	}
	assert.Equal(t, []string{
		"missing: output_norm.weight: required tensor is absent (want F32 of shape [256])",
		"shape: blk.0.ffn_up.weight: shape [512 256], want [256 512]",
		"unused: blk.0.attn_q.bias: not used by architecture bitnet-b1.58 (F32 [256])",
	}, got)
	assert.False(t, engine.Compatible(probs))
	assert.True(t, engine.Compatible(probs[2:]))

	f = rebuild(t, modelgen.Options{}, func(w *gguf.Writer, src *gguf.File) {
		copyTensors(t, w, src, func(ti gguf.TensorInfo) bool { return ti.Name == "blk.0.attn_norm.weight" })
		w.AddTensor("blk.0.attn_norm.weight", gguf.F16, []int64{256}, make([]byte, 512))
	})
	probs = engine.CheckModel(f)
	require.Len(t, probs, 1)
	assert.Equal(t, "type: blk.0.attn_norm.weight: type F16 is not supported here (want F32)", probs[0].String())
}

func TestCheckModelMetadata(t *testing.T) {
	cases := []struct {
		edit func(w *gguf.Writer)
		want string
	}{
		{func(w *gguf.Writer) { w.Delete("general.architecture") }, `architecture: gguf: missing metadata key "general.architecture"`},
		{func(w *gguf.Writer) { w.Set("general.architecture", "gpt2") }, `architecture: architecture "gpt2" is not supported (supported: bitnet-b1.58, bitnet-25, bitnet, llama)`},
		{func(w *gguf.Writer) { w.Delete("bitnet-b1.58.block_count") }, `metadata: gguf: missing metadata key "bitnet-b1.58.block_count"`},
		{func(w *gguf.Writer) { w.Set("bitnet-b1.58.attention.head_count", uint32(3)) }, "metadata: embedding_length 256, head_count 3 and head_count_kv 2 are inconsistent"},
		{func(w *gguf.Writer) { w.Set("bitnet-b1.58.embedding_length", "256") }, `metadata: gguf: metadata "bitnet-b1.58.embedding_length" has type string, want integer`},
		{func(w *gguf.Writer) { w.Set("bitnet-b1.58.feed_forward_length", uint64(1)<<40) }, "metadata: bitnet-b1.58.feed_forward_length = 1099511627776 is out of range"},
		{func(w *gguf.Writer) { w.Delete("bitnet-b1.58.attention.layer_norm_rms_epsilon") }, `metadata: gguf: missing metadata key "bitnet-b1.58.attention.layer_norm_rms_epsilon"`},
		{func(w *gguf.Writer) { w.Set("bitnet-b1.58.rope.dimension_count", uint32(65)) }, "metadata: bitnet-b1.58.rope.dimension_count 65 does not fit head_dim 64"},
		{func(w *gguf.Writer) { w.Set("bitnet-b1.58.vocab_size", uint32(500)) }, "metadata: tokenizer.ggml.tokens has 512 entries, vocabulary size is 500"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			f := rebuild(t, modelgen.Options{}, func(w *gguf.Writer, src *gguf.File) {
				c.edit(w)
				copyTensors(t, w, src, nil)
			})
			probs := engine.CheckModel(f)
			require.NotEmpty(t, probs)
			assert.Equal(t, c.want, probs[0].String())
		})
	}
}

func TestTensorTable(t *testing.T) {
	c := engine.Config{Arch: "bitnet-b1.58", NEmbd: 2560, NLayer: 30, NFF: 6912, NHead: 20, NHeadKV: 5, HeadDim: 128, NVocab: 128256}
	count := func(c engine.Config) (required int) {
		for _, e := range c.Tensors() {
			if !e.Optional {
				required++
			}
		}
		return required
	}
	assert.Equal(t, 332, count(c))
	c.Arch = "llama"
	assert.Equal(t, 2+30*9, count(c))
}

func TestCheckModelAbsurdLayerCount(t *testing.T) {
	f := rebuild(t, modelgen.Options{}, func(w *gguf.Writer, src *gguf.File) {
		w.Set("bitnet-b1.58.block_count", uint32(1<<30))
		copyTensors(t, w, src, nil)
	})
	probs := engine.CheckModel(f)
	require.Len(t, probs, 1)
	assert.Equal(t, "metadata: bitnet-b1.58.block_count 1073741824 is more than the file's 24 tensors", probs[0].String())
}

// TestCheckModelSharedModels: the real models and bitnet.cpp's golden ones
// pass the check, and a vocabulary-only file is reported as such.
func TestCheckModelSharedModels(t *testing.T) {
	for _, name := range []string{"models/stories260K.gguf", "models/tinybitnet-stories.gguf", "golden/tiny-i2_s.gguf", "golden/tiny-f32.gguf"} {
		f, err := gguf.Open(testdata.Path(t, name))
		require.NoError(t, err)
		assert.Empty(t, engine.CheckModel(f), name)
		f.Close()
	}
	for _, name := range []string{"models/ggml-vocab-llama-spm.gguf", "models/ggml-vocab-llama-bpe.gguf"} {
		f, err := gguf.Open(testdata.Path(t, name))
		require.NoError(t, err)
		probs := engine.CheckModel(f)
		f.Close()
		require.Len(t, probs, 1, name)
		assert.Equal(t, engine.ProblemVocabOnly, probs[0].Kind, name)
		assert.Equal(t, "vocab only, no tensors", probs[0].Msg, name)
	}
}

// TestConfigTinyI2S: the header of bitnet.cpp's tiny model as the engine
// reads it.
func TestConfigTinyI2S(t *testing.T) {
	f, err := gguf.Open(testdata.Path(t, "golden/tiny-i2_s.gguf"))
	require.NoError(t, err)
	defer f.Close()
	c, err := engine.ConfigFromGGUF(f)
	require.NoError(t, err)
	assert.Equal(t, "bitnet-b1.58", c.Arch)
	assert.Equal(t, [7]int{256, 2, 512, 4, 2, 64, 512}, [7]int{c.NEmbd, c.NLayer, c.NFF, c.NHead, c.NHeadKV, c.HeadDim, c.NVocab})
	assert.True(t, c.SubNorms && c.NeoX)
}
