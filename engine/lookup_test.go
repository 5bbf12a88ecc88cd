package engine_test

import (
	"slices"
	"testing"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/gguf"
)

// storiesState returns a state of n positions, batches of 16, on the
// bundled tinybitnet-stories model and the CPU backend.
func storiesState(t *testing.T, n int) *engine.State {
	t.Helper()
	be := cpu.New(cpu.Options{})
	t.Cleanup(func() { be.Close() })
	st, err := loadModel(t, storiesModel, be).NewState(n, 16, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func generateOn(t *testing.T, st *engine.State, prompt []int32, o engine.GenerateOptions) ([]int32, engine.Stats) {
	t.Helper()
	out, stats, err := st.Generate(prompt, o)
	if err != nil {
		t.Fatal(err)
	}
	return out, stats
}

// storyStart is BOS and "Once upon a time" in tinybitnet-stories' vocabulary.
var storyStart = []int32{1, 403, 407, 261, 378}

// TestLookupMatchesGreedy: lookup decoding generates greedy decoding's
// tokens and leaves the cache at the same position, whatever the draft
// length, with drafts both accepted and rejected on the way.
func TestLookupMatchesGreedy(t *testing.T) {
	const n = 200
	want, _ := generateOn(t, storiesState(t, 512), storyStart, engine.GenerateOptions{MaxNewTokens: n})
	for _, look := range []int{1, 3, 8, engine.MaxLookup} {
		st := storiesState(t, 512)
		got, stats := generateOn(t, st, storyStart, engine.GenerateOptions{MaxNewTokens: n, Lookup: look})
		if !slices.Equal(got, want) {
			t.Errorf("Lookup %d:\ngot  %v\nwant %v", look, got, want)
		}
		if st.Pos != len(storyStart)+len(want)-1 || stats.GenTokens != len(want) {
			t.Errorf("Lookup %d: position %d and %d tokens counted after the generation, want %d and %d", look, st.Pos, stats.GenTokens, len(storyStart)+len(want)-1, len(want))
		}
		t.Logf("Lookup %d: %d steps drafted %d tokens, %d accepted", look, stats.LookupSteps, stats.Drafted, stats.Accepted)
		if stats.LookupSteps == 0 || stats.Accepted == 0 || stats.Accepted == stats.Drafted || stats.Drafted > look*stats.LookupSteps {
			t.Errorf("Lookup %d: %+v; want lookup steps of at most %d tokens, some of them accepted and some not", look, stats, look)
		}
	}
	// A repetition penalty (or every token as a candidate) decodes one
	// token at a time.
	for _, p := range []engine.SamplerParams{{RepeatPenalty: 1.2}, {Temperature: 0.8, TopK: 0, Seed: 3}} {
		want, _ := generateOn(t, storiesState(t, 512), storyStart, engine.GenerateOptions{MaxNewTokens: 60, Sampler: engine.NewSampler(p)})
		got, stats := generateOn(t, storiesState(t, 512), storyStart, engine.GenerateOptions{MaxNewTokens: 60, Sampler: engine.NewSampler(p), Lookup: 8})
		if !slices.Equal(got, want) || stats.LookupSteps != 0 {
			t.Errorf("sampler %+v with Lookup 8: %d lookup steps\ngot  %v\nwant %v", p, stats.LookupSteps, got, want)
		}
	}
}

// TestLookupSampling: lookup decoding while sampling. At a temperature
// low enough that every step's distribution is its best candidate alone,
// the tokens are greedy decoding's (every draft decided and replaced
// through Sampler.Check); at 0.8 the same seed gives the same tokens
// twice, drafts are accepted and rejected, and the cache ends where the
// tokens say.
func TestLookupSampling(t *testing.T) {
	const n = 150
	greedy, _ := generateOn(t, storiesState(t, 512), storyStart, engine.GenerateOptions{MaxNewTokens: n})
	cold := engine.SamplerParams{Temperature: 1e-3, TopK: 40, Seed: 9}
	got, stats := generateOn(t, storiesState(t, 512), storyStart, engine.GenerateOptions{MaxNewTokens: n, Sampler: engine.NewSampler(cold), Lookup: 3})
	if !slices.Equal(got, greedy) || stats.LookupSteps == 0 || stats.Accepted == stats.Drafted {
		t.Errorf("temperature 1e-3 with Lookup 3 (%+v):\ngot    %v\ngreedy %v", stats, got, greedy)
	}
	warm := engine.SamplerParams{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 4}
	var first []int32
	for rep := range 2 {
		st := storiesState(t, 512)
		got, stats := generateOn(t, st, storyStart, engine.GenerateOptions{MaxNewTokens: n, Sampler: engine.NewSampler(warm), Lookup: 3})
		t.Logf("temperature 0.8, Lookup 3: %d steps drafted %d tokens, %d accepted", stats.LookupSteps, stats.Drafted, stats.Accepted)
		if len(got) == 0 || st.Pos != len(storyStart)+len(got)-1 || stats.LookupSteps == 0 || stats.Accepted == 0 || stats.Accepted == stats.Drafted {
			t.Fatalf("%d tokens, position %d, %+v: want drafts accepted and rejected, the cache at %d", len(got), st.Pos, stats, len(storyStart)+len(got)-1)
		}
		if rep == 0 {
			first = got
		} else if !slices.Equal(got, first) {
			t.Errorf("the same seed twice:\n%v\n%v", got, first)
		}
	}
}

// TestLookupStops: a stop inside a lookup step's accepted tokens (the
// token limit, an end-of-generation token, OnToken, a full context)
// returns greedy decoding's tokens and leaves the cache where it leaves
// it, so that the next generation continues alike.
func TestLookupStops(t *testing.T) {
	all, _ := generateOn(t, storiesState(t, 512), storyStart, engine.GenerateOptions{MaxNewTokens: 200})
	// Where lookup steps accept several tokens: the tokens that repeat the
	// 2-gram before them.
	var repeats []int
	for i := 2; i < len(all); i++ {
		for j := 1; j < i-1; j++ {
			if all[j-1] == all[i-2] && all[j] == all[i-1] && all[j+1] == all[i] {
				repeats = append(repeats, i)
				break
			}
		}
	}
	if len(repeats) < 8 {
		t.Fatalf("only %d tokens repeat the text before them in %v", len(repeats), all)
	}
	cases := []struct {
		name string
		o    engine.GenerateOptions
		nctx int
	}{
		{"limit", engine.GenerateOptions{MaxNewTokens: repeats[3]}, 512},
		{"eog", engine.GenerateOptions{MaxNewTokens: 200, IsEOG: func(id int32) bool { return id == all[repeats[5]] }}, 512},
		{"callback", engine.GenerateOptions{MaxNewTokens: 200, OnToken: func(id int32) bool { return id == all[repeats[7]] }}, 512},
		{"context", engine.GenerateOptions{MaxNewTokens: -1}, len(storyStart) + repeats[4]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws := storiesState(t, c.nctx)
			want, wstats := generateOn(t, ws, storyStart, c.o)
			st := storiesState(t, c.nctx)
			c.o.Lookup = 8
			got, stats := generateOn(t, st, storyStart, c.o)
			if !slices.Equal(got, want) || st.Pos != ws.Pos || stats.Reason != wstats.Reason {
				t.Fatalf("lookup %v at position %d (%v)\ngreedy %v at position %d (%v)", got, st.Pos, stats.Reason, want, ws.Pos, wstats.Reason)
			}
			if stats.LookupSteps == 0 {
				t.Errorf("no lookup step")
			}
			if ws.Pos+10 > ws.NCtx {
				return
			}
			wantNext, _ := generateOn(t, ws, want[len(want)-1:], engine.GenerateOptions{MaxNewTokens: 10})
			if gotNext, _ := generateOn(t, st, got[len(got)-1:], engine.GenerateOptions{MaxNewTokens: 10, Lookup: 8}); !slices.Equal(gotNext, wantNext) {
				t.Errorf("the next generation:\nlookup %v\ngreedy %v", gotNext, wantNext)
			}
		})
	}
}
