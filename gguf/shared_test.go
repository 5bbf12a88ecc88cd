package gguf_test

import (
	"bitnet/internal/testdata"
	"math"
	"path/filepath"
	"testing"

	"bitnet/gguf"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openShared(t *testing.T, rel string) *gguf.File {
	t.Helper()
	dir := sharedDir()
	if dir == "" {
		testdata.SkipUnlessCI(t, "reference data ../shared is absent (expected next to the repository): skipping tests of real GGUF files")
	}
	f, err := gguf.Open(filepath.Join(dir, rel))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestSharedStories260K(t *testing.T) {
	f := openShared(t, "models/stories260K.gguf")
	arch, err := f.Architecture()
	require.NoError(t, err)
	assert.Equal(t, "llama", arch)
	emb, err := f.Int("llama.embedding_length")
	require.NoError(t, err)
	assert.Equal(t, int64(64), emb)
	require.Len(t, f.Tensors, 48)
	for _, ti := range f.Tensors {
		assert.Equal(t, gguf.F32, ti.Type, ti.Name)
		assert.Equal(t, ti.Elements()*4, ti.Size, ti.Name)
	}
	toks, err := f.Strings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	assert.Len(t, toks, 512)
	sep, err := f.Uint32("tokenizer.ggml.seperator_token_id")
	require.NoError(t, err)
	assert.Equal(t, uint32(math.MaxUint32), sep)
}

func TestSharedTinyI2S(t *testing.T) {
	f := openShared(t, "golden/tiny-i2_s.gguf")
	emb, ok := f.Tensor("token_embd.weight")
	require.True(t, ok)
	assert.Equal(t, gguf.F16, emb.Type)
	assert.Equal(t, []int64{256, 512}, emb.Shape)
	n := 0
	for _, ti := range f.Tensors {
		if ti.Type != gguf.I2_S {
			continue
		}
		n++
		assert.Equal(t, ti.Elements()/4+32, ti.Size, ti.Name)
		raw, err := f.TensorData(ti)
		require.NoError(t, err)
		s, err := gguf.I2SScale(raw, ti.Elements())
		require.NoError(t, err)
		assert.True(t, s > 0 && !math.IsInf(float64(s), 0), "%s scale %v", ti.Name, s)
		tern := make([]int8, ti.Elements())
		gguf.DecodeI2S(raw, tern)
		count := map[int8]int{}
		for _, v := range tern {
			count[v]++
		}
		assert.Len(t, count, 3, ti.Name)
	}
	assert.Equal(t, 14, n)
}

func TestSharedVocabOnly(t *testing.T) {
	for _, c := range []struct {
		rel    string
		tokens int
		model  string
	}{
		{"models/ggml-vocab-llama-bpe.gguf", 128256, "gpt2"},
		{"models/ggml-vocab-llama-spm.gguf", 32000, "llama"},
	} {
		f := openShared(t, c.rel)
		assert.Empty(t, f.Tensors, c.rel)
		toks, err := f.Strings("tokenizer.ggml.tokens")
		require.NoError(t, err)
		assert.Len(t, toks, c.tokens, c.rel)
		model, err := f.String("tokenizer.ggml.model")
		require.NoError(t, err)
		assert.Equal(t, c.model, model)
	}
	f := openShared(t, "models/ggml-vocab-llama-bpe.gguf")
	merges, err := f.Strings("tokenizer.ggml.merges")
	require.NoError(t, err)
	assert.Len(t, merges, 280147)
	bos, err := f.Uint32("tokenizer.ggml.bos_token_id")
	require.NoError(t, err)
	assert.Equal(t, uint32(128000), bos)
}
