package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"unicode"

	"bitnet/engine"
	"bitnet/engine/tokenizer"
	"bitnet/internal/server"
)

func init() {
	register(&command{
		name:  "chat",
		usage: "chat --model M [--system S] [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--stop S] [--run-ahead N] [--lookup N] [--threads N] [--ctx-size N] [--backend auto|cpu|vulkan]",
		short: "Chat with a model: lines from stdin, replies streamed to stdout; the conversation stays in the KV cache.",
		run:   runChat,
	})
}

// stdin is where chat reads the user's lines.
var stdin io.Reader = os.Stdin

const chatHelp = `commands: /reset clears the conversation, /exit (or end of input) quits.
A line ending with \ continues on the next line. Ctrl-C stops a reply.`

var errInterrupted = errors.New("interrupted")

// chat is an interactive conversation.
type chat struct {
	l       *loaded
	sess    *server.Session
	smp     *engine.Sampler
	params  server.Params
	base    []tokenizer.Message // the system message, if any
	msgs    []tokenizer.Message
	reserve int // context kept free for a reply when old turns are dropped
	// The conversation as the model saw it: the last prompt's text and
	// tokens followed by the reply's tokens as generated (histText ends
	// with the reply's text as a rendering holds it). A rendering that
	// extends histText is these tokens plus the rest, so the cache holds
	// every token of it but the tail.
	lastText, histText string
	lastIDs, hist      []int32
	stderr             io.Writer
	out                *bufio.Writer
	sig                <-chan os.Signal
}

func runChat(args []string, stdout, stderr io.Writer) error {
	c := commands["chat"]
	fs := newFlagSet(c, stderr)
	var mf modelFlags
	var gf genFlags
	mf.register(fs)
	gf.register(fs)
	system := fs.String("system", "", "system message")
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	if err := gf.validate(); err != nil {
		return err
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

	ch := &chat{l: l, sess: server.NewSession(l.state, l.tok), smp: smp, params: gf.params(),
		stderr: stderr, out: bufio.NewWriter(stdout)}
	if *system != "" {
		ch.base = []tokenizer.Message{{Role: "system", Content: *system}}
	}
	ch.msgs = append([]tokenizer.Message(nil), ch.base...)
	ch.params.Stop = append(ch.params.Stop, server.ChatStops(l.tok)...)
	ch.reserve = l.state.NCtx / 4
	if gf.maxNew > 0 {
		ch.reserve = min(ch.reserve, gf.maxNew)
	}
	if f, ok := stdin.(*os.File); ok && f == os.Stdin {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		defer signal.Stop(sig)
		ch.sig = sig
	}
	fmt.Fprintf(stderr, "chat format %s, context %d tokens, backend %s (%s), seed %d\n%s\n",
		l.tok.ChatFormat(), l.state.NCtx, l.be.Name(), l.be.Device(), seed, chatHelp)

	lines := readLines(stdin)
	for {
		fmt.Fprint(stderr, "> ")
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-ch.sig:
			fmt.Fprintln(stderr)
			return nil
		}
		if !ok {
			fmt.Fprintln(stderr)
			return nil
		}
		switch cmd := strings.TrimSpace(line); {
		case cmd == "":
			continue
		case cmd == "/exit" || cmd == "/quit":
			return nil
		case cmd == "/reset":
			ch.msgs = append(ch.msgs[:0], ch.base...)
			ch.hist, ch.histText = nil, ""
			ch.sess.Reset()
			fmt.Fprintln(stderr, "conversation cleared")
			continue
		case cmd == "/help":
			fmt.Fprintln(stderr, chatHelp)
			continue
		case strings.HasPrefix(line, "/"):
			fmt.Fprintf(stderr, "unknown command %s (start the line with a space to send it as text)\n%s\n", cmd, chatHelp)
			continue
		}
		if err := ch.turn(line); err != nil {
			return err
		}
	}
}

// readLines sends the lines of r, joining those that end with a backslash.
func readLines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		var acc strings.Builder
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			if strings.HasSuffix(line, `\`) {
				acc.WriteString(strings.TrimSuffix(line, `\`))
				acc.WriteByte('\n')
				continue
			}
			acc.WriteString(line)
			ch <- acc.String()
			acc.Reset()
		}
		if acc.Len() > 0 {
			ch <- acc.String()
		}
	}()
	return ch
}

// prompt renders the conversation, dropping the oldest turns while it does
// not leave room for a reply. It returns nil when the last message alone
// does not fit.
func (c *chat) prompt() ([]int32, error) {
	nctx := c.sess.NCtx()
	dropped := 0
	for {
		text, err := c.l.tok.RenderChat(c.msgs, true)
		if err != nil {
			return nil, err
		}
		var ids []int32
		if rest, ok := strings.CutPrefix(text, c.histText); ok && c.hist != nil {
			ids = append(append([]int32(nil), c.hist...), c.l.tok.Encode(rest, false, true)...)
		} else {
			ids = c.l.tok.Encode(text, c.l.tok.AddBOS(), true)
		}
		first := len(c.base) // the oldest message that may be dropped
		canDrop := len(c.msgs)-first > 1
		if len(ids)+c.reserve <= nctx || !canDrop && len(ids) < nctx {
			if dropped > 0 {
				fmt.Fprintf(c.stderr, "[context full: dropped the %d oldest message(s); %d remain]\n", dropped, len(c.msgs)-first)
			}
			c.lastText, c.lastIDs = text, ids
			return ids, nil
		}
		if !canDrop {
			fmt.Fprintf(c.stderr, "[message too long: the conversation would take %d tokens but the context holds %d; not sent]\n", len(ids), nctx)
			c.msgs = c.msgs[:len(c.msgs)-1]
			return nil, nil
		}
		// Drop a whole turn: a user message and the reply to it.
		n := 1
		if c.msgs[first].Role == "user" && len(c.msgs)-first > 2 && c.msgs[first+1].Role == "assistant" {
			n = 2
		}
		c.msgs = append(c.msgs[:first], c.msgs[first+n:]...)
		dropped += n
	}
}

// turn adds a user message, streams the reply and prints the statistics.
func (c *chat) turn(line string) error {
	c.msgs = append(c.msgs, tokenizer.Message{Role: "user", Content: line})
	ids, err := c.prompt()
	if err != nil || ids == nil {
		return err
	}
	res, err := c.sess.Generate(server.Request{
		Prompt: ids, Params: c.params, Sampler: c.smp, TrimLeft: true,
		Decode: []tokenizer.DecodeOption{tokenizer.KeepLeadingSpace()},
		OnText: func(t string) error {
			c.out.WriteString(t)
			c.out.Flush()
			select {
			case <-c.sig:
				return errInterrupted
			default:
				return nil
			}
		},
	})
	c.out.WriteString("\n")
	c.out.Flush()
	switch {
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(c.stderr, "[interrupted]")
	case err != nil:
		return err
	}
	c.msgs = append(c.msgs, tokenizer.Message{Role: "assistant", Content: res.Text})
	// The next turn keeps the reply's tokens when they spell the reply
	// (not when a stop string cut it).
	c.hist, c.histText = nil, ""
	reply := strings.TrimSpace(res.Text)
	if strings.TrimSpace(c.l.tok.Decode(res.Tokens, tokenizer.KeepLeadingSpace())) == reply {
		// The rendering holds the reply after the last prompt (and the
		// white space a format puts between them).
		text, err := c.l.tok.RenderChat(c.msgs, false)
		if rest, ok := strings.CutPrefix(text, c.lastText); ok && err == nil {
			sp := len(rest) - len(strings.TrimLeftFunc(rest, unicode.IsSpace))
			if strings.HasPrefix(rest[sp:], reply) {
				c.hist = append(c.lastIDs, res.Tokens...)
				c.histText = text[:len(c.lastText)+sp+len(reply)]
			}
		}
	}
	if res.ContextFull {
		fmt.Fprintf(c.stderr, "[context full (%d tokens): the reply was cut short; the oldest turns will be dropped to continue]\n", c.sess.NCtx())
	}
	st := res.Stats
	fmt.Fprintf(c.stderr, "[prompt %d tokens (%d cached, %d evaluated), %.1f tokens/s | reply %d tokens, %.1f tokens/s | context %d/%d]\n",
		res.PromptTokens, res.CachedTokens, st.PromptTokens, st.PromptTPS(), st.GenTokens, st.GenTPS(), c.sess.Cached(), c.sess.NCtx())
	return nil
}
