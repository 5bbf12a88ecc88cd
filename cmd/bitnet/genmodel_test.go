package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"bitnet/gguf"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenModel(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string, args ...string) []byte {
		path := filepath.Join(dir, name)
		code, _, errs := runCLI(append([]string{"gen-model", "--out", path}, args...)...)
		require.Equal(t, 0, code, errs)
		assert.Contains(t, errs, "wrote "+path)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return b
	}
	a := gen("a.gguf", "--preset", "tiny", "--seed", "9")
	b := gen("b.gguf", "--preset", "tiny", "--seed", "9")
	c := gen("c.gguf", "--preset", "tiny", "--seed", "10")
	assert.True(t, bytes.Equal(a, b), "same seed, same bytes")
	assert.False(t, bytes.Equal(a, c), "different seed, different bytes")

	for _, args := range [][]string{
		{"--arch", "bitnet", "--weight-type", "tq1_0"},
		{"--arch", "llama", "--weight-type", "f16"},
		{"--arch", "bitnet-b1.58", "--weight-type", "tq2_0"},
	} {
		data := gen("x.gguf", args...)
		f, err := gguf.ReadBytes(data)
		require.NoError(t, err, "%v", args)
		assert.Empty(t, gguf.CheckModel(f), "%v", args)
		arch, _ := f.Architecture()
		assert.Equal(t, args[1], arch)
	}
}

func TestGenModelUsage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.gguf")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--out is required"},
		{[]string{"--out", out, "--arch", "gpt2"}, `unknown --arch "gpt2"`},
		{[]string{"--out", out, "--preset", "huge"}, `unknown --preset "huge"`},
		{[]string{"--out", out, "--weight-type", "q4"}, `unknown --weight-type "q4"`},
		{[]string{"--out", out, "extra"}, `unexpected argument "extra"`},
		{[]string{"--out", out, "--seed", "x"}, "invalid value"},
	} {
		code, _, errs := runCLI(append([]string{"gen-model"}, c.args...)...)
		assert.Equal(t, 2, code, "%v", c.args)
		assert.Contains(t, errs, c.want)
	}
	code, _, errs := runCLI("gen-model", "--out", filepath.Join(t.TempDir(), "no", "such", "dir", "m.gguf"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "no such file")
}
