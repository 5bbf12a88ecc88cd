package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"bitnet/gguf"
	"bitnet/internal/testdata"
)

func TestBenchJSON(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	out, errs, code := bitnet(t, "bench", "--model", model, "-p", "16,32", "-n", "8", "-r", "2", "--backend", "cpu", "--stream=false", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
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

func TestBenchErrors(t *testing.T) {
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	for _, args := range [][]string{
		{"-p", "x"}, {"-r", "0"}, {"--json", "--md"}, {"-n", "-1"},
	} {
		_, errs, code := bitnet(t, append([]string{"bench", "--model", model, "--backend", "cpu", "--stream=false"}, args...)...)
		if code != 2 || !strings.Contains(errs, "bench") {
			t.Errorf("%v: exit %d: %s", args, code, errs)
		}
	}
}
