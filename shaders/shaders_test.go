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
