package engine

import (
	"fmt"
	"math"
)

// TextScore accumulates, over the positions of a text, how well a model
// predicts each next token (perplexity) and, against a reference run of the
// same text, how close its next-token distributions are: the measure of
// what an approximation such as a quantized LM head costs.
type TextScore struct {
	Positions int     // positions scored
	NLL       float64 // sum of -ln p(next token), nats

	// Against the reference (when one was given).
	Compared  int     // positions compared
	Top1      int     // positions where both pick the same most likely token
	SumKL     float64 // sum of KL(P_ref || P), nats
	MaxKL     float64 // largest KL at one position
	MaxAbsDev float64 // largest |logit - reference logit|
}

// Perplexity is exp(mean NLL).
func (s *TextScore) Perplexity() float64 {
	if s.Positions == 0 {
		return math.NaN()
	}
	return math.Exp(s.NLL / float64(s.Positions))
}

// MeanKL is the mean KL divergence from the reference, in nats.
func (s *TextScore) MeanKL() float64 {
	if s.Compared == 0 {
		return math.NaN()
	}
	return s.SumKL / float64(s.Compared)
}

// Top1Agreement is the fraction of positions whose most likely token is the
// reference's.
func (s *TextScore) Top1Agreement() float64 {
	if s.Compared == 0 {
		return math.NaN()
	}
	return float64(s.Top1) / float64(s.Compared)
}

// logSoftmax returns ln softmax(x) in float64, the maximum subtracted.
func logSoftmax(x []float32) []float64 {
	m := float64(x[Argmax(x)])
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(sum)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - lse
	}
	return out
}

// addNLL scores the log-probabilities lp of one position against next, the
// token that follows (-1: none, not scored).
func (s *TextScore) addNLL(lp []float64, next int32) {
	if next >= 0 {
		s.Positions++
		s.NLL -= lp[next]
	}
}

// add scores one position: logits of the model against next (see addNLL)
// and, when refLogits is set, the reference's into refScore and the
// model's distance from it into s.
func (s *TextScore) add(logits []float32, next int32, refLogits []float32, refScore *TextScore) {
	lp := logSoftmax(logits)
	s.addNLL(lp, next)
	if refLogits == nil {
		return
	}
	lq := logSoftmax(refLogits)
	refScore.addNLL(lq, next)
	var kl float64
	for i, l := range lq {
		kl += math.Exp(l) * (l - lp[i])
		s.MaxAbsDev = max(s.MaxAbsDev, math.Abs(float64(logits[i])-float64(refLogits[i])))
	}
	kl = max(kl, 0) // rounding can make it slightly negative
	s.Compared++
	s.SumKL += kl
	s.MaxKL = max(s.MaxKL, kl)
	if Argmax(logits) == Argmax(refLogits) {
		s.Top1++
	}
}

// ScoreText evaluates ids in windows of at most window tokens (each window
// from an empty cache, prefixed by prefix, e.g. BOS) and scores every
// position whose next token is in the window. With ref set, the reference
// state evaluates the same windows and each position's distribution is
// compared with its. The states are reset before each window.
func ScoreText(s, ref *State, ids, prefix []int32, window int) (score TextScore, refScore TextScore, err error) {
	if window <= len(prefix)+1 {
		return score, refScore, fmt.Errorf("a window of %d tokens leaves no room to score after a prefix of %d", window, len(prefix))
	}
	nv := s.m.Config.NVocab
	if ref != nil && ref.m.Config.NVocab != nv {
		return score, refScore, fmt.Errorf("the reference has %d logits per token, the model %d", ref.m.Config.NVocab, nv)
	}
	step := window - len(prefix)
	for start := 0; start+1 < len(ids); start += step {
		chunk := append(append([]int32{}, prefix...), ids[start:min(start+step, len(ids))]...)
		s.Reset()
		lg, err := s.Forward(chunk, true)
		if err != nil {
			return score, refScore, err
		}
		var rl []float32
		if ref != nil {
			ref.Reset()
			if rl, err = ref.Forward(chunk, true); err != nil {
				return score, refScore, fmt.Errorf("reference: %w", err)
			}
		}
		for i := len(prefix); i < len(chunk); i++ {
			next := int32(-1)
			if i+1 < len(chunk) {
				next = chunk[i+1]
			}
			var refRow []float32
			if ref != nil {
				refRow = rl[i*nv : (i+1)*nv]
			}
			score.add(lg[i*nv:(i+1)*nv], next, refRow, &refScore)
		}
	}
	return score, refScore, nil
}
