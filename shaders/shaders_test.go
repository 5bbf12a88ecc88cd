package shaders

import (
	"bitnet/internal/testdata"
	"bytes"
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
	glslc, err := exec.LookPath("glslc")
	if err != nil {
		testdata.SkipUnlessCI(t, "glslc not installed")
	}
	srcs, _ := filepath.Glob("*.comp")
	dir := t.TempDir()
	for _, src := range srcs {
		name := strings.TrimSuffix(src, ".comp")
		out := filepath.Join(dir, name+".spv")
		cmd := exec.Command(glslc, "--target-env=vulkan1.2", "-O", "-I", "include", src, "-o", out)
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
}
