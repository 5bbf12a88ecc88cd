package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

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
	if err := w.WriteFile(*out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s: %s %s, %d tensors, %d bytes in %.1fs\n", *out, *arch, *preset, len(tensors), size, time.Since(start).Seconds())
	return nil
}
