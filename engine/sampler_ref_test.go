package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refSampler is the straightforward sampler the two-stage one must agree
// with: penalize, scale every logit by the temperature, sort the whole
// vocabulary, then truncate and draw.
type refSampler struct {
	p   SamplerParams
	rng *rand.Rand
}

func newRefSampler(p SamplerParams) *refSampler {
	if p.RepeatLastN == 0 {
		p.RepeatLastN = 64
	}
	return &refSampler{p: p, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))}
}

func (s *refSampler) sample(logits []float32, history []int32) int32 {
	p := s.p
	if p.RepeatPenalty > 0 && p.RepeatPenalty != 1 {
		seen := map[int32]bool{}
		for _, id := range history[max(0, len(history)-p.RepeatLastN):] {
			if seen[id] || int(id) >= len(logits) {
				continue
			}
			seen[id] = true
			if logits[id] > 0 {
				logits[id] /= p.RepeatPenalty
			} else {
				logits[id] *= p.RepeatPenalty
			}
		}
	}
	if p.Temperature <= 0 {
		return Argmax(logits)
	}
	type cand struct {
		id int32
		p  float32
	}
	var c []cand
	for i, l := range logits {
		c = append(c, cand{int32(i), l / p.Temperature})
	}
	slices.SortFunc(c, func(a, b cand) int {
		if a.p != b.p {
			if a.p > b.p {
				return -1
			}
			return 1
		}
		return int(a.id - b.id)
	})
	if p.TopK > 0 && p.TopK < len(c) {
		c = c[:p.TopK]
	}
	mx := c[0].p
	var sum float64
	for i := range c {
		e := math.Exp(float64(c[i].p - mx))
		c[i].p = float32(e)
		sum += e
	}
	for i := range c {
		c[i].p = float32(float64(c[i].p) / sum)
	}
	if p.MinP > 0 {
		lim := p.MinP * c[0].p
		n := 1
		for n < len(c) && c[n].p >= lim {
			n++
		}
		c = c[:n]
	}
	if p.TopP > 0 && p.TopP < 1 {
		var cum float32
		n := 0
		for n < len(c) {
			cum += c[n].p
			n++
			if cum >= p.TopP {
				break
			}
		}
		c = c[:n]
	}
	var total float64
	for _, x := range c {
		total += float64(x.p)
	}
	r := s.rng.Float64() * total
	for _, x := range c {
		r -= float64(x.p)
		if r < 0 {
			return x.id
		}
	}
	return c[len(c)-1].id
}

// TestSamplerMatchesFullSort: over many random logit vectors and settings,
// the selection-then-pick sampler draws exactly the tokens of the full-sort
// reference for the same seed.
func TestSamplerMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	settings := []SamplerParams{
		{Temperature: 0},
		{Temperature: 0, RepeatPenalty: 1.3},
		{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05},
		{Temperature: 1, TopK: 0},
		{Temperature: 1.3, TopK: 5, TopP: 0.5},
		{Temperature: 0.6, TopK: 100, MinP: 0.2, RepeatPenalty: 1.1, RepeatLastN: 16},
		{Temperature: 1, TopK: 300, TopP: 0.99, RepeatPenalty: 0.8},
	}
	for si, p := range settings {
		p.Seed = uint64(100 + si)
		a, b := NewSampler(p), newRefSampler(p)
		for it := range 200 {
			n := []int{7, 500, 5000}[it%3]
			logits := make([]float32, n)
			for i := range logits {
				logits[i] = float32(rng.NormFloat64() * 3)
			}
			history := make([]int32, rng.IntN(80))
			for i := range history {
				history[i] = int32(rng.IntN(n))
			}
			got := a.Sample(slices.Clone(logits), history)
			want := b.sample(slices.Clone(logits), history)
			if got != want {
				t.Fatalf("settings %+v, vector %d (n=%d): got token %d, the full sort %d", p, it, n, got, want)
			}
		}
	}
}

// BenchmarkSample is one token's sampling at the 2B-4T vocabulary with the
// default settings (top-k 40, top-p 0.95, min-p 0.05, temperature 0.8).
func BenchmarkSample(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 128256)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 3)
	}
	buf := make([]float32, len(logits))
	s := NewSampler(SamplerParams{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 1})
	for b.Loop() {
		copy(buf, logits)
		s.Sample(buf, nil)
	}
}
