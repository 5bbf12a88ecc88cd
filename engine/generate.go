package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"bitnet/engine/compute"
)

// GenerateOptions configures Generate.
type GenerateOptions struct {
	// MaxNewTokens bounds the new tokens: < 0 generates until an
	// end-of-generation token or a full context; 0 evaluates the prompt only.
	MaxNewTokens int
	Sampler      *Sampler // nil: greedy
	// History are the tokens before the prompt that are already in the cache;
	// with the prompt they form the repetition penalty's window.
	History []int32
	// IsEOG reports end-of-generation tokens (not emitted).
	IsEOG func(id int32) bool
	// OnToken receives each new token; returning true stops generation.
	OnToken func(id int32) (stop bool)
	// Context, when it ends, stops Generate at the next step: between the
	// prompt's batches or before the next token. Generate then returns
	// context.Cause(Context). nil: never.
	Context context.Context

	// LogitBias is added to the logits of its token ids after the
	// repetition penalty, before the sampler draws (and before the
	// temperature). Every id must be in the vocabulary.
	LogitBias map[int32]float32
	// OnLogprobs, if set, receives each new token's log probability (and
	// its TopLogprobs best alternatives) before OnToken sees the token; an
	// end-of-generation token is not reported.
	OnLogprobs func(TokenLogprobs)
	// TopLogprobs is how many of the most likely tokens OnLogprobs gets
	// with each token (0: none).
	TopLogprobs int

	// RunAhead is how many greedy decode steps may run on the device one
	// after another, each feeding its token to the next, with one
	// submission and one read for all of them instead of a round trip to
	// the host per token (backends with compute.Advancer; greedy sampling
	// without a repetition penalty, logit biases or log probabilities).
	// The tokens are those of steps taken one at a time; steps run past a
	// stop are dropped. 0 chooses: up to 16 steps, about 25 ms of them;
	// 1 (or less) takes one step at a time; n > 1 up to n (at most 64).
	RunAhead int

	// Lookup, when above 0, has decoding (greedy, or sampling from at
	// most compute.MaxTopK candidates; without a repetition penalty,
	// logit biases or log probabilities) draft up to this many tokens
	// from the text so far and check them in one step (lookup decoding,
	// see lookup.go; at most MaxLookup and the batch size less one).
	// Run-ahead is then off.
	Lookup int
}

// TokenLogprob is a token and its log probability: the log-softmax, over
// the whole vocabulary, of the logits the sampler drew from (after the
// repetition penalty and LogitBias, before the temperature), computed in
// float64 with the maximum subtracted.
type TokenLogprob struct {
	ID      int32
	Logprob float64
}

// TokenLogprobs is a generated token's log probability and the most likely
// tokens of its step, most likely first (Candidate order: larger logit,
// then smaller id).
type TokenLogprobs struct {
	TokenLogprob
	Top []TokenLogprob
}

// StopReason says why Generate returned.
type StopReason int

const (
	StopLimit    StopReason = iota // MaxNewTokens reached
	StopEOG                        // an end-of-generation token was sampled
	StopCallback                   // OnToken asked to stop
	StopContext                    // the context is full
)

// Stats are the timings of a generation.
type Stats struct {
	PromptTokens int
	PromptTime   time.Duration
	GenTokens    int
	GenTime      time.Duration
	Reason       StopReason
	// Lookup decoding's steps, the tokens they drafted and how many of
	// those were accepted.
	LookupSteps, Drafted, Accepted int
}

// PromptTPS is prompt tokens per second.
func (s Stats) PromptTPS() float64 { return perSecond(s.PromptTokens, s.PromptTime) }

// GenTPS is generated tokens per second.
func (s Stats) GenTPS() float64 { return perSecond(s.GenTokens, s.GenTime) }

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Generate evaluates prompt as a batch at the current position, then samples
// tokens one at a time until MaxNewTokens, an end-of-generation token, a stop
// from OnToken, or a full context. It returns the generated tokens (without
// the EOG token); every one of them but the last is in the cache when it
// returns (Pos says how many tokens the cache holds).
func (s *State) Generate(prompt []int32, opt GenerateOptions) (out []int32, st Stats, err error) {
	if len(prompt) == 0 {
		return nil, st, fmt.Errorf("empty prompt: at least one token (e.g. BOS) is needed")
	}
	if s.Pos+len(prompt) > s.NCtx {
		return nil, st, fmt.Errorf("%w: the prompt has %d tokens, the context holds %d more (raise --ctx-size)", ErrContextFull, len(prompt), s.NCtx-s.Pos)
	}
	smp := opt.Sampler
	if smp == nil {
		smp = NewSampler(SamplerParams{})
	}
	if b := s.batcher; b != nil {
		b.enter()
		defer b.leave()
	}
	sel := smp.Selection()
	var lp *logprober
	if len(opt.LogitBias) > 0 || opt.OnLogprobs != nil {
		if lp, err = newLogprober(opt, s.m.Config.NVocab); err != nil {
			return nil, st, err
		}
		// Biases and log probabilities need every token's logit.
		if len(lp.biased) > 0 || opt.OnLogprobs != nil {
			sel.K = 0
		}
	}
	history := append(append([]int32(nil), opt.History...), prompt...)
	t0 := time.Now()
	cands, err := s.next(opt.Context, prompt, sel, history)
	if err != nil {
		return nil, st, err
	}
	st.PromptTokens, st.PromptTime = len(prompt), time.Since(t0)
	t1 := time.Now()
	defer func() { st.GenTokens, st.GenTime = len(out), time.Since(t1) }()
	ahead := s.runAhead(opt, smp, lp)
	look := s.lookupLen(opt, smp, lp)
	if look > 0 {
		ahead = 0
	}
	// pending are tokens picked by a burst of chained steps (burst) or a
	// lookup step (checkDraft) that are not handled yet; all but the last are
	// in the cache already, so a stop before them takes them out of it.
	var pending []int32
	defer func() { s.Pos -= len(pending) }()
	var perStep time.Duration
	for opt.MaxNewTokens < 0 || len(out) < opt.MaxNewTokens {
		var id int32
		if len(pending) > 0 {
			id, pending = pending[0], pending[1:]
		} else {
			if lp != nil {
				cands = lp.apply(cands)
			}
			id = smp.Pick(cands)
		}
		if opt.IsEOG != nil && opt.IsEOG(id) {
			st.Reason = StopEOG
			return out, st, nil
		}
		if opt.OnLogprobs != nil {
			opt.OnLogprobs(lp.logprobs(cands, id))
		}
		out = append(out, id)
		history = append(history, id)
		if opt.OnToken != nil && opt.OnToken(id) {
			st.Reason = StopCallback
			return out, st, nil
		}
		if opt.MaxNewTokens >= 0 && len(out) >= opt.MaxNewTokens {
			break
		}
		if len(pending) > 0 {
			continue // evaluated already
		}
		if s.Pos >= s.NCtx {
			st.Reason = StopContext
			return out, st, nil
		}
		want := -1
		if opt.MaxNewTokens >= 0 {
			want = opt.MaxNewTokens - len(out)
		}
		if look > 0 && s.alone() {
			// A draft as long as the context and the tokens still wanted
			// allow: its picks add up to one more token than it accepts.
			d := min(look, s.NCtx-s.Pos-1)
			if want >= 0 {
				d = min(d, want-1)
			}
			s.draftBuf = lookupDraft(s.draftBuf, history, d)
			if len(s.draftBuf) > 0 {
				if opt.Context != nil && opt.Context.Err() != nil {
					return out, st, context.Cause(opt.Context)
				}
				if pending, err = s.checkDraft(id, s.draftBuf, smp); err != nil {
					return out, st, err
				}
				st.LookupSteps++
				st.Drafted += len(s.draftBuf)
				st.Accepted += len(pending) - 1
				continue
			}
		}
		t := time.Now()
		if n := s.burstLen(ahead, want, opt.RunAhead == 0, perStep); ahead > 0 && n > 1 && s.alone() {
			if opt.Context != nil && opt.Context.Err() != nil {
				return out, st, context.Cause(opt.Context)
			}
			pending, err = s.burst(id, n)
			if err == nil {
				perStep = time.Since(t) / time.Duration(n)
				continue
			}
			if !errors.Is(err, errNoBurst) {
				return out, st, err
			}
			ahead = 0
		}
		if cands, err = s.next(opt.Context, []int32{id}, sel, history); err != nil {
			return out, st, err
		}
		perStep = time.Since(t)
	}
	st.Reason = StopLimit
	return out, st, nil
}

// logprober applies logit biases to a step's candidates and computes log
// probabilities over them.
type logprober struct {
	biased []int32   // the ids with a non-zero bias
	bias   []float32 // per token id
	top    int
	moved  []compute.Candidate // apply's scratch: the biased candidates
}

func newLogprober(opt GenerateOptions, nv int) (*logprober, error) {
	lp := &logprober{top: min(max(opt.TopLogprobs, 0), nv)}
	for id, b := range opt.LogitBias {
		if id < 0 || int(id) >= nv {
			return nil, fmt.Errorf("logit bias: token id %d is outside the vocabulary [0, %d)", id, nv)
		}
		if math.IsNaN(float64(b)) || math.IsInf(float64(b), 0) {
			return nil, fmt.Errorf("logit bias: token id %d: the bias %g is not finite", id, b)
		}
		if b == 0 {
			continue
		}
		if lp.bias == nil {
			lp.bias = make([]float32, nv)
		}
		lp.bias[id] = b
		lp.biased = append(lp.biased, id)
	}
	return lp, nil
}

// apply adds the biases to c, every token's candidate sorted best first,
// and puts the biased candidates back in order: the others stay sorted, so
// the few biased ones are sorted and merged in (linear in the vocabulary).
// NaN logits sort last.
func (lp *logprober) apply(c []compute.Candidate) []compute.Candidate {
	if len(lp.biased) == 0 {
		return c
	}
	before := func(a, b compute.Candidate) bool {
		an, bn := a.Logit != a.Logit, b.Logit != b.Logit
		if an || bn {
			return !an || bn && a.ID < b.ID
		}
		return a.Less(b)
	}
	moved := lp.moved[:0]
	rest := c[:0]
	for _, x := range c {
		if b := lp.bias[x.ID]; b != 0 {
			x.Logit += b
			moved = append(moved, x)
			continue
		}
		rest = append(rest, x)
	}
	slices.SortFunc(moved, func(a, b compute.Candidate) int {
		if before(a, b) {
			return -1
		}
		return 1
	})
	// Merge from the back, where rest leaves room for moved.
	c = c[:len(rest)+len(moved)]
	i, j := len(rest)-1, len(moved)-1
	for k := len(c) - 1; j >= 0; k-- {
		if i >= 0 && before(moved[j], c[i]) {
			c[k] = c[i]
			i--
		} else {
			c[k] = moved[j]
			j--
		}
	}
	lp.moved = moved
	return c
}

// logprobs returns the log probability of id and of the best candidates of
// c, every token's candidate sorted best first.
func (lp *logprober) logprobs(c []compute.Candidate, id int32) TokenLogprobs {
	r := TokenLogprobs{TokenLogprob: TokenLogprob{ID: id, Logprob: math.NaN()}}
	if len(c) == 0 {
		return r
	}
	mx := float64(c[0].Logit)
	var sum float64
	for _, x := range c {
		if x.Logit == x.Logit {
			sum += math.Exp(float64(x.Logit) - mx)
		}
	}
	lse := math.Log(sum)
	of := func(x compute.Candidate) TokenLogprob {
		return TokenLogprob{ID: x.ID, Logprob: float64(x.Logit) - mx - lse}
	}
	for _, x := range c {
		if x.ID == id {
			r.TokenLogprob = of(x)
			break
		}
	}
	if lp.top > 0 {
		r.Top = make([]TokenLogprob, 0, min(lp.top, len(c)))
		for _, x := range c[:min(lp.top, len(c))] {
			r.Top = append(r.Top, of(x))
		}
	}
	return r
}
