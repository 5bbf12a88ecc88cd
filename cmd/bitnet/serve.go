package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"bitnet/gguf"
	"bitnet/internal/server"
)

func init() {
	register(&command{
		name:  "serve",
		usage: "serve --model M [--host 127.0.0.1] [--port 8080] [--parallel N] [--alias NAME] [--temperature T ...: defaults of requests] [--threads N] [--ctx-size N] [--backend auto|cpu|vulkan]",
		short: "Serve the model over HTTP with OpenAI-compatible endpoints (/v1/completions, /v1/chat/completions, /v1/models, /health, /tokenize, /detokenize).",
		run:   runServe,
	})
}

// serveContext returns the context whose end shuts the server down; tests
// replace it.
var serveContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// serveListening, if set, is told the address the server listens on.
var serveListening func(addr string)

// shutdownTimeout bounds how long running requests may take to finish.
const shutdownTimeout = 30 * time.Second

func runServe(args []string, stdout, stderr io.Writer) error {
	c := commands["serve"]
	fs := newFlagSet(c, stderr)
	var mf modelFlags
	var gf genFlags
	mf.register(fs)
	gf.register(fs)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8080, "TCP port (0: any free port)")
	parallel := fs.Int("parallel", 1, "KV cache slots, each holding one conversation (requests run one at a time)")
	alias := fs.String("alias", "", "model name reported to clients (default: the file name)")
	maxBody := fs.Int64("max-body", server.DefaultMaxBody, "largest request body in bytes")
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	if err := gf.validate(); err != nil {
		return err
	}
	// The defaults of requests go to the sampler: no NaN or infinity.
	var pe *server.ParamError
	if err := gf.params().Validate(); errors.As(err, &pe) {
		return usageErrorf("--%s %g: must be %s", strings.ReplaceAll(pe.Field, "_", "-"), pe.Value, pe.Want)
	}
	if *port < 0 || *port > 65535 {
		return usageErrorf("--port %d: want 0 to 65535", *port)
	}
	if *parallel < 1 || *parallel > 64 {
		return usageErrorf("--parallel %d: want 1 to 64", *parallel)
	}
	if *maxBody <= 0 {
		return usageErrorf("--max-body %d must be positive", *maxBody)
	}
	log := slog.Default()
	l, err := mf.open(true)
	if err != nil {
		return err
	}
	defer l.Close()

	sessions := []*server.Session{server.NewSession(l.state, l.tok)}
	kv := gguf.F16
	if mf.kvType == "f32" {
		kv = gguf.F32
	}
	for range *parallel - 1 {
		st, err := l.model.NewState(l.state.NCtx, mf.batch, kv)
		if err != nil {
			return err
		}
		sessions = append(sessions, server.NewSession(st, l.tok))
	}
	name := *alias
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(mf.model), ".gguf")
	}
	defaults := gf.params()
	if defaults.MaxTokens < 0 {
		defaults.MaxTokens = -1
	}
	srv, err := server.New(server.Options{Model: name, Tokenizer: l.tok, Sessions: sessions,
		Defaults: defaults, MaxBody: *maxBody, Logger: log})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	ctx, stop := serveContext()
	defer stop()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	addr := ln.Addr().String()
	log.Info("listening", "url", "http://"+addr, "model", name, "ctx", l.state.NCtx, "slots", *parallel)
	if serveListening != nil {
		serveListening(addr)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing running requests", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("server stopped")
	return nil
}
