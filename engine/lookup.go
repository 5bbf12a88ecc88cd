package engine

import (
	"fmt"
	"slices"

	"bitnet/gguf"
)

// Lookup decoding (prompt lookup): greedy decoding drafts the tokens that
// followed the last occurrence of the text's latest n-gram earlier in the
// text, and checks them all in one step of 1+d rows, which reads the
// weights once as a single token's step does. The step's greedy picks
// from every row accept the draft's longest prefix that greedy decoding
// would have generated, plus the pick after it; the rest leaves the cache.
// The tokens are those of greedy decoding (up to the rounding differences
// between a batch step and single-token steps); text that repeats its
// context (quotes, code, lists, summaries) gains the most.

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
// opt (0: no lookup): opt.Lookup, at most lookupRows less one, for greedy decoding without a repetition penalty, logit
// biases or log probabilities (lp != nil).
func (s *State) lookupLen(opt GenerateOptions, smp *Sampler, lp *logprober) int {
	if opt.Lookup <= 0 || lp != nil || smp.Selection() != greedySel {
		return 0
	}
	return min(opt.Lookup, s.lookupRows()-1)
}

// lookupRows is the most tokens a lookup step evaluates: MaxLookup+1,
// at most the batch size.
func (s *State) lookupRows() int { return min(MaxLookup+1, s.maxBatch) }

// CheckDraft evaluates id and the draft of tokens after it at Pos in one
// step (a batch of 1+len(draft) tokens: at most MaxLookup+1 and the
// state's batch size; a backend that replays captured steps captures one
// per length)
// and returns the tokens greedy decoding picks from there: the draft's
// longest prefix that matches the step's picks, then the pick that follows
// it (in a buffer the next call overwrites). id and the accepted draft
// tokens are then in the cache (Pos has advanced by the number of tokens
// returned); the rest of the draft is not.
func (s *State) CheckDraft(id int32, draft []int32) ([]int32, error) {
	T, rows := 1+len(draft), s.lookupRows()
	if T > rows {
		return nil, fmt.Errorf("a lookup step of %d tokens exceeds %d (MaxLookup+1 and the batch size)", T, rows)
	}
	be := s.m.Backend
	if s.best == nil {
		lg, err := be.Alloc(gguf.F32, s.m.Config.NVocab, rows)
		if err != nil {
			return nil, fmt.Errorf("lookup logits of %d tokens: %w", rows, err)
		}
		best, err := be.Alloc(gguf.I32, 2, rows)
		if err != nil {
			be.Free(lg)
			return nil, err
		}
		s.bestLogits, s.best = lg, best
	}
	s.lookBuf = append(append(s.lookBuf[:0], id), draft...)
	if err := s.checkIDs(s.lookBuf); err != nil {
		return nil, err
	}
	if err := s.eval(s.lookBuf, headBest, greedySel, nil); err != nil {
		return nil, err
	}
	s.candRaw = slices.Grow(s.candRaw[:0], 2*T)[:2*T]
	if err := be.ReadInts(be.Rows(s.best, 0, T), s.candRaw); err != nil {
		return nil, err
	}
	picks := s.lookBuf[:0]
	for i := range T {
		picks = append(picks, s.candRaw[2*i])
		if i == len(draft) || picks[i] != draft[i] {
			break
		}
	}
	// The rows past the accepted draft leave the cache.
	s.Pos -= T - len(picks)
	return picks, nil
}
