//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"encoding/binary"
	"fmt"
	"math"

	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/gpu/internal/vkrt"
)

// subgroupRows is ROWS of the matmul_*_subgroup kernels: weight rows per
// workgroup.
const subgroupRows = 8

func sameF32(op string, ts ...*tensor) int {
	n := compute.Elements(ts[0].shape)
	for _, t := range ts {
		if t.buf == nil || t.dt != gguf.F32 || compute.Elements(t.shape) != n {
			panic(fmt.Sprintf("gpu.%s: operands must be F32 tensors of one size: %v vs %v", op, ts[0].shape, t.shape))
		}
	}
	return n
}

// Embed looks the rows up on the host (the table stays mapped from the
// file) and copies them to dst through the per-step arena.
func (b *Backend) Embed(dstT, tableT compute.Tensor, ids []int32) {
	dst, table := asT("Embed", dstT), asT("Embed", tableT)
	k, r := compute.RowsOf(dst)
	tk, tn := compute.RowsOf(table)
	if r != len(ids) || k != tk || table.host == nil {
		panic(fmt.Sprintf("gpu.Embed: dst %v, table %v, %d ids", dst.shape, table.shape, len(ids)))
	}
	vals := make([]float32, len(ids)*k)
	for i, id := range ids {
		if id < 0 || int(id) >= tn {
			panic(fmt.Sprintf("gpu.Embed: token id %d out of range [0, %d)", id, tn))
		}
		hostRow(table, int(id), vals[i*k:(i+1)*k])
	}
	off := b.arenaPut(vals)
	b.rec.Copy(dst.buf.Out(dst.off, dst.bytes), b.arena.In(off, dst.bytes))
}

// hostRow dequantizes row n of a weight kept on the host.
func hostRow(t *tensor, n int, out []float32) {
	k := len(out)
	row := t.host[uint64(n)*t.rowBytes : uint64(n+1)*t.rowBytes]
	switch t.dt {
	case gguf.F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:]))
		}
	case gguf.F16:
		for i := range out {
			out[i] = gguf.F16ToF32(binary.LittleEndian.Uint16(row[2*i:]))
		}
	case gguf.BF16:
		for i := range out {
			out[i] = gguf.BF16ToF32(binary.LittleEndian.Uint16(row[2*i:]))
		}
	case gguf.I2_S:
		tern := make([]int8, k)
		gguf.DecodeI2S(row, tern)
		for i, v := range tern {
			out[i] = float32(v) * t.scale
		}
	case gguf.Q8_0:
		gguf.DecodeQ8_0(row, out)
	case gguf.TQ2_0:
		gguf.DecodeTQ2_0(row, out)
	case gguf.TQ1_0:
		gguf.DecodeTQ1_0(row, out)
	default:
		panic(fmt.Sprintf("gpu.Embed: table type %s", t.dt))
	}
}

// RMSNorm: one workgroup per row.
func (b *Backend) RMSNorm(dstT, xT, wT compute.Tensor, eps float32) {
	dst, x, w := asT("RMSNorm", dstT), asT("RMSNorm", xT), asT("RMSNorm", wT)
	sameF32("RMSNorm", dst, x)
	k, rows := compute.RowsOf(x)
	if w.dt != gguf.F32 || compute.Elements(w.shape) != k {
		panic(fmt.Sprintf("gpu.RMSNorm: weight %v %s for rows of %d", w.shape, w.dt, k))
	}
	xb, xo := b.in(x)
	yb, yo := b.out(dst)
	b.rec.Dispatch(b.pipes["rmsnorm"], [3]uint32{uint32(rows), 1, 1},
		[]vkrt.Binding{xb, b.whole(w), yb}, uint32(k), xo, yo, f32bits(eps))
}

// MatMul quantizes x as the weight type asks, then runs one dispatch per
// weight chunk (and per group of tokens when dst is larger than a binding).
func (b *Backend) MatMul(dstT, wT, xT compute.Tensor) {
	dst, w, x := asT("MatMul", dstT), asT("MatMul", wT), asT("MatMul", xT)
	K, N := w.shape[0], compute.Elements(w.shape)/w.shape[0]
	xk, T := compute.RowsOf(x)
	dk, dT := compute.RowsOf(dst)
	if xk != K || dk != N || dT != T || w.chunks == nil || x.dt != gguf.F32 || dst.dt != gguf.F32 {
		panic(fmt.Sprintf("gpu.MatMul: dst %v = w %v (%s) x %v", dst.shape, w.shape, w.dt, x.shape))
	}
	perTok := uint64(max(N, K)) * 4
	tc := int(max(min(b.rng/perTok, uint64(T)), 1))
	for t0 := 0; t0 < T; t0 += tc {
		nt := min(tc, T-t0)
		xs := &tensor{dt: gguf.F32, shape: []int{K, nt}, buf: x.buf, off: x.off + uint64(t0*K*4), bytes: uint64(nt*K) * 4}
		ds := &tensor{dt: gguf.F32, shape: []int{N, nt}, buf: dst.buf, off: dst.off + uint64(t0*N*4), bytes: uint64(nt*N) * 4}
		b.matmul(ds, w, xs, K, N, nt)
	}
}

func (b *Backend) matmul(dst, w, x *tensor, K, N, T int) {
	yb, yo := b.out(dst)
	switch w.dt {
	case gguf.I2_S:
		q := b.scratchBuf("q", uint64(T*K))
		s := b.scratchBuf("qscale", uint64(T*4))
		xb, xo := b.in(x)
		b.rec.Dispatch(b.pipes["quantize_i8"], [3]uint32{uint32(T), 1, 1},
			[]vkrt.Binding{xb, q.Out(0, uint64(T*K)), s.Out(0, uint64(T*4))}, uint32(K), xo)
		for _, c := range w.chunks {
			bind := []vkrt.Binding{c.buf.In(0, 0), q.In(0, uint64(T*K)), s.In(0, uint64(T*4)), yb}
			if b.subgroups {
				b.rec.Dispatch(b.pipes["matmul_i2s_subgroup"], [3]uint32{uint32((c.rows + subgroupRows - 1) / subgroupRows), 1, 1},
					bind, uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, f32bits(w.scale), uint32(c.rows))
				continue
			}
			b.rec.Dispatch(b.pipes["matmul_i2s"], [3]uint32{uint32(c.rows), 1, 1},
				bind, uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, f32bits(w.scale))
		}
	case gguf.TQ1_0, gguf.TQ2_0:
		nb := K / 256
		q := b.scratchBuf("q", uint64(T*K))
		s := b.scratchBuf("qscale", uint64(T*nb*4))
		xb, xo := b.in(x)
		b.rec.Dispatch(b.pipes["quantize_q8k"], [3]uint32{uint32(T * nb), 1, 1},
			[]vkrt.Binding{xb, q.Out(0, uint64(T*K)), s.Out(0, uint64(T*nb*4))}, uint32(K), xo)
		name := "matmul_tq2_0"
		if w.dt == gguf.TQ1_0 {
			name = "matmul_tq1_0"
		}
		for _, c := range w.chunks {
			b.rec.Dispatch(b.pipes[name], [3]uint32{uint32(c.rows), 1, 1},
				[]vkrt.Binding{c.buf.In(0, 0), q.In(0, uint64(T*K)), s.In(0, uint64(T*nb*4)), yb},
				uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0)
		}
	default:
		name := map[gguf.DType]string{gguf.F32: "matmul_f32", gguf.F16: "matmul_f16", gguf.BF16: "matmul_bf16", gguf.Q8_0: "matmul_q8_0"}[w.dt]
		if name == "" {
			panic(fmt.Sprintf("gpu.MatMul: weight type %s", w.dt))
		}
		xb, xo := b.in(x)
		for _, c := range w.chunks {
			bind := []vkrt.Binding{c.buf.In(0, 0), xb, yb}
			if p, ok := b.pipes[name+"_subgroup"]; ok {
				b.rec.Dispatch(p, [3]uint32{uint32((c.rows + subgroupRows - 1) / subgroupRows), 1, 1},
					bind, uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, xo, uint32(c.rows))
				continue
			}
			b.rec.Dispatch(b.pipes[name], [3]uint32{uint32(c.rows), 1, 1},
				bind, uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, xo)
		}
	}
}

// Scale: dst = x * s.
func (b *Backend) Scale(dstT, xT compute.Tensor, s float32) {
	dst, x := asT("Scale", dstT), asT("Scale", xT)
	n := sameF32("Scale", dst, x)
	xb, xo := b.in(x)
	yb, yo := b.out(dst)
	b.rec.Dispatch(b.pipes["scale"], groups1D(n), []vkrt.Binding{xb, yb}, uint32(n), xo, yo, f32bits(s))
}

// Add: dst = a + c.
func (b *Backend) Add(dstT, aT, cT compute.Tensor) {
	dst, a, c := asT("Add", dstT), asT("Add", aT), asT("Add", cT)
	n := sameF32("Add", dst, a, c)
	ab, ao := b.in(a)
	cb, co := b.in(c)
	yb, yo := b.out(dst)
	b.rec.Dispatch(b.pipes["add"], groups1D(n), []vkrt.Binding{ab, cb, yb}, uint32(n), ao, co, yo)
}

// ActMul: dst = act(gate) * up.
func (b *Backend) ActMul(dstT, gateT, upT compute.Tensor, act compute.Activation) {
	dst, g, u := asT("ActMul", dstT), asT("ActMul", gateT), asT("ActMul", upT)
	n := sameF32("ActMul", dst, g, u)
	var a uint32
	switch act {
	case compute.ReLU2:
		a = 0
	case compute.SiLU:
		a = 1
	default:
		panic(fmt.Sprintf("gpu.ActMul: unknown activation %v", act))
	}
	gb, gofs := b.in(g)
	ub, uo := b.in(u)
	yb, yo := b.out(dst)
	b.rec.Dispatch(b.pipes["act_mul"], groups1D(n), []vkrt.Binding{gb, ub, yb}, uint32(n), gofs, uo, yo, a)
}

// RoPE rotates with the host-computed table of compute.RoPETable.
func (b *Backend) RoPE(dstT, xT compute.Tensor, pos []int32, p compute.RoPEParams) {
	dst, x := asT("RoPE", dstT), asT("RoPE", xT)
	sameF32("RoPE", dst, x)
	k, r := compute.RowsOf(x)
	if r != len(pos) || p.HeadDim <= 0 || k%p.HeadDim != 0 || p.Dims > p.HeadDim || p.Dims%2 != 0 || p.Dims == 0 {
		panic(fmt.Sprintf("gpu.RoPE: x %v, %d positions, %+v", x.shape, len(pos), p))
	}
	cs, cso := b.arenaFloats(compute.RoPETable(pos, p))
	if cso != 0 {
		panic("gpu.RoPE: unaligned table")
	}
	xb, xo := b.in(x)
	yb, yo := b.out(dst)
	neox := uint32(0)
	if p.NeoX {
		neox = 1
	}
	b.rec.Dispatch(b.pipes["rope"], groups1D(r*(k/p.HeadDim)*(p.Dims/2)), []vkrt.Binding{xb, cs, yb},
		uint32(k), uint32(p.HeadDim), uint32(p.Dims), neox, uint32(r), xo, yo)
}

// StoreKV writes x's rows into the cache at pos0, rounding to its type.
func (b *Backend) StoreKV(cacheT, xT compute.Tensor, pos0 int) {
	c, x := asT("StoreKV", cacheT), asT("StoreKV", xT)
	k, r := compute.RowsOf(x)
	ck, cn := compute.RowsOf(c)
	if ck != k || pos0 < 0 || pos0+r > cn || x.dt != gguf.F32 || k%2 != 0 || c.off != 0 {
		panic(fmt.Sprintf("gpu.StoreKV: x %v into cache %v at %d", x.shape, c.shape, pos0))
	}
	f16 := uint32(0)
	if c.dt == gguf.F16 {
		f16 = 1
	}
	xb, xo := b.in(x)
	b.rec.Dispatch(b.pipes["store_kv"], groups1D(r*k), []vkrt.Binding{xb, c.buf.Out(0, 0)},
		uint32(k), uint32(r), uint32(pos0), xo, f16)
}

// maxHeadDim is the attention kernel's largest head (its shared Q row).
const maxHeadDim = 256

// MaxHeadDim is the largest attention head the kernels support.
func (b *Backend) MaxHeadDim() int { return maxHeadDim }

// Attention: one workgroup per (query row, head); scores in a scratch buffer.
func (b *Backend) Attention(dstT, qT, kT, vT compute.Tensor, p compute.AttnParams) {
	dst, q, kc, vc := asT("Attention", dstT), asT("Attention", qT), asT("Attention", kT), asT("Attention", vT)
	sameF32("Attention", dst, q)
	qk, r := compute.RowsOf(q)
	kvk, nctx := compute.RowsOf(kc)
	hd := p.HeadDim
	if p.NHead*hd != qk || p.NKVHead*hd != kvk || p.NKVHead <= 0 || p.NHead%p.NKVHead != 0 || p.Pos0+r > nctx || kc.dt != vc.dt || hd > maxHeadDim {
		panic(fmt.Sprintf("gpu.Attention: q %v, k %v, v %v, %+v", q.shape, kc.shape, vc.shape, p))
	}
	f16 := uint32(0)
	if kc.dt == gguf.F16 {
		f16 = 1
	}
	// Rows per dispatch so the scores fit one binding.
	perRow := uint64(p.NHead*nctx) * 4
	rc := int(max(min(b.rng/perRow, uint64(r)), 1))
	sc := b.scratchBuf("scores", uint64(rc)*perRow)
	for r0 := 0; r0 < r; r0 += rc {
		nr := min(rc, r-r0)
		qs := &tensor{dt: gguf.F32, shape: []int{qk, nr}, buf: q.buf, off: q.off + uint64(r0*qk*4), bytes: uint64(nr*qk) * 4}
		ys := &tensor{dt: gguf.F32, shape: []int{qk, nr}, buf: dst.buf, off: dst.off + uint64(r0*qk*4), bytes: uint64(nr*qk) * 4}
		qb, qo := b.in(qs)
		yb, yo := b.out(ys)
		b.rec.Dispatch(b.pipes["attention"], [3]uint32{uint32(p.NHead), uint32(nr), 1},
			[]vkrt.Binding{qb, kc.buf.In(0, 0), vc.buf.In(0, 0), sc.Out(0, uint64(nr)*perRow), yb},
			uint32(p.NHead), uint32(p.NKVHead), uint32(hd), uint32(p.Pos0+r0), uint32(nctx), qo, yo, f16, f32bits(p.Scale))
	}
}
