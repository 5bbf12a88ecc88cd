package shaders

import (
	"bitnet/internal/testdata"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEmbedded(t *testing.T) {
	srcs, err := filepath.Glob("*.comp")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range srcs {
		want = append(want, strings.TrimSuffix(s, ".comp"))
	}
	slices.Sort(want)
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("embedded kernels %v, sources %v: run go generate ./shaders", got, want)
	}
	for _, n := range want {
		words, err := SPIRV(n)
		if err != nil {
			t.Fatal(err)
		}
		if words[0] != spirvMagic {
			t.Errorf("%s: magic %#x", n, words[0])
		}
	}
	if _, err := SPIRV("no_such_kernel"); err == nil {
		t.Error("SPIRV of a missing kernel: no error")
	}
}

// TestUpToDate recompiles every kernel and compares with spv/ (skipped
// without glslc).
func TestUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	srcs, _ := filepath.Glob("*.comp")
	dir := t.TempDir()
	var missing []string
	for _, src := range srcs {
		text, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		tc := ToolchainFor(text)
		if _, err := exec.LookPath(tc.Glslc); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", src, err))
			continue
		}
		name := strings.TrimSuffix(src, ".comp")
		out := filepath.Join(dir, name+".spv")
		cmd := exec.Command(tc.Glslc, GlslcArgs(src, out)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", src, err, msg)
			continue
		}
		fresh, _ := os.ReadFile(out)
		old, _ := os.ReadFile(filepath.Join("spv", name+".spv"))
		if !bytes.Equal(fresh, old) {
			t.Errorf("spv/%s.spv is stale: run go generate ./shaders", name)
		}
	}
	if len(missing) > 0 {
		// glslc, or for the cooperative-matrix kernels glslc 2025.2
		// (scripts/trixie-tools.sh), is not installed.
		testdata.SkipUnlessCI(t, "no compiler for %s", strings.Join(missing, ", "))
	}
}

func TestUsesCoopMat(t *testing.T) {
	for _, name := range Names() {
		code, err := SPIRV(name)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := UsesCoopMat(code), strings.Contains(name, "coopmat"); got != want {
			t.Errorf("%s: UsesCoopMat %v, want %v", name, got, want)
		}
	}
}

// TestWorkgroupInvocations: fixed workgroup sizes (local_size_x = n) are
// read from the module, sizes from a specialization constant
// (local_size_x_id = 0) from spec or, without it, the constant's default;
// every kernel's size is readable.
func TestWorkgroupInvocations(t *testing.T) {
	for _, c := range []struct {
		name string
		spec []uint32
		want uint32
	}{
		{"copy", nil, 256},
		{"add", nil, 64},
		{"clock_rate", nil, 1},
		{"add", []uint32{512}, 64},
		{"matvec_i2s", []uint32{512, 2560}, 512},
		{"matvec_i2s", []uint32{1024}, 1024},
		{"matvec_i2s", nil, 1},
		{"rmsnorm", []uint32{128}, 128},
	} {
		code, err := SPIRV(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := WorkgroupInvocations(code, c.spec); got != c.want {
			t.Errorf("%s %v: %d invocations, want %d", c.name, c.spec, got, c.want)
		}
	}
	for _, name := range Names() {
		code, err := SPIRV(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := WorkgroupInvocations(code, []uint32{64}); got == 0 {
			t.Errorf("%s: workgroup size not read", name)
		}
	}
	if got := WorkgroupInvocations([]uint32{0x07230203, 0x10000, 0, 10, 0, 0x00050010}, nil); got != 0 {
		t.Errorf("a truncated module: %d invocations, want 0", got)
	}
}
