package engine

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// Debug selects layer-0 diagnostics, printed through log/slog on the first
// forward step of a state.
type Debug struct {
	AttnScale bool // BITNET_DEBUG_ATTN_SCALE: scale, masked score range, max subtraction
	Attn      bool // DEBUG_ATTN: Q/K/V/score/weight statistics
	RMSNorm   bool // BITNET_DEBUG_RMSNORM: mean(x^2), RMS, output L2 norm, non-finite values
	GQA       bool // BITNET_DEBUG_GQA: Q and K/V shapes, head grouping, means
	Logits    bool // BITNET_DEBUG_LOGITS: logit statistics; head vs float64 reference
	MLP       bool // BITNET_DEBUG_MLP: gate/up/down norms
	RoPE      bool // BITNET_DEBUG_ROPE: parameters, angles, norm preservation
}

// DebugNames are the names accepted by ParseDebug.
var DebugNames = []string{"attn_scale", "attn", "rmsnorm", "gqa", "logits", "mlp", "rope"}

// ParseDebug reads a comma-separated list of names ("all" for every one) and
// the BITNET_DEBUG_* / DEBUG_ATTN environment variables.
func ParseDebug(list string) (Debug, error) {
	var d Debug
	env := func(k string) bool { v := os.Getenv(k); return v != "" && v != "0" }
	d.AttnScale = env("BITNET_DEBUG_ATTN_SCALE")
	d.Attn = env("DEBUG_ATTN") || env("BITNET_DEBUG_ATTN")
	d.RMSNorm = env("BITNET_DEBUG_RMSNORM")
	d.GQA = env("BITNET_DEBUG_GQA")
	d.Logits = env("BITNET_DEBUG_LOGITS")
	d.MLP = env("BITNET_DEBUG_MLP")
	d.RoPE = env("BITNET_DEBUG_ROPE")
	for _, n := range strings.Split(list, ",") {
		switch strings.TrimSpace(strings.ToLower(n)) {
		case "":
		case "all":
			d = Debug{true, true, true, true, true, true, true}
		case "attn_scale":
			d.AttnScale = true
		case "attn":
			d.Attn = true
		case "rmsnorm":
			d.RMSNorm = true
		case "gqa":
			d.GQA = true
		case "logits":
			d.Logits = true
		case "mlp":
			d.MLP = true
		case "rope":
			d.RoPE = true
		default:
			return d, fmt.Errorf("unknown debug name %q (want all or %s)", n, strings.Join(DebugNames, ","))
		}
	}
	return d, nil
}

func (d Debug) any() bool { return d != Debug{} }

// stats summarizes a vector.
type stats struct {
	mean, std, min, max, l2 float64
	nonFinite               int
}

func statsOf(v []float32) stats {
	s := stats{min: math.Inf(1), max: math.Inf(-1)}
	var sum, sq float64
	n := 0
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			s.nonFinite++
			continue
		}
		sum += f
		sq += f * f
		s.min, s.max = math.Min(s.min, f), math.Max(s.max, f)
		n++
	}
	if n > 0 {
		s.mean = sum / float64(n)
		s.std = math.Sqrt(math.Max(sq/float64(n)-s.mean*s.mean, 0))
		s.l2 = math.Sqrt(sq)
	}
	return s
}

func (s stats) attrs(prefix string) []any {
	return []any{prefix + ".mean", float32(s.mean), prefix + ".std", float32(s.std), prefix + ".min", float32(s.min),
		prefix + ".max", float32(s.max), prefix + ".l2", float32(s.l2), prefix + ".nonfinite", s.nonFinite}
}

// debugState keeps layer-0 tensors between trace points.
type debugState struct {
	done        bool
	x0, q, k, v []float32
	qRaw        []float32
}

func (s *State) read(t compute.Tensor) []float32 {
	out := make([]float32, compute.Elements(t.Shape()))
	if err := s.m.Backend.Read(t, out); err != nil {
		slog.Warn("debug: read failed", "err", err)
		return nil
	}
	return out
}

// traceRaw sees Q and K of layer il before RoPE.
func (s *State) traceRaw(il int, q, k compute.Tensor) {
	if il == 0 && !s.dbg.done && s.Debug.RoPE {
		s.dbg.qRaw = s.read(q)
	}
}

// traceMLP sees the gate and up projections of layer il before activation.
func (s *State) traceMLP(il int, gate, up compute.Tensor) {
	if il == 0 && !s.dbg.done && s.Debug.MLP {
		g, u := statsOf(s.read(gate)), statsOf(s.read(up))
		slog.Info("debug mlp: layer 0 projections", append(g.attrs("gate"), u.attrs("up")...)...)
	}
}

func (s *State) debugStep(name string, t compute.Tensor) {
	if s.dbg.done {
		return
	}
	c := s.m.Config
	d := s.Debug
	switch name {
	case "embd":
		if d.RMSNorm {
			s.dbg.x0 = s.read(t)
		}
	case "L0.attn_in":
		if d.RMSNorm && s.dbg.x0 != nil {
			x := s.dbg.x0[:c.NEmbd]
			var ss float64
			for _, v := range x {
				ss += float64(v) * float64(v)
			}
			ms := ss / float64(len(x))
			out := statsOf(s.read(t)[:c.NEmbd])
			in := statsOf(s.dbg.x0)
			slog.Info("debug rmsnorm: layer 0 attn_norm, token 0", "eps", c.Eps, "mean_x2", ms, "rms", math.Sqrt(ms+float64(c.Eps)),
				"out_l2", out.l2, "input_nonfinite", in.nonFinite, "output_nonfinite", out.nonFinite)
			if in.nonFinite > 0 || out.nonFinite > 0 {
				slog.Warn("debug rmsnorm: non-finite values in layer 0 norm", "input", in.nonFinite, "output", out.nonFinite)
			}
		}
	case "L0.q":
		s.dbg.q = s.read(t)
		if d.RoPE && s.dbg.qRaw != nil {
			before, after := statsOf(s.dbg.qRaw), statsOf(s.dbg.q)
			slog.Info("debug rope: layer 0", "mode", map[bool]string{true: "neox", false: "normal"}[c.NeoX],
				"theta", c.RopeTheta, "dims", c.RopeDims, "head_dim", c.HeadDim, "pos0", s.Pos,
				"angle_pos1_pair1", math.Pow(float64(c.RopeTheta), -2.0/float64(c.RopeDims)),
				"q_l2_before", before.l2, "q_l2_after", after.l2)
		}
	case "L0.k":
		s.dbg.k = s.read(t)
	case "L0.v":
		s.dbg.v = s.read(t)
		s.debugAttention()
	case "L0.x_out":
		if d.MLP {
			slog.Info("debug mlp: layer 0 residual after ffn", statsOf(s.read(t)).attrs("x_out")...)
		}
	case "L0.ffn_act":
		if d.MLP {
			slog.Info("debug mlp: layer 0 activation", append([]any{"act", c.Act.String()}, statsOf(s.read(t)).attrs("act")...)...)
		}
	case "logits":
		if d.Logits {
			s.debugLogits(t)
		}
		s.dbg.done = true
	}
}

// debugAttention recomputes layer-0 scores on the host from Q and K to report
// their range; it is a diagnostic, not the forward pass.
func (s *State) debugAttention() {
	c, d := s.m.Config, s.Debug
	if !d.AttnScale && !d.Attn && !d.GQA {
		return
	}
	q, k, v := s.dbg.q, s.dbg.k, s.dbg.v
	T := len(q) / c.NEmbd
	kvDim := c.NHeadKV * c.HeadDim
	group := c.NHead / c.NHeadKV
	if d.GQA {
		slog.Info("debug gqa: layer 0", "q_shape", []int{c.NEmbd, T}, "kv_shape", []int{kvDim, T},
			"n_head", c.NHead, "n_head_kv", c.NHeadKV, "group", group, "head_dim", c.HeadDim,
			"q_mean", float32(statsOf(q).mean), "k_mean", float32(statsOf(k).mean), "v_mean", float32(statsOf(v).mean))
	}
	scale := c.AttnScale()
	round := func(x float32) float32 { return x }
	if s.kvType == gguf.F16 {
		round = gguf.RoundF16
	}
	smin, smax := math.Inf(1), math.Inf(-1)
	var wmax float64
	maxAfter := math.Inf(-1)
	for i := 0; i < T; i++ {
		for h := 0; h < c.NHead; h++ {
			kvh := h / group
			row := make([]float64, 0, i+1)
			for j := 0; j <= i; j++ { // causal mask: only j <= i (this step's tokens)
				var dot float32
				for e := 0; e < c.HeadDim; e++ {
					dot += round(q[i*c.NEmbd+h*c.HeadDim+e]) * round(k[j*kvDim+kvh*c.HeadDim+e])
				}
				row = append(row, float64(dot*scale))
			}
			mx := math.Inf(-1)
			for _, v := range row {
				smin, smax = math.Min(smin, v), math.Max(smax, v)
				mx = math.Max(mx, v)
			}
			var sum float64
			for j := range row {
				row[j] -= mx
				maxAfter = math.Max(maxAfter, row[j])
				row[j] = math.Exp(row[j])
				sum += row[j]
			}
			for _, v := range row {
				wmax = math.Max(wmax, v/sum)
			}
		}
	}
	if d.AttnScale {
		slog.Info("debug attn_scale: layer 0", "scale", scale, "head_dim", c.HeadDim, "expected", 1/math.Sqrt(float64(c.HeadDim)),
			"score_min_after_mask", smin, "score_max_after_mask", smax, "max_subtracted", maxAfter == 0, "row_max_after_subtraction", maxAfter)
	}
	if d.Attn {
		attrs := append(statsOf(q).attrs("q"), statsOf(k).attrs("k")...)
		attrs = append(attrs, statsOf(v).attrs("v")...)
		attrs = append(attrs, "score.min", smin, "score.max", smax, "weight.max", wmax)
		slog.Info("debug attn: layer 0 (this step's tokens)", attrs...)
	}
}

// debugLogits reports logit statistics and, for the last row, compares the
// backend's LM head with a float64 head computed on the host from the final
// hidden state and the output weights.
func (s *State) debugLogits(t compute.Tensor) {
	c, m := s.m.Config, s.m
	lg := s.read(t)
	st := statsOf(lg)
	arg := 0
	for i, v := range lg[len(lg)-c.NVocab:] {
		if v > lg[len(lg)-c.NVocab+arg] {
			arg = i
		}
	}
	attrs := append(st.attrs("logits"), "argmax_last", arg, "tied", m.TiedOutput)
	final := s.read(s.m.Backend.Rows(s.normed, 0, len(lg)/c.NVocab))
	name := "output.weight"
	if m.TiedOutput {
		name = "token_embd.weight"
	}
	info, _ := m.File.Tensor(name)
	raw, err := m.File.TensorData(info)
	if err == nil && final != nil {
		x := final[len(final)-c.NEmbd:]
		row := make([]float32, c.NEmbd)
		var maxDiff float64
		for n := 0; n < c.NVocab; n++ {
			if dequantRow(info, raw, n, row) != nil {
				break
			}
			var ref float64
			for e, w := range row {
				ref += float64(w) * float64(x[e])
			}
			maxDiff = math.Max(maxDiff, math.Abs(ref-float64(lg[len(lg)-c.NVocab+n])))
		}
		attrs = append(attrs, "head_vs_float64_max_abs_diff", maxDiff, "head_type", info.Type.String())
	}
	slog.Info("debug logits", attrs...)
	if st.nonFinite > 0 {
		slog.Warn("debug logits: non-finite logits", "count", st.nonFinite)
	}
}

// dequantRow decodes row n of a float weight tensor (F32, F16, BF16).
func dequantRow(info gguf.TensorInfo, raw []byte, n int, out []float32) error {
	k := len(out)
	switch info.Type {
	case gguf.F32:
		for i := range out {
			o := (n*k + i) * 4
			out[i] = math.Float32frombits(uint32(raw[o]) | uint32(raw[o+1])<<8 | uint32(raw[o+2])<<16 | uint32(raw[o+3])<<24)
		}
	case gguf.F16, gguf.BF16:
		for i := range out {
			o := (n*k + i) * 2
			h := uint16(raw[o]) | uint16(raw[o+1])<<8
			if info.Type == gguf.F16 {
				out[i] = gguf.F16ToF32(h)
			} else {
				out[i] = gguf.BF16ToF32(h)
			}
		}
	default:
		return fmt.Errorf("no float reference for %s", info.Type)
	}
	return nil
}
