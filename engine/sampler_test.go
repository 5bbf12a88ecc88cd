package engine

import (
	"math"
	"testing"

	"bitnet/engine/compute"
)

func TestGreedyPicksFirstMaximum(t *testing.T) {
	s := NewSampler(SamplerParams{})
	if got := s.Sample([]float32{1, 5, 5, -2}, nil); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
}

func TestRepeatPenalty(t *testing.T) {
	s := NewSampler(SamplerParams{RepeatPenalty: 2})
	// Token 0 (logit 4, seen) becomes 2; token 1 (3) wins. Negative logits are multiplied.
	lg := []float32{4, 3, -1}
	if got := s.Sample(lg, []int32{0, 2}); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
	if lg[0] != 2 || lg[2] != -2 {
		t.Fatalf("penalized logits %v", lg)
	}
}

// frequencies samples n times and returns the observed distribution.
func frequencies(p SamplerParams, logits []float32, n int) []float64 {
	s := NewSampler(p)
	f := make([]float64, len(logits))
	buf := make([]float32, len(logits))
	for range n {
		copy(buf, logits)
		f[s.Sample(buf, nil)]++
	}
	for i := range f {
		f[i] /= float64(n)
	}
	return f
}

func TestTemperatureMatchesSoftmax(t *testing.T) {
	logits := []float32{2, 1, 0, -1}
	f := frequencies(SamplerParams{Temperature: 1, Seed: 7}, logits, 40000)
	var z float64
	for _, l := range logits {
		z += math.Exp(float64(l))
	}
	for i, l := range logits {
		want := math.Exp(float64(l)) / z
		if math.Abs(f[i]-want) > 0.01 {
			t.Errorf("token %d: frequency %.4f, softmax %.4f", i, f[i], want)
		}
	}
}

func TestTruncations(t *testing.T) {
	logits := []float32{3, 2.9, 1, 0, -5}
	// top-k 2: only tokens 0 and 1.
	f := frequencies(SamplerParams{Temperature: 1, TopK: 2, Seed: 1}, logits, 5000)
	if f[2]+f[3]+f[4] != 0 || f[0] == 0 || f[1] == 0 {
		t.Errorf("top-k 2: %v", f)
	}
	// top-p 0.5: token 0 alone has p ~0.47 < 0.5, so tokens 0 and 1 stay.
	f = frequencies(SamplerParams{Temperature: 1, TopP: 0.5, Seed: 2}, logits, 5000)
	if f[2]+f[3]+f[4] != 0 || f[1] == 0 {
		t.Errorf("top-p 0.5: %v", f)
	}
	// min-p 0.2: exp(1-3) = 0.135 < 0.2 drops token 2 and below.
	f = frequencies(SamplerParams{Temperature: 1, MinP: 0.2, Seed: 3}, logits, 5000)
	if f[2]+f[3]+f[4] != 0 || f[1] == 0 {
		t.Errorf("min-p 0.2: %v", f)
	}
}

func TestSeedRepeatable(t *testing.T) {
	logits := []float32{1, 1, 1, 1, 1, 1, 1, 1}
	run := func(seed uint64) []int32 {
		s := NewSampler(SamplerParams{Temperature: 1, Seed: seed})
		var out []int32
		for range 32 {
			out = append(out, s.Sample(append([]float32(nil), logits...), nil))
		}
		return out
	}
	a, b, c := run(5), run(5), run(6)
	same := func(x, y []int32) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("same seed gave different tokens")
	}
	if same(a, c) {
		t.Fatal("different seeds gave the same 32 tokens")
	}
}

// TestCheckKeepsDistribution: deciding a drafted token with Check gives
// tokens with Pick's distribution whatever the draft (a likely token, an
// unlikely one, one that min-p or top-k leave out, one outside the
// candidates), accepts the draft with its probability, and accepts
// greedily only the best candidate.
func TestCheckKeepsDistribution(t *testing.T) {
	logits := []float32{2, 1.5, 1, 0, -3}
	var c []compute.Candidate
	c = compute.TopK(c, logits, len(logits))
	for _, p := range []SamplerParams{{Temperature: 1, Seed: 1}, {Temperature: 0.7, TopK: 3, Seed: 2}, {Temperature: 1.3, MinP: 0.1, TopP: 0.9, Seed: 3}} {
		const n = 200000
		want := make([]float64, len(logits))
		ref := NewSampler(p)
		for range n {
			want[ref.Pick(c)] += 1.0 / n
		}
		for _, d := range []int32{0, 1, 3, 4, 17} {
			s := NewSampler(SamplerParams{Temperature: p.Temperature, TopK: p.TopK, MinP: p.MinP, TopP: p.TopP, Seed: p.Seed + 100})
			got := make([]float64, len(logits))
			accepted := 0.0
			for range n {
				id, ok := s.Check(c, d)
				if ok && id != d {
					t.Fatalf("%+v, draft %d: accepted as %d", p, d, id)
				}
				if !ok && id == d {
					t.Fatalf("%+v, draft %d: rejected, then drawn again", p, d)
				}
				got[id] += 1.0 / n
				if ok {
					accepted += 1.0 / n
				}
			}
			pd := 0.0
			if int(d) < len(want) {
				pd = want[d]
			}
			if math.Abs(accepted-pd) > 0.006 {
				t.Errorf("%+v, draft %d: accepted %.4f of the time, want its probability %.4f", p, d, accepted, pd)
			}
			for i := range want {
				if math.Abs(got[i]-want[i]) > 0.006 {
					t.Errorf("%+v, draft %d: token %d drawn %.4f of the time, Pick %.4f", p, d, i, got[i], want[i])
				}
			}
		}
	}
	g := NewSampler(SamplerParams{})
	if id, ok := g.Check(c, 0); id != 0 || !ok {
		t.Errorf("greedy, the best drafted: %d, %v", id, ok)
	}
	if id, ok := g.Check(c, 1); id != 0 || ok {
		t.Errorf("greedy, the second drafted: %d, %v", id, ok)
	}
}
