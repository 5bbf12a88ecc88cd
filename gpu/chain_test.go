//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"strings"
	"testing"

	"bitnet/engine/compute/computetest"
	"bitnet/gpu"
	"bitnet/gpu/internal/vkrt"
)

// openChained opens a backend with the decode kernels chained
// (Options.Chain, o's other fields as given) and checks, when the test
// ends, that no chained kernel gave up a wait or found a miscounted chain;
// on lavapipe, which runs a dispatch only once the one before it is done,
// that none had to wait at all (so a count or slot off by one shows at
// once, not as a wait that never ends).
func openChained(t *testing.T, o gpu.Options) *gpu.Backend {
	t.Helper()
	o.Device, o.Chain = -1, true
	be := openTestWith(t, o)
	if !strings.Contains(be.Kernels(), "chain") {
		t.Fatalf("Chain ignored (kernels %q)", be.Kernels())
	}
	t.Cleanup(func() {
		f, err := be.ChainFlags()
		if err != nil {
			t.Fatalf("chain flags: %v", err)
		}
		bad := uint32(vkrt.ChainTimedOut | vkrt.ChainOvercount)
		if strings.Contains(be.Device(), "llvmpipe") {
			bad |= vkrt.ChainWaited
		}
		if f&bad != 0 {
			t.Errorf("chained kernels raised flags %#x (1 waited, 2 gave up a wait, 4 miscounted)", f)
		}
	})
	return be
}

// TestConformanceChain runs the fused decode cases (the norm, residual,
// activation, RoPE and KV store in the matvecs) and the attention cases
// (split and combined, merged in the kernel) with the decode kernels
// chained: the results are the unchained kernels'.
func TestConformanceChain(t *testing.T) {
	t.Parallel()
	var all []computetest.Case
	for _, c := range computetest.Cases() {
		if strings.HasPrefix(c.Name, "fused/") || strings.Contains(c.Name, "attention") {
			all = append(all, c)
		}
	}
	computetest.Run(t, openChained(t, gpu.Options{}), all)
}

// TestChainCheck: ChainCheck (what bench runs after a chained run) passes
// after a clean chained step and fails, naming the option, once a wait
// gave up or a chain was miscounted; a wait alone is not a failure.
func TestChainCheck(t *testing.T) {
	be := openTestWith(t, gpu.Options{Device: -1, Chain: true})
	storiesLikeCPU(t, be, 8, 1)
	if err := be.ChainCheck(); err != nil {
		t.Fatalf("after a clean step: %v", err)
	}
	if err := be.SetChainFlags(vkrt.ChainWaited); err != nil {
		t.Fatal(err)
	}
	if err := be.ChainCheck(); err != nil {
		t.Fatalf("after a wait: %v", err)
	}
	for _, f := range []uint32{vkrt.ChainTimedOut, vkrt.ChainOvercount} {
		if err := be.SetChainFlags(f); err != nil {
			t.Fatal(err)
		}
		if err := be.ChainCheck(); err == nil || !strings.Contains(err.Error(), "BITNET_VK_CHAIN") {
			t.Errorf("flag %d: %v", f, err)
		}
	}
	if err := be.SetChainFlags(0); err != nil {
		t.Fatal(err)
	}
}
