package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"bitnet/engine"
	"bitnet/engine/tokenizer"
)

func init() {
	register(&command{
		name:  "run",
		usage: "run --model M --prompt P [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--threads N] [--ctx-size N] [--backend auto|cpu|vulkan] [--no-bos] [--chat] [--system S] [--stop S]",
		short: "Generate text from a prompt, streamed to stdout; load time and tokens/s on stderr.",
		run:   runRun,
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// genFlags are the sampling and generation flags shared by run and chat.
type genFlags struct {
	maxNew        int
	temperature   float64
	topK          int
	topP, minP    float64
	repeatPenalty float64
	repeatLastN   int
	seed          int64
	stops         stringList
}

func (g *genFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&g.maxNew, "max-new-tokens", 256, "maximum tokens to generate (-1: until end of text or a full context)")
	fs.Float64Var(&g.temperature, "temperature", 0.8, "sampling temperature (0: greedy)")
	fs.IntVar(&g.topK, "top-k", 40, "keep the k most likely tokens (0: all)")
	fs.Float64Var(&g.topP, "top-p", 0.95, "nucleus sampling threshold (1: off)")
	fs.Float64Var(&g.minP, "min-p", 0.05, "drop tokens below min-p times the most likely one (0: off)")
	fs.Float64Var(&g.repeatPenalty, "repeat-penalty", 1.0, "penalty for recently seen tokens (1: off)")
	fs.IntVar(&g.repeatLastN, "repeat-last-n", 64, "window of the repeat penalty")
	fs.Int64Var(&g.seed, "seed", -1, "random seed (-1: $BITNET_SEED, or random)")
	fs.Var(&g.stops, "stop", "stop when this text is generated (repeatable)")
}

func (g *genFlags) validate() error {
	switch {
	case g.temperature < 0:
		return usageErrorf("--temperature %g must not be negative", g.temperature)
	case g.topK < 0:
		return usageErrorf("--top-k %d must not be negative", g.topK)
	case g.topP < 0 || g.topP > 1:
		return usageErrorf("--top-p %g must be in [0, 1]", g.topP)
	case g.minP < 0 || g.minP > 1:
		return usageErrorf("--min-p %g must be in [0, 1]", g.minP)
	case g.repeatPenalty <= 0:
		return usageErrorf("--repeat-penalty %g must be positive", g.repeatPenalty)
	case g.maxNew == 0 || g.maxNew < -1:
		return usageErrorf("--max-new-tokens %d: want a positive number or -1", g.maxNew)
	}
	return nil
}

func (g *genFlags) sampler() (*engine.Sampler, uint64, error) {
	seed := uint64(rand.Int64())
	switch {
	case g.seed >= 0:
		seed = uint64(g.seed)
	case os.Getenv("BITNET_SEED") != "":
		v, err := strconv.ParseUint(os.Getenv("BITNET_SEED"), 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("BITNET_SEED=%q: %w", os.Getenv("BITNET_SEED"), err)
		}
		seed = v
	case os.Getenv("BITNET_DETERMINISTIC") == "1":
		seed = 0
	}
	return engine.NewSampler(engine.SamplerParams{
		Temperature: float32(g.temperature), TopK: g.topK, TopP: float32(g.topP), MinP: float32(g.minP),
		RepeatPenalty: float32(g.repeatPenalty), RepeatLastN: g.repeatLastN, Seed: seed,
	}), seed, nil
}

func runRun(args []string, stdout, stderr io.Writer) error {
	c := commands["run"]
	fs := newFlagSet(c, stderr)
	var mf modelFlags
	var gf genFlags
	mf.register(fs)
	gf.register(fs)
	prompt := fs.String("prompt", "", "prompt text")
	promptFile := fs.String("file", "", "read the prompt from this file")
	noBOS := fs.Bool("no-bos", false, "do not add the BOS token")
	chat := fs.Bool("chat", false, "render the prompt as a user message in the model's chat format")
	system := fs.String("system", "", "system message (with --chat)")
	special := fs.Bool("parse-special", true, "parse special tokens such as <|eot_id|> in the prompt")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("unexpected argument %q (use --prompt)", pos[0])
	}
	if err := gf.validate(); err != nil {
		return err
	}
	if *promptFile != "" {
		b, err := os.ReadFile(*promptFile)
		if err != nil {
			return err
		}
		*prompt = string(b)
	}
	if *system != "" && !*chat {
		return usageErrorf("--system needs --chat")
	}
	smp, seed, err := gf.sampler()
	if err != nil {
		return err
	}
	l, err := mf.open(true)
	if err != nil {
		return err
	}
	defer l.Close()
	text := *prompt
	if *chat {
		var msgs []tokenizer.Message
		if *system != "" {
			msgs = append(msgs, tokenizer.Message{Role: "system", Content: *system})
		}
		msgs = append(msgs, tokenizer.Message{Role: "user", Content: *prompt})
		if text, err = l.tok.RenderChat(msgs, true); err != nil {
			return err
		}
	}
	ids := l.tok.Encode(text, l.tok.AddBOS() && !*noBOS, *special || *chat)
	if len(ids) == 0 {
		return usageErrorf("the prompt is empty and no BOS token is added; give --prompt")
	}
	if len(ids) >= l.state.NCtx {
		return fmt.Errorf("the prompt has %d tokens but the context holds %d: shorten it or raise --ctx-size", len(ids), l.state.NCtx)
	}
	out := bufio.NewWriter(stdout)
	sw := newStopWriter(out, gf.stops)
	// Output continues the prompt: keep the space a SentencePiece piece
	// starts with unless only BOS precedes it.
	var streamOpts []tokenizer.DecodeOption
	if strings.TrimSpace(text) != "" {
		streamOpts = append(streamOpts, tokenizer.KeepLeadingSpace())
	}
	stream := l.tok.NewStream(streamOpts...)
	maxNew := gf.maxNew
	if maxNew < 0 {
		maxNew = 0
	}
	_, st, genErr := l.state.Generate(ids, engine.GenerateOptions{
		MaxNewTokens: maxNew,
		Sampler:      smp,
		IsEOG:        l.tok.IsEOG,
		OnToken: func(id int32) bool {
			stop := sw.write(stream.Push(id))
			out.Flush()
			return stop
		},
	})
	if !sw.stopped {
		sw.write(stream.Flush())
	}
	sw.flush()
	fmt.Fprintln(out)
	out.Flush()
	fmt.Fprintf(stderr, "load %.0f ms | prompt %d tokens, %.1f tokens/s | generated %d tokens, %.1f tokens/s | backend %s (%s) | seed %d\n",
		float64(l.load.Microseconds())/1000, st.PromptTokens, st.PromptTPS(), st.GenTokens, st.GenTPS(), l.be.Name(), l.be.Device(), seed)
	return genErr
}

// stopWriter passes text through until one of the stop strings appears; it
// holds back any suffix that could start a stop string.
type stopWriter struct {
	w       *bufio.Writer
	stops   []string
	pending string
	stopped bool
}

func newStopWriter(w *bufio.Writer, stops []string) *stopWriter {
	return &stopWriter{w: w, stops: stops}
}

// write adds text and reports whether a stop string was reached.
func (s *stopWriter) write(text string) bool {
	if s.stopped {
		return true
	}
	s.pending += text
	for _, st := range s.stops {
		if st == "" {
			continue
		}
		if i := strings.Index(s.pending, st); i >= 0 {
			s.w.WriteString(s.pending[:i])
			s.pending, s.stopped = "", true
			return true
		}
	}
	hold := 0
	for _, st := range s.stops {
		for n := min(len(st)-1, len(s.pending)); n > hold; n-- {
			if strings.HasSuffix(s.pending, st[:n]) {
				hold = n
				break
			}
		}
	}
	s.w.WriteString(s.pending[:len(s.pending)-hold])
	s.pending = s.pending[len(s.pending)-hold:]
	return false
}

func (s *stopWriter) flush() {
	s.w.WriteString(s.pending)
	s.pending = ""
}
