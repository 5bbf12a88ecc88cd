//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/gguf"
	"bitnet/internal/testdata"
)

// TestBatcher: generations that run at the same time on Vulkan, their
// decode steps batched (every row attending over its own state's cache,
// every state's selection on the device), give the CPU's tokens for each
// alone: greedy, sampled, with a repetition penalty, and with every
// token's logits read.
func TestBatcher(t *testing.T) {
	path := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	ref := cpu.New(cpu.Options{})
	t.Cleanup(func() { ref.Close() })
	be := openTest(t)
	type job struct {
		prompt []int32
		n      int
		p      engine.SamplerParams
		bias   map[int32]float32
	}
	jobs := []job{
		{[]int32{1, 403, 407, 261, 378}, 60, engine.SamplerParams{}, nil},
		{[]int32{1, 403}, 50, engine.SamplerParams{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 4}, nil},
		{append([]int32{1}, slices.Repeat([]int32{403, 407, 261}, 7)...), 40, engine.SamplerParams{RepeatPenalty: 1.3, RepeatLastN: 64}, nil},
		{[]int32{1, 403, 407}, 30, engine.SamplerParams{Temperature: 0.7, Seed: 5}, map[int32]float32{261: 2}},
	}
	opts := func(j job) engine.GenerateOptions {
		return engine.GenerateOptions{MaxNewTokens: j.n, Sampler: engine.NewSampler(j.p), LogitBias: j.bias}
	}
	rm := loadModel(t, path, ref)
	want := make([][]int32, len(jobs))
	for i, j := range jobs {
		st, err := rm.NewState(128, 16, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = generate(t, st, j.prompt, opts(j))
		st.Close()
	}
	m := loadModel(t, path, be)
	b, err := m.NewBatcher(len(jobs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	b.MaxWait = time.Minute // every step takes every sequence generating
	states := make([]*engine.State, len(jobs))
	for i := range jobs {
		if states[i], err = m.NewState(128, 16, gguf.F16); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(states[i].Close)
		if err := b.Join(states[i]); err != nil {
			t.Fatal(err)
		}
	}
	got := make([][]int32, len(jobs))
	errs := make([]error, len(jobs))
	c0 := be.Counters()
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { got[i], _, errs[i] = states[i].Generate(j.prompt, opts(j)) })
	}
	wg.Wait()
	for i := range jobs {
		if errs[i] != nil {
			t.Fatalf("generation %d: %v", i, errs[i])
		}
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("generation %d:\nvulkan, batched %v\ncpu, alone      %v", i, got[i], want[i])
		}
	}
	c := be.Counters().Sub(c0)
	st := b.Stats()
	t.Logf("%d decode steps in %d steps, at most %d together; %d submissions, %d replays", st.Rows, st.Steps, st.Max, c.Submits, c.Replays)
	if st.Max != len(jobs) || st.Steps > st.Rows/2 {
		t.Errorf("stats %+v: want steps of all %d sequences, half as many steps as rows at most", st, len(jobs))
	}
	// A step replays the program captured for its set of sequences: as
	// the shorter generations end, the sets shrink (4, 3, 2 sequences,
	// then one alone, which replays its own state's), each captured once.
	if c.Replays+8 < uint64(st.Steps) {
		t.Errorf("%d replays for %d steps; want all but a few captures", c.Replays, st.Steps)
	}
}

// TestBatchedStepStructure: a batched step of four sequences has the
// barriers of one sequence's decode step: the sequences' key stores and
// attentions (a dispatch each) run side by side, without barriers between
// them.
func TestBatchedStepStructure(t *testing.T) {
	path := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	be := openTest(t)
	m := loadModel(t, path, be)
	newState := func() *engine.State {
		st, err := m.NewState(64, 16, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	if _, _, err := newState().Generate([]int32{1, 403}, engine.GenerateOptions{MaxNewTokens: 4, RunAhead: 1}); err != nil {
		t.Fatal(err)
	}
	single := be.Counters().Step
	b, err := m.NewBatcher(4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	b.MaxWait = time.Minute
	states := make([]*engine.State, 4)
	for i := range states {
		states[i] = newState()
		if err := b.Join(states[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, st := range states {
		// One-token prompts: every step, the first too, has all four.
		wg.Go(func() { _, _, errs[i] = st.Generate([]int32{int32(400 + i)}, engine.GenerateOptions{MaxNewTokens: 6}) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	batched := be.Counters().Step
	st := b.Stats()
	t.Logf("one sequence's step: %+v; four sequences': %+v; %+v", single, batched, st)
	if st.Rows != 24 || st.Max != 4 {
		t.Fatalf("batcher %+v: want 24 decode steps, up to 4 together", st)
	}
	if batched.Barriers != single.Barriers || batched.Dispatches <= single.Dispatches {
		t.Errorf("a step of four sequences: %+v; want the %d barriers of one sequence's (%+v) and more dispatches", batched, single.Barriers, single)
	}
}
