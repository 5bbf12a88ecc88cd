package main

import (
	"context"
	"errors"
	"flag"
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

	"bitnet/engine"
	"bitnet/internal/server"
)

func init() {
	register(&command{
		name:  "serve",
		usage: "serve --model M [--host 127.0.0.1] [--port 8080] [--parallel N] [--alias NAME] [--api-key KEY] [--no-webui] [--temperature T ...: defaults of requests] [--threads N] [--ctx-size N] [--backend auto|cpu|vulkan]",
		short: "Serve the model over HTTP: a chat page at / and OpenAI-compatible endpoints (/v1/completions, /v1/chat/completions, /v1/models, /health, /tokenize, /detokenize).",
		run:   runServe,
	})
}

// serveSignals returns the channel of the signals that stop the server and
// a function that stops their delivery; tests replace it.
var serveSignals = func() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 2)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	return c, func() { signal.Stop(c) }
}

// serveExit ends the process at a second signal; tests replace it.
var serveExit = os.Exit

// serveListening, if set, is told the address the server listens on.
var serveListening func(addr string)

// serveStopping, if set, is called when the server has begun to shut down
// and a second signal would end the process.
var serveStopping func()

// shutdownTimeout bounds how long the connections of stopped requests may
// take to finish their responses before they are closed.
const shutdownTimeout = 10 * time.Second

// signalExit is the conventional exit status of a process ended by sig.
func signalExit(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok && s == syscall.SIGTERM {
		return 128 + 15
	}
	return 128 + 2 // SIGINT
}

func runServe(args []string, stdout, stderr io.Writer) error {
	c := commands["serve"]
	fs := newFlagSet(c, stderr)
	var mf modelFlags
	var gf genFlags
	mf.register(fs)
	gf.register(fs)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8080, "TCP port (0: any free port)")
	parallel := fs.Int("parallel", 1, "KV cache slots, each holding one conversation: up to N requests generate at once, their tokens decoded together")
	alias := fs.String("alias", "", "model name reported to clients (default: the file name)")
	maxBody := fs.Int64("max-body", server.DefaultMaxBody, "largest request body in bytes")
	apiKey := fs.String("api-key", "", "require the header \"Authorization: Bearer KEY\" of requests but GET /health (default $BITNET_API_KEY)")
	noWebUI := fs.Bool("no-webui", false, "do not serve the chat page at / (it answers 404)")
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	keyGiven := false
	fs.Visit(func(f *flag.Flag) { keyGiven = keyGiven || f.Name == "api-key" })
	if !keyGiven {
		*apiKey = os.Getenv("BITNET_API_KEY")
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
	if err := mf.validate(); err != nil {
		return err
	}
	log := slog.Default()
	// Listen before loading the model: a port in use is reported at once.
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the address is already in use (is another server running? choose another --port)", addr)
		}
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	defer ln.Close()
	mf.decodes = true
	l, err := mf.open(true)
	if err != nil {
		return err
	}
	// Closes the model: it runs only once no handler can use it.
	defer l.Close()

	states := []*engine.State{l.state}
	kv := mf.kvDType()
	for range *parallel - 1 {
		st, err := l.model.NewState(l.state.NCtx, mf.batch, kv)
		if err != nil {
			return err
		}
		defer st.Close()
		states = append(states, st)
	}
	if *parallel > 1 {
		// The slots' decode steps run together.
		b, err := l.model.NewBatcher(*parallel)
		if err != nil {
			return err
		}
		defer b.Close()
		for _, st := range states {
			if err := b.Join(st); err != nil {
				return err
			}
		}
	}
	var sessions []*server.Session
	for _, st := range states {
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
	srv, err := server.New(server.Options{Model: name, Tokenizer: l.tok, Sessions: sessions, Parallel: *parallel > 1,
		Defaults: defaults, MaxBody: *maxBody, Logger: log, APIKey: *apiKey,
		WebUI: !*noWebUI, Backend: l.be.Name(), Device: l.be.Device(), LMHead: headLabel(l.model)})
	if err != nil {
		return err
	}

	sigc, stopSignals := serveSignals()
	defer stopSignals()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("listening", "url", "http://"+ln.Addr().String(), "model", name, "ctx", l.state.NCtx, "slots", *parallel,
		"api_key", *apiKey != "", "webui", !*noWebUI)
	if serveListening != nil {
		serveListening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var sig os.Signal
	select {
	case err := <-errc:
		// The listener failed: end the handlers before the model closes.
		hs.Close()
		srv.Shutdown(context.Background())
		return fmt.Errorf("serve: %w", err)
	case sig = <-sigc:
	}
	log.Info("shutting down: stopping running generations (a second signal exits at once)", "signal", sig.String())
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case sig := <-sigc:
			log.Warn("second signal: exiting now", "signal", sig.String())
			serveExit(signalExit(sig))
		case <-done:
		}
	}()
	if serveStopping != nil {
		serveStopping()
	}
	// Stop the generations and wait for the handlers while the HTTP server
	// stops accepting and finishes the responses; a connection that does
	// not take its response in time is closed, which ends its handler.
	drained := make(chan struct{})
	go func() {
		srv.Shutdown(context.Background())
		close(drained)
	}()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("closing the connections still open", "err", err)
		hs.Close()
	}
	// Never close the model while a handler may still use it.
	<-drained
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("server stopped")
	return nil
}
