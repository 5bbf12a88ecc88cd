package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"bitnet/engine"
	"bitnet/engine/tokenizer"
)

// DefaultMaxBody is the default limit on the size of a request body.
const DefaultMaxBody = 8 << 20

// Options configure a Server.
type Options struct {
	Model     string // the model name reported by /v1/models and in responses
	Tokenizer *tokenizer.Tokenizer
	// Sessions are the KV cache slots. Each request uses the free slot
	// whose cache shares the longest prefix with its prompt.
	Sessions []*Session
	// Parallel runs up to one request per slot at the same time: the
	// sessions' states are joined to one engine.Batcher, which decodes
	// their tokens together. Without it requests run one at a time.
	Parallel bool
	Defaults Params       // options of requests that leave them out
	MaxBody  int64        // request body limit; 0: DefaultMaxBody
	Logger   *slog.Logger // nil: slog.Default()
	// APIKey, if set, is required of every request but GET /health, as
	// the header "Authorization: Bearer APIKey"; others get 401.
	APIKey string
	// WebUI serves the chat page at GET / (needing no key: the page asks
	// for it); false: / is 404.
	WebUI bool
	// Backend and Device name what the model runs on ("cpu", "vulkan"; a
	// device description), reported by /v1/models (not by /health, which
	// answers without the key).
	Backend, Device string
	// LMHead is the type the LM head runs in ("f16", "q8_0", ...), also
	// reported by /v1/models.
	LMHead string
}

// Server is an http.Handler with OpenAI-compatible endpoints:
//
//	POST /v1/completions       text completion (stream: server-sent events)
//	POST /v1/chat/completions  chat completion
//	GET  /v1/models            the model
//	GET  /health               {"status": "ok", "slots_idle": 3, "slots_processing": 1}
//	POST /tokenize             {"content": "..."} -> {"tokens": [...]}
//	POST /detokenize           {"tokens": [...]} -> {"content": "..."}
//	GET  /                     the chat page (Options.WebUI)
type Server struct {
	o       Options
	mux     *http.ServeMux
	created int64
	keyHash *[sha256.Size]byte // of Options.APIKey; nil: no key

	sem  chan struct{} // held by the requests that are generating
	mu   sync.Mutex    // guards lru and busy
	lru  []int64       // per session: when it was last used
	busy []bool        // per session: a request uses it
	tick int64

	life    sync.Mutex                        // guards the fields below
	active  int                               // handlers running
	closing bool                              // Shutdown has begun: new requests get 503
	idle    chan struct{}                     // closed when closing and no handler runs
	gens    map[int64]context.CancelCauseFunc // cancel the generations that run or wait
	genID   int64
}

// ErrShutdown is the cause of the cancellation of the generations that
// Shutdown stops.
var ErrShutdown = errors.New("the server is shutting down")

// New returns a server for o.
func New(o Options) (*Server, error) {
	if o.Tokenizer == nil || len(o.Sessions) == 0 {
		return nil, errors.New("server: a tokenizer and at least one session are needed")
	}
	if err := o.Defaults.Validate(); err != nil {
		return nil, fmt.Errorf("server: default %w", err)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Model == "" {
		o.Model = "bitnet"
	}
	conc := 1
	if o.Parallel {
		conc = len(o.Sessions)
	}
	s := &Server{o: o, mux: http.NewServeMux(), created: time.Now().Unix(),
		sem: make(chan struct{}, conc), lru: make([]int64, len(o.Sessions)), busy: make([]bool, len(o.Sessions)),
		idle: make(chan struct{}), gens: map[int64]context.CancelCauseFunc{}}
	if o.APIKey != "" {
		h := sha256.Sum256([]byte(o.APIKey))
		s.keyHash = &h
	}
	s.route("POST", "/v1/completions", s.completions)
	s.route("POST", "/v1/chat/completions", s.chatCompletions)
	s.route("GET", "/v1/models", s.models)
	s.route("GET", "/health", s.health)
	s.route("POST", "/tokenize", s.tokenize)
	s.route("POST", "/detokenize", s.detokenize)
	if o.WebUI {
		s.mux.HandleFunc("/{$}", s.webUI)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return s, nil
}

// route registers h for method and path, answering other methods with 405.
func (s *Server) route(method, path string, h func(http.ResponseWriter, *http.Request) error) {
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == "GET" && r.Method == "HEAD") {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, path, method))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBody)
		if err := h(w, r); err != nil {
			var br *badRequest
			if errors.As(err, &br) {
				writeError(w, br.status, br.msg)
				return
			}
			writeError(w, http.StatusInternalServerError, err.Error())
		}
	})
}

// statusWriter records the status and size of a response for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Shutdown stops the server: new requests get 503, the generations that run
// or wait stop before their next token, and Shutdown waits until no handler
// runs, or ctx ends (it then returns ctx's error). Once it returns nil, no
// handler uses the sessions: their states and the model may be closed.
// Shutdown does not close listeners or connections (http.Server.Shutdown
// does).
func (s *Server) Shutdown(ctx context.Context) error {
	s.life.Lock()
	if !s.closing {
		s.closing = true
		if s.active == 0 {
			close(s.idle)
		}
	}
	for _, cancel := range s.gens {
		cancel(ErrShutdown)
	}
	s.life.Unlock()
	select {
	case <-s.idle:
		return nil
	default:
	}
	select {
	case <-s.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shuttingDown is the error of the requests that Shutdown stops (503).
func shuttingDown() error {
	return &badRequest{status: http.StatusServiceUnavailable, msg: ErrShutdown.Error()}
}

// enter counts a handler in, or reports false during Shutdown.
func (s *Server) enter() bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closing {
		return false
	}
	s.active++
	return true
}

// track registers the cancellation of a generation for Shutdown and returns
// the function that unregisters it.
func (s *Server) track(cancel context.CancelCauseFunc) (untrack func()) {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closing {
		cancel(ErrShutdown)
		return func() {}
	}
	s.genID++
	id := s.genID
	s.gens[id] = cancel
	return func() {
		s.life.Lock()
		defer s.life.Unlock()
		delete(s.gens, id)
	}
}

// leave counts a handler out.
func (s *Server) leave() {
	s.life.Lock()
	defer s.life.Unlock()
	s.active--
	if s.closing && s.active == 0 {
		close(s.idle)
	}
}

// ServeHTTP serves a request, logs it and turns a panic into a 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	if !s.enter() {
		writeError(sw, http.StatusServiceUnavailable, ErrShutdown.Error())
		s.o.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "remote", r.RemoteAddr)
		return
	}
	defer s.leave()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.o.Logger.Error("panic while serving a request", "path", r.URL.Path, "panic", fmt.Sprint(v))
			if sw.status == 0 {
				writeError(sw, http.StatusInternalServerError, "internal error")
			}
		}
		s.o.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"bytes", sw.bytes, "ms", time.Since(t0).Milliseconds(), "remote", r.RemoteAddr)
	}()
	if !s.public(r) && !s.authorized(r) {
		sw.Header().Set("WWW-Authenticate", `Bearer realm="bitnet"`)
		writeErrorCode(sw, http.StatusUnauthorized, "invalid_api_key",
			"missing or incorrect API key: send the header Authorization: Bearer <key>")
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// public reports whether r is served without the API key: /health, and the
// chat page, which holds no data and asks the user for the key.
func (s *Server) public(r *http.Request) bool {
	return r.URL.Path == "/health" || s.o.WebUI && r.URL.Path == "/"
}

// authorized reports whether r carries the API key, if one is required.
// The hashes make the comparison's time independent of the key and of
// its length.
func (s *Server) authorized(r *http.Request) bool {
	if s.keyHash == nil {
		return true
	}
	h := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(scheme):])))
	return subtle.ConstantTimeCompare(got[:], s.keyHash[:]) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeErrorCode(w, status, nil, msg)
}

// writeErrorCode writes an error with a code (OpenAI's "invalid_api_key");
// nil is written as null.
func writeErrorCode(w http.ResponseWriter, status int, code any, msg string) {
	var e apiError
	e.Error.Message = msg
	e.Error.Type = "invalid_request_error"
	if status >= 500 {
		e.Error.Type = "server_error"
	}
	e.Error.Code = code
	writeJSON(w, status, e)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	busy := 0
	for _, b := range s.busy {
		if b {
			busy++
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "slots_idle": len(s.busy) - busy, "slots_processing": busy})
	return nil
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data": []map[string]any{{
			"id": s.o.Model, "object": "model", "created": s.created, "owned_by": "bitnet",
			"meta": map[string]any{"n_ctx": s.o.Sessions[0].NCtx(), "n_vocab": s.o.Tokenizer.VocabSize(),
				"backend": s.o.Backend, "device": s.o.Device, "lm_head": s.o.LMHead},
		}},
	})
	return nil
}

func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Content      *string `json:"content"`
		AddSpecial   bool    `json:"add_special"`
		ParseSpecial *bool   `json:"parse_special"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Content == nil {
		return badf("content is required")
	}
	special := req.ParseSpecial == nil || *req.ParseSpecial
	ids := s.o.Tokenizer.Encode(*req.Content, req.AddSpecial && s.o.Tokenizer.AddBOS(), special)
	if ids == nil {
		ids = []int32{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ids})
	return nil
}

func (s *Server) detokenize(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Tokens *[]int32 `json:"tokens"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Tokens == nil {
		return badf("tokens is required")
	}
	if err := s.checkTokens(*req.Tokens); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"content": s.o.Tokenizer.Decode(*req.Tokens)})
	return nil
}

func (s *Server) checkTokens(ids []int32) error {
	n := s.o.Tokenizer.VocabSize()
	for i, id := range ids {
		if id < 0 || int(id) >= n {
			return badf("token %d at index %d is outside the vocabulary [0, %d)", id, i, n)
		}
	}
	return nil
}

// job is a validated generation request.
type job struct {
	chat     bool
	ids      []int32
	params   Params
	seed     uint64
	decode   []tokenizer.DecodeOption
	stream   bool
	usage    bool // stream_options.include_usage
	id       string
	created  int64
	trimLeft bool
	lp       logprobOptions
}

// decodeRequest reads a completion request and its sampling parameters
// (the server's defaults where the request is silent).
func (s *Server) decodeRequest(r *http.Request) (*completionRequest, Params, error) {
	var req completionRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, Params{}, err
	}
	p, err := req.params(s.o.Defaults)
	return &req, p, err
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) error {
	req, p, err := s.decodeRequest(r)
	if err != nil {
		return err
	}
	text, ids, err := req.promptText()
	if err != nil {
		return err
	}
	j := &job{params: p}
	if ids != nil {
		if err := s.checkTokens(ids); err != nil {
			return err
		}
		j.ids = ids
		if len(ids) > 1 || ids[0] != s.o.Tokenizer.BOS() {
			j.decode = []tokenizer.DecodeOption{tokenizer.KeepLeadingSpace()}
		}
	} else {
		j.ids = s.o.Tokenizer.Encode(text, s.o.Tokenizer.AddBOS(), true)
		// The output continues the prompt: keep the space a SentencePiece
		// piece starts with unless only BOS precedes it.
		if strings.TrimSpace(text) != "" {
			j.decode = []tokenizer.DecodeOption{tokenizer.KeepLeadingSpace()}
		}
	}
	return s.run(w, r, req, j)
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	req, p, err := s.decodeRequest(r)
	if err != nil {
		return err
	}
	msgs, err := req.chatMessages()
	if err != nil {
		return err
	}
	text, err := s.o.Tokenizer.RenderChat(msgs, true)
	if err != nil {
		return badf("messages: %v", strings.TrimPrefix(err.Error(), "tokenizer: "))
	}
	p.Stop = append(p.Stop, ChatStops(s.o.Tokenizer)...)
	j := &job{chat: true, params: p, trimLeft: true,
		ids:    s.o.Tokenizer.Encode(text, s.o.Tokenizer.AddBOS(), true),
		decode: []tokenizer.DecodeOption{tokenizer.KeepLeadingSpace()}}
	return s.run(w, r, req, j)
}

// ChatStops are stop strings that end an assistant turn in chat formats
// where no token does: the model starting the user's next turn.
func ChatStops(tok *tokenizer.Tokenizer) []string {
	if tok.ChatFormat() == tokenizer.ChatPlain {
		return []string{"\nUser:"}
	}
	return nil
}

// run validates the prompt length, waits for a free turn and generates.
func (s *Server) run(w http.ResponseWriter, r *http.Request, req *completionRequest, j *job) error {
	lp, err := req.logprobOptions(j.chat, s.o.Tokenizer.VocabSize())
	if err != nil {
		return err
	}
	j.lp = lp
	nctx := s.o.Sessions[0].NCtx()
	switch {
	case len(j.ids) == 0:
		return badf("prompt is empty (and the model adds no BOS token)")
	case len(j.ids) >= nctx:
		return badf("the prompt has %d tokens but the context holds %d: shorten it", len(j.ids), nctx)
	}
	j.seed = rand.Uint64()
	if j.params.Seed >= 0 {
		j.seed = uint64(j.params.Seed)
	}
	j.stream = req.Stream
	j.usage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	j.created = time.Now().Unix()
	if j.chat {
		j.id = fmt.Sprintf("chatcmpl-%016x", rand.Uint64())
	} else {
		j.id = fmt.Sprintf("cmpl-%016x", rand.Uint64())
	}

	// The generation stops when the client goes or the server shuts down.
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	defer s.track(cancel)()
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		if errors.Is(context.Cause(ctx), ErrShutdown) {
			return shuttingDown()
		}
		return nil // the client has gone while waiting
	}
	defer func() { <-s.sem }()
	sess, release := s.pick(j.ids)
	defer release()

	var sse *sseWriter
	lps := &logprobs{tok: s.o.Tokenizer, chat: j.chat, on: j.lp.on}
	var onLogprobs func(engine.TokenLogprobs)
	if j.lp.on {
		onLogprobs = lps.add
	}
	onText := func(string) error { return ctx.Err() }
	if j.stream {
		sse = newSSE(w)
		if j.chat {
			sse.send(s.chunk(j, chatChoice{Delta: &chatDelta{Role: "assistant", Content: ptr("")}}))
		}
		onText = func(t string) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if j.chat {
				return sse.send(s.chunk(j, chatChoice{Delta: &chatDelta{Content: &t}, Logprobs: lps.take()}))
			}
			return sse.send(s.chunk(j, textChoice{Text: t, Logprobs: lps.take()}))
		}
	}
	res, err := sess.Generate(Request{
		Prompt: j.ids, Params: j.params, Sampler: j.params.Sampler(j.seed),
		Decode: j.decode, TrimLeft: j.trimLeft, OnText: onText, Context: ctx,
		LogitBias: j.lp.bias, OnLogprobs: onLogprobs, TopLogprobs: j.lp.top,
	})
	// How it ended, for the log: a finish reason, or why it was cut short.
	outcome := res.FinishReason
	shutdown := err != nil && errors.Is(context.Cause(ctx), ErrShutdown)
	switch {
	case err == nil:
	case shutdown:
		outcome = "shutdown"
	case ctx.Err() != nil, sse != nil && sse.err != nil:
		outcome = "disconnect"
	default:
		outcome = "error"
	}
	s.o.Logger.Info("generation", "id", j.id, "prompt_tokens", res.PromptTokens, "cached", res.CachedTokens,
		"prompt_tps", round1(res.Stats.PromptTPS()), "tokens", len(res.Tokens), "tps", round1(res.Stats.GenTPS()),
		"finish", outcome, "seed", j.seed)
	if err != nil {
		switch {
		case shutdown && sse != nil:
			sse.sendError(ErrShutdown.Error())
			return nil
		case shutdown:
			return shuttingDown()
		case outcome == "disconnect":
			return nil // the client has gone
		case sse != nil:
			sse.sendError(err.Error())
			return nil
		}
		if errors.Is(err, ErrPromptTooLong) {
			return badf("%v", err)
		}
		return err
	}
	u := &usage{PromptTokens: len(j.ids), CompletionTokens: len(res.Tokens), TotalTokens: len(j.ids) + len(res.Tokens)}
	finish := res.FinishReason
	st := res.Stats
	tm := &timings{CachedN: res.CachedTokens, PromptN: st.PromptTokens, PromptMS: ms(st.PromptTime), PromptPerSecond: round1(st.PromptTPS()),
		PredictedN: st.GenTokens, PredictedMS: ms(st.GenTime), PredictedPerSecond: round1(st.GenTPS()),
		DraftN: st.Drafted, DraftNAccepted: st.Accepted}
	if sse != nil {
		var last completionResponse
		if j.chat {
			last = s.chunk(j, chatChoice{Delta: &chatDelta{}, Logprobs: lps.take(), FinishReason: &finish})
		} else {
			last = s.chunk(j, textChoice{Logprobs: lps.take(), FinishReason: &finish})
		}
		last.Timings = tm
		sse.send(last)
		if j.usage {
			sse.send(completionResponse{ID: j.id, Object: s.object(j), Created: j.created, Model: s.o.Model, Choices: []any{}, Usage: u})
		}
		sse.done()
		return nil
	}
	resp := completionResponse{ID: j.id, Created: j.created, Model: s.o.Model, Usage: u, Timings: tm}
	if j.chat {
		resp.Object = "chat.completion"
		resp.Choices = []chatChoice{{Message: &chatOut{Role: "assistant", Content: res.Text}, Logprobs: lps.take(), FinishReason: &finish}}
	} else {
		resp.Object = "text_completion"
		resp.Choices = []textChoice{{Text: res.Text, Logprobs: lps.take(), FinishReason: &finish}}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// logprobs gathers the log probabilities of the generated tokens until a
// response or chunk takes them.
type logprobs struct {
	tok     *tokenizer.Tokenizer
	chat    bool
	on      bool
	pending []engine.TokenLogprobs
	offset  int // text_offset of the next token
}

func (l *logprobs) add(lp engine.TokenLogprobs) {
	l.pending = append(l.pending, lp)
}

// noLogprob stands for a log probability that JSON cannot hold (a token
// whose probability underflows to 0), as OpenAI writes it.
const noLogprob = -9999

func (l *logprobs) token(t engine.TokenLogprob) tokenLogprob {
	s := l.tok.Piece(t.ID, tokenizer.RenderSpecial())
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	v := t.Logprob
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = noLogprob
	}
	return tokenLogprob{Token: s, Logprob: v, Bytes: b}
}

// take returns the pending log probabilities in the shape of the
// endpoint's choices (nil when none were asked for) and forgets them.
func (l *logprobs) take() any {
	if !l.on {
		return nil
	}
	defer func() { l.pending = l.pending[:0] }()
	if l.chat {
		out := chatLogprobs{Content: make([]chatTokenLogprob, 0, len(l.pending))}
		for _, lp := range l.pending {
			c := chatTokenLogprob{tokenLogprob: l.token(lp.TokenLogprob), TopLogprobs: make([]tokenLogprob, 0, len(lp.Top))}
			for _, a := range lp.Top {
				c.TopLogprobs = append(c.TopLogprobs, l.token(a))
			}
			out.Content = append(out.Content, c)
		}
		return out
	}
	n := len(l.pending)
	out := textLogprobs{Tokens: make([]string, 0, n), TokenLogprobs: make([]float64, 0, n),
		TopLogprobs: make([]topLogprobs, 0, n), TextOffset: make([]int, 0, n)}
	for _, lp := range l.pending {
		t := l.token(lp.TokenLogprob)
		out.Tokens = append(out.Tokens, t.Token)
		out.TokenLogprobs = append(out.TokenLogprobs, t.Logprob)
		top := make(topLogprobs, 0, len(lp.Top))
		for _, a := range lp.Top {
			top = append(top, l.token(a))
		}
		out.TopLogprobs = append(out.TopLogprobs, top)
		out.TextOffset = append(out.TextOffset, l.offset)
		l.offset += len(t.Token)
	}
	return out
}

func (s *Server) object(j *job) string {
	if j.chat {
		return "chat.completion.chunk"
	}
	return "text_completion"
}

func (s *Server) chunk(j *job, choice any) completionResponse {
	return completionResponse{ID: j.id, Object: s.object(j), Created: j.created, Model: s.o.Model, Choices: []any{choice}}
}

// pick takes the free session whose cache shares the longest prefix with
// ids, the least recently used among equals, and returns it with the
// function that frees it. The caller holds sem, so one is free.
func (s *Server) pick(ids []int32) (*Session, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best, bestN := -1, -1
	for i, sess := range s.o.Sessions {
		if s.busy[i] {
			continue
		}
		n := sess.CommonPrefix(ids)
		if n > bestN || n == bestN && s.lru[i] < s.lru[best] {
			best, bestN = i, n
		}
	}
	s.tick++
	s.lru[best] = s.tick
	s.busy[best] = true
	return s.o.Sessions[best], func() {
		s.mu.Lock()
		s.busy[best] = false
		s.mu.Unlock()
	}
}

func ptr[T any](v T) *T { return &v }

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func ms(d time.Duration) float64 { return round1(float64(d.Microseconds()) / 1000) }

// sseWriter writes server-sent events.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func newSSE(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

func (s *sseWriter) write(data []byte) error {
	if s.err != nil {
		return s.err
	}
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", data); err != nil {
		s.err = err
		return err
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
	}
	return s.err
}

func (s *sseWriter) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.write(b)
}

func (s *sseWriter) sendError(msg string) {
	var e apiError
	e.Error.Message = msg
	e.Error.Type = "server_error"
	s.send(e)
	s.write([]byte("[DONE]"))
}

func (s *sseWriter) done() { s.write([]byte("[DONE]")) }
