package engine

import (
	"fmt"
	"time"
)

// GenerateOptions configures Generate.
type GenerateOptions struct {
	MaxNewTokens int // stop after this many new tokens; <= 0: until EOG or the context is full
	Sampler      *Sampler
	// IsEOG reports end-of-generation tokens (not emitted).
	IsEOG func(id int32) bool
	// OnToken receives each new token; returning true stops generation.
	OnToken func(id int32) (stop bool)
}

// Stats are the timings of a generation.
type Stats struct {
	PromptTokens int
	PromptTime   time.Duration
	GenTokens    int
	GenTime      time.Duration
}

// PromptTPS is prompt tokens per second.
func (s Stats) PromptTPS() float64 { return perSecond(s.PromptTokens, s.PromptTime) }

// GenTPS is generated tokens per second (the first token's sampling follows
// the prompt pass, so n tokens take n-1 forward passes after it).
func (s Stats) GenTPS() float64 { return perSecond(s.GenTokens, s.GenTime) }

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Generate evaluates prompt as a batch, then samples tokens one at a time
// until MaxNewTokens, an end-of-generation token, a stop from OnToken, or a
// full context. It returns the generated tokens (without the EOG token).
func (s *State) Generate(prompt []int32, opt GenerateOptions) ([]int32, Stats, error) {
	var st Stats
	if len(prompt) == 0 {
		return nil, st, fmt.Errorf("empty prompt: at least one token (e.g. BOS) is needed")
	}
	if s.Pos+len(prompt) > s.NCtx {
		return nil, st, fmt.Errorf("%w: the prompt has %d tokens, the context holds %d (raise --ctx-size)", ErrContextFull, len(prompt), s.NCtx-s.Pos)
	}
	smp := opt.Sampler
	if smp == nil {
		smp = NewSampler(SamplerParams{})
	}
	t0 := time.Now()
	logits, err := s.Forward(prompt, false)
	if err != nil {
		return nil, st, err
	}
	st.PromptTokens, st.PromptTime = len(prompt), time.Since(t0)
	history := append([]int32(nil), prompt...)
	var out []int32
	t1 := time.Now()
	for opt.MaxNewTokens <= 0 || len(out) < opt.MaxNewTokens {
		id := smp.Sample(logits, history)
		if opt.IsEOG != nil && opt.IsEOG(id) {
			break
		}
		out = append(out, id)
		history = append(history, id)
		if opt.OnToken != nil && opt.OnToken(id) {
			break
		}
		if opt.MaxNewTokens > 0 && len(out) >= opt.MaxNewTokens || s.Pos >= s.NCtx {
			break
		}
		if logits, err = s.Forward([]int32{id}, false); err != nil {
			return out, st, err
		}
	}
	st.GenTokens, st.GenTime = len(out), time.Since(t1)
	return out, st, nil
}
