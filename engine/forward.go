package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"

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
	// normed holds a norm's output that a matmul reads: the attention
	// sub-norm's in each layer, the final norm's before the LM head.
	normed    compute.Tensor
	logits    compute.Tensor // [NVocab, 1]: the last token's
	logitsAll compute.Tensor // [NVocab, n]: every token's, grown on demand

	ids, pos compute.Tensor // I32 [1, maxBatch]: the step's token ids and positions
	rope     compute.Tensor // F32 [RopeDims, NCtx]: compute.RoPETable
	window   map[int]compute.Tensor
	cands    map[int]compute.Tensor // TopK results by k

	// Captured decode steps by selection and length (backends with
	// compute.Replayer): one step, or a burst of greedy steps chained on
	// the device (compute.Advancer) whose tokens land in picks.
	progs    map[progKey]compute.Program
	noReplay bool
	// noBestReplay: lookup steps could not be captured.
	noBestReplay bool
	noBurst      bool
	picks        compute.Tensor // I32 [MaxRunAhead]
	// A lookup step's (headBest) logits, F32 [NVocab, lookupRows], and
	// each row's K best candidates by K, I32 [2K, lookupRows]: made on
	// first use, and never replaced, so that captured lookup steps keep
	// them.
	bestLogits compute.Tensor
	best       map[int]compute.Tensor
	greedy     *Sampler // CheckDraft's

	// batcher, when set (Batcher.Join), runs this state's decode steps
	// together with other states' and orders all its backend work.
	batcher *Batcher
	batchID int        // the order in which it joined batcher
	dstep   decodeStep // its decode step waiting in batcher
	one     [1]seg     // ops' one sequence

	// Trace, if set, sees every intermediate (slows the pass).
	Trace TraceFunc
	// Debug prints layer-0 diagnostics (see ParseDebug).
	Debug Debug
	dbg   debugState

	lastLogits []float32
	idsBuf     []int32
	winBuf     []int32
	candRaw    []int32
	candBuf    []compute.Candidate
	burstBuf   []int32
	lookBuf    []int32
	draftBuf   []int32
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
	s := &State{m: m, NCtx: nCtx, maxBatch: maxBatch, kvType: kvType,
		window: map[int]compute.Tensor{}, cands: map[int]compute.Tensor{}, best: map[int]compute.Tensor{}, progs: map[progKey]compute.Program{}}
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
		s.free()
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
	s.normed = alloc(gguf.F32, c.NEmbd, B)
	s.logits = alloc(gguf.F32, c.NVocab, 1)
	s.ids = alloc(gguf.I32, 1, B)
	s.pos = alloc(gguf.I32, 1, B)
	s.rope = alloc(gguf.F32, c.RopeDims, nCtx)
	if len(errs) > 0 {
		s.free()
		return nil, fmt.Errorf("activations for batches of %d tokens do not fit on %s (lower --batch): %w", B, be.Name(), errs[0])
	}
	if err := be.Write(s.rope, compute.RoPETable(nCtx, s.ropeParams())); err != nil {
		s.free()
		return nil, err
	}
	return s, nil
}

func (s *State) ropeParams() compute.RoPEParams {
	c := s.m.Config
	return compute.RoPEParams{HeadDim: c.HeadDim, Dims: c.RopeDims, Theta: c.RopeTheta, NeoX: c.NeoX}
}

// Close releases the state's tensors and captured steps on the backend.
func (s *State) Close() { s.free() }

func (s *State) free() {
	for _, p := range s.progs {
		p.Release()
	}
	clear(s.progs)
	be := s.m.Backend
	ts := append(append([]compute.Tensor{}, s.k...), s.v...)
	ts = append(ts, s.x, s.h, s.q, s.kk, s.vv, s.att, s.gate, s.up, s.normed, s.logits, s.logitsAll, s.ids, s.pos, s.rope, s.picks, s.bestLogits)
	for _, t := range s.window {
		ts = append(ts, t)
	}
	for _, t := range s.cands {
		ts = append(ts, t)
	}
	for _, t := range s.best {
		ts = append(ts, t)
	}
	for _, t := range ts {
		if t != nil {
			be.Free(t)
		}
	}
}

// Reset empties the KV cache.
func (s *State) Reset() { s.Pos = 0 }

// ErrContextFull is returned when tokens do not fit in the context.
var ErrContextFull = fmt.Errorf("context is full")

// Selection says what a step returns for its last token: its full logits
// (K 0), or its K best candidates (compute.TopK) after the repetition
// penalty of the ids in a window of Window entries (Penalty 1: none).
type Selection struct {
	K       int
	Penalty float32
	Window  int
}

func (sel Selection) penalized() bool { return sel.Penalty != 1 && sel.Penalty > 0 && sel.Window > 0 }

// checkIDs validates a batch of token ids against the context and vocabulary.
func (s *State) checkIDs(ids []int32) error {
	if len(ids) == 0 {
		return fmt.Errorf("no tokens to evaluate")
	}
	if s.Pos+len(ids) > s.NCtx {
		return fmt.Errorf("%w: %d tokens at position %d exceed the context size %d", ErrContextFull, len(ids), s.Pos, s.NCtx)
	}
	nv := s.m.Config.NVocab
	for _, id := range ids {
		if id < 0 || int(id) >= nv {
			return fmt.Errorf("token id %d is outside the vocabulary [0, %d)", id, nv)
		}
	}
	return nil
}

// Forward evaluates ids at positions Pos, Pos+1, ... and appends them to the
// cache. It returns the logits of every token ([len(ids)][NVocab], row-major)
// when all is true, else those of the last token only; the last token's
// logits live in a buffer that the next Forward overwrites.
func (s *State) Forward(ids []int32, all bool) ([]float32, error) {
	if err := s.checkIDs(ids); err != nil {
		return nil, err
	}
	defer s.exclusive()()
	nv := s.m.Config.NVocab
	var out []float32
	if all {
		out = make([]float32, 0, len(ids)*nv)
	}
	for start := 0; start < len(ids); start += s.maxBatch {
		chunk := ids[start:min(start+s.maxBatch, len(ids))]
		last := start+len(chunk) == len(ids)
		h := headNone
		switch {
		case all:
			h = headAll
		case last:
			h = headLast
		}
		if err := s.eval(chunk, h, Selection{}, nil); err != nil {
			return nil, err
		}
		if h == headNone {
			continue
		}
		lg, err := s.readLogits(len(chunk), all)
		if err != nil {
			return nil, err
		}
		if all {
			out = append(out, lg...)
		} else {
			out = lg
		}
	}
	return out, nil
}

// Next evaluates ids like Forward and returns the candidates sel asks for
// of the last token, best first (Candidate.Less order): the K best after
// the repetition penalty of the last sel.Window distinct ids of history, or
// with K 0 every token. Backends select on the device, so only the
// candidates leave it. The candidates live in a buffer that the next call
// overwrites.
func (s *State) Next(ids []int32, sel Selection, history []int32) ([]compute.Candidate, error) {
	return s.next(nil, ids, sel, history)
}

// next is Next that stops between batches of ids once ctx (if not nil)
// ends, returning context.Cause(ctx); the batches evaluated stay in the
// cache.
func (s *State) next(ctx context.Context, ids []int32, sel Selection, history []int32) ([]compute.Candidate, error) {
	if err := s.checkIDs(ids); err != nil {
		return nil, err
	}
	if sel.K > compute.MaxTopK || sel.K >= s.m.Config.NVocab {
		sel.K = 0
	}
	if !sel.penalized() {
		sel.Penalty, sel.Window = 1, 0
	}
	if s.batcher != nil && len(ids) == 1 {
		if ctx != nil && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return s.batcher.decode(s, ids[0], sel, history)
	}
	for start := 0; start < len(ids); start += s.maxBatch {
		if ctx != nil && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		chunk := ids[start:min(start+s.maxBatch, len(ids))]
		if start+len(chunk) < len(ids) {
			unlock := s.exclusive()
			err := s.eval(chunk, headNone, Selection{}, nil)
			unlock()
			if err != nil {
				return nil, err
			}
			continue
		}
		defer s.exclusive()()
		if err := s.eval(chunk, headLast, sel, history); err != nil {
			return nil, err
		}
	}
	return s.candidates(sel, s.logits)
}

// candidates reads the candidates of a step's last row that sel selected:
// its K best from cands[K], or with K 0 every token of logits (that row's
// logits, [NVocab, 1]), best first. They live in a buffer that the next
// call overwrites.
func (s *State) candidates(sel Selection, logits compute.Tensor) ([]compute.Candidate, error) {
	be := s.m.Backend
	if sel.K > 0 {
		s.candRaw = slices.Grow(s.candRaw[:0], 2*sel.K)[:2*sel.K]
		if err := be.ReadInts(s.cands[sel.K], s.candRaw); err != nil {
			return nil, err
		}
		s.candBuf = appendCandidates(s.candBuf[:0], s.candRaw)
		return s.candBuf, nil
	}
	lg, err := s.readRow(logits)
	if err != nil {
		return nil, err
	}
	s.candBuf = compute.TopK(s.candBuf, lg, len(lg))
	return s.candBuf, nil
}

// appendCandidates appends to dst the K candidates of raw, a TopK result
// read as int32s ([2K]: K ids, then the bits of their K logits).
func appendCandidates(dst []compute.Candidate, raw []int32) []compute.Candidate {
	K := len(raw) / 2
	for i := range K {
		dst = append(dst, compute.Candidate{ID: raw[i], Logit: math.Float32frombits(uint32(raw[K+i]))})
	}
	return dst
}

// readLogits reads the logits of the last step's n rows (all), or of its
// last row.
func (s *State) readLogits(n int, all bool) ([]float32, error) {
	if !all {
		return s.readRow(s.logits)
	}
	out := make([]float32, n*s.m.Config.NVocab)
	if err := s.m.Backend.Read(s.m.Backend.Rows(s.logitsAll, 0, n), out); err != nil {
		return nil, err
	}
	return out, nil
}

// readRow reads one row of logits ([NVocab, 1]) into a buffer that the
// next call overwrites.
func (s *State) readRow(t compute.Tensor) ([]float32, error) {
	nv := s.m.Config.NVocab
	if len(s.lastLogits) != nv {
		s.lastLogits = make([]float32, nv)
	}
	if err := s.m.Backend.Read(t, s.lastLogits); err != nil {
		return nil, err
	}
	return s.lastLogits, nil
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

// head selects which rows of a step go through the LM head.
type head int

const (
	headNone head = iota // no logits (a prompt chunk before the last)
	headLast             // the last row's logits, then sel's selection
	headAll              // every row's logits
	headBest             // every row's logits, then its sel.K best candidates into best[sel.K]
	headRows             // every row's logits, then each sequence's selection (a Batcher's step)
)

// writeInputs writes a step's token ids and their positions from Pos on.
func (s *State) writeInputs(ids []int32) error {
	be := s.m.Backend
	T := len(ids)
	s.idsBuf = s.idsBuf[:0]
	for i := range T {
		s.idsBuf = append(s.idsBuf, int32(s.Pos+i))
	}
	if err := be.WriteInts(be.Rows(s.ids, 0, T), ids); err != nil {
		return err
	}
	return be.WriteInts(be.Rows(s.pos, 0, T), s.idsBuf)
}

// eval writes the step's inputs, runs its ops (replaying a captured decode
// step where the backend can) and advances Pos.
func (s *State) eval(ids []int32, h head, sel Selection, history []int32) error {
	T := len(ids)
	if err := s.writeInputs(ids); err != nil {
		return err
	}
	if h == headLast {
		if err := s.prepareSelection(sel, history); err != nil {
			return err
		}
	}
	if h == headAll {
		if err := s.growLogits(T); err != nil {
			return err
		}
	}
	if err := s.run(T, h, sel); err != nil {
		return err
	}
	s.Pos += T
	return nil
}

// run issues the ops of a step, or replays them when this is a decode step
// or a lookup step (headBest, by its number of rows) that the backend
// captured before.
func (s *State) run(T int, h head, sel Selection) error {
	be := s.m.Backend
	rp, ok := be.(compute.Replayer)
	decode := T == 1 && h == headLast
	if !ok || !(decode || h == headBest) || s.noReplay || h == headBest && s.noBestReplay || s.Trace != nil || s.Debug.any() {
		s.ops(T, h, sel)
		return be.Flush()
	}
	key := progKey{sel: sel, steps: 1}
	if h == headBest {
		key.best = T
	}
	prog, err := s.program(rp, key, func() { s.ops(T, h, sel) })
	if errors.Is(err, compute.ErrNotCapturable) {
		// Not capturable (an op needs the host): issue the ops directly.
		if decode {
			slog.Debug("decode step not captured; issuing its ops every token", "err", err)
			s.noReplay = true
		} else {
			slog.Debug("lookup step not captured; issuing its ops every step", "err", err)
			s.noBestReplay = true
		}
		s.ops(T, h, sel)
		return be.Flush()
	}
	if err != nil {
		return err
	}
	return prog.Run()
}

// progKey names a captured program: its selection and how many decode
// steps it chains (1: a plain decode step), or for a lookup step
// (headBest) its rows.
type progKey struct {
	sel   Selection
	steps int
	best  int
}

// program returns the program captured for key, capturing the ops fn
// issues on first use (Replayer.Capture's errors as they are).
func (s *State) program(rp compute.Replayer, key progKey, fn func()) (compute.Program, error) {
	if p := s.progs[key]; p != nil {
		return p, nil
	}
	p, err := rp.Capture(fn)
	if err != nil {
		return nil, err
	}
	s.progs[key] = p
	return p, nil
}

// prepareSelection allocates the selection's tensors and writes the
// penalty window: the last sel.Window distinct ids of history, padded with
// -1.
func (s *State) prepareSelection(sel Selection, history []int32) error {
	be := s.m.Backend
	if sel.K > 0 && s.cands[sel.K] == nil {
		t, err := be.Alloc(gguf.I32, sel.K, 2)
		if err != nil {
			return err
		}
		s.cands[sel.K] = t
	}
	// Make the head's screen now if the step will use it: not while its
	// ops are captured.
	s.screenFor(headLast, sel)
	if !sel.penalized() {
		return nil
	}
	w := s.window[sel.Window]
	if w == nil {
		var err error
		if w, err = be.Alloc(gguf.I32, sel.Window); err != nil {
			return err
		}
		s.window[sel.Window] = w
	}
	s.winBuf = PenaltyWindow(s.winBuf, history, sel.Window)
	return be.WriteInts(w, s.winBuf)
}

// PenaltyWindow returns the distinct ids among the last n of history, in
// order of last appearance, padded with -1 to n entries (appended to
// dst[:0]).
func PenaltyWindow(dst, history []int32, n int) []int32 {
	dst = dst[:0]
	for _, id := range history[max(0, len(history)-n):] {
		seen := false
		for _, d := range dst {
			if d == id {
				seen = true
				break
			}
		}
		if !seen {
			dst = append(dst, id)
		}
	}
	for len(dst) < n {
		dst = append(dst, -1)
	}
	return dst
}

// growLogits makes logitsAll hold at least n rows, freeing a smaller one.
func (s *State) growLogits(n int) error {
	nv := s.m.Config.NVocab
	if s.logitsAll != nil && compute.Elements(s.logitsAll.Shape())/nv >= n {
		return nil
	}
	be := s.m.Backend
	t, err := be.Alloc(gguf.F32, nv, n)
	if err != nil {
		return fmt.Errorf("logits of %d tokens: %w", n, err)
	}
	if s.logitsAll != nil {
		be.Free(s.logitsAll)
	}
	s.logitsAll = t
	return nil
}

// ops issues the ops of one step of T tokens of this state's sequence.
func (s *State) ops(T int, h head, sel Selection) {
	s.one[0] = seg{st: s, n: T, sel: sel}
	s.opsOf(T, h, s.one[:])
}

// seg is a run of a step's rows that continue one sequence: rows [row,
// row+n) of the step, at the positions written to those rows of the
// step's pos, attending over st's KV cache, and (headRows) selecting sel's
// candidates of its last row into st's tensors.
type seg struct {
	st     *State
	row, n int
	sel    Selection
}

// opsOf issues the ops of one step of T tokens: the model, written once
// for every backend and architecture. The step's activations are this
// state's; its rows are the sequences of segs, in order, each with its own
// KV cache (one segment: this state's rows, the common case). With h
// headNone the LM head is skipped; with headLast only the last row's
// logits are computed, then sel's penalty and candidate selection.
func (s *State) opsOf(T int, h head, segs []seg) {
	m, be, c := s.m, s.m.Backend, s.m.Config
	rows := func(t compute.Tensor) compute.Tensor { return be.Rows(t, 0, T) }
	x, hh, q, kk, vv, att := rows(s.x), rows(s.h), rows(s.q), rows(s.kk), rows(s.vv), rows(s.att)
	gate, up := rows(s.gate), rows(s.up)
	ids, pos := rows(s.ids), rows(s.pos)
	sel := segs[len(segs)-1].sel
	// part returns a segment's rows of t (all of them for one segment).
	part := func(t, whole compute.Tensor, g seg) compute.Tensor {
		if len(segs) == 1 {
			return whole
		}
		return be.Rows(t, g.row, g.n)
	}

	be.Embed(x, m.TokEmbd, ids)
	s.trace("embd", x)
	rope := s.ropeParams()
	attn := compute.AttnParams{NHead: c.NHead, NKVHead: c.NHeadKV, HeadDim: c.HeadDim, Scale: c.AttnScale()}
	for il := range m.Layers {
		l := &m.Layers[il]
		be.RMSNorm(hh, x, l.AttnNorm, c.Eps)
		s.traceL(il, "attn_in", hh)
		matmuls(be, c.F16Input, hh, mm{q, l.Wq, l.QScale}, mm{kk, l.Wk, l.KScale}, mm{vv, l.Wv, l.VScale})
		s.traceRaw(il, q, kk)
		// Every sequence's keys and values are stored before any attends
		// (independent work, which a device may then run at once).
		for _, g := range segs {
			gq, gk, gv, gp := part(s.q, q, g), part(s.kk, kk, g), part(s.vv, vv, g), part(s.pos, pos, g)
			be.RoPE(gq, gq, gp, g.st.rope, rope)
			be.RoPE(gk, gk, gp, g.st.rope, rope)
			if len(segs) == 1 {
				s.traceL(il, "q", q)
				s.traceL(il, "k", kk)
				s.traceL(il, "v", vv)
			}
			be.StoreKV(g.st.k[il], gk, gp)
			be.StoreKV(g.st.v[il], gv, gp)
		}
		for _, g := range segs {
			be.Attention(part(s.att, att, g), part(s.q, q, g), g.st.k[il], g.st.v[il], part(s.pos, pos, g), attn)
		}
		s.traceL(il, "attn_out", att)
		o := att
		if c.SubNorms {
			// Out of place, so that a backend can run the norm inside the
			// output projection that reads it; and not into q, so that it
			// can run the attention there too (every workgroup reading q
			// while one writes the norm's output).
			o = rows(s.normed)
			be.RMSNorm(o, att, l.AttnSubNorm, c.Eps)
		}
		matmuls(be, c.F16Input, o, mm{hh, l.Wo, l.OScale})
		be.Add(x, x, hh)
		s.traceL(il, "x_mid", x)

		be.RMSNorm(hh, x, l.FFNNorm, c.Eps)
		s.traceL(il, "ffn_in", hh)
		matmuls(be, c.F16Input, hh, mm{gate, l.WGate, l.GateScale}, mm{up, l.WUp, l.UpScale})
		s.traceMLP(il, gate, up)
		be.ActMul(gate, gate, up, c.Act)
		s.traceL(il, "ffn_act", gate)
		down := gate
		if c.SubNorms {
			// Out of place (up is free now), so that a backend can run
			// the norm inside the down projection that reads it.
			be.RMSNorm(up, gate, l.FFNSubNorm, c.Eps)
			down = up
		}
		matmuls(be, c.F16Input, down, mm{hh, l.WDown, l.DownScale})
		be.Add(x, x, hh)
		s.traceL(il, "x_out", x)
	}
	if h == headNone {
		return
	}
	// The LM head runs on every row, or on the last one only.
	xin, lg := x, s.logits
	switch h {
	case headAll, headRows:
		lg = be.Rows(s.logitsAll, 0, T)
	case headBest:
		lg = be.Rows(s.bestLogits, 0, T)
	default:
		xin = be.Rows(x, T-1, 1)
	}
	n := compute.Elements(xin.Shape()) / c.NEmbd
	final := be.Rows(s.normed, 0, n)
	be.RMSNorm(final, xin, m.OutputNorm, c.Eps)
	s.trace("final", final)
	if sc := s.screenFor(h, sel); sc != nil {
		// Only the rows that can be among the K best are computed
		// exactly, the others are -Inf: the TopK below is the same. The
		// penalty's window is computed whatever its limits.
		if f16Rounds(c.F16Input, m.Output) {
			be.RoundF16(final, final)
		}
		var keep compute.Tensor
		if sel.penalized() {
			keep = s.window[sel.Window]
		}
		be.(compute.Screener).ScreenMatMul(lg, m.Output, sc.approx, sc.bound, final, sel.K, keep)
	} else {
		matmuls(be, c.F16Input, final, mm{lg, m.Output, 1})
	}
	s.trace("logits", lg)
	switch h {
	case headBest:
		for i := range T {
			be.TopK(be.Rows(s.best[sel.K], i, 1), be.Rows(lg, i, 1), sel.K)
		}
	case headLast:
		select1(be, lg, s, sel)
	case headRows:
		for _, g := range segs {
			select1(be, be.Rows(lg, g.row+g.n-1, 1), g.st, g.sel)
		}
	}
}

// select1 issues sel's selection from one row of logits [NVocab, 1]: the
// repetition penalty of st's window, then the K best candidates into st's
// cands[K].
func select1(be compute.Backend, lg compute.Tensor, st *State, sel Selection) {
	if sel.penalized() {
		be.Penalize(lg, st.window[sel.Window], sel.Penalty)
	}
	if sel.K > 0 {
		be.TopK(st.cands[sel.K], lg, sel.K)
	}
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
// operation where the backend has one, then their output scales. With
// f16Input (the architecture's numerics) the F16 weights take x rounded to
// F16: the other weights run first on x as it is, then x is rounded in place
// (every matmul input of a step is read by its matmuls only).
func matmuls(be compute.Backend, f16Input bool, x compute.Tensor, ops ...mm) {
	if f16Input {
		var f16, rest []mm
		for _, o := range ops {
			if f16Rounds(f16Input, o.w) {
				f16 = append(f16, o)
			} else {
				rest = append(rest, o)
			}
		}
		if len(f16) > 0 {
			if len(rest) > 0 {
				matmuls(be, false, x, rest...)
			}
			be.RoundF16(x, x)
			ops = f16
		}
	}
	if len(ops) == 1 {
		matmul(be, ops[0].dst, ops[0].w, x, ops[0].scale)
		return
	}
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

// f16Rounds reports whether a matmul with weight w rounds its input to
// F16 first: F16 weights of an architecture whose numerics say so.
func f16Rounds(f16Input bool, w compute.Tensor) bool {
	return f16Input && w.DType() == gguf.F16
}

func lname(layer int, op string) string { return fmt.Sprintf("L%d.%s", layer, op) }
