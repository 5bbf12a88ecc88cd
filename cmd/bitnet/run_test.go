package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"bitnet/internal/modelgen"
	"bitnet/internal/testdata"
)

// bitnet runs the CLI in-process and returns stdout, stderr and the status.
func bitnet(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestRunTinyBitNetStories(t *testing.T) {
	g := testdata.LoadGolden(t, "tinybitnet-stories")
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	for _, prompt := range []string{"", "Once upon a time"} {
		t.Run("prompt="+prompt, func(t *testing.T) {
			out, errs, code := bitnet(t, "run", "--model", model, "--prompt", prompt, "--temperature", "0",
				"--max-new-tokens", "60", "--backend", "cpu")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			text := prompt + out
			if !strings.HasPrefix(text, g.StartsWith[:120]) {
				t.Fatalf("greedy text:\n%q\nwant it to begin with\n%q", text, g.StartsWith[:120])
			}
			if !strings.Contains(errs, "tokens/s") || !strings.Contains(errs, "backend cpu") {
				t.Errorf("stats line missing from stderr: %s", errs)
			}
		})
	}
}

// TestRunLookup: --lookup gives greedy decoding's text and reports its
// drafts on stderr.
func TestRunLookup(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	args := []string{"run", "--model", model, "--prompt", "Once upon a time", "--temperature", "0", "--max-new-tokens", "150", "--backend", "cpu"}
	want, errs, code := bitnet(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, errs, code := bitnet(t, append(args, "--lookup", "6")...)
	if code != 0 || got != want {
		t.Fatalf("--lookup 6 (exit %d, %s):\n%q\nwithout:\n%q", code, errs, got, want)
	}
	m := regexp.MustCompile(`lookup: (\d+) steps checked (\d+) drafted tokens, (\d+) accepted`).FindStringSubmatch(errs)
	if m == nil {
		t.Fatalf("no lookup statistics on stderr: %s", errs)
	}
	steps, _ := strconv.Atoi(m[1])
	drafted, _ := strconv.Atoi(m[2])
	accepted, _ := strconv.Atoi(m[3])
	if steps == 0 || drafted > 6*steps || accepted == 0 || accepted > drafted {
		t.Errorf("lookup statistics %q: want steps of at most 6 drafted tokens, some accepted", m[0])
	}
}

func TestRunStories260K(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	out, errs, code := bitnet(t, "run", "--model", model, "--prompt", "", "--temperature", "0", "--max-new-tokens", "200", "--backend", "cpu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
	if !strings.HasPrefix(out, want) {
		t.Fatalf("greedy story:\n%q\nwant it to begin with\n%q", out, want)
	}
	if n := len(strings.Fields(out)); n < 80 {
		t.Errorf("200 tokens gave only %d words", n)
	}
}

func TestLogitsCommandMatchesGolden(t *testing.T) {
	for _, name := range []string{"tiny-i2_s", "tiny-f32"} {
		t.Run(name, func(t *testing.T) {
			g := testdata.LoadGolden(t, name)
			outFile := filepath.Join(t.TempDir(), "logits.f32")
			dump := filepath.Join(t.TempDir(), "dump")
			_, errs, code := bitnet(t, "logits", "--model", g.ModelPath, "--tokens", "1,17,42,99,3,250,7,128", "--backend", "cpu", "--out", outFile, "--dump", dump)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			raw, err := os.ReadFile(outFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) != 4*len(g.Logits) {
				t.Fatalf("%d bytes, want %d", len(raw), 4*len(g.Logits))
			}
			var md float64
			for i := range g.Logits {
				v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				md = math.Max(md, math.Abs(float64(v-g.Logits[i])))
			}
			if md > 1e-3 {
				t.Fatalf("max abs diff %g from bitnet.cpp", md)
			}
			for _, f := range []string{"embd", "L0.attn_in", "L0.q", "L1.x_out", "final", "logits"} {
				st, err := os.Stat(filepath.Join(dump, f+".f32"))
				if err != nil || st.Size() == 0 {
					t.Errorf("dump %s: %v", f, err)
				}
			}
		})
	}
}

func TestCLIErrors(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	os.WriteFile(bad, []byte("GGUF\x03\x00\x00\x00garbage"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"missing model", []string{"run", "--prompt", "hi"}, 2, "--model is required"},
		{"bad flag", []string{"run", "--model", model, "--frobs", "3"}, 2, "frobs"},
		{"bad temperature", []string{"run", "--model", model, "--temperature", "-1"}, 2, "--temperature"},
		{"bad run-ahead", []string{"run", "--model", model, "--run-ahead", "100"}, 2, "--run-ahead 100"},
		{"bad lookup", []string{"run", "--model", model, "--lookup", "33"}, 2, "--lookup 33"},
		{"negative lookup", []string{"run", "--model", model, "--lookup", "-1"}, 2, "--lookup -1"},
		{"bad backend", []string{"run", "--model", model, "--backend", "tpu"}, 2, "tpu"},
		{"bad kv type", []string{"run", "--model", model, "--kv-type", "q4"}, 2, "--kv-type"},
		{"no such file", []string{"run", "--model", "/nonexistent.gguf", "--prompt", "x"}, 1, "nonexistent.gguf"},
		{"truncated file", []string{"run", "--model", bad, "--prompt", "x"}, 1, "truncated"},
		{"prompt longer than context", []string{"run", "--model", model, "--ctx-size", "8", "--prompt", strings.Repeat("once upon a time ", 10)}, 1, "context holds 8"},
		{"bad tokens", []string{"logits", "--model", model, "--tokens", "1,x", "--out", "-"}, 2, "--tokens"},
		{"token out of vocabulary", []string{"logits", "--model", model, "--tokens", "1,99999", "--out", filepath.Join(t.TempDir(), "o")}, 1, "99999"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := bitnet(t, c.args...)
			errs += out
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, errs)
			}
			if !strings.Contains(errs, c.msg) {
				t.Fatalf("stderr does not mention %q:\n%s", c.msg, errs)
			}
		})
	}
}

func TestStopWriter(t *testing.T) {
	var b bytes.Buffer
	w := newTestStopWriter(&b, []string{"END", "\n\n"})
	stopped := false
	for _, piece := range []string{"Hello", " wor", "ld E", "N", "D tail"} {
		if w.write(piece) {
			stopped = true
			break
		}
	}
	w.flush()
	w.w.Flush()
	if !stopped || b.String() != "Hello world " {
		t.Fatalf("stopped %v, text %q", stopped, b.String())
	}
}

func newTestStopWriter(b *bytes.Buffer, stops []string) *stopWriter {
	return newStopWriter(bufio.NewWriter(b), stops)
}

// TestRunContinuesPromptWithSpace: SentencePiece output that continues a
// prompt keeps the space its first piece starts with.
func TestRunContinuesPromptWithSpace(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	out, errs, code := bitnet(t, "run", "--model", model, "--prompt", "Lily went", "--temperature", "0", "--max-new-tokens", "5", "--backend", "cpu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, " ") || strings.HasPrefix(out, "  ") {
		t.Fatalf("continuation %q should start with exactly one space", out)
	}
}

func TestRunEcho(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	out, errs, code := bitnet(t, "run", "--model", model, "--prompt", "Once upon a time", "--temperature", "0", "--max-new-tokens", "8", "--backend", "cpu", "--echo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, "Once upon a time, there") {
		t.Fatalf("echoed output %q", out)
	}
}

// TestMakeRunDefaults runs what `make run` runs (the Makefile's PROMPT and
// ARGS on the bundled model): one complete story that the model ends
// itself, by generating BOS, well before the context is full, with no
// sentence repeated.
func TestMakeRunDefaults(t *testing.T) {
	root := testdata.RepoRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(mk), "\n") {
		if k, v, ok := strings.Cut(line, "?="); ok {
			vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if vars["ARGS"] == "" || vars["PROMPT"] == "" || vars["MODEL"] == "" {
		t.Fatalf("Makefile defaults not found: %v", vars)
	}
	args := append([]string{"run", "--model", filepath.Join(root, vars["MODEL"]), "--prompt", vars["PROMPT"], "--backend", "cpu"}, strings.Fields(vars["ARGS"])...)
	out, errs, code := bitnet(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	t.Logf("make run prints:\n%s", out)
	if !strings.HasPrefix(out, vars["PROMPT"]) || strings.Count(out, vars["PROMPT"]) != 1 {
		t.Errorf("want one story beginning with %q", vars["PROMPT"])
	}
	var n int
	if i := strings.Index(errs, "generated "); i < 0 {
		t.Fatalf("no stats line: %s", errs)
	} else if _, err := fmt.Sscanf(errs[i:], "generated %d tokens", &n); err != nil {
		t.Fatal(err)
	}
	if n >= 200 {
		t.Errorf("generated %d tokens: the story did not end by itself", n)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), ".") {
		t.Errorf("the story ends mid-sentence: %q", out[max(0, len(out)-40):])
	}
	seen := map[string]bool{}
	for _, s := range strings.FieldsFunc(out, func(r rune) bool { return r == '.' || r == '!' || r == '?' || r == '\n' }) {
		if s = strings.TrimSpace(s); len(s) > 12 && seen[s] {
			t.Errorf("sentence repeated: %q", s)
		}
		seen[s] = true
	}
}

func TestRunPromptFromFile(t *testing.T) {
	model := storiesModel(t)
	args := []string{"run", "--model", model, "--temperature", "0", "--max-new-tokens", "8", "--backend", "cpu"}
	want, errs, code := bitnet(t, append(args, "--prompt", "Once upon a time")...)
	if code != 0 {
		t.Fatalf("--prompt: exit %d: %s", code, errs)
	}

	path := filepath.Join(t.TempDir(), "prompt.txt")
	if err := os.WriteFile(path, []byte("Once upon a time"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := bitnet(t, append(args, "--file", path)...)
	if code != 0 || out != want {
		t.Fatalf("--file: exit %d, text %q, want %q; stderr %s", code, out, want, errs)
	}

	old := stdin
	stdin = strings.NewReader("Once upon a time")
	defer func() { stdin = old }()
	out, errs, code = bitnet(t, append(args, "--file", "-")...)
	if code != 0 || out != want {
		t.Fatalf("--file -: exit %d, text %q, want %q; stderr %s", code, out, want, errs)
	}

	out, errs, code = bitnet(t, append(args, "--file", path, "--prompt", "Lily")...)
	if code != 2 || out != "" || !strings.Contains(errs, "not both") {
		t.Fatalf("--file with --prompt: exit %d, stdout %q, stderr %s", code, out, errs)
	}
}

var promptTokensRE = regexp.MustCompile(`prompt (\d+) tokens`)

// TestRunAndTokenizeAgreeOnSpecialTokens: run and tokenize both parse
// special tokens in the text by default, and neither does with
// --parse-special=false.
func TestRunAndTokenizeAgreeOnSpecialTokens(t *testing.T) {
	model := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := modelgen.GenerateFile(model, modelgen.Options{Seed: 3}); err != nil {
		t.Fatal(err)
	}
	const text = "Hi<|eot_id|>"
	counts := map[string]int{}
	for _, special := range []string{"", "--parse-special=false"} {
		targs := []string{"tokenize", "--model", model, text}
		rargs := []string{"run", "--model", model, "--prompt", text, "--max-new-tokens", "1", "--temperature", "0", "--backend", "cpu"}
		if special != "" {
			targs = append(targs, special)
			rargs = append(rargs, special)
		}
		out, errs, code := bitnet(t, targs...)
		if code != 0 {
			t.Fatalf("tokenize %s: exit %d: %s", special, code, errs)
		}
		n := len(strings.Fields(out))
		_, errs, code = bitnet(t, rargs...)
		m := promptTokensRE.FindStringSubmatch(errs)
		if code != 0 || m == nil {
			t.Fatalf("run %s: exit %d: %s", special, code, errs)
		}
		if m[1] != strconv.Itoa(n) {
			t.Errorf("%s: run reads %s prompt tokens, tokenize gives %d (%s)", special, m[1], n, strings.TrimSpace(out))
		}
		counts[special] = n
	}
	// BOS, "Hi" in two tokens, then <|eot_id|> as one token or nine pieces.
	if counts[""] != 4 || counts["--parse-special=false"] != 12 {
		t.Errorf("token counts %v, want 4 with special tokens parsed and 12 without", counts)
	}
}

// TestRunScreensAtLoad: run makes the screened head's copy while it loads
// the model (before "model loaded"), not at the first token, and its
// greedy text is the full head's.
func TestRunScreensAtLoad(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	args := []string{"run", "--model", model, "--prompt", "Once upon a time", "--temperature", "0", "--max-new-tokens", "40", "--backend", "cpu", "-v"}
	want, _, code := bitnet(t, append(args, "--head-screen", "off")...)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	out, errs, code := bitnet(t, append(args, "--head-screen", "on")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	made, loaded := strings.Index(errs, "LM head screen made"), strings.Index(errs, "model loaded")
	if made < 0 || loaded < 0 || made > loaded {
		t.Errorf("the screen is not made before the model is loaded:\n%s", errs)
	}
	if out != want {
		t.Errorf("screened text %q, want %q", out, want)
	}
}
