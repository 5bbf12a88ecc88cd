package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"bitnet/engine"
)

func init() {
	register(&command{
		name:  "crossval",
		usage: "crossval --model M [--prompt P | --tokens 1,2,3] [--backends cpu,vulkan] [--min-cosine C] [--max-abs D] [--json]",
		short: "Run two backends side by side and report, per layer and op, cosine and max abs difference, and where they first diverge (exit status 1 when they do).",
		run:   runCrossval,
	})
}

// crossvalBackends are the names --backends accepts.
var crossvalBackends = []string{"cpu", "cpu-ref", "vulkan"}

func runCrossval(args []string, stdout, stderr io.Writer) error {
	c := commands["crossval"]
	fs := newFlagSet(c, stderr)
	var mf modelFlags
	mf.register(fs)
	prompt := fs.String("prompt", "", "prompt text (tokenized with the model's vocabulary, BOS added as the model asks)")
	tokens := fs.String("tokens", "", "comma-separated token ids instead of --prompt")
	backends := fs.String("backends", "cpu,vulkan", "the two backends to compare: the second is the reference (cpu, cpu-ref, vulkan)")
	minCos := fs.Float64("min-cosine", 0.99999, "report a divergence below this cosine similarity")
	maxAbs := fs.Float64("max-abs", 1e-2, "report a divergence above this absolute difference")
	asJSON := fs.Bool("json", false, "print the comparison as JSON")
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	names := strings.Split(*backends, ",")
	if len(names) != 2 {
		return usageErrorf("--backends wants two names, e.g. cpu,vulkan")
	}
	for i, name := range names {
		names[i] = strings.TrimSpace(name)
		if !slices.Contains(crossvalBackends, names[i]) {
			return usageErrorf("unknown backend %q in --backends (want %s)", names[i], strings.Join(crossvalBackends, ", "))
		}
	}
	if (*prompt == "") == (*tokens == "") {
		return usageErrorf("give exactly one of --prompt and --tokens")
	}
	var captures [2]*engine.Capture
	var logits [2][]float32
	var ids []int32
	for i, name := range names {
		f := mf
		f.backend, f.reference = name, false
		if f.backend == "cpu-ref" {
			f.backend, f.reference = "cpu", true
		}
		l, err := f.open(*prompt != "")
		if err != nil {
			return fmt.Errorf("backend %s: %w", name, err)
		}
		if ids == nil {
			if *tokens != "" {
				if ids, err = parseTokens(*tokens); err != nil {
					l.Close()
					return usageErrorf("--tokens: %v", err)
				}
			} else {
				ids = l.tok.Encode(*prompt, l.tok.AddBOS(), true)
			}
		}
		captures[i], logits[i], err = l.state.ForwardCapture(ids)
		dev := l.be.Name() + " (" + l.be.Device() + ")"
		l.Close()
		if err != nil {
			return fmt.Errorf("backend %s: %w", name, err)
		}
		fmt.Fprintf(stderr, "ran %d tokens on %s\n", len(ids), dev)
	}
	diffs := engine.CompareCaptures(captures[0], captures[1])
	cos, mx, rel := engine.CompareVectors(logits[0], logits[1])
	diffs = append(diffs, engine.Diff{Name: "logits(all positions)", Cosine: cos, MaxAbs: mx, RelRMS: rel})
	first := -1
	for i, d := range diffs {
		if d.Diverges(*minCos, *maxAbs) {
			first = i
			break
		}
	}
	if *asJSON {
		type row struct {
			Op       string  `json:"op"`
			Cosine   float64 `json:"cosine"`
			MaxAbs   float64 `json:"max_abs"`
			RelRMS   float64 `json:"rel_rms"`
			Diverged bool    `json:"diverged"`
		}
		out := struct {
			Backends        []string `json:"backends"`
			Tokens          []int32  `json:"tokens"`
			Ops             []row    `json:"ops"`
			FirstDivergence string   `json:"first_divergence,omitempty"`
		}{Backends: names, Tokens: ids}
		for _, d := range diffs {
			out.Ops = append(out.Ops, row{d.Name, d.Cosine, d.MaxAbs, d.RelRMS, d.Diverges(*minCos, *maxAbs)})
		}
		if first >= 0 {
			out.FirstDivergence = diffs[first].Name
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
		return divergence(names, diffs, first)
	}
	fmt.Fprintf(stdout, "%-24s %12s %12s %12s\n", "op", "cosine", "max_abs", "rel_rms")
	for i, d := range diffs {
		mark := ""
		if i == first {
			mark = "  <- first divergence"
		}
		fmt.Fprintf(stdout, "%-24s %12.8f %12.3g %12.3g%s\n", d.Name, d.Cosine, d.MaxAbs, d.RelRMS, mark)
	}
	if first >= 0 {
		fmt.Fprintf(stdout, "\n%s and %s first diverge at %s (cosine %.8f, max abs %.3g; thresholds %g, %g)\n",
			names[0], names[1], diffs[first].Name, diffs[first].Cosine, diffs[first].MaxAbs, *minCos, *maxAbs)
	} else {
		fmt.Fprintf(stdout, "\n%s and %s agree on every op (cosine >= %g, max abs <= %g)\n", names[0], names[1], *minCos, *maxAbs)
	}
	return divergence(names, diffs, first)
}

// divergence is the error crossval exits with when diffs[first] diverges
// (first >= 0), nil otherwise.
func divergence(names []string, diffs []engine.Diff, first int) error {
	if first < 0 {
		return nil
	}
	return fmt.Errorf("%s and %s diverge at %s", names[0], names[1], diffs[first].Name)
}
