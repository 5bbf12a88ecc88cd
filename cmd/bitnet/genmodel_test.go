package main

import (
	"bitnet/engine"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
		assert.Empty(t, engine.CheckModel(f), "%v", args)
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

// TestGenModelProgress: files of progressMinSize bytes and more report each
// tenth written, one line each when stderr is not a terminal; smaller ones
// only the summary.
func TestGenModelProgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	code, _, errs := runCLI("gen-model", "--out", path)
	require.Equal(t, 0, code, errs)
	assert.NotContains(t, errs, "%", "a tiny model reports no progress")

	old := progressMinSize
	progressMinSize = 0
	defer func() { progressMinSize = old }()
	code, _, errs = runCLI("gen-model", "--out", path)
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	require.GreaterOrEqual(t, len(lines), 2, errs)
	assert.True(t, strings.HasPrefix(lines[len(lines)-2], "writing "+path+": 100% ("), errs)
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "wrote "+path), errs)
}

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "writing m", 1000<<20)
	for range 100 {
		p.Write(make([]byte, 10<<20))
	}
	p.end()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 10, b.String())
	for i, l := range lines {
		assert.Equal(t, fmt.Sprintf("writing m: %d%% (%d of 1000 MiB)", 10*(i+1), 100*(i+1)), l)
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, label: "writing m", total: 400, term: true, steps: 100}
	for range 8 {
		p.Write(make([]byte, 50))
	}
	p.end()
	out := b.String()
	assert.Equal(t, 8, strings.Count(out, "\r"), out)
	assert.True(t, strings.HasSuffix(out, "\rwriting m ["+strings.Repeat("=", 40)+"] 100%\n"), "%q", out)
	assert.Contains(t, out, "\rwriting m ["+strings.Repeat("=", 20)+strings.Repeat(" ", 20)+"]  50%")
}

// TestLoadProgress: loading a model of loadProgressMinSize bytes or more
// reports its progress on stderr, up to 100%; a smaller one does not.
func TestLoadProgress(t *testing.T) {
	model := storiesModel(t)
	args := []string{"run", "--model", model, "--prompt", "Once", "--temperature", "0", "--max-new-tokens", "2", "--backend", "cpu"}
	_, errs, code := bitnet(t, args...)
	require.Equal(t, 0, code, errs)
	assert.NotContains(t, errs, "loading ", "a small model reports no progress")

	old := loadProgressMinSize
	loadProgressMinSize = 0
	defer func() { loadProgressMinSize = old }()
	_, errs, code = bitnet(t, args...)
	require.Equal(t, 0, code, errs)
	var steps []string
	for _, l := range strings.Split(errs, "\n") {
		if strings.HasPrefix(l, "loading "+model+": ") {
			steps = append(steps, l)
		}
	}
	require.NotEmpty(t, steps, errs)
	assert.Contains(t, steps[len(steps)-1], ": 100% (", errs)
	assert.LessOrEqual(t, len(steps), 10)
}
