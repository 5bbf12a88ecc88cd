package engine_test

import (
	"context"
	"errors"
	"testing"

	"bitnet/engine"
	"bitnet/gguf"
)

func TestGenerateStops(t *testing.T) {
	m := goldenI2S(t)
	prompt := []int32{1, 17, 42}
	cases := []struct {
		name    string
		opt     engine.GenerateOptions
		n, pos  int
		reason  engine.StopReason
		nctx    int
		history []int32
	}{
		{"limit", engine.GenerateOptions{MaxNewTokens: 3}, 3, 3 + 2, engine.StopLimit, 32, nil},
		{"prompt only", engine.GenerateOptions{MaxNewTokens: 0}, 0, 3, engine.StopLimit, 32, nil},
		{"eog", engine.GenerateOptions{MaxNewTokens: 5, IsEOG: func(int32) bool { return true }}, 0, 3, engine.StopEOG, 32, nil},
		{"callback", engine.GenerateOptions{MaxNewTokens: -1, OnToken: func(int32) bool { return true }}, 1, 3, engine.StopCallback, 32, nil},
		{"context", engine.GenerateOptions{MaxNewTokens: -1}, 3, 5, engine.StopContext, 5, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := m.NewState(c.nctx, 8, gguf.F16)
			if err != nil {
				t.Fatal(err)
			}
			out, stats, err := st.Generate(prompt, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != c.n || st.Pos != c.pos || stats.Reason != c.reason || stats.GenTokens != c.n || stats.PromptTokens != 3 {
				t.Fatalf("%d tokens, Pos %d, reason %v, stats %+v; want %d tokens, Pos %d, reason %v", len(out), st.Pos, stats.Reason, stats, c.n, c.pos, c.reason)
			}
		})
	}
}

// TestGenerateHistoryPenalty: tokens before the prompt count for the
// repetition penalty.
func TestGenerateHistoryPenalty(t *testing.T) {
	m := goldenI2S(t)
	greedy := func(history []int32) int32 {
		st, _ := m.NewState(32, 8, gguf.F16)
		smp := engine.NewSampler(engine.SamplerParams{RepeatPenalty: 1e6})
		out, _, err := st.Generate([]int32{1, 17, 42}, engine.GenerateOptions{MaxNewTokens: 1, Sampler: smp, History: history})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	first := greedy(nil)
	if again := greedy([]int32{first}); again == first {
		t.Fatalf("token %d was in the history yet sampled again under a huge penalty", first)
	}
}

// cancelAfter is a context whose Err is nil for its first n calls, then
// context.Canceled.
type cancelAfter struct {
	context.Context
	n int
}

func (c *cancelAfter) Err() error {
	if c.n > 0 {
		c.n--
		return nil
	}
	return context.Canceled
}

// TestGenerateCancelledInPrompt: a context that ends while a long prompt is
// read stops Generate between the prompt's batches, with the batches read
// in the cache.
func TestGenerateCancelledInPrompt(t *testing.T) {
	m := goldenI2S(t)
	st, err := m.NewState(64, 4, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	prompt := make([]int32, 20)
	for i := range prompt {
		prompt[i] = int32(1 + i)
	}
	ctx := &cancelAfter{Context: context.Background(), n: 2}
	out, _, err := st.Generate(prompt, engine.GenerateOptions{MaxNewTokens: 5, Context: ctx})
	if !errors.Is(err, context.Canceled) || len(out) != 0 {
		t.Fatalf("Generate = %v, %v; want context.Canceled before any token", out, err)
	}
	if st.Pos != 8 {
		t.Errorf("cache holds %d tokens, want the two batches of 4 read before the cancellation", st.Pos)
	}
}
