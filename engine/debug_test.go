package engine_test

import (
	"bitnet/reference"
	"bytes"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"bitnet/engine"
	"bitnet/gguf"
	"bitnet/internal/testdata"
)

// TestDiagnostics runs the layer-0 diagnostics on the golden model and
// checks the values they report.
func TestDiagnostics(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(prev)

	be := reference.New()
	defer be.Close()
	m := loadModel(t, testdata.Path(t, "golden/tiny-i2_s.gguf"), be)
	st, err := m.NewState(16, 16, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	if st.Debug, err = engine.ParseDebug("all"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Forward([]int32{1, 17, 42}, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"debug attn_scale: layer 0", "scale=0.125", "expected=0.125", "max_subtracted=true", "row_max_after_subtraction=0",
		"debug rmsnorm", "eps=9.999999747378752e-06", "output_nonfinite=0",
		"debug gqa", `q_shape="[256 3]"`, `kv_shape="[128 3]"`, "group=2",
		"debug rope", "mode=neox", "theta=500000", "dims=64",
		"debug mlp", "act=relu2",
		"debug attn:", "weight.max=",
		"debug logits", "tied=true", "head_type=F16", "logits.nonfinite=0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnostics lack %q", want)
		}
	}
	// The LM head against a float64 reference: only summation order differs.
	mt := regexp.MustCompile(`head_vs_float64_max_abs_diff=([0-9.e+-]+)`).FindStringSubmatch(out)
	if mt == nil {
		t.Fatalf("no head comparison in\n%s", out)
	}
	if d, _ := strconv.ParseFloat(mt[1], 64); d > 1e-4 {
		t.Errorf("LM head differs from the float64 reference by %g", d)
	}
	// RoPE preserves the norm of Q.
	before := regexp.MustCompile(`q_l2_before=([0-9.e+-]+)`).FindStringSubmatch(out)
	after := regexp.MustCompile(`q_l2_after=([0-9.e+-]+)`).FindStringSubmatch(out)
	if before == nil || after == nil {
		t.Fatal("rope diagnostics lack q norms")
	}
	b, _ := strconv.ParseFloat(before[1], 64)
	a, _ := strconv.ParseFloat(after[1], 64)
	if b == 0 || (a-b)/b > 1e-5 || (b-a)/b > 1e-5 {
		t.Errorf("q norm %g before RoPE, %g after", b, a)
	}
}

func TestParseDebug(t *testing.T) {
	d, err := engine.ParseDebug("attn_scale, rope")
	if err != nil || !d.AttnScale || !d.RoPE || d.MLP {
		t.Fatalf("%+v %v", d, err)
	}
	t.Setenv("BITNET_DEBUG_MLP", "1")
	if d, _ := engine.ParseDebug(""); !d.MLP {
		t.Fatal("BITNET_DEBUG_MLP ignored")
	}
	if _, err := engine.ParseDebug("attn,bogus"); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown name: %v", err)
	}
}
