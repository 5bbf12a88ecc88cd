package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"bitnet/gguf"
	"bitnet/internal/modelgen"
)

func init() {
	register(&command{
		name:  "gen-model",
		usage: "gen-model --arch bitnet-b1.58|bitnet|llama --preset tiny|small|2b4t [--seed N] [--weight-type i2_s|tq2_0|tq1_0|f32|f16] --out FILE",
		short: "Write a synthetic model with random weights (for tests and benchmarks).",
		run:   runGenModel,
	})
}

func runGenModel(args []string, stdout, stderr io.Writer) error {
	c := commands["gen-model"]
	fs := newFlagSet(c, stderr)
	arch := fs.String("arch", "bitnet-b1.58", "architecture: "+strings.Join(modelgen.Architectures, ", "))
	preset := fs.String("preset", "tiny", "size: "+strings.Join(modelgen.PresetNames, ", ")+" (2b4t is bitnet-b1.58-2B-4T's layout, 1.2 GB)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same file")
	wt := fs.String("weight-type", "", "linear weight type: "+strings.Join(modelgen.WeightTypes, ", ")+" (default i2_s for bitnet-b1.58, tq2_0 for bitnet, f32 for llama)")
	out := fs.String("out", "", "output file (required)")
	name := fs.String("name", "", "general.name (default: describes the model)")
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("--out is required")
	}
	if !slices.Contains(modelgen.Architectures, *arch) {
		return usageErrorf("unknown --arch %q (want %s)", *arch, strings.Join(modelgen.Architectures, ", "))
	}
	if _, ok := modelgen.Presets[*preset]; !ok {
		return usageErrorf("unknown --preset %q (want %s)", *preset, strings.Join(modelgen.PresetNames, ", "))
	}
	if *wt != "" && !slices.Contains(modelgen.WeightTypes, *wt) {
		return usageErrorf("unknown --weight-type %q (want %s)", *wt, strings.Join(modelgen.WeightTypes, ", "))
	}
	opts := modelgen.Options{Arch: *arch, Preset: *preset, Seed: *seed, WeightType: *wt, Name: *name}
	w, err := modelgen.Build(opts)
	if err != nil {
		return usageErrorf("%v", err)
	}
	tensors, _, size := w.Layout()
	start := time.Now()
	if err := writeModel(w, *out, size, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s: %s %s, %d tensors, %d bytes in %.1fs\n", *out, *arch, *preset, len(tensors), size, time.Since(start).Seconds())
	return nil
}

// progressMinSize is the smallest file gen-model reports progress for, and
// loadProgressMinSize the smallest model whose loading does (uploading a
// large model to a GPU takes seconds).
var progressMinSize, loadProgressMinSize int64 = 64 << 20, 256 << 20

// writeModel writes w to path (removed on failure), reporting progress on
// stderr for files of progressMinSize bytes and more.
func writeModel(w *gguf.Writer, path string, size int64, stderr io.Writer) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var dst io.Writer = f
	var p *progress
	if size >= progressMinSize {
		p = newProgress(stderr, "writing "+path, size)
		dst = io.MultiWriter(f, p)
	}
	if _, err = w.WriteTo(dst); err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if p != nil {
		p.end()
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// progress counts the bytes written to it out of a known total and reports
// them: on a terminal as a bar redrawn at every percent, otherwise as a line
// at every tenth.
type progress struct {
	w            io.Writer
	label        string
	total, done  int64
	term         bool
	shown, steps int64 // steps reported so far, of steps in all
}

func newProgress(w io.Writer, label string, total int64) *progress {
	p := &progress{w: w, label: label, total: max(total, 1), steps: 10}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.term, p.steps = true, 100
		}
	}
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.advance(int64(len(b)))
	return len(b), nil
}

// advance counts n more bytes done and reports a new step.
func (p *progress) advance(n int64) {
	p.done += n
	step := min(p.done, p.total) * p.steps / p.total
	if step == p.shown {
		return
	}
	p.shown = step
	pct := step * 100 / p.steps
	if p.term {
		const width = 40
		n := int(pct * width / 100)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3d%%", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), pct)
	} else {
		fmt.Fprintf(p.w, "%s: %d%% (%d of %d MiB)\n", p.label, pct, p.done>>20, p.total>>20)
	}
}

// end finishes the bar's line on a terminal.
func (p *progress) end() {
	if p.term && p.shown > 0 {
		fmt.Fprintln(p.w)
	}
}
