package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/engine/tokenizer"
	"bitnet/gguf"
	"bitnet/internal/testdata"
)

func TestPerplexity(t *testing.T) {
	root := testdata.RepoRoot(t)
	model := filepath.Join(root, "testdata", "tinybitnet-stories.gguf")
	text, err := os.ReadFile(filepath.Join(root, "testdata", "eval", "stories.txt"))
	require.NoError(t, err)
	text = text[:420] // one window
	file := filepath.Join(t.TempDir(), "text.txt")
	require.NoError(t, os.WriteFile(file, text, 0o644))

	code, out, errs := runCLI("perplexity", "--model", model, "--backend", "cpu", "--file", file, "--compare", "q8_0", "--json")
	require.Equal(t, 0, code, errs)
	var rep perplexityReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Heads, 2)
	f16, q8 := rep.Heads[0], rep.Heads[1]
	assert.Equal(t, "f16", f16.LMHead)
	assert.Equal(t, "q8_0", q8.LMHead)
	assert.Nil(t, f16.Top1Agreement)
	assert.Less(t, q8.HeadBytes, f16.HeadBytes)
	assert.Less(t, q8.BytesPerToken, f16.BytesPerToken)

	// The perplexity, recomputed here from the logits of the whole window.
	f, err := gguf.Open(model)
	require.NoError(t, err)
	defer f.Close()
	m, err := engine.Load(f, cpu.New(cpu.Options{Threads: 1}))
	require.NoError(t, err)
	tok, err := tokenizer.FromGGUF(f)
	require.NoError(t, err)
	ids := tok.Encode(string(text), false, false)
	require.Equal(t, len(ids), rep.Tokens)
	require.Less(t, len(ids)+1, rep.Window)
	seq := append([]int32{tok.BOS()}, ids...)
	require.True(t, tok.AddBOS())
	st, err := m.NewState(len(seq), len(seq), gguf.F16)
	require.NoError(t, err)
	logits, err := st.Forward(seq, true)
	require.NoError(t, err)
	nv := m.Config.NVocab
	var nll float64
	for i := 1; i+1 < len(seq); i++ {
		row := logits[i*nv : (i+1)*nv]
		mx := float64(row[0])
		for _, v := range row {
			mx = max(mx, float64(v))
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v) - mx)
		}
		nll -= float64(row[seq[i+1]]) - mx - math.Log(z)
	}
	assert.Equal(t, len(seq)-2, f16.Positions)
	assert.InEpsilon(t, math.Exp(nll/float64(len(seq)-2)), f16.Perplexity, 1e-9)
	assert.InEpsilon(t, f16.Perplexity, q8.Perplexity, 0.01)
	assert.GreaterOrEqual(t, *q8.Top1Agreement, 0.95)
	assert.Less(t, *q8.MeanKL, 1e-3)
	assert.Equal(t, len(ids), q8.Compared)

	// The table.
	code, out, errs = runCLI("perplexity", "--model", model, "--backend", "cpu", "--file", file, "--compare", "q8_0")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "(reference)")
	assert.Contains(t, out, "q8_0")
}

func TestPerplexityErrors(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	code, _, errs := runCLI("perplexity", "--model", model)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--file is required")
	code, _, errs = runCLI("perplexity", "--model", model, "--file", "x", "--compare", "q4_0")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `--compare: LM head type "q4_0"`)
	code, _, errs = runCLI("run", "--model", model, "--lm-head", "int4", "--prompt", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `--lm-head: LM head type "int4": want f16, q8_0, q6_k`)
	code, _, errs = runCLI("run", "--model", model, "--lm-head", "q6_k", "--backend", "cpu", "--prompt", "x")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "rows of 128 elements are not a multiple of the Q6_K block size 256")
}
