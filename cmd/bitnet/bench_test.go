package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/internal/modelgen"
	"bitnet/internal/testdata"
)

// benchJSON runs bench --json with args and returns its report and stderr.
func benchJSON(t *testing.T, args ...string) (benchReport, string) {
	t.Helper()
	out, errs, code := bitnet(t, append([]string{"bench", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("bench %v: exit %d: %s", args, code, errs)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rep, errs
}

func TestBenchJSON(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	rep, _ := benchJSON(t, "--model", model, "-p", "16,32", "-n", "8", "-r", "2", "--backend", "cpu", "--stream=false")
	f, err := gguf.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total int64
	for _, ti := range f.Tensors {
		total += ti.Size
	}
	// Tied head: every tensor, the embedding included, is read per token.
	if rep.BytesPerToken != total || rep.ModelBytes != total {
		t.Errorf("bytes per token %d, model bytes %d, want %d", rep.BytesPerToken, rep.ModelBytes, total)
	}
	want := []string{"pp16", "pp32", "tg8"}
	if len(rep.Results) != len(want) {
		t.Fatalf("results %+v", rep.Results)
	}
	for i, r := range rep.Results {
		if r.Test != want[i] || r.Reps != 2 || len(r.TPSSamples) != 2 || !(r.TPSMean > 0) {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if tg := rep.Results[2]; !(tg.GBPerSecond > 0) {
		t.Errorf("tg without GB/s: %+v", tg)
	}
	if rep.Backend != "cpu" || rep.Threads < 1 || rep.Kernels == "" {
		t.Errorf("report header %+v", rep)
	}
}

// TestBenchLookup: --lookup times steps that check drafts of each length,
// as many as the first -n, reported in steps per second with how they
// compare with a generated token's step.
func TestBenchLookup(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	rep, errs := benchJSON(t, "--model", model, "-p", "0", "-n", "6", "-r", "1", "--lookup", "1,3", "--backend", "cpu", "--stream=false")
	if len(rep.Results) != 3 {
		t.Fatalf("results %+v, want tg6, lookup1 and lookup3", rep.Results)
	}
	for i, name := range []string{"tg6", "lookup1", "lookup3"} {
		r := rep.Results[i]
		if r.Test != name || r.Tokens != 6 || !(r.TPSMean > 0) {
			t.Errorf("result %d: %+v, want %s over 6 steps", i, r, name)
		}
	}
	for _, want := range []string{"lookup1: a step of 2 tokens takes", "lookup3: a step of 4 tokens takes", "times a generated token's step", "steps/s"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

// TestBenchParallel: --parallel times sequences generating together, every
// sequence's tokens counted, with the sequences per step on stderr.
func TestBenchParallel(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	rep, errs := benchJSON(t, "--model", model, "-p", "0", "-n", "8", "-r", "1", "--parallel", "2,3", "-d", "4", "--backend", "cpu", "--stream=false")
	if len(rep.Results) != 3 {
		t.Fatalf("results %+v, want tg8@d4, tg8x2@d4 and tg8x3@d4", rep.Results)
	}
	for i, c := range []struct {
		name   string
		tokens int
	}{{"tg8@d4", 8}, {"tg8x2@d4", 16}, {"tg8x3@d4", 24}} {
		r := rep.Results[i]
		if r.Test != c.name || r.Tokens != c.tokens || !(r.TPSMean > 0) {
			t.Errorf("result %d: %+v, want %s of %d tokens", i, r, c.name, c.tokens)
		}
	}
	for _, want := range []string{"tg8x2: ", "tg8x3: ", "sequences per step"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestBenchErrors(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	for _, args := range [][]string{
		{"-p", "x"}, {"-r", "0"}, {"--json", "--md"}, {"-n", "-1"}, {"-d", "-1"}, {"-d", "100", "--ctx-size", "64"},
		{"--run-ahead", "-1"}, {"--run-ahead", "65"},
		{"--lookup", "x"}, {"--lookup", "33"}, {"--lookup", "7", "--batch", "4"},
		{"--parallel", "1"}, {"--parallel", "65"}, {"--parallel", "x"},
	} {
		_, errs, code := bitnet(t, append([]string{"bench", "--model", model, "--backend", "cpu", "--stream=false"}, args...)...)
		if code != 2 || !strings.Contains(errs, "bench") {
			t.Errorf("%v: exit %d: %s", args, code, errs)
		}
	}
}

// TestBenchDepthStream: tests at a context depth are named after it, every
// generation repetition is paired with a bandwidth probe, and --op-times
// prints the per-op breakdown.
func TestBenchDepthStream(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	rep, errs := benchJSON(t, "--model", model, "-p", "8", "-n", "4", "-d", "16", "-r", "2", "--backend", "cpu", "--op-times")
	if len(rep.Results) != 2 || rep.Results[0].Test != "pp8@d16" || rep.Results[1].Test != "tg4@d16" {
		t.Fatalf("results %+v", rep.Results)
	}
	tg := rep.Results[1]
	if len(tg.StreamSamples) != 2 || !(tg.BoundPercent > 0) || !(rep.StreamGBps >= tg.StreamSamples[0]) {
		t.Errorf("tg probes %v, bound %.1f%%, best probe %.1f", tg.StreamSamples, tg.BoundPercent, rep.StreamGBps)
	}
	if rep.Results[0].StreamSamples != nil {
		t.Errorf("pp with probes: %+v", rep.Results[0])
	}
	// The KV cache a token read: F16 K and V rows of every layer at the
	// positions it attends, 17 to 20 (mean 18.5) after 16.
	f, err := gguf.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := engine.ConfigFromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2*c.NLayer*c.NHeadKV*c.HeadDim*2) * 74 / 4; tg.CacheBytesPerToken != want || rep.Results[0].CacheBytesPerToken != 0 {
		t.Errorf("KV cache bytes per token %d (pp %d), want %d", tg.CacheBytesPerToken, rep.Results[0].CacheBytesPerToken, want)
	}
	if gb := float64(rep.BytesPerToken+tg.CacheBytesPerToken) * tg.TPSMean / 1e9; tg.GBPerSecond != gb {
		t.Errorf("GB/s %g, want %g", tg.GBPerSecond, gb)
	}
	for _, s := range []string{"op times over 4 generated tokens", "MatMul I2_S", "Attention", "outside ops"} {
		if !strings.Contains(errs, s) {
			t.Errorf("stderr lacks %q:\n%s", s, errs)
		}
	}
}

// TestPrintTimeline: the timeline's table averages each kernel's calls
// (two calls of "a": gaps 0 and 4 µs, mean 2), keeps the recorded order,
// and marks a dispatch of which only some workgroups were timed.
func TestPrintTimeline(t *testing.T) {
	us := time.Microsecond
	tl := &compute.Timeline{ClockRate: 1, Span: 30 * us, Dispatches: []compute.TimedDispatch{
		{Label: "a", Workgroups: 8, Timed: 8, Wait: 1 * us, Prologue: 2 * us, Body: 3 * us, Ramp: 1 * us, Span: 6 * us},
		{Label: "b", Workgroups: 300, Timed: 256, Start: 8 * us, Gap: 2 * us, Body: 5 * us, Span: 9 * us},
		{Label: "a", Workgroups: 8, Timed: 8, Start: 21 * us, Gap: 4 * us, Wait: 3 * us, Prologue: 2 * us, Body: 1 * us, Ramp: 3 * us, Span: 8 * us},
	}}
	var buf strings.Builder
	printTimeline(&buf, tl)
	out := buf.String()
	for _, want := range []string{
		`3 timed dispatches over 30\.0 µs; their spans add up to 23\.0 µs, the gaps between them to 6\.0 µs`,
		`\n  a +2 +8 +2\.0 +2\.0 +2\.0 +2\.0 +2\.0 +7\.0\n`,
		`\n  b +1 +300\* +2\.0 +0\.0 +0\.0 +5\.0 +0\.0 +9\.0\n`,
		`\*: only the first 256 workgroups of a dispatch are timed`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if strings.Index(out, "\n  a ") > strings.Index(out, "\n  b ") {
		t.Errorf("kernels out of their recorded order:\n%s", out)
	}
}

// TestPrintPipelineStats: a line per pipeline with the driver's figures in
// its order; nothing at all without statistics.
func TestPrintPipelineStats(t *testing.T) {
	var buf strings.Builder
	printPipelineStats(&buf, nil)
	if buf.Len() != 0 {
		t.Errorf("output without statistics: %q", buf.String())
	}
	printPipelineStats(&buf, []compute.PipelineStats{
		{Kernel: "matvec_i2s_dot [1024 2560]", Stats: []compute.Stat{{Name: "Register Count", Value: 40}, {Name: "Local Memory Size", Value: 0}}},
		{Kernel: "rmsnorm_sg [1024]", Stats: []compute.Stat{{Name: "Register Count", Value: 24}}},
	})
	want := "pipeline statistics (the driver's, per kernel and specialization constants):\n" +
		"  matvec_i2s_dot [1024 2560]: Register Count 40, Local Memory Size 0\n" +
		"  rmsnorm_sg [1024]: Register Count 24\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestBenchHeadScreen checks the screened head's figures: the mode, the
// rows computed exactly per token (between 1 and the vocabulary) and the
// bytes a token read, which GB/s then uses; and that auto leaves a head
// this small unscreened.
func TestBenchHeadScreen(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	rep, errs := benchJSON(t, "--model", model, "-p", "0", "-n", "8", "-r", "1", "--backend", "cpu", "--stream=false", "--head-screen", "on")
	if rep.HeadScreen != "on" || len(rep.Results) != 1 {
		t.Fatalf("report %+v", rep)
	}
	tg := rep.Results[0]
	const vocab, k = 512, 128
	q8Bytes := int64(vocab * k / 32 * 34)
	rowBytes := float64(rep.HeadBytes) / vocab
	want := rep.BytesPerToken - rep.HeadBytes + q8Bytes + 4*vocab + int64(tg.ScreenRows*rowBytes)
	if !(tg.ScreenRows >= 1 && tg.ScreenRows < vocab) || tg.ScreenBytesPerToken != want {
		t.Errorf("screened tg: %.1f rows, %d bytes per token, want %d", tg.ScreenRows, tg.ScreenBytesPerToken, want)
	}
	if gb := float64(want+tg.CacheBytesPerToken) * tg.TPSMean / 1e9; tg.GBPerSecond != gb {
		t.Errorf("GB/s %g, want %g", tg.GBPerSecond, gb)
	}
	if !strings.Contains(errs, "LM head screened: ") {
		t.Errorf("stderr: %s", errs)
	}
	rep, _ = benchJSON(t, "--model", model, "-p", "0", "-n", "4", "-r", "1", "--backend", "cpu", "--stream=false")
	if rep.HeadScreen != "auto" || rep.Results[0].ScreenRows != 0 || rep.Results[0].ScreenBytesPerToken != 0 {
		t.Errorf("auto on a 65,536-weight head: %+v", rep)
	}
	// A head of 4,194,304 weights: the CPU's automatic mode screens it.
	big := filepath.Join(t.TempDir(), "big-head.gguf")
	if err := modelgen.GenerateFile(big, modelgen.Options{Params: &modelgen.Params{Embd: 256, Layers: 1, Heads: 4, HeadsKV: 2, FF: 512, Vocab: 16384, Ctx: 256}}); err != nil {
		t.Fatal(err)
	}
	rep, _ = benchJSON(t, "--model", big, "-p", "0", "-n", "4", "-r", "1", "--backend", "cpu", "--stream=false")
	if tg := rep.Results[0]; rep.HeadScreen != "auto" || !(tg.ScreenRows >= 1 && tg.ScreenRows < 16384) {
		t.Errorf("auto on a 4,194,304-weight head: %s, %+v", rep.HeadScreen, tg)
	}
	_, errs, code := bitnet(t, "run", "--model", model, "--head-screen", "yes", "--prompt", "x")
	if code != 2 || !strings.Contains(errs, `--head-screen: head screening "yes": want auto, on, off`) {
		t.Errorf("exit %d: %s", code, errs)
	}
}
