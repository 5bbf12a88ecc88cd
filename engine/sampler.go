package engine

import (
	"math"
	"math/rand/v2"

	"bitnet/engine/compute"
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
//
// Sampling runs in two stages with the same rules on every backend:
// selection (the repetition penalty, then the TopK best logits, larger
// first and smaller id on ties), which a backend may run on the device
// (State.Next), and Pick on the host over the selected candidates
// (temperature, softmax with the maximum subtracted, min-p, top-p, one
// draw). A greedy sampler selects one candidate.
type Sampler struct {
	p     SamplerParams
	rng   *rand.Rand
	cands []compute.Candidate
	probs []float64
}

// NewSampler returns a sampler for p.
func NewSampler(p SamplerParams) *Sampler {
	if p.RepeatLastN == 0 {
		p.RepeatLastN = 64
	}
	return &Sampler{p: p, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))}
}

// Selection is what the sampler needs of a step's logits: the top-k
// candidates (0: all of them) after the repetition penalty.
func (s *Sampler) Selection() Selection {
	sel := Selection{K: s.p.TopK, Penalty: 1}
	if s.p.Temperature <= 0 {
		sel.K = 1
	}
	if s.p.RepeatPenalty > 0 && s.p.RepeatPenalty != 1 && s.p.RepeatLastN > 0 {
		sel.Penalty, sel.Window = s.p.RepeatPenalty, s.p.RepeatLastN
	}
	return sel
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
// repetition penalty) given the recent history: the selection stage on the
// host, then Pick.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	sel := s.Selection()
	if sel.penalized() {
		compute.Penalize(logits, PenaltyWindow(nil, history, sel.Window), sel.Penalty)
	}
	k := sel.K
	if k <= 0 || k > len(logits) {
		k = len(logits)
	}
	s.cands = compute.TopK(s.cands, logits, k)
	return s.Pick(s.cands)
}

// Pick draws a token from candidates sorted best first (as Selection
// delivers them).
func (s *Sampler) Pick(c []compute.Candidate) int32 {
	if len(c) == 0 {
		return 0
	}
	if s.p.Temperature <= 0 {
		return c[0].ID
	}
	c, n, total := s.weigh(c)
	return s.draw(c[:n], s.probs[:n], total, -1)
}

// Check decides a drafted token d against candidates c of the step that
// would generate it (lookup decoding): greedy, d is accepted when it is
// the best candidate; sampling, with the probability Pick gives d (0 for
// a token outside the candidates that Pick draws from). A rejected draft
// is replaced by a draw from the others, in proportion to the
// probabilities Pick gives them. So whether d is accepted or not, the
// returned token has the distribution of Pick(c) (speculative sampling
// with a draft of probability 1). Sampling draws one or two numbers.
func (s *Sampler) Check(c []compute.Candidate, d int32) (id int32, accepted bool) {
	if len(c) == 0 {
		return 0, d == 0
	}
	if s.p.Temperature <= 0 {
		return c[0].ID, c[0].ID == d
	}
	c, n, total := s.weigh(c)
	pr := s.probs[:n]
	j := -1
	for i := range n {
		if c[i].ID == d {
			j = i
			break
		}
	}
	if j >= 0 && s.rng.Float64()*total < pr[j] {
		return d, true
	}
	if j >= 0 {
		if n == 1 {
			return d, true // rounding: the only token had probability 1
		}
		total -= pr[j]
	}
	return s.draw(c[:n], pr, total, j), false
}

// weigh returns the candidates Pick draws from (at most TopK), how many
// of them are kept after min-p and top-p, and their probabilities' sum;
// s.probs holds the probabilities: the softmax of logit/temperature with
// the maximum subtracted, each rounded to float32.
func (s *Sampler) weigh(c []compute.Candidate) (_ []compute.Candidate, n int, total float64) {
	p := s.p
	if p.TopK > 0 && p.TopK < len(c) {
		c = c[:p.TopK]
	}
	pr := s.probs[:0]
	mx := c[0].Logit / p.Temperature
	var sum float64
	for i := range c {
		e := math.Exp(float64(c[i].Logit/p.Temperature - mx))
		pr = append(pr, float64(float32(e)))
		sum += e
	}
	s.probs = pr
	for i := range pr {
		pr[i] = float64(float32(pr[i] / sum))
	}
	n = len(pr)
	if p.MinP > 0 {
		lim := p.MinP * float32(pr[0])
		n = 1
		for n < len(pr) && float32(pr[n]) >= lim {
			n++
		}
	}
	if p.TopP > 0 && p.TopP < 1 {
		var cum float32
		m := 0
		for m < n {
			cum += float32(pr[m])
			m++
			if cum >= p.TopP {
				break
			}
		}
		n = m
	}
	for _, x := range pr[:n] {
		total += x
	}
	return c, n, total
}

// draw picks one of c in proportion to pr (which sum to total), skipping
// index skip.
func (s *Sampler) draw(c []compute.Candidate, pr []float64, total float64, skip int) int32 {
	r := s.rng.Float64() * total
	last := -1
	for i := range c {
		if i == skip {
			continue
		}
		last = i
		r -= pr[i]
		if r < 0 {
			return c[i].ID
		}
	}
	return c[last].ID
}
