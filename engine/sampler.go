package engine

import (
	"math"
	"math/rand/v2"
	"slices"
)

// SamplerParams configures token selection. Temperature 0 is greedy.
type SamplerParams struct {
	Temperature   float32 // 0: greedy (argmax)
	TopK          int     // keep the k most likely tokens; 0: all
	TopP          float32 // nucleus: smallest set with probability >= p; 0 or 1: off
	MinP          float32 // drop tokens with p < MinP * p_max; 0: off
	RepeatPenalty float32 // divide positive (multiply negative) logits of recent tokens; 1: off
	RepeatLastN   int     // window of recent tokens for the penalty; 0: 64
	Seed          uint64
}

// Sampler picks tokens from logits. It is deterministic for a seed.
type Sampler struct {
	p    SamplerParams
	rng  *rand.Rand
	cand []cand
}

type cand struct {
	id int32
	p  float32
}

// NewSampler returns a sampler for p.
func NewSampler(p SamplerParams) *Sampler {
	if p.RepeatLastN == 0 {
		p.RepeatLastN = 64
	}
	return &Sampler{p: p, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))}
}

// Argmax returns the index of the largest value (the first on ties).
func Argmax(v []float32) int32 {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return int32(best)
}

// Sample chooses the next token from logits (modified in place by the
// repetition penalty) given the recent history.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
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
	c := s.cand[:0]
	for i, l := range logits {
		c = append(c, cand{int32(i), l / p.Temperature})
	}
	// Sort by logit, descending; ties by id for determinism.
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
	// Softmax with the maximum subtracted.
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
	s.cand = c
	for _, x := range c {
		r -= float64(x.p)
		if r < 0 {
			return x.id
		}
	}
	return c[len(c)-1].id
}
