//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"slices"
	"testing"

	"bitnet/engine"
)

// TestLookup: lookup decoding on Vulkan (a batch step with every row's
// candidates selected on the device) gives the CPU's greedy tokens, with
// drafts accepted and rejected on the way, leaves the cache where greedy
// decoding leaves it, and replays its steps; sampling with lookup gives
// the CPU's tokens for the same seed.
func TestLookup(t *testing.T) {
	newState, ref, be := runAheadSetup(t, 256)
	// BOS and "Once upon a time": a story that repeats itself.
	prompt := []int32{1, 403, 407, 261, 378}
	const n = 120
	want := generate(t, newState(ref), prompt, engine.GenerateOptions{MaxNewTokens: n})
	for _, look := range []int{3, 15} {
		st := newState(be)
		c0 := be.Counters()
		got, stats, err := st.Generate(prompt, engine.GenerateOptions{MaxNewTokens: n, Lookup: look})
		if err != nil {
			t.Fatal(err)
		}
		c := be.Counters().Sub(c0)
		if !slices.Equal(got, want) {
			t.Errorf("Lookup %d:\nvulkan %v\ncpu    %v", look, got, want)
		}
		if st.Pos != len(prompt)+len(want)-1 {
			t.Errorf("Lookup %d: position %d after the generation, want %d", look, st.Pos, len(prompt)+len(want)-1)
		}
		// After the prompt's pass, every step (of one token, or checking a
		// draft) replays a program captured for its length: a token each,
		// but the accepted drafted ones.
		steps := uint64(len(got) - 1 - stats.Accepted)
		t.Logf("Lookup %d: %d steps drafted %d tokens, %d accepted; %d submissions, %d replays", look, stats.LookupSteps, stats.Drafted, stats.Accepted, c.Submits, c.Replays)
		if c.Replays != steps || c.Submits > steps+4 {
			t.Errorf("Lookup %d: %d submissions, %d of them replays; want %d replays and at most four other submissions (the prompt's, captures)", look, c.Submits, c.Replays, steps)
		}
		if stats.LookupSteps == 0 || stats.Accepted == 0 || stats.Accepted == stats.Drafted {
			t.Errorf("Lookup %d: %+v; want lookup steps, some of their tokens accepted and some not", look, stats)
		}
	}
	p := engine.SamplerParams{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 4}
	o := engine.GenerateOptions{MaxNewTokens: n, Lookup: 3}
	o.Sampler = engine.NewSampler(p)
	want, wstats, err := newState(ref).Generate(prompt, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Sampler = engine.NewSampler(p)
	got, stats, err := newState(be).Generate(prompt, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || stats.LookupSteps == 0 || stats.Accepted != wstats.Accepted {
		t.Errorf("sampling with Lookup 3 (vulkan %+v, cpu %+v):\nvulkan %v\ncpu    %v", stats, wstats, got, want)
	}
	t.Logf("sampling with Lookup 3: %d steps drafted %d tokens, %d accepted", stats.LookupSteps, stats.Drafted, stats.Accepted)
}
