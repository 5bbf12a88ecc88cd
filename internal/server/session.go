// Package server serves a model over HTTP with OpenAI-compatible endpoints,
// and holds the generation core it shares with the interactive chat: a
// Session keeps one sequence's KV cache together with the tokens in it, so a
// prompt that extends what is cached (the next turn of a conversation)
// evaluates only its new tokens.
package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"bitnet/engine"
	"bitnet/engine/tokenizer"
)

// Finish reasons, as OpenAI names them.
const (
	FinishStop   = "stop"   // an end-of-generation token or a stop string
	FinishLength = "length" // the token limit or a full context
)

// Session is a KV cache and the token sequence it holds. It is not safe for
// concurrent use.
type Session struct {
	state  *engine.State
	tok    *tokenizer.Tokenizer
	cached []int32 // the tokens at positions [0, state.Pos)
}

// NewSession wraps a state, which it resets.
func NewSession(st *engine.State, tok *tokenizer.Tokenizer) *Session {
	st.Reset()
	return &Session{state: st, tok: tok}
}

// NCtx is the context size in tokens.
func (s *Session) NCtx() int { return s.state.NCtx }

// Cached is the number of tokens in the KV cache.
func (s *Session) Cached() int { return len(s.cached) }

// Reset empties the KV cache.
func (s *Session) Reset() {
	s.state.Reset()
	s.cached = s.cached[:0]
}

// CommonPrefix is how many leading tokens of ids are already in the cache.
func (s *Session) CommonPrefix(ids []int32) int {
	n := 0
	for n < len(ids) && n < len(s.cached) && ids[n] == s.cached[n] {
		n++
	}
	return n
}

// Request is one generation.
type Request struct {
	Prompt  []int32
	Params  Params          // MaxTokens 0 evaluates the prompt only
	Sampler *engine.Sampler // nil: built from Params with seed 0
	// Decode are the options of the streaming decoder (KeepLeadingSpace
	// when the output continues a prompt).
	Decode []tokenizer.DecodeOption
	// TrimLeft drops white space at the start of the output (a chat reply).
	TrimLeft bool
	// OnText receives the output as it is generated; an error stops the
	// generation and is returned.
	OnText func(text string) error
	// Context, when it ends, stops the generation before the next token's
	// forward pass; Generate then returns context.Cause(Context). nil: the
	// generation is not cancelled.
	Context context.Context
	// LogitBias is added to the logits of its token ids before sampling.
	LogitBias map[int32]float32
	// OnLogprobs, if set, receives each generated token's log probability
	// and its TopLogprobs most likely alternatives, before the token's text
	// goes to OnText.
	OnLogprobs  func(engine.TokenLogprobs)
	TopLogprobs int
}

// Result is the outcome of a generation.
type Result struct {
	Text         string
	Tokens       []int32
	FinishReason string // FinishStop or FinishLength; "" when stopped by an error or the context
	ContextFull  bool   // generation ended because the context is full
	PromptTokens int    // tokens in the prompt
	CachedTokens int    // prompt tokens found in the cache (not evaluated)
	Stats        engine.Stats
}

// ErrPromptTooLong is returned for a prompt that does not fit the context.
var ErrPromptTooLong = errors.New("prompt too long")

// Generate evaluates the part of req.Prompt that is not already cached, then
// samples tokens until the limit, an end-of-generation token, a stop string
// or a full context, or until req.Context ends. On an evaluation error the
// cache is emptied; after a cancellation it holds what was evaluated.
func (s *Session) Generate(req Request) (Result, error) {
	res := Result{PromptTokens: len(req.Prompt)}
	prompt := req.Prompt
	if len(prompt) == 0 {
		return res, errors.New("empty prompt: at least one token (e.g. BOS) is needed")
	}
	if len(prompt) >= s.state.NCtx {
		return res, fmt.Errorf("%w: the prompt has %d tokens but the context holds %d", ErrPromptTooLong, len(prompt), s.state.NCtx)
	}
	ctx := req.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Err() != nil {
		return res, context.Cause(ctx)
	}
	smp := req.Sampler
	if smp == nil {
		smp = req.Params.Sampler(0)
	}
	// Rewind to the common prefix; at least one token is evaluated to get
	// the logits of the next.
	n := min(s.CommonPrefix(prompt), len(prompt)-1)
	s.state.Pos = n
	s.cached = s.cached[:n]

	var text strings.Builder
	var cbErr error
	trim := req.TrimLeft
	filter := NewStopFilter(req.Params.Stop, func(t string) {
		if trim {
			t = strings.TrimLeftFunc(t, unicode.IsSpace)
			if t == "" {
				return
			}
			trim = false
		}
		text.WriteString(t)
		if req.OnText != nil && cbErr == nil {
			cbErr = req.OnText(t)
		}
	})
	stream := s.tok.NewStream(req.Decode...)
	out, st, err := s.state.Generate(prompt[n:], engine.GenerateOptions{
		MaxNewTokens: req.Params.MaxTokens,
		Sampler:      smp,
		History:      prompt[:n],
		IsEOG:        s.tok.IsEOG,
		OnToken: func(id int32) bool {
			return filter.Write(stream.Push(id)) || cbErr != nil || ctx.Err() != nil
		},
		Context:     ctx,
		LogitBias:   req.LogitBias,
		OnLogprobs:  req.OnLogprobs,
		TopLogprobs: req.TopLogprobs,
		RunAhead:    req.Params.RunAhead,
		Lookup:      req.Params.Lookup,
	})
	res.Tokens, res.Stats, res.CachedTokens = out, st, n
	res.Stats.PromptTokens = len(prompt) - n
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) && s.state.Pos <= len(prompt) {
		// Cancelled while reading the prompt: the batches read stay.
		s.cached = append(s.cached[:n], prompt[n:s.state.Pos]...)
		filter.Flush()
		res.Text = text.String()
		return res, err
	}
	if err != nil {
		s.Reset()
		filter.Flush()
		res.Text = text.String()
		return res, err
	}
	// The cache holds the prompt and every generated token but the last.
	s.cached = append(append(s.cached[:n], prompt[n:]...), out...)[:s.state.Pos]
	stopped := filter.Stopped()
	switch {
	case st.Reason == engine.StopEOG, stopped:
		res.FinishReason = FinishStop
	case st.Reason != engine.StopCallback:
		res.FinishReason = FinishLength
	case cbErr == nil:
		// The context ended: the output is cut short.
		cbErr = context.Cause(ctx)
	}
	res.ContextFull = st.Reason == engine.StopContext
	if !stopped {
		filter.Write(stream.Flush())
	}
	filter.Flush()
	res.Text = text.String()
	return res, cbErr
}
