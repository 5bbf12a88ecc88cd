package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"bitnet/engine"
)

func init() {
	register(&command{
		name:  "logits",
		usage: "logits --model M --tokens 1,17,42 [--backend B] --out FILE",
		short: "Evaluate token ids as one batch and write every position's logits as raw little-endian float32 [n_tokens][n_vocab].",
		run:   runLogits,
	})
}

func runLogits(args []string, stdout, stderr io.Writer) error {
	c := commands["logits"]
	fs := newFlagSet(c, stderr)
	var mf modelFlags
	mf.register(fs)
	tokens := fs.String("tokens", "", "comma-separated token ids (required)")
	out := fs.String("out", "", "output file (required; - for stdout)")
	dump := fs.String("dump", "", "also write every intermediate as DIR/NAME.f32 (float32, one row per token; the names and layout of tools/ref_numpy.py --dump)")
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	if *out == "" || *tokens == "" {
		return usageErrorf("--tokens and --out are required")
	}
	ids, err := parseTokens(*tokens)
	if err != nil {
		return usageErrorf("--tokens: %v", err)
	}
	if mf.batch == 0 || mf.batch < len(ids) {
		mf.batch = len(ids)
	}
	if mf.ctxSize == 0 {
		mf.ctxSize = max(len(ids), 1)
	}
	l, err := mf.open(false)
	if err != nil {
		return err
	}
	defer l.Close()
	var logits []float32
	if *dump != "" {
		var capt *engine.Capture
		if capt, logits, err = l.state.ForwardCapture(ids); err == nil {
			err = writeDump(*dump, capt)
		}
	} else {
		logits, err = l.state.Forward(ids, true)
	}
	if err != nil {
		return err
	}
	if *out == "-" {
		err = writeF32To(stdout, logits)
	} else {
		err = writeF32(*out, logits)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d x %d logits to %s\n", len(ids), l.model.Config.NVocab, *out)
	return nil
}

// writeDump writes each captured tensor as dir/NAME.f32.
func writeDump(dir string, c *engine.Capture) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range c.Names {
		if err := writeF32(filepath.Join(dir, name+".f32"), c.Values[name]); err != nil {
			return err
		}
	}
	return nil
}

// writeF32 writes v to path as raw little-endian float32.
func writeF32(path string, v []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeF32To(f, v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeF32To(w io.Writer, v []float32) error {
	bw := bufio.NewWriter(w)
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		bw.Write(b[:])
	}
	return bw.Flush()
}
