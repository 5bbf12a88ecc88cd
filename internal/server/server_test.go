package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"bitnet/backend"
	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/engine/tokenizer"
	"bitnet/gguf"
	"bitnet/internal/testdata"
)

// model is a loaded model with a spare state for computing expectations.
type model struct {
	m       *engine.Model
	tok     *tokenizer.Tokenizer
	ref     *engine.State
	batcher *engine.Batcher // the last parallel server's
}

func loadModel(t testing.TB, path string) *model {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	be, err := backend.Open(backend.Options{Name: "cpu", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	m, err := engine.Load(f, be)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := m.NewState(min(m.Config.NCtx, 4096), engine.DefaultBatch, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	return &model{m: m, tok: tok, ref: ref}
}

func storiesPath(t testing.TB) string {
	return filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
}

// newServer serves md with slots KV cache slots.
func newServer(t testing.TB, md *model, slots int, def Params) *httptest.Server {
	t.Helper()
	_, ts, _ := newLoggedServer(t, md, slots, def, nil)
	return ts
}

type syncBuffer = testdata.SyncBuffer

// newLoggedServer is newServer returning the Server and its log; wrap, if
// set, gives the handler that serves in its place.
func newLoggedServer(t testing.TB, md *model, slots int, def Params, wrap func(*Server) http.Handler) (*Server, *httptest.Server, *syncBuffer) {
	t.Helper()
	return newServerOptions(t, md, slots, Options{Defaults: def}, wrap)
}

// newServerOptions is newLoggedServer with more options.
func newServerOptions(t testing.TB, md *model, slots int, o Options, wrap func(*Server) http.Handler) (*Server, *httptest.Server, *syncBuffer) {
	t.Helper()
	var sessions []*Session
	for range slots {
		st, err := md.m.NewState(md.ref.NCtx, engine.DefaultBatch, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		sessions = append(sessions, NewSession(st, md.tok))
	}
	if o.Parallel {
		b, err := md.m.NewBatcher(slots)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		for _, sess := range sessions {
			if err := b.Join(sess.state); err != nil {
				t.Fatal(err)
			}
		}
		md.batcher = b
	}
	logs := &syncBuffer{}
	o.Model, o.Tokenizer, o.Sessions = "tiny", md.tok, sessions
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return s, ts, logs
}

// greedy is what the engine generates for prompt, decoded as bitnet run
// decodes a continuation.
func (md *model) greedy(t testing.TB, prompt string, n int) string {
	t.Helper()
	md.ref.Reset()
	ids := md.tok.Encode(prompt, md.tok.AddBOS(), true)
	out, _, err := md.ref.Generate(ids, engine.GenerateOptions{MaxNewTokens: n, IsEOG: md.tok.IsEOG,
		Sampler: engine.NewSampler(engine.SamplerParams{Temperature: 0})})
	if err != nil {
		t.Fatal(err)
	}
	var opts []tokenizer.DecodeOption
	if strings.TrimSpace(prompt) != "" {
		opts = append(opts, tokenizer.KeepLeadingSpace())
	}
	return md.tok.Decode(out, opts...)
}

type response struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int    `json:"index"`
		Text    string `json:"text"`
		Message *struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Delta *struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage   *usage   `json:"usage"`
	Timings *timings `json:"timings"`
	Error   *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

func post(t testing.TB, ts *httptest.Server, path string, body any) (int, response, string) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	resp, err := http.Post(ts.URL+path, "application/json", r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out response
	if ct := resp.Header.Get("Content-Type"); ct == "application/json" {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, raw)
		}
	}
	return resp.StatusCode, out, string(raw)
}

// stream posts a streaming request and returns its events (without [DONE]).
func stream(t testing.TB, ts *httptest.Server, path string, body map[string]any) []response {
	t.Helper()
	body["stream"] = true
	j, _ := json.Marshal(body)
	resp, err := http.Post(ts.URL+path, "application/json", bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var events []response
	sc := bufio.NewScanner(resp.Body)
	done := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("not an SSE data line: %q", line)
		}
		if done {
			t.Fatalf("event after [DONE]: %q", line)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var ev response
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("%v: %s", err, data)
		}
		if ev.Error != nil {
			t.Fatalf("error event: %s", ev.Error.Message)
		}
		events = append(events, ev)
	}
	if !done {
		t.Fatal("the stream did not end with data: [DONE]")
	}
	return events
}

// streamText concatenates the text of completion (or chat) chunks and
// returns it with the finish reason of the last choice.
func streamText(t testing.TB, events []response, chat bool) (string, string) {
	t.Helper()
	var b strings.Builder
	finish := ""
	for i, ev := range events {
		for _, c := range ev.Choices {
			if finish != "" {
				t.Fatalf("chunk %d after the finish reason", i)
			}
			if chat {
				if c.Delta == nil {
					t.Fatalf("chat chunk %d has no delta", i)
				}
				if c.Delta.Content != nil {
					b.WriteString(*c.Delta.Content)
				}
			} else {
				b.WriteString(c.Text)
			}
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
	}
	return b.String(), finish
}

func TestCompletionsGreedyMatchesEngine(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	ts := newServer(t, md, 1, DefaultParams)
	for _, prompt := range []string{"Once upon a time", "The little dog", "Once upon a time there was", ""} {
		want := md.greedy(t, prompt, 40)
		// Twice: the second request reuses the cached prompt.
		for rep := range 2 {
			code, r, raw := post(t, ts, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 40, "temperature": 0})
			if code != 200 {
				t.Fatalf("%q: status %d: %s", prompt, code, raw)
			}
			if len(r.Choices) != 1 || r.Choices[0].Text != want {
				t.Fatalf("%q (request %d): text\n%q\nwant (engine)\n%q", prompt, rep, r.Choices[0].Text, want)
			}
			c := r.Choices[0]
			if c.FinishReason == nil || *c.FinishReason != FinishLength {
				t.Errorf("%q: finish_reason %v, want length", prompt, c.FinishReason)
			}
			nPrompt := len(md.tok.Encode(prompt, md.tok.AddBOS(), true))
			if r.Object != "text_completion" || r.Model != "tiny" || !strings.HasPrefix(r.ID, "cmpl-") || r.Created == 0 {
				t.Errorf("envelope: %s", raw)
			}
			if u := r.Usage; u == nil || u.PromptTokens != nPrompt || u.CompletionTokens != 40 || u.TotalTokens != nPrompt+40 {
				t.Errorf("usage %+v, want %d prompt + 40 tokens", r.Usage, nPrompt)
			}
			if rep == 1 && (r.Timings == nil || r.Timings.CachedN != nPrompt-1 || r.Timings.PromptN != 1) {
				t.Errorf("repeated prompt: timings %+v, want %d cached tokens and 1 evaluated", r.Timings, nPrompt-1)
			}
		}
	}
}

// TestCompletionsLookup: with lookup decoding in the defaults, greedy
// completions are the engine's greedy text, and their timings report
// the drafted and accepted tokens; with a repetition penalty nothing is
// drafted.
func TestCompletionsLookup(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	p := DefaultParams
	p.Lookup = 4
	ts := newServer(t, md, 1, p)
	drafted := 0
	for _, prompt := range []string{"Once upon a time", "The little dog"} {
		want := md.greedy(t, prompt, 120)
		for rep := range 2 {
			code, r, raw := post(t, ts, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 120, "temperature": 0})
			if code != 200 || len(r.Choices) != 1 || r.Choices[0].Text != want {
				t.Fatalf("%q (request %d): status %d: %s\nwant (engine)\n%q", prompt, rep, code, raw, want)
			}
			if tm := r.Timings; tm == nil || tm.DraftNAccepted > tm.DraftN {
				t.Fatalf("%q: timings %+v", prompt, r.Timings)
			}
			drafted += r.Timings.DraftN
			if r.Timings.DraftNAccepted > 0 && !strings.Contains(raw, `"draft_n_accepted":`) {
				t.Errorf("timings lack draft_n_accepted: %s", raw)
			}
		}
	}
	if drafted == 0 {
		t.Errorf("no token drafted over four greedy completions")
	}
	code, r, raw := post(t, ts, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 60, "temperature": 0.8, "seed": 3, "repeat_penalty": 1.2})
	if code != 200 || r.Timings == nil || r.Timings.DraftN != 0 {
		t.Errorf("sampled completion with a repetition penalty: status %d: %s", code, raw)
	}
}

func TestCompletionsStreamEqualsText(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	ts := newServer(t, md, 1, DefaultParams)
	for _, body := range []map[string]any{
		{"prompt": "Once upon a time", "max_tokens": 50, "temperature": 0},
		{"prompt": "The cat sat", "max_tokens": 50, "temperature": 0.9, "seed": 7},
		{"prompt": "Once upon a time", "max_tokens": 80, "temperature": 0, "stop": []string{"Lily", "park"}},
	} {
		code, r, raw := post(t, ts, "/v1/completions", body)
		if code != 200 {
			t.Fatalf("status %d: %s", code, raw)
		}
		events := stream(t, ts, "/v1/completions", body)
		if len(events) < 3 {
			t.Fatalf("only %d chunks", len(events))
		}
		got, finish := streamText(t, events, false)
		if got != r.Choices[0].Text || finish != *r.Choices[0].FinishReason {
			t.Fatalf("%v:\nstreamed %q (%s)\nwant     %q (%s)", body, got, finish, r.Choices[0].Text, *r.Choices[0].FinishReason)
		}
		last := events[len(events)-1]
		if last.Timings == nil || last.Timings.PredictedN == 0 {
			t.Errorf("the last chunk has no timings: %+v", last)
		}
		for _, ev := range events {
			if ev.ID != events[0].ID || ev.Object != "text_completion" {
				t.Fatalf("chunk envelope %+v", ev)
			}
		}
	}
}

func TestStopStrings(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	ts := newServer(t, md, 1, DefaultParams)
	full := md.greedy(t, "Once upon a time", 60)
	for _, stop := range []any{"Lily", []string{"park", "Lily"}, []string{" lit"}} {
		var stops []string
		switch s := stop.(type) {
		case string:
			stops = []string{s}
		case []string:
			stops = s
		}
		cut := -1
		for _, s := range stops {
			if i := strings.Index(full, s); i >= 0 && (cut < 0 || i < cut) {
				cut = i
			}
		}
		if cut < 0 {
			t.Fatalf("stop %q is not in the greedy text %q", stops, full)
		}
		body := map[string]any{"prompt": "Once upon a time", "max_tokens": 60, "temperature": 0, "stop": stop}
		_, r, raw := post(t, ts, "/v1/completions", body)
		if len(r.Choices) != 1 {
			t.Fatal(raw)
		}
		if r.Choices[0].Text != full[:cut] || *r.Choices[0].FinishReason != FinishStop {
			t.Fatalf("stop %q: %q (%s), want %q (stop)", stops, r.Choices[0].Text, *r.Choices[0].FinishReason, full[:cut])
		}
		got, finish := streamText(t, stream(t, ts, "/v1/completions", body), false)
		if got != full[:cut] || finish != FinishStop {
			t.Fatalf("streamed with stop %q: %q (%s), want %q", stops, got, finish, full[:cut])
		}
	}
}

func TestSeededSamplingIsReproducible(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	ts := newServer(t, md, 1, DefaultParams)
	texts := map[int]string{}
	for _, seed := range []int{1, 2, 1} {
		_, r, raw := post(t, ts, "/v1/completions", map[string]any{"prompt": "Once", "max_tokens": 30, "temperature": 1.2, "top_k": 0, "top_p": 1, "min_p": 0, "seed": seed})
		if len(r.Choices) != 1 {
			t.Fatal(raw)
		}
		if prev, ok := texts[seed]; ok && prev != r.Choices[0].Text {
			t.Fatalf("seed %d gave %q, then %q", seed, prev, r.Choices[0].Text)
		}
		texts[seed] = r.Choices[0].Text
	}
	if texts[1] == texts[2] {
		t.Errorf("seeds 1 and 2 gave the same text %q", texts[1])
	}
}

func TestChatCompletions(t *testing.T) {
	for _, name := range []string{"stories", "tiny-i2_s"} {
		t.Run(name, func(t *testing.T) {
			path := storiesPath(t)
			if name != "stories" {
				path = testdata.Path(t, "golden/tiny-i2_s.gguf")
			}
			md := loadModel(t, path)
			ts := newServer(t, md, 1, DefaultParams)
			msgs := []map[string]any{
				{"role": "system", "content": "You tell stories."},
				{"role": "user", "content": "Tell me about a cat."},
			}
			body := map[string]any{"messages": msgs, "max_tokens": 30, "temperature": 0}
			code, r, raw := post(t, ts, "/v1/chat/completions", body)
			if code != 200 || len(r.Choices) != 1 || r.Choices[0].Message == nil {
				t.Fatalf("status %d: %s", code, raw)
			}
			reply := r.Choices[0].Message.Content
			if r.Object != "chat.completion" || !strings.HasPrefix(r.ID, "chatcmpl-") || r.Choices[0].Message.Role != "assistant" {
				t.Errorf("envelope: %s", raw)
			}
			if reply == "" || reply != strings.TrimLeft(reply, " \n") {
				t.Errorf("reply %q: want text without leading space", reply)
			}
			// The reply is the greedy continuation of the rendered prompt.
			text, _ := md.tok.RenderChat([]tokenizer.Message{{Role: "system", Content: "You tell stories."}, {Role: "user", Content: "Tell me about a cat."}}, true)
			want := strings.TrimLeft(md.greedy(t, text, 30), " \n")
			if fr := *r.Choices[0].FinishReason; fr == FinishLength && reply != want || !strings.HasPrefix(want, reply) {
				t.Errorf("reply %q (%s), want the engine's %q", reply, fr, want)
			}
			events := stream(t, ts, "/v1/chat/completions", body)
			if events[0].Choices[0].Delta.Role != "assistant" {
				t.Errorf("the first chunk does not give the role: %+v", events[0])
			}
			got, finish := streamText(t, events, true)
			if got != reply || finish != *r.Choices[0].FinishReason {
				t.Fatalf("streamed %q (%s), want %q", got, finish, reply)
			}
			for _, ev := range events {
				if ev.Object != "chat.completion.chunk" {
					t.Fatalf("chunk object %q", ev.Object)
				}
			}
			// The next turn evaluates only what follows the cached conversation.
			msgs = append(msgs, map[string]any{"role": "assistant", "content": reply},
				map[string]any{"role": "user", "content": []map[string]string{{"type": "text", "text": "And then?"}}})
			code, r2, raw := post(t, ts, "/v1/chat/completions", map[string]any{"messages": msgs, "max_tokens": 10, "temperature": 0})
			if code != 200 {
				t.Fatalf("status %d: %s", code, raw)
			}
			tm := r2.Timings
			if tm == nil || tm.CachedN < r.Usage.PromptTokens || tm.PromptN >= r2.Usage.PromptTokens-r.Usage.PromptTokens || tm.CachedN+tm.PromptN != r2.Usage.PromptTokens {
				t.Errorf("second turn: %+v with %d prompt tokens; want at least the first turn's %d prompt tokens cached", tm, r2.Usage.PromptTokens, r.Usage.PromptTokens)
			}
			// Usage in the stream when asked for.
			body["stream_options"] = map[string]any{"include_usage": true}
			events = stream(t, ts, "/v1/chat/completions", body)
			if u := events[len(events)-1].Usage; u == nil || u.CompletionTokens == 0 || len(events[len(events)-1].Choices) != 0 {
				t.Errorf("no usage chunk at the end: %+v", events[len(events)-1])
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	ts := newServer(t, md, 1, DefaultParams)
	long := strings.Repeat("once upon a time ", 100)
	cases := []struct {
		path, body, msg string
		status          int
	}{
		{"/v1/completions", `{"prompt": "hi"`, "invalid JSON", 400},
		{"/v1/completions", ``, "empty", 400},
		{"/v1/completions", `[1, 2]`, "JSON object", 400},
		{"/v1/completions", `{"prompt": "a"} {}`, "after the JSON object", 400},
		{"/v1/completions", `{"max_tokens": 5}`, "prompt is required", 400},
		{"/v1/completions", `{"prompt": null}`, "prompt is required", 400},
		{"/v1/completions", `{"prompt": {"a": 1}}`, "prompt must be", 400},
		{"/v1/completions", `{"prompt": ["a", "b"]}`, "one prompt", 400},
		{"/v1/completions", `{"prompt": [1, 99999]}`, "99999", 400},
		{"/v1/completions", `{"prompt": "a", "max_tokens": -1}`, "max_tokens", 400},
		{"/v1/completions", `{"prompt": "a", "max_tokens": "ten"}`, "max_tokens", 400},
		{"/v1/completions", `{"prompt": "a", "temperature": -0.5}`, "temperature", 400},
		{"/v1/completions", `{"prompt": "a", "temperature": 2.5}`, "temperature", 400},
		{"/v1/completions", `{"prompt": "a", "top_p": 1.5}`, "top_p", 400},
		{"/v1/completions", `{"prompt": "a", "top_k": -3}`, "top_k", 400},
		{"/v1/completions", `{"prompt": "a", "min_p": -1}`, "min_p", 400},
		{"/v1/completions", `{"prompt": "a", "repeat_penalty": 0}`, "repeat_penalty", 400},
		{"/v1/completions", `{"prompt": "a", "n": 2}`, "n must be 1", 400},
		// Sampling values the sampler's float32 arithmetic cannot use:
		// numbers beyond float64 (JSON has no NaN or infinity; Go's decoder
		// refuses 1e999 rather than make it +Inf) and values whose quotients
		// overflow.
		{"/v1/completions", `{"prompt": "a", "temperature": NaN}`, "invalid JSON", 400},
		{"/v1/completions", `{"prompt": "a", "temperature": "NaN"}`, `field "temperature" must be a number`, 400},
		{"/v1/completions", `{"prompt": "a", "temperature": 1e999}`, `field "temperature": number 1e999 is out of range`, 400},
		{"/v1/completions", `{"prompt": "a", "top_p": -1e999}`, `field "top_p": number -1e999 is out of range`, 400},
		{"/v1/completions", `{"prompt": "a", "min_p": 1e400}`, `field "min_p": number 1e400 is out of range`, 400},
		{"/v1/completions", `{"prompt": "a", "repeat_penalty": 1e999}`, `field "repeat_penalty": number 1e999 is out of range`, 400},
		{"/v1/completions", `{"prompt": "a", "temperature": 1e-40}`, "temperature must be 0 (greedy) or between 1e-06 and 2 (got 1e-40)", 400},
		{"/v1/completions", `{"prompt": "a", "repeat_penalty": 1e300}`, "repeat_penalty must be between 1e-06 and 1e+06 (got 1e+300)", 400},
		{"/v1/completions", `{"prompt": "a", "repeat_penalty": 1e-300}`, "repeat_penalty must be between 1e-06 and 1e+06 (got 1e-300)", 400},
		{"/v1/completions", `{"prompt": "a", "max_tokens": 1e999}`, `field "max_tokens" must be an integer in range, not number 1e999`, 400},
		{"/v1/completions", `{"prompt": "a", "max_tokens": 2.5}`, `field "max_tokens" must be an integer in range, not number 2.5`, 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "top_p": 1e999}`, `field "top_p": number 1e999 is out of range`, 400},
		{"/v1/completions", `{"prompt": "a", "n": 0}`, "n must be 1", 400},
		// OpenAI's fields that the server does not implement.
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f"}}]}`, "tools is not supported", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "tool_choice": "auto"}`, `tool_choice is not supported (got "auto")`, 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "functions": [{"name": "f"}]}`, "functions is not supported", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "function_call": "auto"}`, "function_call is not supported", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}}`, `response_format is not supported (got {"type":"json_object"})`, 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}}`, "response_format is not supported", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "n": 3}`, "n must be 1 (got 3)", 400},
		// Log probabilities and logit biases (the vocabulary has 512 tokens).
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 3}`, "top_logprobs (got 3) requires logprobs: true", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "logprobs": true, "top_logprobs": 21}`, "top_logprobs must be an integer from 0 to 20 (got 21)", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "logprobs": true, "top_logprobs": -1}`, "top_logprobs must be an integer from 0 to 20 (got -1)", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "logprobs": 3}`, "logprobs must be true or false (got 3)", 400},
		{"/v1/completions", `{"prompt": "a", "logprobs": 6}`, "logprobs must be an integer from 0 to 5 (got 6)", 400},
		{"/v1/completions", `{"prompt": "a", "logprobs": true}`, "logprobs must be an integer from 0 to 5 (got true)", 400},
		{"/v1/completions", `{"prompt": "a", "logprobs": 2, "top_logprobs": 2}`, "top_logprobs is a chat completions option", 400},
		{"/v1/completions", `{"prompt": "a", "logit_bias": {"50256": -100}}`, "logit_bias: token id 50256 is outside the vocabulary [0, 512)", 400},
		{"/v1/completions", `{"prompt": "a", "logit_bias": {"-1": 5}}`, "logit_bias: token id -1 is outside the vocabulary [0, 512)", 400},
		{"/v1/completions", `{"prompt": "a", "logit_bias": {"abc": 5}}`, `logit_bias: key "abc" is not a token id`, 400},
		{"/v1/completions", `{"prompt": "a", "logit_bias": {"1.5": 5}}`, `logit_bias: key "1.5" is not a token id`, 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "logit_bias": {"12": 100.5}}`, `logit_bias["12"] must be a number from -100 to 100 (got 100.5)`, 400},
		{"/v1/completions", `{"prompt": "a", "logit_bias": {"12": -101}}`, `logit_bias["12"] must be a number from -100 to 100 (got -101)`, 400},
		{"/v1/completions", `{"prompt": "a", "logit_bias": {"12": 1e999}}`, `logit_bias["12"] must be a number from -100 to 100 (got 1e999)`, 400},
		{"/v1/completions", `{"prompt": "a", "logit_bias": {"12": "5"}}`, `logit_bias["12"] must be a number`, 400},
		{"/v1/completions", `{"prompt": "a", "logit_bias": [5]}`, "logit_bias must be an object", 400},
		{"/v1/completions", `{"prompt": "a", "frequency_penalty": 0.5}`, "frequency_penalty is not supported (got 0.5)", 400},
		{"/v1/completions", `{"prompt": "a", "frequency_penalty": 1e999}`, "frequency_penalty is not supported (got 1e999)", 400},
		{"/v1/completions", `{"prompt": "a", "presence_penalty": -1}`, "presence_penalty is not supported (got -1)", 400},
		{"/v1/completions", `{"prompt": "a", "echo": true}`, "echo is not supported", 400},
		{"/v1/completions", `{"prompt": "a", "best_of": 2}`, "best_of is not supported (got 2)", 400},
		{"/v1/completions", `{"prompt": "a", "suffix": "end"}`, "suffix is not supported", 400},
		{"/v1/completions", `{"prompt": "a", "stop": 3}`, "stop", 400},
		{"/v1/completions", `{"prompt": "a", "stream": "yes"}`, "stream", 400},
		{"/v1/completions", fmt.Sprintf(`{"prompt": %q}`, long), "context holds 256", 400},
		{"/v1/completions", fmt.Sprintf(`{"prompt": %q, "stream": true}`, long), "context holds 256", 400},
		{"/v1/chat/completions", `{"prompt": "a"}`, "messages is required", 400},
		{"/v1/chat/completions", `{"messages": []}`, "messages must not be empty", 400},
		{"/v1/chat/completions", `{"messages": "hi"}`, "messages must be", 400},
		{"/v1/chat/completions", `{"messages": [{"content": "hi"}]}`, "messages[0] has no role", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": 5}]}`, "messages[0].content", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}`, "image_url", 400},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "temperature": 3}`, "temperature", 400},
		{"/v1/chat/completions", fmt.Sprintf(`{"messages": [{"role": "user", "content": %q}]}`, long), "context holds 256", 400},
		{"/tokenize", `{}`, "content is required", 400},
		{"/tokenize", `{"content": 1}`, "content", 400},
		{"/detokenize", `{}`, "tokens is required", 400},
		{"/detokenize", `{"tokens": [1, -2]}`, "-2", 400},
		{"/v1/nothing", `{}`, "no endpoint", 404},
		{"/health", `{}`, "use GET", 405},
		{"/v1/completions", `{"prompt": "` + strings.Repeat("x", DefaultMaxBody) + `"}`, "larger than", 413},
	}
	for _, c := range cases {
		name := c.path + " " + c.body
		if len(name) > 60 {
			name = name[:60]
		}
		code, r, raw := post(t, ts, c.path, c.body)
		if code != c.status || r.Error == nil || !strings.Contains(r.Error.Message, c.msg) || r.Error.Type != "invalid_request_error" {
			t.Errorf("%s: status %d, %.200s; want %d and an error naming %q", name, code, raw, c.status, c.msg)
		}
	}
	// GET on a POST endpoint.
	resp, err := http.Get(ts.URL + "/v1/completions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /v1/completions: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// The server still works.
	if code, _, raw := post(t, ts, "/v1/completions", `{"prompt": "Once", "max_tokens": 3}`); code != 200 {
		t.Fatalf("after the errors: %d %s", code, raw)
	}
}

func TestModelsHealthTokenize(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	ts := newServer(t, md, 1, DefaultParams)
	for _, c := range []struct{ path, want string }{
		{"/health", `"status":"ok"`},
		{"/v1/models", `"object":"list"`},
		{"/v1/models", `"id":"tiny"`},
	} {
		resp, err := http.Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), c.want) || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s, want %s", c.path, resp.StatusCode, b, c.want)
		}
	}
	for _, text := range []string{"Once upon a time, there was a dog.", "héllo wörld ✓", ""} {
		var tk struct {
			Tokens []int32 `json:"tokens"`
		}
		code, _, raw := post(t, ts, "/tokenize", map[string]any{"content": text})
		if code != 200 || json.Unmarshal([]byte(raw), &tk) != nil || tk.Tokens == nil {
			t.Fatalf("tokenize: %d %s", code, raw)
		}
		if want := md.tok.Encode(text, false, true); fmt.Sprint(tk.Tokens) != fmt.Sprint(want) {
			t.Errorf("tokens %v, want %v", tk.Tokens, want)
		}
		var dt struct {
			Content string `json:"content"`
		}
		code, _, raw = post(t, ts, "/detokenize", map[string]any{"tokens": tk.Tokens})
		if code != 200 || json.Unmarshal([]byte(raw), &dt) != nil || dt.Content != text {
			t.Errorf("round trip of %q: %d %s", text, code, raw)
		}
	}
	_, _, raw := post(t, ts, "/tokenize", map[string]any{"content": "hi", "add_special": true})
	if !strings.HasPrefix(raw, fmt.Sprintf(`{"tokens":[%d,`, md.tok.BOS())) {
		t.Errorf("add_special: %s, want BOS %d first", raw, md.tok.BOS())
	}
}

// TestConcurrentRequests: requests from several clients are served one at a
// time and each gets the same greedy text, with one or two cache slots.
func TestConcurrentRequests(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	for _, slots := range []int{1, 2} {
		ts := newServer(t, md, slots, DefaultParams)
		prompts := []string{"Once upon a time", "The little dog"}
		want := map[string]string{}
		for _, p := range prompts {
			want[p] = md.greedy(t, p, 20)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := prompts[i%2]
				b, _ := json.Marshal(map[string]any{"prompt": p, "max_tokens": 20, "temperature": 0, "stream": i%4 == 0})
				resp, err := http.Post(ts.URL+"/v1/completions", "application/json", bytes.NewReader(b))
				if err != nil {
					errs <- err
					return
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d: %s", resp.StatusCode, raw)
					return
				}
				got := ""
				if i%4 != 0 {
					var r response
					json.Unmarshal(raw, &r)
					if len(r.Choices) == 1 {
						got = r.Choices[0].Text
					}
				} else {
					// The streamed text: the chunks' texts in order.
					for _, line := range strings.Split(string(raw), "\n") {
						data, ok := strings.CutPrefix(line, "data: ")
						if !ok || data == "[DONE]" {
							continue
						}
						var ev response
						if err := json.Unmarshal([]byte(data), &ev); err != nil {
							errs <- fmt.Errorf("event %q: %v", data, err)
							return
						}
						for _, c := range ev.Choices {
							got += c.Text
						}
					}
				}
				if got != want[p] {
					errs <- fmt.Errorf("%d slots, %q (stream %v): %q, want %q", slots, p, i%4 == 0, got, want[p])
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// TestContextLimit: a generation that reaches the end of the context stops
// with finish_reason length.
func TestContextLimit(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	ts := newServer(t, md, 1, Params{MaxTokens: -1, Temperature: 0, RepeatPenalty: 1, Seed: -1})
	code, r, raw := post(t, ts, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 1000, "temperature": 0})
	if code != 200 {
		t.Fatalf("%d %s", code, raw)
	}
	// The last token is sampled from the logits of the last position and
	// needs no place in the cache: a full context gives 256+1 tokens. (The
	// greedy continuation of this prompt repeats itself and never ends the
	// story.)
	if u := r.Usage; u.TotalTokens != 257 || *r.Choices[0].FinishReason != FinishLength {
		t.Errorf("usage %+v, finish %s: want the context (256) filled, finish length", u, *r.Choices[0].FinishReason)
	}
	// max_tokens 0 evaluates the prompt only.
	_, r, raw = post(t, ts, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 0})
	if len(r.Choices) != 1 || r.Choices[0].Text != "" || r.Usage.CompletionTokens != 0 {
		t.Errorf("max_tokens 0: %s", raw)
	}
}

// TestDefaultsMustBeFinite: New refuses defaults that would reach the sampler
// as NaN, an infinity or an overflowing divisor, naming the option.
func TestDefaultsMustBeFinite(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	st, err := md.m.NewState(md.ref.NCtx, engine.DefaultBatch, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	sessions := []*Session{NewSession(st, md.tok)}
	set := map[string]func(*Params, float64){
		"temperature":    func(p *Params, v float64) { p.Temperature = v },
		"top_p":          func(p *Params, v float64) { p.TopP = v },
		"min_p":          func(p *Params, v float64) { p.MinP = v },
		"repeat_penalty": func(p *Params, v float64) { p.RepeatPenalty = v },
	}
	for field, f := range set {
		bad := []float64{math.NaN(), math.Inf(1), math.Inf(-1)}
		if field == "temperature" || field == "repeat_penalty" {
			bad = append(bad, 1e-40) // a float32 denormal: logits divided by it overflow
		}
		for _, v := range bad {
			p := DefaultParams
			f(&p, v)
			_, err := New(Options{Tokenizer: md.tok, Sessions: sessions, Defaults: p})
			var pe *ParamError
			if !errors.As(err, &pe) || pe.Field != field || !strings.Contains(err.Error(), field) {
				t.Errorf("%s = %g: New returned %v, want an error naming %s", field, v, err, field)
			}
		}
	}
	// Greedy, no penalty and the defaults are fine.
	for _, p := range []Params{DefaultParams, {Temperature: 0, RepeatPenalty: 0, Seed: -1}} {
		if _, err := New(Options{Tokenizer: md.tok, Sessions: sessions, Defaults: p}); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

// TestAPIKey: with an API key, requests but GET /health need it as a bearer
// token; others get 401 in OpenAI's error shape.
func TestAPIKey(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	const key = "sk-test-123"
	_, ts, _ := newServerOptions(t, md, 1, Options{Defaults: DefaultParams, APIKey: key}, nil)
	for _, c := range []struct {
		method, path, auth string
		status             int
	}{
		{"POST", "/v1/completions", "", 401},
		{"POST", "/v1/completions", "Bearer wrong", 401},
		{"POST", "/v1/completions", "Bearer " + key + "x", 401},
		{"POST", "/v1/completions", "Bearer sk-test-12", 401},
		{"POST", "/v1/completions", key, 401},
		{"POST", "/v1/completions", "Basic " + key, 401},
		{"POST", "/v1/completions", "Bearer " + key, 200},
		{"POST", "/v1/completions", "bearer " + key, 200},
		{"POST", "/v1/chat/completions", "", 401},
		{"POST", "/v1/chat/completions", "Bearer " + key, 200},
		{"GET", "/v1/models", "", 401},
		{"GET", "/v1/models", "Bearer " + key, 200},
		{"POST", "/tokenize", "", 401},
		{"POST", "/detokenize", "", 401},
		{"GET", "/v1/nothing", "", 401},
		{"GET", "/health", "", 200},
		{"GET", "/health", "Bearer wrong", 200},
	} {
		body := `{"prompt": "Once", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}`
		req, _ := http.NewRequest(c.method, ts.URL+c.path, strings.NewReader(body))
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s with %q: %d %s, want %d", c.method, c.path, c.auth, resp.StatusCode, raw, c.status)
			continue
		}
		if c.status != 401 {
			continue
		}
		var e struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Code    string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Error.Type != "invalid_request_error" || e.Error.Code != "invalid_api_key" ||
			!strings.Contains(e.Error.Message, "API key") || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s with %q: %s (WWW-Authenticate %q), want OpenAI's invalid_api_key error", c.method, c.path, c.auth, raw, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

// TestInertFieldsAccepted: OpenAI's fields that the server does not
// implement are accepted when they ask for nothing, and change nothing.
func TestInertFieldsAccepted(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	ts := newServer(t, md, 1, DefaultParams)
	want := md.greedy(t, "Once upon a time", 20)
	body := map[string]any{"prompt": "Once upon a time", "max_tokens": 20, "temperature": 0,
		"n": 1, "tools": []any{}, "tool_choice": "none", "functions": []any{}, "function_call": "none",
		"response_format": map[string]string{"type": "text"}, "logprobs": false, "top_logprobs": 0,
		"logit_bias": map[string]any{}, "frequency_penalty": 0, "presence_penalty": 0.0, "echo": false,
		"best_of": 1, "suffix": "", "user": "someone"}
	code, r, raw := post(t, ts, "/v1/completions", body)
	if code != 200 || r.Choices[0].Text != want {
		t.Fatalf("%d %s, want %q", code, raw, want)
	}
	code, r, raw = post(t, ts, "/v1/completions", `{"prompt": "Once upon a time", "max_tokens": 20, "temperature": 0, "frequency_penalty": -0.0, "presence_penalty": 0e0, "logprobs": null, "response_format": { "type" : "text" }}`)
	if code != 200 || r.Choices[0].Text != want {
		t.Fatalf("%d %s, want %q", code, raw, want)
	}
}

// failingBackend fails its next read of results when armed, as a device
// lost in the middle of a step would.
type failingBackend struct {
	compute.Backend
	armed atomic.Bool
}

var errInjected = errors.New("device lost (injected)")

func (b *failingBackend) Read(t compute.Tensor, dst []float32) error {
	if b.armed.Swap(false) {
		return errInjected
	}
	return b.Backend.Read(t, dst)
}

func (b *failingBackend) ReadInts(t compute.Tensor, dst []int32) error {
	if b.armed.Swap(false) {
		return errInjected
	}
	return b.Backend.ReadInts(t, dst)
}

// TestBackendFailureIs500: a backend failure in the middle of a generation
// fails that request with a 500 naming the error, and the next request on
// the same session gives the engine's text.
func TestBackendFailureIs500(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	want := md.greedy(t, "Once upon a time", 12)
	f, err := gguf.Open(storiesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	inner, err := backend.Open(backend.Options{Name: "cpu", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	fb := &failingBackend{Backend: inner}
	m, err := engine.Load(f, fb)
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, &model{m: m, tok: md.tok, ref: md.ref}, 1, DefaultParams)
	body := map[string]any{"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0}
	fb.armed.Store(true)
	code, _, raw := post(t, ts, "/v1/completions", body)
	if code != 500 || !strings.Contains(string(raw), "injected") {
		t.Fatalf("failing backend: %d %s; want 500 naming the error", code, raw)
	}
	code, r, raw := post(t, ts, "/v1/completions", body)
	if code != 200 || len(r.Choices) != 1 || r.Choices[0].Text != want {
		t.Fatalf("after the failure: %d %s; want %q", code, raw, want)
	}
}
