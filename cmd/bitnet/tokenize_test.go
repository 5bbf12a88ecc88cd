package main

import (
	"bitnet/internal/testdata"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedVocab returns ../shared/models/NAME (relative to the repository root)
// or skips the test.
func sharedVocab(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "models", name)
	if _, err := os.Stat(p); err != nil {
		testdata.SkipUnlessCI(t, "reference vocabulary not available: %v", err)
	}
	return p
}

func TestTokenizeLlama3(t *testing.T) {
	m := sharedVocab(t, "ggml-vocab-llama-bpe.gguf")
	code, out, errs := runCLI("tokenize", "--model", m, "Hello", "BitNet")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "128000 9906 6631 7099\n", out)

	code, out, errs = runCLI("tokenize", "--model", m, "--add-bos=false", "--parse-special", "User: How are you?<|eot_id|>Assistant: ")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "1502 25 2650 527 499 30 128009 72803 25 220\n", out)

	// Special tokens are parsed by default, as run (and llama-cli) does;
	// --parse-special=false spells them out.
	code, out, errs = runCLI("tokenize", "--model", m, "--add-bos=false", "<|eot_id|>")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "128009\n", out)
	code, out, errs = runCLI("tokenize", "--model", m, "--add-bos=false", "--parse-special=false", "<|eot_id|>")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "27 91 68 354 851 91 29\n", out)

	code, out, errs = runCLI("tokenize", "--model", m, "--json", "--parse-special", "Hi<|eot_id|>")
	require.Equal(t, 0, code, errs)
	var rep tokenizeReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, []int32{128000, 13347, 128009}, rep.IDs)
	require.Len(t, rep.Tokens, 3)
	assert.Equal(t, tokenizePiece{ID: 128009, Token: "<|eot_id|>", Text: "<|eot_id|>"}, rep.Tokens[2])
	assert.Equal(t, "Hi", rep.Tokens[1].Token)

	path := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(path, []byte("Hello BitNet"), 0o644))
	code, out, errs = runCLI("tokenize", "--model", m, "--file", path, "--add-bos=false")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "9906 6631 7099\n", out)

	old := stdin
	stdin = strings.NewReader("Hello BitNet")
	defer func() { stdin = old }()
	code, out, errs = runCLI("tokenize", "--model", m, "--file", "-", "--add-bos=false")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "9906 6631 7099\n", out)
}

func TestTokenizeSPM(t *testing.T) {
	m := sharedVocab(t, "ggml-vocab-llama-spm.gguf")
	code, out, errs := runCLI("tokenize", "--model", m, "Hello world")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "1 15043 3186\n", out)
}

func TestTokenizeJSONTokenizer(t *testing.T) {
	p := filepath.Join("..", "..", "engine", "tokenizer", "testdata", "llama3-json", "tokenizer.json")
	code, out, errs := runCLI("tokenize", "--tokenizer", p, "--add-bos=false", "hello world")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "259 264\n", out)
}

func TestTokenizeErrors(t *testing.T) {
	code, _, errs := runCLI("tokenize", "text")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--model")

	dir := t.TempDir()
	code, _, errs = runCLI("tokenize", "--model", filepath.Join(dir, "missing.gguf"), "x")
	assert.Equal(t, 1, code, errs)

	code, _, _ = runCLI("tokenize", "--model", "m.gguf")
	assert.Equal(t, 2, code)
	code, _, _ = runCLI("tokenize", "--model", "m.gguf", "--file", "f", "text")
	assert.Equal(t, 2, code)
	code, _, _ = runCLI("tokenize", "--model", "m.gguf", "--add-bos=maybe", "x")
	assert.Equal(t, 2, code)
	code, _, _ = runCLI("tokenize", "--help")
	assert.Equal(t, 0, code)
}
