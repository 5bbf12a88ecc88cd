package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileErrors: errors about model files say what is wrong once, without
// repeating a package prefix.
func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	model, err := os.ReadFile(storiesModel(t))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := write("header.gguf", []byte("GGUF\x03\x00\x00\x00garbage"))
	noData := write("no-data.gguf", model[:100000])
	noTensors := write("no-tensors.gguf", model[:1000])
	notGGUF := write("text.gguf", []byte("not a model\n"))
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"truncated header", []string{"run", "--model", header, "--prompt", "x"}, []string{header, "truncated"}},
		{"truncated data", []string{"run", "--model", noData, "--prompt", "x"}, []string{noData, "truncated"}},
		{"truncated tensor table", []string{"run", "--model", noTensors, "--prompt", "x"}, []string{noTensors, "truncated"}},
		{"truncated, inspect", []string{"inspect", noData}, []string{noData, "truncated"}},
		{"truncated, tokenize", []string{"tokenize", "--model", header, "x"}, []string{header, "truncated"}},
		{"not gguf", []string{"run", "--model", notGGUF, "--prompt", "x"}, []string{notGGUF, "bad magic"}},
		{"missing tokenizer.json", []string{"run", "--model", storiesModel(t), "--tokenizer", filepath.Join(dir, "none.json"), "--prompt", "x"}, []string{"none.json: no such file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := bitnet(t, c.args...)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errs)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q: %s", w, errs)
				}
			}
			for _, p := range []string{" gguf: ", " tokenizer: "} {
				if n := strings.Count(errs, p); n > 1 {
					t.Errorf("%q appears %d times: %s", p, n, errs)
				}
			}
		})
	}
}

func TestRunVocabOnly(t *testing.T) {
	vocab := sharedVocab(t, "ggml-vocab-llama-spm.gguf")
	_, errs, code := bitnet(t, "run", "--model", vocab, "--prompt", "x", "--backend", "cpu")
	if code != 1 || !strings.Contains(errs, "vocabulary only, no weights") || strings.Contains(errs, "block_count") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	out, _, _ := bitnet(t, "inspect", vocab)
	if !strings.Contains(out, "vocab-only") {
		t.Fatalf("inspect:\n%s", out)
	}
}

func TestLogitsBadTokens(t *testing.T) {
	model := storiesModel(t)
	for _, c := range []struct{ tokens, want string }{
		{"1,x", `--tokens: token 2, "x", is not a token id`},
		{"1,2,-3", `--tokens: token 3, "-3", is not a token id`},
		{"1,99999999999", `--tokens: token 2, "99999999999", is not a token id`},
		{",", `--tokens: no token ids in ","`},
	} {
		out, errs, code := bitnet(t, "logits", "--model", model, "--tokens", c.tokens, "--out", "-")
		if code != 2 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("--tokens %s: exit %d, stdout %q, stderr %s", c.tokens, code, out, errs)
		}
	}
}

// TestRunInterrupted: Ctrl-C during generation stops it after the current
// token, prints the statistics and exits with status 130.
func TestRunInterrupted(t *testing.T) {
	old := interrupts
	defer func() { interrupts = old }()
	interrupts = func() (<-chan os.Signal, func()) {
		c := make(chan os.Signal, 1)
		c <- os.Interrupt
		return c, func() {}
	}
	out, errs, code := bitnet(t, "run", "--model", storiesModel(t), "--prompt", "Once upon a time", "--temperature", "0", "--max-new-tokens", "50", "--backend", "cpu")
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr %s", code, errs)
	}
	if out != ",\n" {
		t.Errorf("stdout %q, want the first token of the story", out)
	}
	if !strings.Contains(errs, "generated 1 tokens") || !strings.HasSuffix(errs, "bitnet run: interrupted\n") {
		t.Errorf("stderr: %s", errs)
	}
}
