package main

import (
	"path/filepath"
	"testing"

	"bitnet/gpu"
	"bitnet/internal/testdata"
)

// TestRunVulkanMatchesCPU generates with --backend vulkan --device 0 (lavapipe
// in CI) and with the CPU, greedy, and requires the same text.
func TestRunVulkanMatchesCPU(t *testing.T) {
	if _, err := gpu.Devices(); err != nil {
		testdata.SkipUnlessCI(t, "no Vulkan: %v", err)
	}
	if gpu.ValidationAvailable() {
		t.Setenv("BITNET_VK_VALIDATE", "1")
		before := gpu.ValidationMessages()
		t.Cleanup(func() {
			if n := gpu.ValidationMessages() - before; n != 0 {
				t.Errorf("%d Vulkan validation messages", n)
			}
		})
	}
	root := testdata.RepoRoot(t)
	cases := []struct {
		name, model string
		tokens      string
	}{
		{"tinybitnet-stories", filepath.Join(root, "testdata", "tinybitnet-stories.gguf"), "120"},
		{"stories260K", testdata.Path(t, "models/stories260K.gguf"), "200"},
		{"tiny-i2_s", testdata.Path(t, "golden/tiny-i2_s.gguf"), "24"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"run", "--model", c.model, "--prompt", "Once upon a time", "--temperature", "0", "--max-new-tokens", c.tokens}
			cpuOut, errs, code := bitnet(t, append(args, "--backend", "cpu")...)
			if code != 0 {
				t.Fatalf("cpu: exit %d: %s", code, errs)
			}
			vkOut, errs, code := bitnet(t, append(args, "--backend", "vulkan", "--device", "0")...)
			if code != 0 {
				t.Fatalf("vulkan: exit %d: %s", code, errs)
			}
			if vkOut != cpuOut {
				t.Fatalf("vulkan and cpu differ:\nvulkan: %q\ncpu:    %q", vkOut, cpuOut)
			}
			if len(cpuOut) < 20 {
				t.Fatalf("suspiciously short output %q", cpuOut)
			}
		})
	}
}
