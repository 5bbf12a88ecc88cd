package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"bitnet/backend"
	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/engine/tokenizer"
	"bitnet/gguf"
	"bitnet/internal/hub"
)

// modelFlags are the flags shared by the commands that load a model.
type modelFlags struct {
	model      string
	hf         string    // REPO[:FILE] on Hugging Face, pulled into m.model
	hfOut      io.Writer // download and load progress: the command's stderr
	tokenizer  string
	backend    string
	device     int
	threads    int
	ctxSize    int
	batch      int
	kvType     string
	debug      string
	reference  bool
	noMmap     bool
	lmHead     string
	headScreen string
	// decodes says that the command generates text: open makes the LM
	// head's screen with the model (engine.Model.PrepareScreen).
	decodes bool

	// profile, when set, is the op profiler the model runs through (open
	// clears it for backends that time their kernels themselves).
	profile *compute.Profiler
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.model, "model", "", "GGUF model file (required unless --hf)")
	fs.StringVar(&m.hf, "hf", "", "Hugging Face model REPO[:FILE] instead of --model, downloaded into the cache on first use (see 'bitnet pull')")
	m.hfOut = commandStderr(fs)
	fs.StringVar(&m.tokenizer, "tokenizer", "", "Hugging Face tokenizer.json to use instead of the model's vocabulary")
	fs.StringVar(&m.backend, "backend", "", "auto, cpu or vulkan (default $BITNET_BACKEND or auto)")
	fs.IntVar(&m.device, "device", -1, "Vulkan device index (see 'bitnet devices'); -1 chooses")
	fs.IntVar(&m.threads, "threads", 0, "CPU threads (0: one per core)")
	fs.IntVar(&m.ctxSize, "ctx-size", 0, "context size in tokens (0: the model's, at most 4096)")
	fs.IntVar(&m.batch, "batch", engine.DefaultBatch, "prompt tokens evaluated per pass")
	fs.StringVar(&m.kvType, "kv-type", "f16", "KV cache type: f16 or f32")
	fs.StringVar(&m.debug, "debug", "", "layer-0 diagnostics: all or a list of "+fmt.Sprint(engine.DebugNames))
	fs.BoolVar(&m.reference, "reference", false, "run on the scalar numeric oracle (package reference) instead of the fast CPU backend")
	fs.StringVar(&m.lmHead, "lm-head", "f16", "LM head weights: f16 (as the file stores them: logits as bitnet.cpp's), q8_0 or q6_k (quantized at load: fewer bytes per token, see the README for the fidelity)")
	fs.StringVar(&m.headScreen, "head-screen", "auto", "greedy and top-k decoding: rank the vocabulary with an int8 copy of the LM head first and compute only the rows it cannot rule out (the same tokens, about half the head's bytes per token): auto (heads of 4M weights or more, on the CPU), on or off")
	fs.BoolVar(&m.noMmap, "no-mmap", false, "read the model into private memory on huge pages instead of mapping the file (a copy; the mapping is backed by huge pages too where the kernel allows)")
}

// loaded is an open model with its backend and state.
type loaded struct {
	file  *gguf.File
	be    compute.Backend
	model *engine.Model
	tok   *tokenizer.Tokenizer
	state *engine.State
	load  time.Duration
}

func (l *loaded) Close() {
	if l.be != nil {
		l.be.Close()
	}
	if l.file != nil {
		l.file.Close()
	}
}

func (m *modelFlags) validate() error {
	if m.hf != "" && m.model != "" {
		return usageErrorf("--hf and --model are alternatives: give one")
	}
	if m.model == "" && m.hf == "" {
		return usageErrorf("--model is required (or --hf REPO[:FILE] for a model on Hugging Face)")
	}
	if m.hf != "" {
		if _, err := hub.ParseRef(m.hf); err != nil {
			return usageErrorf("--hf: %v", err)
		}
	}
	if m.kvType != "f16" && m.kvType != "f32" {
		return usageErrorf("--kv-type %q: want f16 or f32", m.kvType)
	}
	if m.ctxSize < 0 || m.batch <= 0 || m.threads < 0 {
		return usageErrorf("--ctx-size, --batch and --threads must not be negative (and --batch > 0)")
	}
	switch m.backend {
	case "", "auto", "cpu", "vulkan":
	default:
		return usageErrorf("--backend %q: want auto, cpu or vulkan", m.backend)
	}
	if _, err := engine.ParseDebug(m.debug); err != nil {
		return usageErrorf("--debug: %v", err)
	}
	if _, err := engine.ParseHeadType(m.lmHead); err != nil {
		return usageErrorf("--lm-head: %v", err)
	}
	if _, err := engine.ParseScreenMode(m.headScreen); err != nil {
		return usageErrorf("--head-screen: %v", err)
	}
	return nil
}

// kvDType is the KV cache type --kv-type asks for.
func (m *modelFlags) kvDType() gguf.DType {
	if m.kvType == "f32" {
		return gguf.F32
	}
	return gguf.F16
}

// open loads the model, its tokenizer (needTok) and a state.
func (m *modelFlags) open(needTok bool) (*loaded, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	if d, _ := engine.ParseDebug(m.debug); d != (engine.Debug{}) {
		verbose() // the diagnostics asked for are logged at info
	}
	if m.hf != "" {
		ref, _ := hub.ParseRef(m.hf)
		f, err := pullModel(ref, m.hfOut)
		if err != nil {
			return nil, err
		}
		m.model, m.hf = f.Local, ""
	}
	t0 := time.Now()
	l := &loaded{}
	var err error
	open := gguf.OpenResident
	if m.noMmap {
		open = gguf.OpenInMemory
	}
	if l.file, err = open(m.model); err != nil {
		return nil, err
	}
	if len(l.file.Tensors) == 0 {
		l.Close()
		return nil, fmt.Errorf("%s: vocabulary only, no weights: it cannot be run (bitnet tokenize reads it)", m.model)
	}
	if needTok {
		if m.tokenizer != "" {
			l.tok, err = tokenizer.FromJSON(m.tokenizer) // its errors name the file
		} else if l.tok, err = tokenizer.FromGGUF(l.file); err != nil {
			err = fmt.Errorf("%s: %w", m.model, err)
		}
		if err != nil {
			l.Close()
			return nil, err
		}
	}
	if l.be, err = backend.Open(backend.Options{Name: m.backend, Threads: m.threads, Device: m.device, Reference: m.reference}); err != nil {
		l.Close()
		return nil, err
	}
	run := l.be
	if _, ok := l.be.(compute.KernelProfiler); ok {
		m.profile = nil // the backend times its kernels on the device
	}
	if m.profile != nil {
		m.profile.Backend = l.be
		run = m.profile
	}
	var lo engine.LoadOptions
	lo.LMHead, _ = engine.ParseHeadType(m.lmHead)
	lo.ScreenHead, _ = engine.ParseScreenMode(m.headScreen)
	var lp *progress
	if st, err := os.Stat(m.model); err == nil && st.Size() >= loadProgressMinSize {
		lp = newProgress(m.hfOut, "loading "+m.model, 1)
		lo.Progress = func(done, total int64) { lp.total = max(total, 1); lp.advance(done - lp.done) }
	}
	l.model, err = engine.LoadWith(l.file, run, lo)
	if lp != nil {
		lp.end()
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("%s: %w", m.model, err)
	}
	ctx := m.ctxSize
	if ctx == 0 {
		ctx = min(l.model.Config.NCtx, 4096)
	}
	if ctx > l.model.Config.NCtx {
		slog.Warn("context size exceeds the model's training context; quality may degrade", "ctx", ctx, "n_ctx_train", l.model.Config.NCtx)
	}
	kv := m.kvDType()
	if l.state, err = l.model.NewState(ctx, m.batch, kv); err != nil {
		l.Close()
		return nil, err
	}
	l.state.Debug, _ = engine.ParseDebug(m.debug)
	if m.decodes {
		l.model.PrepareScreen()
	}
	l.load = time.Since(t0)
	slog.Info("model loaded", "file", m.model, "model", l.model.Describe(), "backend", l.be.Name(),
		"device", l.be.Device(), "ctx", ctx, "kv", m.kvType, "load_ms", l.load.Milliseconds())
	return l, nil
}

// parseTokens parses "1,17,42" into token ids.
func parseTokens(s string) ([]int32, error) {
	var ids []int32
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' || s[i] == ' ' {
			if i > start {
				v, err := strconv.ParseInt(s[start:i], 10, 32)
				if err != nil || v < 0 {
					return nil, fmt.Errorf("token %d, %q, is not a token id (want an integer from 0)", len(ids)+1, s[start:i])
				}
				ids = append(ids, int32(v))
			}
			start = i + 1
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no token ids in %q", s)
	}
	return ids, nil
}
