package engine_test

import (
	"math"
	"slices"
	"testing"

	"bitnet/engine"
	"bitnet/gguf"
)

// logSoftmax is the reference: float64, maximum subtracted, summed in id
// order.
func logSoftmax(logits []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = max(mx, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - mx)
	}
	lse := math.Log(sum)
	out := make([]float64, len(logits))
	for i, v := range logits {
		out[i] = float64(v) - mx - lse
	}
	return out
}

// stepLogits evaluates prompt as one batch, then each token of gen alone
// (as Generate does), and returns the logits each step ends with, with
// bias added.
func stepLogits(t *testing.T, m *engine.Model, prompt, gen []int32, bias map[int32]float32) [][]float32 {
	t.Helper()
	st, err := m.NewState(64, 8, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]float32
	in := prompt
	for i := 0; i <= len(gen); i++ {
		lg, err := st.Forward(in, false)
		if err != nil {
			t.Fatal(err)
		}
		row := slices.Clone(lg)
		for id, b := range bias {
			row[id] += b
		}
		rows = append(rows, row)
		if i < len(gen) {
			in = gen[i : i+1]
		}
	}
	return rows
}

// TestGenerateLogprobs: the log probabilities of a greedy generation are
// the log-softmax of the logits Forward gives at the same positions, the
// token is the argmax and the alternatives are the best tokens in order.
func TestGenerateLogprobs(t *testing.T) {
	m := goldenI2S(t)
	prompt := []int32{1, 17, 42}
	for _, bias := range []map[int32]float32{nil, {3: 4.5, 7: -2}} {
		st, err := m.NewState(64, 8, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		var got []engine.TokenLogprobs
		out, _, err := st.Generate(prompt, engine.GenerateOptions{
			MaxNewTokens: 5, TopLogprobs: 4, LogitBias: bias,
			OnLogprobs: func(lp engine.TokenLogprobs) { got = append(got, lp) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(out) || len(out) != 5 {
			t.Fatalf("%d tokens, %d log probabilities; want 5 of each", len(out), len(got))
		}
		rows := stepLogits(t, m, prompt, out[:len(out)-1], bias)
		for i, lp := range got {
			ref := logSoftmax(rows[i])
			if want := engine.Argmax(rows[i]); out[i] != want || lp.ID != want {
				t.Fatalf("bias %v, token %d: generated %d (reported %d), argmax %d", bias, i, out[i], lp.ID, want)
			}
			if d := math.Abs(lp.Logprob - ref[lp.ID]); d > 1e-9 {
				t.Errorf("bias %v, token %d: logprob %v, reference %v", bias, i, lp.Logprob, ref[lp.ID])
			}
			order := make([]int32, len(ref))
			for j := range order {
				order[j] = int32(j)
			}
			slices.SortStableFunc(order, func(a, b int32) int {
				switch {
				case rows[i][a] > rows[i][b]:
					return -1
				case rows[i][a] < rows[i][b]:
					return 1
				}
				return 0
			})
			if len(lp.Top) != 4 {
				t.Fatalf("token %d: %d alternatives, want 4", i, len(lp.Top))
			}
			for j, a := range lp.Top {
				if a.ID != order[j] || math.Abs(a.Logprob-ref[a.ID]) > 1e-9 {
					t.Errorf("bias %v, token %d, alternative %d: %+v, want id %d logprob %v", bias, i, j, a, order[j], ref[order[j]])
				}
			}
		}
	}
}

// TestGenerateLogitBias: -100 on the greedy token gives the next best one;
// +100 on a token forces it.
func TestGenerateLogitBias(t *testing.T) {
	m := goldenI2S(t)
	prompt := []int32{1, 17, 42}
	first := func(bias map[int32]float32) int32 {
		t.Helper()
		st, err := m.NewState(64, 8, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := st.Generate(prompt, engine.GenerateOptions{MaxNewTokens: 1, LogitBias: bias})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	lg := stepLogits(t, m, prompt, nil, nil)[0]
	best := engine.Argmax(lg)
	if got := first(nil); got != best {
		t.Fatalf("greedy gave %d, argmax is %d", got, best)
	}
	masked := slices.Clone(lg)
	masked[best] = float32(math.Inf(-1))
	next := engine.Argmax(masked)
	if got := first(map[int32]float32{best: -100}); got != next {
		t.Errorf("bias -100 on %d: got %d, want the next best %d", best, got, next)
	}
	// The least likely token that +100 lifts above the best one.
	worst := best
	for i, v := range lg {
		if lg[best]-v < 99 && v < lg[worst] {
			worst = int32(i)
		}
	}
	if worst == best {
		t.Fatal("no other token within 99 of the best")
	}
	if got := first(map[int32]float32{worst: 100}); got != worst {
		t.Errorf("bias +100 on token %d (logit %g, the best %g): got %d", worst, lg[worst], lg[best], got)
	}
	st, _ := m.NewState(64, 8, gguf.F16)
	if _, _, err := st.Generate(prompt, engine.GenerateOptions{MaxNewTokens: 1, LogitBias: map[int32]float32{int32(len(lg)): 1}}); err == nil {
		t.Errorf("a bias on token %d (outside the vocabulary) was accepted", len(lg))
	}
}

// TestGenerateLogprobsSameSample: asking for log probabilities (which reads
// every logit) does not change what a seeded sampler draws.
func TestGenerateLogprobsSameSample(t *testing.T) {
	m := goldenI2S(t)
	gen := func(withLP bool) []int32 {
		st, err := m.NewState(64, 8, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		opt := engine.GenerateOptions{MaxNewTokens: 12, Sampler: engine.NewSampler(engine.SamplerParams{
			Temperature: 1.5, TopK: 20, TopP: 0.95, RepeatPenalty: 1.3, Seed: 7})}
		if withLP {
			opt.OnLogprobs = func(engine.TokenLogprobs) {}
		}
		out, _, err := st.Generate([]int32{1, 17, 42}, opt)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if a, b := gen(false), gen(true); !slices.Equal(a, b) {
		t.Fatalf("without log probabilities %v, with %v", a, b)
	}
}
