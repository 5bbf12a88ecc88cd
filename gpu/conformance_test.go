//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"testing"

	"bitnet/engine/compute/computetest"
	"bitnet/gpu"
	"bitnet/gpu/internal/vkrt"
)

// openTest opens the first Vulkan device (lavapipe in CI) with the
// validation layer when it is installed, and fails the test on any
// validation message.
func openTest(t testing.TB) *gpu.Backend {
	t.Helper()
	if _, err := vkrt.Devices(); err != nil {
		t.Skipf("no Vulkan: %v", err)
	}
	before := vkrt.MessageCount()
	be, err := gpu.Open(gpu.Options{Device: -1, Validate: vkrt.ValidationAvailable()})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if n := vkrt.MessageCount() - before; n != 0 {
			t.Errorf("%d validation messages (see the log)", n)
		}
	})
	t.Logf("device: %s (validation layer: %v)", be.Device(), vkrt.ValidationAvailable())
	return be
}

func TestConformance(t *testing.T) {
	be := openTest(t)
	computetest.Run(t, be, computetest.Cases())
}
