package main

import (
	"path/filepath"
	"strings"
	"testing"

	"bitnet/internal/modelgen"
)

// TestQuietByDefault: run logs only warnings and errors unless -v,
// --verbose or BITNET_LOG asks for more; the statistics line always shows.
func TestQuietByDefault(t *testing.T) {
	model := storiesModel(t)
	args := []string{"--model", model, "--prompt", "Once", "--temperature", "0", "--max-new-tokens", "4", "--backend", "cpu"}
	for _, c := range []struct {
		name    string
		env     string
		args    []string
		verbose bool
	}{
		{"default", "", append([]string{"run"}, args...), false},
		{"BITNET_LOG=warn", "warn", append([]string{"run"}, args...), false},
		{"-v", "", append([]string{"run", "-v"}, args...), true},
		{"--verbose", "", append([]string{"run"}, append(args, "--verbose")...), true},
		{"bitnet -v run", "", append([]string{"-v", "run"}, args...), true},
		{"BITNET_LOG=info", "info", append([]string{"run"}, args...), true},
		{"BITNET_LOG=debug", "debug", append([]string{"run"}, args...), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("BITNET_LOG", c.env)
			out, errs, code := bitnet(t, c.args...)
			if code != 0 || out == "" {
				t.Fatalf("exit %d, stdout %q: %s", code, out, errs)
			}
			lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "load ") || !strings.Contains(last, "tokens/s") {
				t.Errorf("last stderr line is not the statistics: %q", last)
			}
			if c.verbose {
				if !strings.Contains(errs, "level=INFO") || !strings.Contains(errs, `msg="model loaded"`) {
					t.Errorf("no info log on stderr:\n%s", errs)
				}
			} else if len(lines) != 1 {
				t.Errorf("stderr has %d lines, want only the statistics:\n%s", len(lines), errs)
			}
		})
	}
}

func TestQuietChat(t *testing.T) {
	_, errs, code := chatRun(t, "Hi\n", "--model", storiesModel(t), "--backend", "cpu", "--temperature", "0", "--max-new-tokens", "4")
	if code != 0 || strings.Contains(errs, "level=INFO") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	_, errs, code = chatRun(t, "Hi\n", "-v", "--model", storiesModel(t), "--backend", "cpu", "--temperature", "0", "--max-new-tokens", "4")
	if code != 0 || !strings.Contains(errs, `level=INFO msg="model loaded"`) {
		t.Fatalf("-v: exit %d, stderr:\n%s", code, errs)
	}
}

// TestWarningsAndDiagnosticsShow: warnings show without -v, and so do the
// diagnostics --debug asks for.
func TestWarningsAndDiagnosticsShow(t *testing.T) {
	model := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := modelgen.GenerateFile(model, modelgen.Options{Seed: 1, Params: &modelgen.Params{Embd: 128, Layers: 1, Heads: 2, HeadsKV: 1, FF: 256, Vocab: 300, Ctx: 64}}); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--model", model, "--prompt", "Hi", "--temperature", "0", "--max-new-tokens", "2", "--backend", "cpu"}
	_, errs, code := bitnet(t, append(args, "--ctx-size", "128")...)
	if code != 0 || !strings.Contains(errs, "level=WARN") || !strings.Contains(errs, "exceeds the model's training context") {
		t.Errorf("--ctx-size 128 over a 64-token model: exit %d, stderr:\n%s", code, errs)
	}
	_, errs, code = bitnet(t, append(args, "--debug", "logits")...)
	if code != 0 || !strings.Contains(errs, `msg="debug logits"`) {
		t.Errorf("--debug logits: exit %d, stderr:\n%s", code, errs)
	}
}

func TestUnknownLogLevelWarns(t *testing.T) {
	t.Setenv("BITNET_LOG", "loud")
	_, errs, code := bitnet(t, "tokenize", "--model", storiesModel(t), "hi")
	if code != 0 || !strings.Contains(errs, "BITNET_LOG: unknown level") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
}

// TestBadFlagHint: a bad flag prints the error and the command's one-line
// usage, not the whole flag list.
func TestBadFlagHint(t *testing.T) {
	out, errs, code := bitnet(t, "run", "--model", "m.gguf", "--frobs", "3")
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	want := "bitnet run: usage error: flag provided but not defined: -frobs\nusage: bitnet " + commands["run"].usage + "\n"
	if errs != want {
		t.Fatalf("stderr:\n%s\nwant:\n%s", errs, want)
	}
	_, errs, code = bitnet(t, "gen-model", "--seed", "x")
	if code != 2 || strings.Count(errs, "\n") != 2 || !strings.Contains(errs, `invalid value "x" for flag -seed`) {
		t.Fatalf("gen-model --seed x: exit %d, stderr:\n%s", code, errs)
	}
}

// TestCommandHelp: every command's --help (and -h, and bitnet help CMD)
// prints its usage and flags on stdout and exits 0.
func TestCommandHelp(t *testing.T) {
	for name, c := range commands {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			out, errs, code := bitnet(t, args...)
			if code != 0 || errs != "" {
				t.Errorf("%v: exit %d, stderr %q", args, code, errs)
			}
			if !strings.HasPrefix(out, "usage: bitnet "+c.usage+"\n") || !strings.Contains(out, "\nflags:\n") || !strings.Contains(out, "-verbose") {
				t.Errorf("%v: stdout:\n%s", args, out)
			}
		}
	}
	out, _, _ := bitnet(t, "run", "--help")
	if !strings.Contains(out, "-temperature") || !strings.Contains(out, "-parse-special") {
		t.Errorf("run --help lacks its flags:\n%s", out)
	}
}
