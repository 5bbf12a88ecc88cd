package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"bitnet/engine"
)

func init() {
	register(&command{
		name:  "perplexity",
		usage: "perplexity --model M --file TEXT [--lm-head H] [--compare q8_0,q6_k] [--ctx-size N] [--json]",
		short: "Score a text: perplexity of each next token, in windows of --ctx-size tokens; with --compare, also run other LM head types and report how far their next-token distributions are from --lm-head's (top-1 agreement, KL divergence).",
		run:   runPerplexity,
	})
}

// perplexityRow is one LM head's result.
type perplexityRow struct {
	LMHead        string  `json:"lm_head"`
	HeadBytes     int64   `json:"lm_head_bytes"`
	BytesPerToken int64   `json:"bytes_per_token"`
	Positions     int     `json:"positions"`
	Perplexity    float64 `json:"perplexity"`
	// Against the first row's head (absent for the first row).
	Compared      int      `json:"compared,omitempty"`
	Top1Agreement *float64 `json:"top1_agreement,omitempty"`
	MeanKL        *float64 `json:"mean_kl,omitempty"` // nats
	MaxKL         *float64 `json:"max_kl,omitempty"`
	MaxAbsLogit   *float64 `json:"max_abs_logit_diff,omitempty"`
}

type perplexityReport struct {
	Model   string          `json:"model"`
	File    string          `json:"file"`
	Tokens  int             `json:"tokens"`
	Window  int             `json:"window"`
	Backend string          `json:"backend"`
	Device  string          `json:"device"`
	Heads   []perplexityRow `json:"heads"`
}

func runPerplexity(args []string, stdout, stderr io.Writer) error {
	c := commands["perplexity"]
	fs := newFlagSet(c, stderr)
	var mf modelFlags
	mf.register(fs)
	file := fs.String("file", "", "the text to score (- for standard input; required)")
	compare := fs.String("compare", "", "comma-separated LM head types (f16, q8_0, q6_k) to compare with --lm-head's")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	if *file == "" {
		return usageErrorf("--file is required")
	}
	var others []engine.HeadType
	for _, s := range strings.Split(*compare, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		h, err := engine.ParseHeadType(s)
		if err != nil {
			return usageErrorf("--compare: %v", err)
		}
		others = append(others, h)
	}
	text, err := readInput(*file)
	if err != nil {
		return err
	}
	l, err := mf.open(true)
	if err != nil {
		return err
	}
	defer l.Close()
	window := l.state.NCtx
	if mf.ctxSize == 0 {
		window = min(window, 512)
	}
	mf.batch = min(mf.batch, window)
	ids := l.tok.Encode(string(text), false, false)
	if len(ids) < 2 {
		return fmt.Errorf("%s: %d tokens: nothing to score", *file, len(ids))
	}
	var prefix []int32
	if l.tok.AddBOS() {
		prefix = []int32{l.tok.BOS()}
	}
	rep := perplexityReport{Model: mf.model, File: *file, Tokens: len(ids), Window: window, Backend: l.be.Name(), Device: l.be.Device()}
	fmt.Fprintf(stderr, "scoring %d tokens in windows of %d\n", len(ids), window)
	base, _, err := engine.ScoreText(l.state, nil, ids, prefix, window)
	if err != nil {
		return err
	}
	rep.Heads = append(rep.Heads, perplexityRow{LMHead: headLabel(l.model), HeadBytes: l.model.HeadBytes(),
		BytesPerToken: l.model.BytesPerToken(), Positions: base.Positions, Perplexity: base.Perplexity()})
	kv := mf.kvDType()
	for _, h := range others {
		m, err := l.model.WithHead(h)
		if err != nil {
			return fmt.Errorf("%s: %w", mf.model, err)
		}
		st, err := m.NewState(window, mf.batch, kv)
		if err != nil {
			return err
		}
		sc, _, err := engine.ScoreText(st, l.state, ids, prefix, window)
		st.Close()
		if err != nil {
			return err
		}
		top1, mean, mx, dev := sc.Top1Agreement(), sc.MeanKL(), sc.MaxKL, sc.MaxAbsDev
		rep.Heads = append(rep.Heads, perplexityRow{LMHead: headLabel(m), HeadBytes: m.HeadBytes(), BytesPerToken: m.BytesPerToken(),
			Positions: sc.Positions, Perplexity: sc.Perplexity(), Compared: sc.Compared,
			Top1Agreement: &top1, MeanKL: &mean, MaxKL: &mx, MaxAbsLogit: &dev})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "%s: %d tokens, windows of %d, %s (%s)\n", *file, len(ids), window, rep.Backend, rep.Device)
	fmt.Fprintf(stdout, "%-7s %12s %12s %11s %11s %12s %12s %12s\n", "lm head", "head MB", "MB/token", "perplexity", "top-1 agr.", "mean KL", "max KL", "max |dlogit|")
	for i, r := range rep.Heads {
		fmt.Fprintf(stdout, "%-7s %12.3f %12.3f %11.4f", r.LMHead, float64(r.HeadBytes)/1e6, float64(r.BytesPerToken)/1e6, r.Perplexity)
		if i == 0 {
			fmt.Fprintf(stdout, " %11s\n", "(reference)")
			continue
		}
		fmt.Fprintf(stdout, " %10.2f%% %12.3e %12.3e %12.3e\n", 100**r.Top1Agreement, *r.MeanKL, *r.MaxKL, *r.MaxAbsLogit)
	}
	return nil
}

// headLabel names the type a model's LM head runs in: the --lm-head name
// of a quantized head, or the stored type's ("f16", "f32").
func headLabel(m *engine.Model) string {
	if m.HeadType != engine.HeadStored {
		return m.HeadType.String()
	}
	return strings.ToLower(m.HeadDType().String())
}
