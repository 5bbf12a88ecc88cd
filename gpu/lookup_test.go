//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"slices"
	"testing"

	"bitnet/engine"
)

// TestLookup: lookup decoding on Vulkan (a batch step with every row's
// best token picked on the device) gives the CPU's greedy tokens, with
// drafts accepted and rejected on the way, and leaves the cache where
// greedy decoding leaves it.
func TestLookup(t *testing.T) {
	newState, ref, be := runAheadSetup(t, 256)
	// BOS and "Once upon a time": a story that repeats itself.
	prompt := []int32{1, 403, 407, 261, 378}
	const n = 120
	want := generate(t, newState(ref), prompt, engine.GenerateOptions{MaxNewTokens: n})
	for _, look := range []int{3, 15} {
		st := newState(be)
		got, stats, err := st.Generate(prompt, engine.GenerateOptions{MaxNewTokens: n, Lookup: look})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Lookup %d:\nvulkan %v\ncpu    %v", look, got, want)
		}
		if st.Pos != len(prompt)+len(want)-1 {
			t.Errorf("Lookup %d: position %d after the generation, want %d", look, st.Pos, len(prompt)+len(want)-1)
		}
		t.Logf("Lookup %d: %d steps drafted %d tokens, %d accepted", look, stats.LookupSteps, stats.Drafted, stats.Accepted)
		if stats.LookupSteps == 0 || stats.Accepted == 0 || stats.Accepted == stats.Drafted {
			t.Errorf("Lookup %d: %+v; want lookup steps, some of their tokens accepted and some not", look, stats)
		}
	}
}
