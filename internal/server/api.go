package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"bitnet/engine/tokenizer"
)

// completionRequest is the body of /v1/completions and /v1/chat/completions
// (OpenAI's fields, plus top_k, min_p and repeat_penalty as llama.cpp
// accepts them). OpenAI's fields that the server does not implement are
// refused unless they ask for nothing (tools: [], n: 1); other unknown fields
// are ignored.
type completionRequest struct {
	Model               string          `json:"model"`
	Prompt              json.RawMessage `json:"prompt"`
	Messages            json.RawMessage `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	TopK                *int            `json:"top_k"`
	MinP                *float64        `json:"min_p"`
	RepeatPenalty       *float64        `json:"repeat_penalty"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	N *int `json:"n"`
	// logprobs is a boolean for chat, a count of alternatives (0 to 5) for
	// completions; top_logprobs (0 to 20) is chat's count.
	Logprobs    json.RawMessage `json:"logprobs"`
	TopLogprobs *int            `json:"top_logprobs"`
	LogitBias   json.RawMessage `json:"logit_bias"`

	// Not implemented.
	Tools            json.RawMessage `json:"tools"`
	ToolChoice       json.RawMessage `json:"tool_choice"`
	Functions        json.RawMessage `json:"functions"`
	FunctionCall     json.RawMessage `json:"function_call"`
	ResponseFormat   json.RawMessage `json:"response_format"`
	FrequencyPenalty json.RawMessage `json:"frequency_penalty"`
	PresencePenalty  json.RawMessage `json:"presence_penalty"`
	Echo             json.RawMessage `json:"echo"`
	BestOf           json.RawMessage `json:"best_of"`
	Suffix           json.RawMessage `json:"suffix"`
}

// sameJSON reports whether the compact JSON values a and b are equal: the
// same text, or numbers of the same value (0, 0.0 and -0).
func sameJSON(a, b string) bool {
	if a == b {
		return true
	}
	x, err := strconv.ParseFloat(a, 64)
	if err != nil {
		return false
	}
	y, err := strconv.ParseFloat(b, 64)
	return err == nil && x == y
}

// unsupported refuses the fields the server does not implement unless they
// are absent or ask for nothing.
func (req *completionRequest) unsupported() error {
	for _, f := range []struct {
		name  string
		raw   json.RawMessage
		inert []string // values that ask for nothing
		why   string
	}{
		{"tools", req.Tools, []string{"[]"}, "tool calls are not supported"},
		{"tool_choice", req.ToolChoice, []string{`"none"`}, "tool calls are not supported"},
		{"functions", req.Functions, []string{"[]"}, "function calls are not supported"},
		{"function_call", req.FunctionCall, []string{`"none"`}, "function calls are not supported"},
		{"response_format", req.ResponseFormat, []string{`{"type":"text"}`}, `only {"type": "text"} is supported`},
		{"frequency_penalty", req.FrequencyPenalty, []string{"0"}, "only 0 is supported (repeat_penalty penalizes repetition)"},
		{"presence_penalty", req.PresencePenalty, []string{"0"}, "only 0 is supported (repeat_penalty penalizes repetition)"},
		{"echo", req.Echo, []string{"false"}, "echoing the prompt is not supported"},
		{"best_of", req.BestOf, []string{"1"}, "only 1 is supported"},
		{"suffix", req.Suffix, []string{`""`}, "suffixes are not supported"},
	} {
		if isNull(f.raw) {
			continue
		}
		var b bytes.Buffer
		if err := json.Compact(&b, f.raw); err != nil {
			return badf("invalid JSON in %s: %v", f.name, err)
		}
		v := b.String()
		if slices.ContainsFunc(f.inert, func(w string) bool { return sameJSON(v, w) }) {
			continue
		}
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return badf("%s is not supported (got %s): %s", f.name, v, f.why)
	}
	return nil
}

// Limits of the log-probability options, as OpenAI sets them.
const (
	maxChatTopLogprobs = 20  // chat's top_logprobs
	maxTextLogprobs    = 5   // completions' logprobs
	maxLogitBias       = 100 // |logit_bias value|
)

// logprobOptions are a request's log-probability and logit-bias options.
type logprobOptions struct {
	on   bool // report log probabilities
	top  int  // alternatives per token
	bias map[int32]float32
}

// logprobOptions validates logprobs, top_logprobs and logit_bias for the
// chat or completions endpoint, with token ids in [0, nvocab).
func (req *completionRequest) logprobOptions(chat bool, nvocab int) (logprobOptions, error) {
	var o logprobOptions
	raw := bytes.TrimSpace(req.Logprobs)
	switch {
	case isNull(raw) || string(raw) == "false":
	case chat && string(raw) == "true":
		o.on = true
	case chat:
		return o, badf("logprobs must be true or false (got %s)", clip(raw))
	default:
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 0 || n > maxTextLogprobs {
			return o, badf("logprobs must be an integer from 0 to %d (got %s)", maxTextLogprobs, clip(raw))
		}
		o.on, o.top = true, n
	}
	if t := req.TopLogprobs; t != nil && *t != 0 {
		switch {
		case !chat:
			return o, badf("top_logprobs is a chat completions option (got %d): use logprobs: N, from 0 to %d", *t, maxTextLogprobs)
		case *t < 0 || *t > maxChatTopLogprobs:
			return o, badf("top_logprobs must be an integer from 0 to %d (got %d)", maxChatTopLogprobs, *t)
		case !o.on:
			return o, badf("top_logprobs (got %d) requires logprobs: true", *t)
		}
		o.top = *t
	}
	bias, err := parseLogitBias(req.LogitBias, nvocab)
	o.bias = bias
	return o, err
}

// parseLogitBias reads logit_bias: an object mapping token ids (decimal
// strings) in [0, nvocab) to numbers in [-100, 100].
func parseLogitBias(raw json.RawMessage, nvocab int) (map[int32]float32, error) {
	if isNull(raw) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, badf("logit_bias must be an object mapping token ids to numbers (got %s)", clip(raw))
	}
	keys := slices.Sorted(maps.Keys(m))
	bias := make(map[int32]float32, len(m))
	for _, k := range keys {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil {
			return nil, badf("logit_bias: key %q is not a token id (a decimal integer)", k)
		}
		if id < 0 || id >= int64(nvocab) {
			return nil, badf("logit_bias: token id %d is outside the vocabulary [0, %d)", id, nvocab)
		}
		var v float64
		if err := json.Unmarshal(m[k], &v); err != nil {
			return nil, badf("logit_bias[%q] must be a number from -%d to %d (got %s)", k, maxLogitBias, maxLogitBias, clip(m[k]))
		}
		if !(v >= -maxLogitBias && v <= maxLogitBias) {
			return nil, badf("logit_bias[%q] must be a number from -%d to %d (got %g)", k, maxLogitBias, maxLogitBias, v)
		}
		bias[int32(id)] = float32(v)
	}
	return bias, nil
}

// clip returns a JSON value for an error message, cut at 40 bytes.
func clip(raw []byte) string {
	var b bytes.Buffer
	v := string(bytes.TrimSpace(raw))
	if json.Compact(&b, raw) == nil {
		v = b.String()
	}
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return v
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// maxStops bounds the number of stop strings of a request.
const maxStops = 16

// badRequest is a client error reported as HTTP 400 (or status, if set).
type badRequest struct {
	status int
	msg    string
}

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error {
	return &badRequest{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// decodeJSON reads one JSON object from the body into v.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &mbe):
			return &badRequest{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
		case errors.As(err, &te) && te.Field != "" && strings.HasPrefix(te.Value, "number "):
			// A number the field's type cannot hold: 1e999 (which would be
			// an infinity), 1.5 or 1e30 for an integer.
			if k := te.Type.Kind(); k == reflect.Float32 || k == reflect.Float64 {
				return badf("invalid JSON: field %q: %s is out of range", te.Field, te.Value)
			}
			return badf("invalid JSON: field %q must be an integer in range, not %s", te.Field, te.Value)
		case errors.As(err, &te) && te.Field != "":
			return badf("invalid JSON: field %q must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &te):
			return badf("invalid JSON: the body must be a JSON object, not %s", te.Value)
		case errors.As(err, &se):
			return badf("invalid JSON: %v (at byte %d)", err, se.Offset)
		case errors.Is(err, io.EOF):
			return badf("invalid JSON: the request body is empty")
		default:
			return badf("invalid JSON: %v", err)
		}
	}
	if dec.More() {
		return badf("invalid JSON: data after the JSON object")
	}
	return nil
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "a number"
	case k == "string":
		return "a string"
	case k == "bool":
		return "a boolean"
	case k == "slice":
		return "an array"
	}
	return "a " + k
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// params merges a request's options with the defaults and validates them.
func (req *completionRequest) params(def Params) (Params, error) {
	p := def
	if err := req.unsupported(); err != nil {
		return p, err
	}
	p.Stop = append([]string(nil), def.Stop...)
	maxTokens := req.MaxTokens
	if req.MaxCompletionTokens != nil {
		maxTokens = req.MaxCompletionTokens
	}
	if maxTokens != nil {
		if *maxTokens < 0 {
			return p, badf("max_tokens must not be negative (got %d)", *maxTokens)
		}
		p.MaxTokens = *maxTokens
	}
	if v := req.Temperature; v != nil {
		if !(*v == 0 || *v >= MinTemperature && *v <= 2) {
			return p, badf("temperature must be 0 (greedy) or between %g and 2 (got %g)", MinTemperature, *v)
		}
		p.Temperature = *v
	}
	if v := req.TopP; v != nil {
		if !(*v >= 0 && *v <= 1) {
			return p, badf("top_p must be between 0 and 1 (got %g)", *v)
		}
		p.TopP = *v
	}
	if v := req.TopK; v != nil {
		if *v < 0 {
			return p, badf("top_k must not be negative (got %d)", *v)
		}
		p.TopK = *v
	}
	if v := req.MinP; v != nil {
		if !(*v >= 0 && *v <= 1) {
			return p, badf("min_p must be between 0 and 1 (got %g)", *v)
		}
		p.MinP = *v
	}
	if v := req.RepeatPenalty; v != nil {
		if !(*v >= MinRepeatPenalty && *v <= MaxRepeatPenalty) {
			return p, badf("repeat_penalty must be between %g and %g (got %g)", MinRepeatPenalty, MaxRepeatPenalty, *v)
		}
		p.RepeatPenalty = *v
	}
	if req.Seed != nil {
		p.Seed = *req.Seed
	}
	if req.N != nil && *req.N != 1 {
		return p, badf("n must be 1 (got %d): one completion per request is supported", *req.N)
	}
	if !isNull(req.Stop) {
		var one string
		var list []string
		if err := json.Unmarshal(req.Stop, &one); err == nil {
			list = []string{one}
		} else if err := json.Unmarshal(req.Stop, &list); err != nil {
			return p, badf("stop must be a string or an array of strings")
		}
		if len(list) > maxStops {
			return p, badf("stop has %d strings; at most %d are allowed", len(list), maxStops)
		}
		p.Stop = list
	}
	return p, nil
}

// promptText returns the prompt of a completion request: a string, an
// array holding one string, or an array of token ids.
func (req *completionRequest) promptText() (text string, ids []int32, err error) {
	if isNull(req.Prompt) {
		return "", nil, badf("prompt is required")
	}
	if err := json.Unmarshal(req.Prompt, &text); err == nil {
		return text, nil, nil
	}
	var list []string
	if err := json.Unmarshal(req.Prompt, &list); err == nil {
		if len(list) != 1 {
			return "", nil, badf("prompt: one prompt per request is supported (got %d)", len(list))
		}
		return list[0], nil, nil
	}
	if err := json.Unmarshal(req.Prompt, &ids); err == nil {
		if len(ids) == 0 {
			return "", nil, badf("prompt: the token array is empty")
		}
		return "", ids, nil
	}
	return "", nil, badf("prompt must be a string, an array of one string or an array of token ids")
}

// chatMessages returns the messages of a chat request.
func (req *completionRequest) chatMessages() ([]tokenizer.Message, error) {
	if isNull(req.Messages) {
		return nil, badf("messages is required")
	}
	var raw []chatMessage
	if err := json.Unmarshal(req.Messages, &raw); err != nil {
		return nil, badf("messages must be an array of {role, content} objects")
	}
	if len(raw) == 0 {
		return nil, badf("messages must not be empty")
	}
	msgs := make([]tokenizer.Message, len(raw))
	for i, m := range raw {
		if m.Role == "" {
			return nil, badf("messages[%d] has no role", i)
		}
		content, err := messageContent(m.Content)
		if err != nil {
			return nil, badf("messages[%d].content %v", i, err)
		}
		msgs[i] = tokenizer.Message{Role: m.Role, Content: content}
	}
	return msgs, nil
}

// messageContent accepts a string, null, or an array of content parts of
// which the text parts are joined.
func messageContent(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or an array of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("has a part of type %q: only text is supported", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// Responses.

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type textChoice struct {
	Index        int     `json:"index"`
	Text         string  `json:"text"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type chatChoice struct {
	Index        int        `json:"index"`
	Message      *chatOut   `json:"message,omitempty"`
	Delta        *chatDelta `json:"delta,omitempty"`
	Logprobs     any        `json:"logprobs"`
	FinishReason *string    `json:"finish_reason"`
}

type chatOut struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// chatLogprobs are a chat choice's log probabilities.
type chatLogprobs struct {
	Content []chatTokenLogprob `json:"content"`
}

type chatTokenLogprob struct {
	tokenLogprob
	TopLogprobs []tokenLogprob `json:"top_logprobs"`
}

type tokenLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"` // the token's UTF-8 bytes
}

// textLogprobs are a completion choice's log probabilities.
type textLogprobs struct {
	Tokens        []string      `json:"tokens"`
	TokenLogprobs []float64     `json:"token_logprobs"`
	TopLogprobs   []topLogprobs `json:"top_logprobs"`
	TextOffset    []int         `json:"text_offset"`
}

// topLogprobs is an object mapping tokens to log probabilities, written
// most likely first (the first of tokens with the same text).
type topLogprobs []tokenLogprob

func (t topLogprobs) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	seen := make(map[string]bool, len(t))
	for _, x := range t {
		if seen[x.Token] {
			continue
		}
		seen[x.Token] = true
		if len(b) > 1 {
			b = append(b, ',')
		}
		k, err := json.Marshal(x.Token)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(x.Logprob)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

type completionResponse struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices any    `json:"choices"`
	Usage   *usage `json:"usage,omitempty"`
	// Timings (as llama.cpp reports them) are in the final response or chunk.
	Timings *timings `json:"timings,omitempty"`
}

type timings struct {
	CachedN            int     `json:"cache_n"`  // prompt tokens found in the KV cache
	PromptN            int     `json:"prompt_n"` // prompt tokens evaluated
	PromptMS           float64 `json:"prompt_ms"`
	PromptPerSecond    float64 `json:"prompt_per_second"`
	PredictedN         int     `json:"predicted_n"` // tokens generated
	PredictedMS        float64 `json:"predicted_ms"`
	PredictedPerSecond float64 `json:"predicted_per_second"`
	// Lookup decoding (serve --lookup): the tokens drafted and accepted.
	DraftN         int `json:"draft_n,omitempty"`
	DraftNAccepted int `json:"draft_n_accepted,omitempty"`
}

type apiError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	} `json:"error"`
}
