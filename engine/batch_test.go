package engine_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/gguf"
)

// batchJob is one generation of TestBatcherMatchesAlone.
type batchJob struct {
	prompt []int32
	n      int
	params engine.SamplerParams
	bias   map[int32]float32 // every token's logits (K 0) when set
	lp     bool              // log probabilities (K 0 too)
	look   int               // GenerateOptions.Lookup
	delay  time.Duration     // spent in OnToken after each token
}

func (j batchJob) options() engine.GenerateOptions {
	o := engine.GenerateOptions{MaxNewTokens: j.n, Sampler: engine.NewSampler(j.params), LogitBias: j.bias, Lookup: j.look,
		OnToken: func(int32) bool { time.Sleep(j.delay); return false }}
	if j.lp {
		o.OnLogprobs, o.TopLogprobs = func(engine.TokenLogprobs) {}, 2
	}
	return o
}

// TestBatcherMatchesAlone: generations that run at the same time on states
// joined to one Batcher give each the tokens it gives alone (greedy,
// sampled, with a repetition penalty, with biased logits), and end at the
// same positions, while most of their decode steps ran several rows at a
// time; a prompt of several batches and a slow consumer do not stop the
// others.
func TestBatcherMatchesAlone(t *testing.T) {
	be := cpu.New(cpu.Options{})
	t.Cleanup(func() { be.Close() })
	m := loadModel(t, storiesModel, be)
	newState := func() *engine.State {
		st, err := m.NewState(256, 16, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	long := slices.Repeat([]int32{403, 407, 261, 378}, 10) // 40 tokens: three batches of 16
	jobs := []batchJob{
		{prompt: storyStart, n: 160, look: 3},
		{prompt: []int32{1, 403}, n: 70, params: engine.SamplerParams{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 3}, lp: true},
		{prompt: append([]int32{1}, long...), n: 60, params: engine.SamplerParams{RepeatPenalty: 1.3, RepeatLastN: 64}},
		{prompt: storyStart[:3], n: 50, params: engine.SamplerParams{Temperature: 0.7, TopK: 0, Seed: 5}, bias: map[int32]float32{261: 2}},
		{prompt: storyStart, n: 30, params: engine.SamplerParams{Temperature: 0.9, TopK: 20, Seed: 8}, delay: 3 * time.Millisecond},
	}
	want := make([][]int32, len(jobs))
	wantPos := make([]int, len(jobs))
	for i, j := range jobs {
		st := newState()
		want[i], _ = generateOn(t, st, j.prompt, j.options())
		wantPos[i] = st.Pos
	}

	// Twice: steps of up to 8 rows whose decode steps wait for the others
	// as long as it takes, and steps of up to 4 that wait the default
	// time, which the slow consumer outlasts.
	var b *engine.Batcher
	var states []*engine.State
	for _, c := range []struct {
		wait time.Duration
		rows int
	}{{time.Minute, 8}, {engine.DefaultMaxWait, 4}} {
		wait := c.wait
		var err error
		if b, err = m.NewBatcher(c.rows); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		b.MaxWait = wait
		states = make([]*engine.State, len(jobs))
		for i := range jobs {
			states[i] = newState()
			if err := b.Join(states[i]); err != nil {
				t.Fatal(err)
			}
		}
		got := make([][]int32, len(jobs))
		stats := make([]engine.Stats, len(jobs))
		errs := make([]error, len(jobs))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, j := range jobs {
			wg.Go(func() {
				<-start
				got[i], stats[i], errs[i] = states[i].Generate(j.prompt, j.options())
			})
		}
		close(start)
		wg.Wait()
		decodes := 0
		for i := range jobs {
			if errs[i] != nil {
				t.Fatalf("wait %v, generation %d: %v", wait, i, errs[i])
			}
			if !slices.Equal(got[i], want[i]) || states[i].Pos != wantPos[i] {
				t.Errorf("wait %v, generation %d: position %d (alone %d)\ntogether %v\nalone    %v", wait, i, states[i].Pos, wantPos[i], got[i], want[i])
			}
			// The first token comes from the prompt's pass; a lookup step
			// (taken while a state generates alone) gives one and the
			// accepted drafted ones.
			decodes += len(want[i]) - 1 - stats[i].LookupSteps - stats[i].Accepted
		}
		st := b.Stats()
		t.Logf("wait %v: %d decode steps of %d sequences in %d steps, at most %d together; %d lookup steps", wait, st.Rows, len(jobs), st.Steps, st.Max, stats[0].LookupSteps)
		if stats[0].LookupSteps == 0 {
			t.Errorf("wait %v: no lookup steps once the longest generation was alone", wait)
		}
		if st.Rows != int64(decodes) {
			t.Errorf("wait %v: stats %+v, want %d decode steps", wait, st, decodes)
		}
		// Waiting for every state, each step takes all those generating:
		// the decode steps of the five take at most half as many
		// steps.
		if wait == time.Minute && (st.Max != len(jobs) || st.Steps > st.Rows/2) {
			t.Errorf("wait %v: stats %+v; want up to %d rows per step, and at most half as many steps as rows", wait, st, len(jobs))
		}
	}

	// Alone, a joined state generates as it would without the Batcher:
	// with lookup steps, and one step per token without.
	for _, look := range []int{3, 0} {
		j := jobs[0]
		j.look = look
		s0 := b.Stats()
		states[0].Reset()
		out, gs := generateOn(t, states[0], j.prompt, j.options())
		if !slices.Equal(out, want[0]) {
			t.Errorf("lookup %d alone on a joined state:\ngot  %v\nwant %v", look, out, want[0])
		}
		s := b.Stats()
		steps := int64(len(want[0]) - 1 - gs.LookupSteps - gs.Accepted)
		if s.Rows-s0.Rows != steps || s.Steps-s0.Steps != steps || (look > 0) != (gs.LookupSteps > 0) {
			t.Errorf("lookup %d alone: %+v after %+v, %d lookup steps; want %d steps of one sequence", look, s, s0, gs.LookupSteps, steps)
		}
	}
}

// TestNewBatcherErrors: a batcher of one row, and joining a state of
// another model.
func TestNewBatcherErrors(t *testing.T) {
	be := cpu.New(cpu.Options{})
	t.Cleanup(func() { be.Close() })
	m := loadModel(t, storiesModel, be)
	if _, err := m.NewBatcher(1); err == nil {
		t.Error("NewBatcher(1): no error")
	}
	b, err := m.NewBatcher(2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	other, err := loadModel(t, storiesModel, be).NewState(16, 4, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := b.Join(other); err == nil {
		t.Error("Join of another model's state: no error")
	}
}
