package engine

import (
	"context"
	"fmt"
	"time"
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
	sel := smp.Selection()
	history := append(append([]int32(nil), opt.History...), prompt...)
	t0 := time.Now()
	cands, err := s.next(opt.Context, prompt, sel, history)
	if err != nil {
		return nil, st, err
	}
	st.PromptTokens, st.PromptTime = len(prompt), time.Since(t0)
	t1 := time.Now()
	defer func() { st.GenTokens, st.GenTime = len(out), time.Since(t1) }()
	for opt.MaxNewTokens < 0 || len(out) < opt.MaxNewTokens {
		id := smp.Pick(cands)
		if opt.IsEOG != nil && opt.IsEOG(id) {
			st.Reason = StopEOG
			return out, st, nil
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
		if s.Pos >= s.NCtx {
			st.Reason = StopContext
			return out, st, nil
		}
		if cands, err = s.next(opt.Context, []int32{id}, sel, history); err != nil {
			return out, st, err
		}
	}
	st.Reason = StopLimit
	return out, st, nil
}
