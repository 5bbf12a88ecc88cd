package engine

import (
	"fmt"
	"slices"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// Lookup decoding (prompt lookup): decoding drafts the tokens that
// followed the last occurrence of the text's latest n-gram earlier in the
// text, and checks them all in one step of 1+d rows, which reads the
// weights once as a single token's step does. Each row's candidates
// decide its drafted token (Sampler.Check: greedy, whether it is the best
// one; sampling, a draw that keeps the sampler's distribution), up to the
// first one rejected, whose replacement comes with the accepted ones; the
// rest leaves the cache. Greedy, the tokens are those of greedy decoding
// (up to the rounding differences between a batch step and single-token
// steps); text that repeats its context (quotes, code, lists, summaries)
// gains the most.

const (
	// MaxLookup is the most draft tokens a lookup step checks
	// (GenerateOptions.Lookup).
	MaxLookup = 32
	// lookupNgramMax and lookupNgramMin are the longest and shortest
	// n-grams that lookupDraft matches, the longest tried first.
	lookupNgramMax = 4
	lookupNgramMin = 2
)

// lookupDraft appends to dst[:0] the up to n tokens that followed the
// latest earlier occurrence of hist's last g tokens, for the largest g in
// [lookupNgramMin, lookupNgramMax] that occurs, and returns it (empty when
// none does).
func lookupDraft(dst, hist []int32, n int) []int32 {
	dst = dst[:0]
	if n <= 0 {
		return dst
	}
	for g := lookupNgramMax; g >= lookupNgramMin; g-- {
		if len(hist) <= g {
			continue
		}
		tail := hist[len(hist)-g:]
		for i := len(hist) - g - 1; i >= 0; i-- {
			if hist[i] == tail[0] && slices.Equal(hist[i:i+g], tail) {
				return append(dst, hist[i+g:min(i+g+n, len(hist))]...)
			}
		}
	}
	return dst
}

// lookupLen returns how many draft tokens Generate checks per step under
// opt (0: no lookup): opt.Lookup, at most lookupRows less one, for greedy
// decoding or sampling from at most compute.MaxTopK candidates, without a
// repetition penalty, logit biases or log probabilities (lp != nil). A
// state joined to a Batcher looks up drafts only while it generates alone
// (State.alone).
func (s *State) lookupLen(opt GenerateOptions, smp *Sampler, lp *logprober) int {
	if opt.Lookup <= 0 || lp != nil || !s.looksUp(smp.Selection()) {
		return 0
	}
	return min(opt.Lookup, s.lookupRows()-1)
}

// looksUp reports whether a lookup step can select sel's candidates on
// every row: 1 to compute.MaxTopK of them (fewer than the vocabulary),
// without a repetition penalty (whose window would differ by row).
func (s *State) looksUp(sel Selection) bool {
	return !sel.penalized() && sel.K >= 1 && sel.K <= compute.MaxTopK && sel.K < s.m.Config.NVocab
}

// lookupRows is the most tokens a lookup step evaluates: MaxLookup+1,
// at most the batch size.
func (s *State) lookupRows() int { return min(MaxLookup+1, s.maxBatch) }

// CheckDraft evaluates id and the draft of tokens after it at Pos in one
// step (a batch of 1+len(draft) tokens: at most MaxLookup+1 and the
// state's batch size; a backend that replays captured steps captures one
// per length) and returns the tokens greedy decoding picks from there:
// the draft's longest prefix that matches the step's picks, then the pick
// that follows it (in a buffer the next call overwrites). id and the
// accepted draft tokens are then in the cache (Pos has advanced by the
// number of tokens returned); the rest of the draft is not.
func (s *State) CheckDraft(id int32, draft []int32) ([]int32, error) {
	if s.greedy == nil {
		s.greedy = NewSampler(SamplerParams{})
	}
	return s.checkDraft(id, draft, s.greedy)
}

// checkDraft is CheckDraft for the sampler smp (whose selection lookupLen
// allows): each row's candidates decide its drafted token (Sampler.Check)
// until one is rejected, and the token returned last is the rejected
// one's replacement, or the draw (Sampler.Pick) from the last row's
// candidates.
func (s *State) checkDraft(id int32, draft []int32, smp *Sampler) ([]int32, error) {
	T, rows := 1+len(draft), s.lookupRows()
	if T > rows {
		return nil, fmt.Errorf("a lookup step of %d tokens exceeds %d (MaxLookup+1 and the batch size)", T, rows)
	}
	sel := smp.Selection()
	K := sel.K
	if !s.looksUp(sel) {
		return nil, fmt.Errorf("lookup with a selection of %d candidates and a penalty of %g", K, sel.Penalty)
	}
	be := s.m.Backend
	if s.bestLogits == nil {
		lg, err := be.Alloc(gguf.F32, s.m.Config.NVocab, rows)
		if err != nil {
			return nil, fmt.Errorf("lookup logits of %d tokens: %w", rows, err)
		}
		s.bestLogits = lg
	}
	if s.best[K] == nil {
		t, err := be.Alloc(gguf.I32, 2*K, rows)
		if err != nil {
			return nil, err
		}
		s.best[K] = t
	}
	s.lookBuf = append(append(s.lookBuf[:0], id), draft...)
	if err := s.checkIDs(s.lookBuf); err != nil {
		return nil, err
	}
	defer s.exclusive()()
	if err := s.eval(s.lookBuf, headBest, sel, nil); err != nil {
		return nil, err
	}
	s.candRaw = slices.Grow(s.candRaw[:0], 2*K*T)[:2*K*T]
	if err := be.ReadInts(be.Rows(s.best[K], 0, T), s.candRaw); err != nil {
		return nil, err
	}
	picks := s.lookBuf[:0]
	for i := range T {
		c := appendCandidates(s.candBuf[:0], s.candRaw[2*K*i:2*K*(i+1)])
		s.candBuf = c
		if i == len(draft) {
			picks = append(picks, smp.Pick(c))
			break
		}
		tok, ok := smp.Check(c, draft[i])
		picks = append(picks, tok)
		if !ok {
			break
		}
	}
	// The rows past the accepted draft leave the cache.
	s.Pos -= T - len(picks)
	return picks, nil
}
