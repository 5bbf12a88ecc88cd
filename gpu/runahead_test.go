//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/gpu"
	"bitnet/internal/testdata"
)

// runAheadSetup returns a function that makes tinybitnet-stories states of
// n positions on a backend (closed when the test ends), the CPU reference
// and a Vulkan backend.
func runAheadSetup(t *testing.T, n int) (func(be compute.Backend) *engine.State, compute.Backend, *gpu.Backend) {
	path := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	ref := cpu.New(cpu.Options{})
	t.Cleanup(func() { ref.Close() })
	newState := func(be compute.Backend) *engine.State {
		st, err := loadModel(t, path, be).NewState(n, 16, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	return newState, ref, openTest(t)
}

// storyPrompt starts a story: BOS and a word.
var storyPrompt = []int32{1, 403}

func generate(t *testing.T, st *engine.State, prompt []int32, o engine.GenerateOptions) []int32 {
	t.Helper()
	out, _, err := st.Generate(prompt, o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunAhead: greedy decoding with its steps chained on the device gives
// the CPU's tokens whatever the bursts' length, in a few submissions
// instead of one per token.
func TestRunAhead(t *testing.T) {
	newState, ref, be := runAheadSetup(t, 256)
	prompt := storyPrompt
	const n = 90
	want := generate(t, newState(ref), prompt, engine.GenerateOptions{MaxNewTokens: n})
	if len(want) != n {
		t.Fatalf("the CPU generated %d tokens, want %d", len(want), n)
	}
	var one compute.StepStructure
	for _, ahead := range []int{1, 2, 8, 64} {
		st := newState(be)
		c0 := be.Counters()
		got := generate(t, st, prompt, engine.GenerateOptions{MaxNewTokens: n, RunAhead: ahead})
		c := be.Counters().Sub(c0)
		if ahead == 1 {
			one = c.Step
		}
		if !slices.Equal(got, want) {
			t.Errorf("RunAhead %d:\nvulkan %v\ncpu    %v", ahead, got, want)
		}
		if st.Pos != len(prompt)+n-1 {
			t.Errorf("RunAhead %d: position %d after the generation, want %d", ahead, st.Pos, len(prompt)+n-1)
		}
		// After the prompt's pass, 89 steps: one at a time, or in bursts of
		// the largest power of two up to RunAhead that the tokens still
		// wanted allow (44*2+1, 11*8+1, 64+16+8+1).
		steps := map[int]uint64{1: 89, 2: 45, 8: 12, 64: 4}[ahead]
		t.Logf("RunAhead %d: %d submissions, %d replays", ahead, c.Submits, c.Replays)
		if c.Replays != steps || c.Submits > steps+2 {
			t.Errorf("RunAhead %d: %d submissions, %d of them replays of captured programs; want %d replays and at most two other submissions", ahead, c.Submits, c.Replays, steps)
		}
	}
	// A repetition penalty (its window comes from the host) or sampling
	// takes one step at a time.
	for _, p := range []engine.SamplerParams{{RepeatPenalty: 1.3}, {Temperature: 0.8, TopK: 40, Seed: 5}} {
		want := generate(t, newState(ref), prompt, engine.GenerateOptions{MaxNewTokens: 20, Sampler: engine.NewSampler(p)})
		c0 := be.Counters()
		got := generate(t, newState(be), prompt, engine.GenerateOptions{MaxNewTokens: 20, Sampler: engine.NewSampler(p), RunAhead: 8})
		if c := be.Counters().Sub(c0); !slices.Equal(got, want) || c.Replays != 19 {
			t.Errorf("sampler %+v with RunAhead 8: %d replays for 19 steps\nvulkan %v\ncpu    %v", p, c.Replays, got, want)
		}
	}
	// A burst of 8 is the step 8 times, each with the dispatch of Advance.
	generate(t, newState(be), prompt, engine.GenerateOptions{MaxNewTokens: 9, RunAhead: 8})
	s := be.Counters().Step
	if one.Steps != 1 || s.Steps != 8 || s.Dispatches != 8*(one.Dispatches+1) || s.Barriers >= s.Dispatches {
		t.Errorf("captured programs: %+v for one step, %+v for a burst of 8", one, s)
	}
	t.Logf("one step %+v, a burst of 8 %+v", one, s)
}

// TestRunAheadStops: a stop in the middle of a burst (an end-of-generation
// token, OnToken) returns the tokens of one step at a time and leaves the
// cache as they leave it, so that the next generation continues alike.
func TestRunAheadStops(t *testing.T) {
	newState, ref, be := runAheadSetup(t, 256)
	prompt := storyPrompt
	all := generate(t, newState(ref), prompt, engine.GenerateOptions{MaxNewTokens: 60})
	// An end-of-generation token: the first one that first appears in the
	// middle of the second burst of 8 (tokens 9 to 16).
	eog := int32(-1)
	for i := 10; i < 16 && eog < 0; i++ {
		if slices.Index(all, all[i]) == i {
			eog = all[i]
		}
	}
	if eog < 0 {
		t.Fatalf("no token first appears at 10..15 of %v", all)
	}
	cases := []struct {
		name string
		o    engine.GenerateOptions
	}{
		{"eog", engine.GenerateOptions{MaxNewTokens: 60, IsEOG: func(id int32) bool { return id == eog }}},
		{"callback", engine.GenerateOptions{MaxNewTokens: 60, OnToken: func(id int32) bool { return id == all[13] }}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws := newState(ref)
			want := generate(t, ws, prompt, c.o)
			wantNext := generate(t, ws, want[len(want)-1:], engine.GenerateOptions{MaxNewTokens: 30})
			st := newState(be)
			c.o.RunAhead = 8
			got := generate(t, st, prompt, c.o)
			if !slices.Equal(got, want) || st.Pos != ws.Pos-len(wantNext) {
				t.Fatalf("vulkan %v at position %d\ncpu    %v at position %d", got, st.Pos, want, ws.Pos-len(wantNext))
			}
			if got := generate(t, st, got[len(got)-1:], engine.GenerateOptions{MaxNewTokens: 30, RunAhead: 8}); !slices.Equal(got, wantNext) {
				t.Errorf("the next generation:\nvulkan %v\ncpu    %v", got, wantNext)
			}
		})
	}
}

// TestRunAheadDeviceFailure: a device failure while a burst is captured is
// an error, not a panic, and the same state, reset, then generates the
// CPU's tokens in bursts.
func TestRunAheadDeviceFailure(t *testing.T) {
	newState, ref, be := runAheadSetup(t, 128)
	want := generate(t, newState(ref), storyPrompt, engine.GenerateOptions{MaxNewTokens: 20})
	st := newState(be)
	// The prompt's pass is recorded before the first token; the burst
	// after it is the next recording.
	first := true
	_, _, err := st.Generate(storyPrompt, engine.GenerateOptions{MaxNewTokens: 20, RunAhead: 8, OnToken: func(int32) bool {
		if first {
			be.FailNextRecording()
			first = false
		}
		return false
	}})
	if err == nil || !strings.Contains(err.Error(), "injected device failure") {
		t.Fatalf("generation through a failing device: %v", err)
	}
	st.Reset()
	if got := generate(t, st, storyPrompt, engine.GenerateOptions{MaxNewTokens: 20, RunAhead: 8}); !slices.Equal(got, want) {
		t.Errorf("after the failure:\nvulkan %v\ncpu    %v", got, want)
	}
}

// TestRunAheadFullContext: generating until the context is full, bursts
// end at its last position and give the CPU's tokens and stop reason.
func TestRunAheadFullContext(t *testing.T) {
	newState, ref, be := runAheadSetup(t, 40)
	prompt := storyPrompt
	gen := func(be compute.Backend, ahead int) ([]int32, engine.StopReason, int) {
		st := newState(be)
		out, stats, err := st.Generate(prompt, engine.GenerateOptions{MaxNewTokens: -1, RunAhead: ahead})
		if err != nil {
			t.Fatal(err)
		}
		return out, stats.Reason, st.Pos
	}
	want, wr, wp := gen(ref, 1)
	got, gr, gp := gen(be, 16)
	if !slices.Equal(got, want) || gr != wr || gp != wp || wr != engine.StopContext {
		t.Errorf("vulkan %v (reason %d, position %d)\ncpu    %v (reason %d, position %d)", got, gr, gp, want, wr, wp)
	}
}

// TestRunAheadShortCache: bursts in a state whose cache is longer than the
// attention merges in one dispatch replay the short variant only while
// every step of the burst stays below its length, and give the CPU's
// tokens across it. (Chunks of 32 positions make the short cache 128
// positions long.)
func TestRunAheadShortCache(t *testing.T) {
	t.Setenv("BITNET_VK_ATTN_CHUNK", "32")
	newState, ref, be := runAheadSetup(t, 512)
	prompt := storyPrompt
	want := generate(t, newState(ref), prompt, engine.GenerateOptions{MaxNewTokens: 170})
	if len(want) != 170 {
		t.Fatalf("the CPU generated %d tokens, want 170", len(want))
	}
	got := generate(t, newState(be), prompt, engine.GenerateOptions{MaxNewTokens: 170, RunAhead: 16})
	if !slices.Equal(got, want) {
		t.Errorf("vulkan %v\ncpu    %v", got, want)
	}
	// Bursts of 16 from position 2: those ending below 128 run short, the
	// one from 114 to 129 and the later ones the full step.
	if n := be.ShortRuns(); n != 7 {
		t.Errorf("%d replays of the short variant, want 7", n)
	}
}
