package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"bitnet/engine"
	"bitnet/engine/tokenizer"
)

func init() {
	register(&command{
		name:  "run",
		usage: "run --model M --prompt P [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--threads N] [--ctx-size N] [--backend auto|cpu|vulkan] [--file F] [--no-bos] [--parse-special=false] [--chat] [--system S] [--stop S] [--run-ahead N] [--lookup N]",
		short: "Generate text from a prompt, streamed to stdout; load time and tokens/s on stderr.",
		run:   runRun,
	})
}

func runRun(args []string, stdout, stderr io.Writer) error {
	c := commands["run"]
	fs := newFlagSet(c, stderr)
	var mf modelFlags
	var gf genFlags
	mf.register(fs)
	gf.register(fs)
	prompt := fs.String("prompt", "", "prompt text")
	promptFile := fs.String("file", "", "read the prompt from this file (- for standard input)")
	noBOS := fs.Bool("no-bos", false, "do not add the BOS token")
	chat := fs.Bool("chat", false, "render the prompt as a user message in the model's chat format")
	system := fs.String("system", "", "system message (with --chat)")
	special := fs.Bool("parse-special", true, "parse special tokens such as <|eot_id|> in the prompt (--parse-special=false: read them as text)")
	echo := fs.Bool("echo", false, "write the prompt to stdout before the generated text")
	if err := parseNoArgs(fs, args, " (use --prompt)"); err != nil {
		return err
	}
	if err := gf.validate(); err != nil {
		return err
	}
	if *promptFile != "" {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "prompt" })
		if given {
			return usageErrorf("give the prompt either with --prompt or with --file, not both")
		}
		b, err := readInput(*promptFile)
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
	mf.decodes = true
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
	if *echo {
		out.WriteString(*prompt)
		out.Flush()
	}
	sw := newStopWriter(out, gf.stops)
	// Output continues the prompt: keep the space a SentencePiece piece
	// starts with unless only BOS precedes it.
	var streamOpts []tokenizer.DecodeOption
	if strings.TrimSpace(text) != "" {
		streamOpts = append(streamOpts, tokenizer.KeepLeadingSpace())
	}
	stream := l.tok.NewStream(streamOpts...)
	sig, stopSig := interrupts()
	defer stopSig()
	interrupted := false
	_, st, genErr := l.state.Generate(ids, engine.GenerateOptions{
		MaxNewTokens: gf.maxNew, // -1: until end of text or a full context
		RunAhead:     gf.runAhead,
		Lookup:       gf.lookup,
		Sampler:      smp,
		IsEOG:        l.tok.IsEOG,
		OnToken: func(id int32) bool {
			stop := sw.write(stream.Push(id))
			out.Flush()
			select {
			case <-sig:
				interrupted = true
				return true
			default:
				return stop
			}
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
	if st.LookupSteps > 0 {
		fmt.Fprintf(stderr, "lookup: %d steps checked %d drafted tokens, %d accepted (%.0f%%)\n",
			st.LookupSteps, st.Drafted, st.Accepted, 100*float64(st.Accepted)/float64(st.Drafted))
	}
	if genErr == nil && interrupted {
		return errInterrupted
	}
	return genErr
}

// interrupts delivers SIGINT (Ctrl-C) from when it is called until stop;
// run then ends generation early and exits with status 130.
var interrupts = func() (sig <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	return c, func() { signal.Stop(c) }
}

// readInput returns the contents of the file at path, or of standard input
// for "-".
func readInput(path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return b, nil
	}
	return os.ReadFile(path)
}
