package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bitnet/internal/testdata"
)

// TestFallbackWithoutVulkan builds the binary without cgo and runs it where
// the Vulkan loader cannot be found: --backend auto falls back to the CPU and
// says why with -v; --backend vulkan fails. The loader is hidden in a private mount
// namespace when that is possible (root with unshare), and otherwise by
// pointing BITNET_VK_LIBRARY at a missing file.
func TestFallbackWithoutVulkan(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; runs without -short")
	}
	root := testdata.RepoRoot(t)
	bin := filepath.Join(t.TempDir(), "bitnet")
	build := exec.Command("go", "build", "-o", bin, "./cmd/bitnet")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	model := filepath.Join(root, "testdata", "tinybitnet-stories.gguf")
	args := []string{"run", "--model", model, "--prompt", "", "--temperature", "0", "--max-new-tokens", "12"}

	hidden := hideLoader(t)
	for _, h := range hidden {
		t.Run(h.name, func(t *testing.T) {
			out, err := h.cmd(bin, append(args, "--backend", "auto", "-v")...).CombinedOutput()
			if err != nil {
				t.Fatalf("--backend auto: %v\n%s", err, out)
			}
			s := string(out)
			if !strings.Contains(s, "not found") || !strings.Contains(s, "; using cpu") {
				t.Errorf("no fallback message on stderr:\n%s", s)
			}
			if !strings.Contains(s, "Once upon a time") || !strings.Contains(s, "backend cpu") {
				t.Errorf("the CPU did not generate the story:\n%s", s)
			}
			out, err = h.cmd(bin, append(args, "--backend", "vulkan")...).CombinedOutput()
			if err == nil {
				t.Fatalf("--backend vulkan without a loader succeeded:\n%s", out)
			}
			if !strings.Contains(string(out), "vulkan:") || !strings.Contains(string(out), "not found") {
				t.Errorf("--backend vulkan error does not say why:\n%s", out)
			}
			if !strings.Contains(string(out), "install the Vulkan loader") {
				t.Errorf("--backend vulkan error gives no install hint:\n%s", out)
			}
		})
	}
}

type hiding struct {
	name string
	cmd  func(bin string, args ...string) *exec.Cmd
}

func hideLoader(t *testing.T) []hiding {
	hs := []hiding{{"bogus-loader-path", func(bin string, args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = append(os.Environ(), "BITNET_VK_LIBRARY=/nonexistent/libvulkan.so.1")
		return c
	}}}
	libs, _ := filepath.Glob("/lib/*/libvulkan.so*")
	more, _ := filepath.Glob("/usr/lib/*/libvulkan.so*")
	libs = append(libs, more...)
	if os.Geteuid() != 0 || len(libs) == 0 {
		return hs
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return hs
	}
	if exec.Command("unshare", "-m", "true").Run() != nil {
		t.Log("mount namespaces are not available here; hiding the loader by path only")
		return hs
	}
	var script strings.Builder
	for _, l := range libs {
		script.WriteString("mount --bind /dev/null " + l + " && ")
	}
	script.WriteString(`exec "$@"`)
	return append(hs, hiding{"mount-namespace", func(bin string, args ...string) *exec.Cmd {
		return exec.Command("unshare", append([]string{"-m", "sh", "-c", script.String(), "sh", bin}, args...)...)
	}})
}
