package main

import (
	"encoding/json"
	"strings"
	"testing"

	"bitnet/gpu"
	"bitnet/internal/testdata"
)

func TestCrossvalCPUvsReference(t *testing.T) {
	model := testdata.Path(t, "golden/tiny-i2_s.gguf")
	out, errs, code := bitnet(t, "crossval", "--model", model, "--tokens", "1,17,42,99,3", "--backends", "cpu,cpu-ref", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Ops []struct {
			Op       string  `json:"op"`
			Cosine   float64 `json:"cosine"`
			MaxAbs   float64 `json:"max_abs"`
			Diverged bool    `json:"diverged"`
		} `json:"ops"`
		FirstDivergence string `json:"first_divergence"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	// embd, then 9 points per layer for 2 layers, final, logits, and the all-position logits.
	if len(rep.Ops) != 1+9*2+2+1 || rep.Ops[0].Op != "embd" || rep.Ops[len(rep.Ops)-2].Op != "logits" {
		t.Fatalf("ops: %+v", rep.Ops)
	}
	if rep.FirstDivergence != "" {
		t.Fatalf("the fast CPU path diverges from the reference at %s", rep.FirstDivergence)
	}
	for _, o := range rep.Ops {
		if o.Cosine < 0.99999 {
			t.Errorf("%s: cosine %g", o.Op, o.Cosine)
		}
	}
}

func TestCrossvalVulkan(t *testing.T) {
	if _, err := gpu.Devices(); err != nil {
		testdata.SkipUnlessCI(t, "no Vulkan: %v", err)
	}
	model := testdata.Path(t, "models/stories260K.gguf")
	out, errs, code := bitnet(t, "crossval", "--model", model, "--prompt", "Once upon a time, a girl", "--backends", "vulkan,cpu", "--device", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "agree on every op") || !strings.Contains(out, "L4.x_out") {
		t.Fatalf("report:\n%s", out)
	}
	// A threshold no float computation can meet reports the first op.
	out, _, code = bitnet(t, "crossval", "--model", model, "--tokens", "1,400,20", "--backends", "vulkan,cpu", "--device", "0", "--max-abs", "0", "--min-cosine", "1.1")
	if code != 1 || !strings.Contains(out, "first diverge at embd") {
		t.Fatalf("exit %d, report:\n%s", code, out)
	}
}

// TestDeterministicSampling: the same seed gives the same text at a non-zero
// temperature; BITNET_SEED is read when --seed is absent.
func TestDeterministicSampling(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	args := []string{"run", "--model", model, "--prompt", "Once", "--temperature", "1.0", "--max-new-tokens", "40", "--backend", "cpu"}
	a, _, _ := bitnet(t, append(args, "--seed", "42")...)
	b, _, _ := bitnet(t, append(args, "--seed", "42")...)
	c, _, _ := bitnet(t, append(args, "--seed", "43")...)
	if a != b {
		t.Fatalf("same seed, different text:\n%q\n%q", a, b)
	}
	if a == c {
		t.Fatalf("seeds 42 and 43 gave the same 40 tokens: %q", a)
	}
	t.Setenv("BITNET_DETERMINISTIC", "1")
	t.Setenv("BITNET_SEED", "42")
	d, errs, _ := bitnet(t, args...)
	if d != a || !strings.Contains(errs, "seed 42") {
		t.Fatalf("BITNET_SEED=42 gave %q (stderr %s), --seed 42 gave %q", d, errs, a)
	}
}

// TestCrossvalDivergenceFails: a divergence beyond the thresholds exits 1
// after the report, so crossval can gate CI.
func TestCrossvalDivergenceFails(t *testing.T) {
	model := testdata.Path(t, "golden/tiny-i2_s.gguf")
	args := []string{"crossval", "--model", model, "--tokens", "1,17,42", "--backends", "cpu,cpu-ref", "--min-cosine", "1.1"}
	out, errs, code := bitnet(t, args...)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errs)
	}
	if !strings.Contains(out, "first diverge at embd") || !strings.Contains(errs, "bitnet crossval: cpu and cpu-ref diverge at embd") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out, errs)
	}
	out, errs, code = bitnet(t, append(args, "--json")...)
	var rep struct {
		FirstDivergence string `json:"first_divergence"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || rep.FirstDivergence != "embd" {
		t.Fatalf("--json: exit %d, stdout %s, stderr %s", code, out, errs)
	}
}

// TestCrossvalBackendNames: --backends is checked before any backend runs.
func TestCrossvalBackendNames(t *testing.T) {
	model := testdata.Path(t, "golden/tiny-i2_s.gguf")
	for _, c := range []struct{ backends, want string }{
		{"cpu,metal", `unknown backend "metal" in --backends`},
		{"tpu,cpu", `unknown backend "tpu" in --backends`},
		{"cpu", "--backends wants two names"},
		{"cpu,cpu,vulkan", "--backends wants two names"},
	} {
		out, errs, code := bitnet(t, "crossval", "--model", model, "--tokens", "1,17", "--backends", c.backends)
		if code != 2 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("--backends %s: exit %d, stdout %q, stderr %s", c.backends, code, out, errs)
		}
		if strings.Contains(errs, "ran ") {
			t.Errorf("--backends %s: a backend ran before the check:\n%s", c.backends, errs)
		}
	}
}
