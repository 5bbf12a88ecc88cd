package engine

import (
	"fmt"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// DefaultBatch is the largest number of prompt tokens evaluated in one pass.
const DefaultBatch = 256

// TraceFunc receives intermediate tensors of the forward pass, named as
// tools/ref_numpy.py names them: embd, L{i}.attn_in, L{i}.q, L{i}.k (after
// RoPE), L{i}.v, L{i}.attn_out (before attn_sub_norm), L{i}.x_mid,
// L{i}.ffn_in, L{i}.ffn_act, L{i}.x_out, final (after output_norm), logits.
// Each tensor is [n, T] for the T tokens of the step. The callee may Read it.
type TraceFunc func(name string, t compute.Tensor)

// State is one sequence's KV cache and scratch buffers.
type State struct {
	m        *Model
	NCtx     int
	Pos      int // tokens already in the cache
	maxBatch int
	kvType   gguf.DType
	k, v     []compute.Tensor // per layer [NHeadKV*HeadDim, NCtx]

	x, h, q, kk, vv, att, gate, up compute.Tensor
	final, logits                  compute.Tensor

	// Trace, if set, sees every intermediate (slows the pass).
	Trace TraceFunc
	// Debug prints layer-0 diagnostics (see ParseDebug).
	Debug Debug
	dbg   debugState

	lastLogits []float32
}

// NewState allocates a KV cache of nCtx positions of type kvType (F16 or F32)
// and scratch for batches of up to maxBatch tokens.
func (m *Model) NewState(nCtx, maxBatch int, kvType gguf.DType) (*State, error) {
	c := m.Config
	if nCtx <= 0 {
		return nil, fmt.Errorf("context size %d must be positive", nCtx)
	}
	if kvType != gguf.F16 && kvType != gguf.F32 {
		return nil, fmt.Errorf("KV cache type %s: want f16 or f32", kvType)
	}
	if maxBatch <= 0 {
		maxBatch = DefaultBatch
	}
	maxBatch = min(maxBatch, nCtx)
	be := m.Backend
	if l, ok := be.(compute.HeadDimLimiter); ok && c.HeadDim > l.MaxHeadDim() {
		return nil, fmt.Errorf("%s: attention heads of %d elements exceed the backend's %d; use --backend cpu", be.Name(), c.HeadDim, l.MaxHeadDim())
	}
	s := &State{m: m, NCtx: nCtx, maxBatch: maxBatch, kvType: kvType}
	kvDim := c.NHeadKV * c.HeadDim
	var errs []error
	alloc := func(dt gguf.DType, shape ...int) compute.Tensor {
		t, err := be.Alloc(dt, shape...)
		if err != nil {
			errs = append(errs, err)
		}
		return t
	}
	for range c.NLayer {
		s.k = append(s.k, alloc(kvType, kvDim, nCtx))
		s.v = append(s.v, alloc(kvType, kvDim, nCtx))
	}
	if len(errs) > 0 {
		kvBytes := 2 * c.NLayer * kvDim * nCtx * map[gguf.DType]int{gguf.F16: 2, gguf.F32: 4}[kvType]
		return nil, fmt.Errorf("KV cache of %d tokens (%d MiB, %s) does not fit on %s (lower --ctx-size): %w",
			nCtx, kvBytes>>20, kvType, be.Name(), errs[0])
	}
	B := maxBatch
	s.x = alloc(gguf.F32, c.NEmbd, B)
	s.h = alloc(gguf.F32, c.NEmbd, B)
	s.q = alloc(gguf.F32, c.NEmbd, B)
	s.kk = alloc(gguf.F32, kvDim, B)
	s.vv = alloc(gguf.F32, kvDim, B)
	s.att = alloc(gguf.F32, c.NEmbd, B)
	s.gate = alloc(gguf.F32, c.NFF, B)
	s.up = alloc(gguf.F32, c.NFF, B)
	s.final = alloc(gguf.F32, c.NEmbd, B)
	if len(errs) > 0 {
		return nil, fmt.Errorf("activations for batches of %d tokens do not fit on %s (lower --batch): %w", B, be.Name(), errs[0])
	}
	return s, nil
}

// Reset empties the KV cache.
func (s *State) Reset() { s.Pos = 0 }

// ErrContextFull is returned when tokens do not fit in the context.
var ErrContextFull = fmt.Errorf("context is full")

// Forward evaluates ids at positions Pos, Pos+1, ... and appends them to the
// cache. It returns the logits of every token ([len(ids)][NVocab], row-major)
// when all is true, else those of the last token only; the last token's
// logits live in a buffer that the next Forward overwrites.
func (s *State) Forward(ids []int32, all bool) ([]float32, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("no tokens to evaluate")
	}
	if s.Pos+len(ids) > s.NCtx {
		return nil, fmt.Errorf("%w: %d tokens at position %d exceed the context size %d", ErrContextFull, len(ids), s.Pos, s.NCtx)
	}
	nv := s.m.Config.NVocab
	for _, id := range ids {
		if id < 0 || int(id) >= nv {
			return nil, fmt.Errorf("token id %d is outside the vocabulary [0, %d)", id, nv)
		}
	}
	var out []float32
	if all {
		out = make([]float32, 0, len(ids)*nv)
	}
	for start := 0; start < len(ids); start += s.maxBatch {
		chunk := ids[start:min(start+s.maxBatch, len(ids))]
		last := start+len(chunk) == len(ids)
		lg, err := s.step(chunk, all || last, all)
		if err != nil {
			return nil, err
		}
		if all {
			out = append(out, lg...)
		} else if last {
			out = lg
		}
	}
	return out, nil
}

func (s *State) trace(name string, t compute.Tensor) {
	if s.Trace != nil {
		s.Trace(name, t)
	}
	if s.Debug.any() {
		s.debugStep(name, t)
	}
}

// traceL is trace for an op of layer il, naming it only when someone
// listens.
func (s *State) traceL(il int, op string, t compute.Tensor) {
	if s.Trace != nil || s.Debug.any() {
		s.trace(lname(il, op), t)
	}
}

// step runs one batch through the model. With logits false the LM head is
// skipped; with all false only the last row's logits are computed.
func (s *State) step(ids []int32, logits, all bool) ([]float32, error) {
	m, be, c := s.m, s.m.Backend, s.m.Config
	T := len(ids)
	pos := make([]int32, T)
	for i := range pos {
		pos[i] = int32(s.Pos + i)
	}
	rows := func(t compute.Tensor) compute.Tensor { return be.Rows(t, 0, T) }
	x, h, q, kk, vv, att := rows(s.x), rows(s.h), rows(s.q), rows(s.kk), rows(s.vv), rows(s.att)
	gate, up := rows(s.gate), rows(s.up)

	be.Embed(x, m.TokEmbd, ids)
	s.trace("embd", x)
	rope := compute.RoPEParams{HeadDim: c.HeadDim, Dims: c.RopeDims, Theta: c.RopeTheta, NeoX: c.NeoX}
	attn := compute.AttnParams{NHead: c.NHead, NKVHead: c.NHeadKV, HeadDim: c.HeadDim, Pos0: s.Pos, Scale: c.AttnScale()}
	for il := range m.Layers {
		l := &m.Layers[il]
		be.RMSNorm(h, x, l.AttnNorm, c.Eps)
		s.traceL(il, "attn_in", h)
		matmuls(be, h, mm{q, l.Wq, l.QScale}, mm{kk, l.Wk, l.KScale}, mm{vv, l.Wv, l.VScale})
		s.traceRaw(il, q, kk)
		be.RoPE(q, q, pos, rope)
		be.RoPE(kk, kk, pos, rope)
		s.traceL(il, "q", q)
		s.traceL(il, "k", kk)
		s.traceL(il, "v", vv)
		be.StoreKV(s.k[il], kk, s.Pos)
		be.StoreKV(s.v[il], vv, s.Pos)
		be.Attention(att, q, s.k[il], s.v[il], attn)
		s.traceL(il, "attn_out", att)
		if c.SubNorms {
			be.RMSNorm(att, att, l.AttnSubNorm, c.Eps)
		}
		matmul(be, h, l.Wo, att, l.OScale)
		be.Add(x, x, h)
		s.traceL(il, "x_mid", x)

		be.RMSNorm(h, x, l.FFNNorm, c.Eps)
		s.traceL(il, "ffn_in", h)
		matmuls(be, h, mm{gate, l.WGate, l.GateScale}, mm{up, l.WUp, l.UpScale})
		s.traceMLP(il, gate, up)
		be.ActMul(gate, gate, up, c.Act)
		s.traceL(il, "ffn_act", gate)
		if c.SubNorms {
			be.RMSNorm(gate, gate, l.FFNSubNorm, c.Eps)
		}
		matmul(be, h, l.WDown, gate, l.DownScale)
		be.Add(x, x, h)
		s.traceL(il, "x_out", x)
	}
	s.Pos += T
	if !logits {
		return nil, be.Flush()
	}
	// The LM head runs on every row, or on the last one only.
	xin := x
	if !all {
		xin = be.Rows(x, T-1, 1)
	}
	n := compute.Elements(xin.Shape()) / c.NEmbd
	final := be.Rows(s.final, 0, n)
	be.RMSNorm(final, xin, m.OutputNorm, c.Eps)
	s.trace("final", final)
	if s.logits == nil || compute.Elements(s.logits.Shape())/c.NVocab < n {
		lt, err := be.Alloc(gguf.F32, c.NVocab, n)
		if err != nil {
			return nil, fmt.Errorf("logits of %d tokens: %w", n, err)
		}
		s.logits = lt
	}
	lg := be.Rows(s.logits, 0, n)
	be.MatMul(lg, m.Output, final)
	s.trace("logits", lg)
	// The last-token logits reuse one buffer (see Forward).
	var out []float32
	if all {
		out = make([]float32, n*c.NVocab)
	} else {
		if len(s.lastLogits) != n*c.NVocab {
			s.lastLogits = make([]float32, n*c.NVocab)
		}
		out = s.lastLogits
	}
	if err := be.Read(lg, out); err != nil {
		return nil, err
	}
	return out, nil
}

// matmul applies w and an optional output scale.
func matmul(be compute.Backend, dst, w, x compute.Tensor, scale float32) {
	be.MatMul(dst, w, x)
	if scale != 1 {
		be.Scale(dst, dst, scale)
	}
}

// mm is one matmul of matmuls: dst = w x, then times scale.
type mm struct {
	dst, w compute.Tensor
	scale  float32
}

// matmuls applies several weights to the same input x, in one backend
// operation where the backend has one, then their output scales.
func matmuls(be compute.Backend, x compute.Tensor, ops ...mm) {
	multi, ok := be.(compute.MultiMatMuler)
	if !ok {
		for _, o := range ops {
			matmul(be, o.dst, o.w, x, o.scale)
		}
		return
	}
	dst, w := make([]compute.Tensor, len(ops)), make([]compute.Tensor, len(ops))
	for i, o := range ops {
		dst[i], w[i] = o.dst, o.w
	}
	multi.MatMuls(dst, w, x)
	for _, o := range ops {
		if o.scale != 1 {
			be.Scale(o.dst, o.dst, o.scale)
		}
	}
}

func lname(layer int, op string) string { return fmt.Sprintf("L%d.%s", layer, op) }
