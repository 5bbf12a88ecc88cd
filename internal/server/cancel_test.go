package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"bitnet/engine"
	"bitnet/engine/tokenizer"
)

// hookWriter calls hook after the response's nth write.
type hookWriter struct {
	http.ResponseWriter
	n    int
	hook func()
}

func (w *hookWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	if w.n--; w.n == 0 {
		w.hook()
	}
	return n, err
}

func (w *hookWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// afterWrites serves s, running action after the nth write of a request
// that has the header X-After-Writes: n. The action gets the Server and a
// function that cancels the request's context (the client going away).
func afterWrites(action func(s *Server, cancel func())) func(*Server) http.Handler {
	return func(s *Server) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.Atoi(r.Header.Get("X-After-Writes"))
			if n <= 0 {
				s.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			s.ServeHTTP(&hookWriter{ResponseWriter: w, n: n, hook: func() { action(s, cancel) }}, r.WithContext(ctx))
		})
	}
}

// streamEvents posts a streaming request with X-After-Writes: after and
// returns the data of its events, [DONE] included.
func streamEvents(t *testing.T, url string, body map[string]any, after int) []string {
	t.Helper()
	body["stream"] = true
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url+"/v1/completions", strings.NewReader(string(b)))
	req.Header.Set("X-After-Writes", strconv.Itoa(after))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, data)
		}
	}
	return events
}

// tokensForPieces is how many tokens of the greedy continuation of prompt
// it takes for the streaming decoder to produce n pieces of text.
func (md *model) tokensForPieces(t *testing.T, prompt string, n int) int {
	t.Helper()
	md.ref.Reset()
	ids := md.tok.Encode(prompt, md.tok.AddBOS(), true)
	out, _, err := md.ref.Generate(ids, engine.GenerateOptions{MaxNewTokens: 100, IsEOG: md.tok.IsEOG,
		Sampler: engine.NewSampler(engine.SamplerParams{Temperature: 0})})
	if err != nil {
		t.Fatal(err)
	}
	st := md.tok.NewStream(tokenizer.KeepLeadingSpace())
	for i, id := range out {
		if st.Push(id) != "" {
			if n--; n == 0 {
				return i + 1
			}
		}
	}
	t.Fatalf("fewer than %d pieces in 100 tokens", n)
	return 0
}

var generationLog = regexp.MustCompile(`msg=generation .* tokens=(\d+) .* finish=(\S+)`)

// lastGeneration returns the token count and the finish of the last
// generation in the log.
func lastGeneration(t *testing.T, logs string) (int, string) {
	t.Helper()
	m := generationLog.FindAllStringSubmatch(logs, -1)
	if m == nil {
		t.Fatalf("no generation in the log:\n%s", logs)
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n, m[len(m)-1][2]
}

// TestClientDisconnectStopsGeneration: when the client goes, the generation
// stops before the next token, is logged as a disconnect, and the cache
// stays usable.
func TestClientDisconnectStopsGeneration(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	_, ts, logs := newLoggedServer(t, md, 1, DefaultParams, afterWrites(func(_ *Server, cancel func()) { cancel() }))
	const prompt = "Once upon a time"
	events := streamEvents(t, ts.URL, map[string]any{"prompt": prompt, "max_tokens": 200, "temperature": 0}, 3)
	if len(events) != 3 {
		t.Fatalf("%d events after the client went at the third: %q", len(events), events)
	}
	tokens, finish := lastGeneration(t, logs.String())
	if want := md.tokensForPieces(t, prompt, 3); tokens != want || finish != "disconnect" {
		t.Errorf("logged %d tokens, finish=%s; want %d (those of the 3 pieces sent) and finish=disconnect", tokens, finish, want)
	}
	// The next request reuses the cache and gets the engine's text.
	want := md.greedy(t, prompt, 40)
	code, r, raw := post(t, ts, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 40, "temperature": 0})
	if code != 200 || r.Choices[0].Text != want {
		t.Fatalf("after the disconnect: %d %s, want %q", code, raw, want)
	}
	if r.Timings.CachedN == 0 {
		t.Errorf("after the disconnect: timings %+v, want the prompt cached", r.Timings)
	}
}

// TestShutdown: Shutdown stops a running generation before its next token,
// the stream ends with an error event, Shutdown returns once the handler has
// returned, and later requests get 503.
func TestShutdown(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	srv, ts, logs := newLoggedServer(t, md, 1, DefaultParams, afterWrites(func(s *Server, _ func()) {
		// This handler still runs: Shutdown cannot be done.
		if err := s.Shutdown(expired); !errors.Is(err, context.Canceled) {
			t.Errorf("Shutdown with a handler running: %v, want context.Canceled", err)
		}
	}))
	const prompt = "Once upon a time"
	events := streamEvents(t, ts.URL, map[string]any{"prompt": prompt, "max_tokens": 200, "temperature": 0}, 3)
	if len(events) != 5 || events[4] != "[DONE]" || !strings.Contains(events[3], `"message":"the server is shutting down","type":"server_error"`) {
		t.Fatalf("events %q: want 3 chunks, an error and [DONE]", events)
	}
	tokens, finish := lastGeneration(t, logs.String())
	if want := md.tokensForPieces(t, prompt, 3); tokens != want || finish != "shutdown" {
		t.Errorf("logged %d tokens, finish=%s; want %d and finish=shutdown", tokens, finish, want)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, path := range []string{"/v1/completions", "/health"} {
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(`{"prompt": "a"}`))
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 503 || err != nil || e.Error.Message != "the server is shutting down" || e.Error.Type != "server_error" {
			t.Errorf("%s after Shutdown: %d %+v %v; want 503 and the error", path, resp.StatusCode, e, err)
		}
	}
}
