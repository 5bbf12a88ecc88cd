//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/gpu/internal/vkrt"
)

// emit turns the queued ops into commands of the current recording,
// fusing the op sequences the engine issues (see the package comment).
// Each fusion computes exactly what the ops compute one by one.
//
// A device failure while recording (no memory for a scratch buffer, a
// pipeline the driver cannot build) drops the rest of the ops and makes the
// recorded work fail: Flush, Read or a capture returns the error, and the
// backend goes on with the next work.
func (b *Backend) emit() {
	if len(b.pending) == 0 {
		return
	}
	t0 := time.Now()
	ops := b.pending
	b.pending = nil
	b.nextDummy = 0
	defer func() {
		b.prepare += time.Since(t0)
		if r := recover(); r != nil {
			f, ok := r.(deviceFailure)
			if !ok {
				panic(r)
			}
			b.q8For = view{}
			b.rec.Fail(f.err)
		}
	}()
	for i := 0; i < len(ops); {
		if b.failNext {
			b.failNext = false
			b.deviceFailed(errors.New("vulkan: injected device failure"))
		}
		i += b.emitAt(ops, i)
	}
}

// deviceFailure carries a device error out of the recording of an op (see
// emit).
type deviceFailure struct{ err error }

// deviceFailed abandons the recording of the current ops with err.
func (b *Backend) deviceFailed(err error) {
	panic(deviceFailure{err})
}

// matvecMaxT is the most tokens the matvec kernels take (their shared
// memory holds the activations of every token); more go to the tiled
// kernels.
const matvecMaxT = 4

// matvecWGS returns the workgroup size of the I2_S decode matvec for T
// tokens of K values whose shared memory (the codes, the outputs of up to
// two rows per subgroup, four bytes of reduction space per invocation and
// word) fits the device, or 0 when none does (the tiled kernel runs then).
func (b *Backend) matvecWGS(K, T int) uint32 {
	if T > matvecMaxT {
		return 0
	}
	sg := max(b.dev.Info.SubgroupSize, 1)
	lim := b.dev.Info.Limits.MaxComputeSharedMemorySize
	for wgs := b.mvWGS; wgs >= 64 && wgs >= sg; wgs /= 2 {
		if uint64(T*K+8*T)+8*uint64(T)*uint64(wgs/sg)+16*uint64(wgs+1)+64 <= uint64(lim) {
			return wgs
		}
	}
	return 0
}

// matvecManyGroups is the most workgroups of one row per subgroup that a
// decode matvec runs before it takes Backend.mvRows rows per subgroup on a
// device that does not report its compute units (where it does, their
// count): about one 1024-invocation workgroup per compute unit of a large
// GPU (an H100 has 132), so that a matrix of more rows runs in one wave
// instead of two.
const matvecManyGroups = 128

// matvecRows returns the rows per workgroup and per subgroup of a decode
// matvec of workgroup size wgs writing dsts (a gate/up pair, which runs
// row by row, counts its rows once).
func (b *Backend) matvecRows(wgs uint32, dsts []*tensor, pair bool) (perWG, perSG uint32) {
	n := 0
	for _, d := range dsts {
		n += d.shape[0]
		if pair {
			break
		}
	}
	perSG = 1
	per := max(wgs/max(b.dev.Info.SubgroupSize, 1), 1)
	if b.mvRows > 1 && uint32(n) > b.mvMany*per {
		perSG = b.mvRows
	}
	return per * perSG, perSG
}

// fastTernary reports whether the fused I2_S kernels run on this device.
func (b *Backend) fastTernary() bool {
	return b.subgroups && b.dev.Info.Limits.MaxPerStageStorageBuffers >= matvecBuffers
}

// matvecBuffers is the number of storage buffers the decode matvec binds.
const matvecBuffers = 16

func sameView(a, c *tensor) bool {
	return a.buf != nil && a.buf == c.buf && a.off == c.off && a.bytes == c.bytes
}

// emitAt records ops[i] (and the ops fused with it) and returns how many
// ops it consumed.
func (b *Backend) emitAt(ops []op, i int) int {
	o := &ops[i]
	var next, next2 *op
	if i+1 < len(ops) {
		next = &ops[i+1]
	}
	if i+2 < len(ops) {
		next2 = &ops[i+2]
	}
	switch o.kind {
	case opRMSNorm:
		// An RMSNorm that feeds a decode matvec runs in it.
		if b.fuse && b.normFuse && next != nil && b.normFeeds(o, next) {
			f, n := b.ternaryFusion(ops, i+1, o)
			b.recTernary(next, f)
			return 1 + n
		}
		// An RMSNorm whose output feeds ternary matmuls also writes their
		// int8 input.
		quant := b.fuse && next != nil && b.quantFeeds(next, o.dst)
		b.recRMSNorm(o.dst, o.a, o.b, o.f, true, quant)
		return 1
	case opMatMul:
		if b.fuse && allI2S(o.ws) && b.fastTernary() {
			f, n := b.ternaryFusion(ops, i, nil)
			b.recTernary(o, f)
			return n
		}
		b.recMatMul(o)
		return 1
	case opRoPE, opStoreKV:
		if b.fuse && len(ops)-i >= 4 {
			if q, k, sk, sv := o, next, next2, &ops[i+3]; ropeStoreGroup(q, k, sk, sv) {
				b.recRopeStore(q, k, sk, sv)
				return 4
			}
		}
		if o.kind == opRoPE {
			b.recRopeStore(o, nil, nil, nil)
		} else {
			b.recRopeStore(nil, nil, o, nil)
		}
		return 1
	case opAttention:
		// Attention ops in a row (several sequences' in a batched step)
		// take scratch regions of their own, so that they need no
		// barriers between them.
		region := 0
		for j := i - 1; j >= 0 && ops[j].kind == opAttention; j-- {
			region++
		}
		b.recAttention(o, region)
		return 1
	case opEmbed:
		b.recEmbed(o)
	case opScale:
		n := compute.Elements(o.dst.shape)
		xb, xo := b.in(o.a)
		yb, yo := b.out(o.dst)
		b.dispatch("scale", b.pipe("scale"), groups1D(n), []vkrt.Binding{xb, yb}, uint32(n), xo, yo, f32bits(o.f))
	case opRoundF16:
		n := compute.Elements(o.dst.shape)
		xb, xo := b.in(o.a)
		yb, yo := b.out(o.dst)
		b.dispatch("round_f16", b.pipe("round_f16"), groups1D(n), []vkrt.Binding{xb, yb}, uint32(n), xo, yo)
	case opAdd:
		n := compute.Elements(o.dst.shape)
		ab, ao := b.in(o.a)
		cb, co := b.in(o.b)
		yb, yo := b.out(o.dst)
		b.dispatch("add", b.pipe("add"), groups1D(n), []vkrt.Binding{ab, cb, yb}, uint32(n), ao, co, yo)
	case opActMul:
		n := compute.Elements(o.dst.shape)
		gb, gofs := b.in(o.a)
		ub, uo := b.in(o.b)
		yb, yo := b.out(o.dst)
		b.dispatch("act_mul", b.pipe("act_mul"), groups1D(n), []vkrt.Binding{gb, ub, yb}, uint32(n), gofs, uo, yo, actCode(o.act))
	case opPenalize:
		n := compute.Elements(o.dst.shape)
		lb, lo := b.out(o.dst)
		ib, io := b.in(o.a)
		b.dispatch("penalize", b.pipe("penalize"), [3]uint32{1, 1, 1}, []vkrt.Binding{lb, ib},
			uint32(n), uint32(compute.Elements(o.a.shape)), lo, io, f32bits(o.f))
	case opTopK:
		b.recTopK(o)
	case opScreen:
		b.recScreen(o)
	case opAdvance:
		ib, io := b.out(o.a)
		pb, po := b.out(o.b)
		cb, co := b.in(o.c)
		db, do := b.out(o.dst)
		b.dispatch("advance", b.pipe("advance"), [3]uint32{1, 1, 1}, []vkrt.Binding{ib, pb, cb, db},
			io, po, co, do, uint32(compute.Elements(o.dst.shape)))
		b.advanced++
	default:
		panic(fmt.Sprintf("gpu: op kind %d", o.kind))
	}
	b.wrote(o.writes()...)
	return 1
}

func actCode(a compute.Activation) uint32 {
	if a == compute.SiLU {
		return 1
	}
	return 0
}

// wrote notes that ts were written: a quantization of them is stale.
func (b *Backend) wrote(ts ...*tensor) {
	for _, t := range ts {
		if t.view().overlaps(b.q8For) {
			b.q8For = view{}
		}
	}
}

// quantFeeds reports whether n is a ternary matmul of x that the fused I2_S
// kernels run, so an op writing x may write its int8 quantization too.
func (b *Backend) quantFeeds(n *op, x *tensor) bool {
	return n.kind == opMatMul && sameView(n.a, x) && allI2S(n.ws) && b.fastTernary() && x.shape[0]%4 == 0
}

// ternaryFusion returns what the fused I2_S kernels add to the matmul
// ops[i]: its epilogue (a residual add, the activation of gate and up, or
// RoPE with the KV stores), the ops that covers, and its input norm (nil:
// none), the RMSNorm before it.
func (b *Backend) ternaryFusion(ops []op, i int, norm *op) (mmFused, int) {
	f, n := b.epilogueFusion(ops, i)
	f.norm = norm
	return f, n
}

// epilogueFusion returns ternaryFusion's epilogue and op count.
func (b *Backend) epilogueFusion(ops []op, i int) (mmFused, int) {
	o := &ops[i]
	if i+1 >= len(ops) {
		return mmFused{}, 1
	}
	next := &ops[i+1]
	_, T := compute.RowsOf(o.a)
	if len(o.ws) == 1 && next.kind == opAdd {
		if r := residualOf(next, o.dsts[0]); r != nil {
			return mmFused{resid: r, residOut: next.dst}, 2
		}
	}
	K, _ := compute.RowsOf(o.a)
	if len(o.ws) == 2 && b.matvecWGS(K, T) != 0 && next.kind == opActMul && pairOf(o, next) {
		return mmFused{act: next}, 2
	}
	if len(o.ws) == 3 && i+4 < len(ops) {
		if b.ropeFeeds(o, ops[i+1:i+5], b.matvecWGS(K, T)) {
			return mmFused{rope: ops[i+1 : i+5]}, 5
		}
	}
	return mmFused{}, 1
}

// ropeFeeds reports whether the q/k/v matvec mm, in workgroups of wgs
// invocations, can rotate its q and k
// outputs in place and store k and v in the caches, as the four ops g (the
// engine's RoPE of q and k and its two KV stores) would: every head
// rotated whole, row counts that fill the matvec's workgroups, caches
// bound from their start.
func (b *Backend) ropeFeeds(mm *op, g []op, wgs uint32) bool {
	q, k, sk, sv := &g[0], &g[1], &g[2], &g[3]
	if !ropeStoreGroup(q, k, sk, sv) {
		return false
	}
	if !sameView(q.a, mm.dsts[0]) || !sameView(q.dst, mm.dsts[0]) || !sameView(k.a, mm.dsts[1]) || !sameView(sv.a, mm.dsts[2]) {
		return false
	}
	_, T := compute.RowsOf(mm.a)
	if wgs == 0 || compute.Elements(q.b.shape) != T {
		return false
	}
	perWG, _ := b.matvecRows(wgs, mm.dsts, false)
	rows := int(perWG)
	hd := q.rope.HeadDim
	if q.rope.Dims != hd || hd%4 != 0 || rows%4 != 0 || (hd/2)%(rows/2) != 0 {
		return false
	}
	for _, d := range mm.dsts {
		if d.shape[0]%rows != 0 {
			return false
		}
	}
	if sk.dst.dt != gguf.F16 && sk.dst.dt != gguf.F32 {
		return false
	}
	_, ko := b.out(sk.dst)
	_, vo := b.out(sv.dst)
	return ko == 0 && vo == 0 && q.c.off == 0
}

// normFeeds reports whether the RMSNorm norm can run in the decode matvec
// mm that reads its output: every workgroup of the matvec then normalizes
// and quantizes the input itself. The norm must not be in place (the
// workgroup that writes its output would race the others reading the
// input), and nothing the matvec writes may overlap the norm's input or
// output.
func (b *Backend) normFeeds(norm, mm *op) bool {
	if mm.kind != opMatMul || !allI2S(mm.ws) || !b.fastTernary() || !sameView(mm.a, norm.dst) || len(mm.ws) > 3 {
		return false
	}
	K, T := compute.RowsOf(norm.a)
	if b.matvecWGS(K, T) == 0 || K > maxNormK || K%128 != 0 || norm.dst.view().overlaps(norm.a.view()) {
		return false
	}
	if norm.b.buf == nil && len(norm.b.chunks) != 1 {
		return false
	}
	for _, d := range mm.dsts {
		if d.view().overlaps(norm.a.view()) || d.view().overlaps(norm.dst.view()) {
			return false
		}
	}
	return true
}

// maxNormK is the longest row a matvec normalizes itself (rmsnorm_row's
// register path in every workgroup).
const maxNormK = 8192

// residualOf returns the other operand of add when it is dst = other + y
// (either order) with y the matmul output, dst and other not overlapping y.
func residualOf(add *op, y *tensor) *tensor {
	var other *tensor
	switch {
	case sameView(add.a, y):
		other = add.b
	case sameView(add.b, y):
		other = add.a
	default:
		return nil
	}
	if other.view().overlaps(y.view()) || add.dst.view().overlaps(y.view()) {
		return nil
	}
	return other
}

// pairOf reports whether act is act(gate) * up of the two outputs of mm,
// with weights of one shape and a destination that is not up.
func pairOf(mm, act *op) bool {
	g, u := mm.dsts[0], mm.dsts[1]
	return sameView(act.a, g) && sameView(act.b, u) && !act.dst.view().overlaps(u.view()) &&
		mm.ws[0].shape[0] == mm.ws[1].shape[0] && compute.Elements(mm.ws[0].shape) == compute.Elements(mm.ws[1].shape) &&
		(sameView(act.dst, g) || !act.dst.view().overlaps(g.view()))
}

// ropeStoreGroup reports whether the four ops are the engine's rotation of
// Q and K (in place) followed by the store of K and V at the same
// positions.
func ropeStoreGroup(q, k, sk, sv *op) bool {
	if q.kind != opRoPE || k.kind != opRoPE || sk.kind != opStoreKV || sv.kind != opStoreKV {
		return false
	}
	if !sameView(q.b, k.b) || !sameView(q.b, sk.b) || !sameView(q.b, sv.b) || !sameView(q.c, k.c) || q.rope != k.rope {
		return false
	}
	if !sameView(k.dst, k.a) || !sameView(sk.a, k.dst) || sk.dst.dt != sv.dst.dt || sk.dst.shape[0] != sv.dst.shape[0] {
		return false
	}
	hd := q.rope.HeadDim
	if sk.dst.shape[0]%hd != 0 || q.dst.view().overlaps(k.dst.view()) || q.dst.view().overlaps(sv.a.view()) || k.dst.view().overlaps(sv.a.view()) {
		return false
	}
	return true
}

// qLayout is the layout of a quantization of T rows of K values in the
// "q8" scratch: per row a scale and a code sum (two words) from the start,
// the codes (K/4 words per row) from word qoff, after a region aligned for
// any device.
func qLayout(T, K int) (size uint64, qoff uint32) {
	meta := (uint64(8*T) + 255) &^ 255
	return meta + uint64(T*K), uint32(meta / 4)
}

// quantized makes the "q8" scratch hold x's int8 quantization unless it
// already does, and returns the buffer and the codes' word offset.
func (b *Backend) quantized(x *tensor) (*vkrt.Buffer, uint32) {
	K, T := compute.RowsOf(x)
	size, qoff := qLayout(T, K)
	q := b.scratchBuf("q8", size)
	if b.q8For != x.view() {
		b.recRMSNorm(x, x, nil, 0, false, true)
	}
	return q, qoff
}

// qArg binds the "q8" scratch for a quantization of T rows of K values.
func (b *Backend) qArg(T, K int, write bool) (vkrt.Binding, uint32) {
	size, qoff := qLayout(T, K)
	q := b.scratchBuf("q8", size)
	bd := q.In(0, 0)
	if write {
		bd = q.Out(0, 0)
	}
	bd.AccessSize = size
	return bd, qoff
}

// recRMSNorm records rmsnorm: with norm, dst = RMSNorm(x) * w; with quant,
// the int8 quantization of the result (or of x without norm) into the "q8"
// scratch.
func (b *Backend) recRMSNorm(dst, x, w *tensor, eps float32, norm, quant bool) {
	k, rows := compute.RowsOf(x)
	xb, xo := b.in(x)
	yb, yo, wb := b.unused(), uint32(0), b.unused()
	if norm {
		yb, yo = b.out(dst)
		wb = b.weightArg(w)
	}
	qb, qoff := b.unused(), uint32(0)
	var flags uint32
	if norm {
		flags |= 1
	}
	if quant {
		flags |= 2
		qb, qoff = b.qArg(rows, k, true)
	}
	name := "rmsnorm"
	if b.subgroups {
		name = "rmsnorm_sg"
	}
	b.dispatch(name, b.pipe(name, b.normWGS), [3]uint32{uint32(rows), 1, 1},
		[]vkrt.Binding{xb, wb, yb, qb}, uint32(k), xo, yo, f32bits(eps), flags, qoff)
	if norm {
		b.wrote(dst)
	}
	if quant {
		if norm {
			b.q8For = dst.view()
		} else {
			b.q8For = x.view()
		}
	}
}

// weightArg binds a one-chunk weight or an activation tensor whole.
func (b *Backend) weightArg(w *tensor) vkrt.Binding {
	if w.buf != nil {
		bd, o := b.in(w)
		if o != 0 {
			panic("gpu: an unaligned view used as a weight")
		}
		return bd
	}
	if len(w.chunks) != 1 {
		panic(fmt.Sprintf("gpu: weight of %d chunks used whole", len(w.chunks)))
	}
	return w.chunks[0].buf.In(0, 0)
}

// mmFused is what a ternary matmul does besides y = W x: normalize its
// input first (norm, an RMSNorm whose output is x), add y to a residual
// (resid -> residOut), or apply act (an ActMul of its two outputs).
type mmFused struct {
	norm            *op
	resid, residOut *tensor
	act             *op
	rope            []op // RoPE of q and k, then the stores of k and v (see ropeFeeds)
}

// recTernary records I2_S matmuls with the fused kernels: the matvec for a
// few tokens (up to three weights in one dispatch, or gate/up with their
// activation), the tiled kernel for more.
func (b *Backend) recTernary(o *op, f mmFused) {
	x := o.a
	K, T := compute.RowsOf(x)
	qin, qoff := b.unused(), uint32(0)
	if f.norm == nil {
		var q *vkrt.Buffer
		q, qoff = b.quantized(x)
		size, _ := qLayout(T, K)
		qin = q.In(0, 0)
		qin.AccessSize = size
	}
	suffix := ""
	if b.dot {
		suffix = "_dot"
	}
	var written []*tensor
	wgs := b.matvecWGS(K, T)
	if wgs == 0 {
		for i, w := range o.ws {
			y := o.dsts[i]
			N := y.shape[0]
			yb, yo := b.out(y)
			rb, ro, rob, roo := b.unused(), uint32(0), b.unused(), uint32(0)
			var flags uint32
			if f.resid != nil {
				rb, ro = b.in(f.resid)
				rob, roo = b.out(f.residOut)
				flags |= 4
				written = append(written, f.residOut)
			}
			c := w.chunks[0]
			// The tiled kernel's tiles are 64 x 64; the cooperative-matrix
			// kernel's are its specialization.
			kernel, bm, bn := "matmul_i2s_tiled"+suffix, uint32(64), uint32(64)
			var pipe *vkrt.Pipeline
			if b.coopmat {
				kernel, bm, bn = "matmul_i2s_coopmat", b.coopTile[0], b.coopTile[1]
				sh := b.dev.Info.CoopMatShape
				pipe = b.pipe(kernel, bm/32*bn/32*b.dev.Info.SubgroupSize, sh[0], sh[1], sh[2], bm, bn)
			} else {
				pipe = b.pipe(kernel)
			}
			label := ""
			if b.labels() {
				label = fmt.Sprintf("%s %dx%d t=%d", kernel, K, N, T)
			}
			b.dispatchBytes(label, int64(c.rows)*int64(w.rowBytes), pipe,
				[3]uint32{(uint32(c.rows) + bm - 1) / bm, (uint32(T) + bn - 1) / bn, 1},
				[]vkrt.Binding{c.buf.In(0, 0), qin, yb, rb, rob},
				uint32(K), uint32(T), uint32(N), uint32(c.rows), uint32(c.row0), yo, f32bits(w.scale), ro, roo, flags, qoff)
			written = append(written, y)
		}
		b.wrote(written...)
		return
	}
	if len(o.ws) > 3 {
		// More than three weights: three at a time.
		for j := 0; j < len(o.ws); j += 3 {
			e := min(j+3, len(o.ws))
			b.recTernary(&op{kind: opMatMul, a: x, ws: o.ws[j:e], dsts: o.dsts[j:e]}, mmFused{})
		}
		return
	}
	var (
		wb     [3]vkrt.Binding
		yb     [3]vkrt.Binding
		yo     [3]uint32
		n      [3]uint32
		s      [3]uint32
		flags  uint32
		groups uint32
	)
	sg := max(b.dev.Info.SubgroupSize, 1)
	rowsPerWG, rps := b.matvecRows(wgs, o.dsts, f.act != nil)
	for i := range wb {
		wb[i], yb[i] = b.unused(), b.unused()
	}
	rb, ro, rob, roo := b.unused(), uint32(0), b.unused(), uint32(0)
	if f.act != nil {
		flags |= 1
		if f.act.act == compute.SiLU {
			flags |= 2
		}
		g, u, d := o.dsts[0], o.dsts[1], f.act.dst
		wb[0], wb[1] = o.ws[0].chunks[0].buf.In(0, 0), o.ws[1].chunks[0].buf.In(0, 0)
		yb[0], yo[0] = b.out(d)
		yb[1], yo[1] = b.out(u)
		written = append(written, d, u)
		if !sameView(d, g) {
			yb[2], yo[2] = b.out(g)
			flags |= 8
			written = append(written, g)
		}
		n[0] = uint32(g.shape[0])
		s[0], s[1] = f32bits(o.ws[0].scale), f32bits(o.ws[1].scale)
		groups = (n[0] + rowsPerWG - 1) / rowsPerWG
	} else {
		for i, w := range o.ws {
			wb[i] = w.chunks[0].buf.In(0, 0)
			yb[i], yo[i] = b.out(o.dsts[i])
			n[i] = uint32(o.dsts[i].shape[0])
			s[i] = f32bits(w.scale)
			groups += (n[i] + rowsPerWG - 1) / rowsPerWG
			written = append(written, o.dsts[i])
		}
		if f.resid != nil {
			flags |= 4
			rb, ro = b.in(f.resid)
			rob, roo = b.out(f.residOut)
			written = append(written, f.residOut)
		}
	}
	xb, xo, nwb, nyb, nyo := b.unused(), uint32(0), b.unused(), b.unused(), uint32(0)
	var eps float32
	if f.norm != nil {
		flags |= 16
		xb, xo = b.in(f.norm.a)
		nwb = b.weightArg(f.norm.b)
		nyb, nyo = b.out(f.norm.dst)
		eps = f.norm.f
		written = append(written, f.norm.dst)
	}
	pb, po, tb, kcb, vcb, hd := b.unused(), uint32(0), b.unused(), b.unused(), b.unused(), uint32(0)
	if f.rope != nil {
		rq, sk, sv := &f.rope[0], &f.rope[2], &f.rope[3]
		flags |= 32
		if rq.rope.NeoX {
			flags |= 64
		}
		if sk.dst.dt == gguf.F16 {
			flags |= 128
		}
		pb, po = b.in(rq.b)
		tb, _ = b.in(rq.c)
		kcb, _ = b.out(sk.dst)
		vcb, _ = b.out(sv.dst)
		hd = uint32(rq.rope.HeadDim)
		written = append(written, sk.dst, sv.dst)
	}
	kernel := "matvec_i2s"
	rowSum := b.mvRowSum
	if sg < 4 {
		rowSum = 0 // the norm's parts of the code sums, TMAX per subgroup, would not fit its shared array
	}
	spec := []uint32{wgs, uint32(K), uint32(T), rowsPerWG, sg, rps, rowSum}
	if b.mvSpecFlags {
		spec = append(spec, flags)
	}
	push := []uint32{uint32(T), n[0], n[1], n[2], s[0], s[1], s[2], yo[0], yo[1], yo[2], ro, roo, flags, qoff, xo, nyo, f32bits(eps), po, hd}
	label := ""
	if b.labels() {
		label = matvecLabel(suffix, K, n[:len(o.ws)], rps, f)
	}
	var bytes int64
	for _, w := range o.ws {
		bytes += int64(w.rowBytes) * int64(compute.Elements(w.shape)/w.shape[0])
	}
	b.dispatchBytes(label, bytes, b.pipe(b.kernel(kernel+suffix), spec...), [3]uint32{groups, 1, 1},
		[]vkrt.Binding{wb[0], wb[1], wb[2], qin, yb[0], yb[1], yb[2], rb, rob, nwb, nyb, xb, pb, tb, kcb, vcb}, push...)
	b.wrote(written...)
}

// matvecLabel names a matvec dispatch in profiles: the kernel, its rows
// (and rows per subgroup rps where more than one) and what its epilogue
// does.
func matvecLabel(suffix string, K int, n []uint32, rps uint32, f mmFused) string {
	l := fmt.Sprintf("matvec_i2s%s k=%d", suffix, K)
	if rps > 1 {
		l += fmt.Sprintf(" rows/sg=%d", rps)
	}
	if f.act != nil {
		l += fmt.Sprintf(" gate+up %dx2", n[0])
	} else {
		for _, r := range n {
			l += fmt.Sprintf(" %d", r)
		}
	}
	if f.resid != nil {
		l += " +resid"
	}
	if f.rope != nil {
		l += " +rope+store"
	}
	if f.norm != nil {
		l = "norm+" + l
	}
	return l
}

// recMatMul records a matmul without a fused epilogue.
func (b *Backend) recMatMul(o *op) {
	if allI2S(o.ws) && b.fastTernary() {
		b.recTernary(o, mmFused{})
		return
	}
	for i, w := range o.ws {
		b.recMatMulGeneric(o.dsts[i], w, o.a)
		b.wrote(o.dsts[i])
	}
}

// recMatMulGeneric records one matmul with the generic kernels, by groups
// of tokens so that every binding fits the device's range.
func (b *Backend) recMatMulGeneric(dst, w, x *tensor) {
	K, N := w.shape[0], compute.Elements(w.shape)/w.shape[0]
	_, T := compute.RowsOf(x)
	perTok := uint64(max(N, K)) * 4
	tc := int(max(min(b.maxRange/perTok, uint64(T)), 1))
	for t0 := 0; t0 < T; t0 += tc {
		nt := min(tc, T-t0)
		xs := &tensor{dt: gguf.F32, shape: []int{K, nt}, buf: x.buf, off: x.off + uint64(t0*K*4), bytes: uint64(nt*K) * 4}
		ds := &tensor{dt: gguf.F32, shape: []int{N, nt}, buf: dst.buf, off: dst.off + uint64(t0*N*4), bytes: uint64(nt*N) * 4}
		b.recMatMulTokens(ds, w, xs, K, N, nt)
	}
}

// floatMatvec returns the decode matvec kernel of weights of type dt with
// rows of K values ("" when none takes them): the LM head's types and the
// float weights of llama models. Each row must be whole 16-byte loads.
func floatMatvec(dt gguf.DType, K int) string {
	switch {
	case dt == gguf.F32 && K%4 == 0:
		return "matvec_f32"
	case dt == gguf.F16 && K%8 == 0:
		return "matvec_f16"
	case dt == gguf.BF16 && K%8 == 0:
		return "matvec_bf16"
	case dt == gguf.Q8_0 && K%32 == 0:
		return "matvec_q8_0"
	case dt == gguf.Q6_K && K%256 == 0:
		return "matvec_q6_k"
	}
	return ""
}

// ternaryMatvec returns the decode matvec kernel of TQ2_0 or TQ1_0 weights
// for T tokens ("" when the generic kernel runs): it needs subgroups of at
// least four lanes (a block's quarters are four neighbouring lanes).
func (b *Backend) ternaryMatvec(dt gguf.DType, T int) string {
	if !b.subgroups || T > matvecMaxT || b.dev.Info.SubgroupSize < 4 {
		return ""
	}
	if dt == gguf.TQ1_0 {
		return "matvec_tq1_0"
	}
	return "matvec_tq2_0"
}

// recMatvec records a decode matvec kernel mv over each chunk of w's rows,
// rows rows per workgroup; its push constants are T, N, the chunk's rows
// and first row, then tail.
func (b *Backend) recMatvec(mv string, w *tensor, K, T, N int, rows uint32, spec []uint32, bind func(c chunk) []vkrt.Binding, tail ...uint32) {
	for _, c := range w.chunks {
		label := ""
		if b.labels() {
			label = fmt.Sprintf("%s %dx%d", mv, K, c.rows)
		}
		push := append([]uint32{uint32(T), uint32(N), uint32(c.rows), uint32(c.row0)}, tail...)
		b.dispatchBytes(label, int64(c.rows)*int64(w.rowBytes), b.pipe(mv, spec...),
			[3]uint32{(uint32(c.rows) + rows - 1) / rows, 1, 1}, bind(c), push...)
	}
}

// subgroupRows is ROWS of the matmul_*_subgroup kernels (their
// specialization constant 0): weight rows per
// workgroup.
const subgroupRows = 8

func (b *Backend) recMatMulTokens(dst, w, x *tensor, K, N, T int) {
	yb, yo := b.out(dst)
	switch w.dt {
	case gguf.I2_S:
		q := b.scratchBuf("i8", uint64(T*K))
		s := b.scratchBuf("i8scale", uint64(T*4))
		xb, xo := b.in(x)
		b.dispatch("quantize_i8", b.pipe("quantize_i8"), [3]uint32{uint32(T), 1, 1},
			[]vkrt.Binding{xb, q.Out(0, uint64(T*K)), s.Out(0, uint64(T*4))}, uint32(K), xo)
		for _, c := range w.chunks {
			bind := []vkrt.Binding{c.buf.In(0, 0), q.In(0, uint64(T*K)), s.In(0, uint64(T*4)), yb}
			if b.subgroups {
				b.dispatch("matmul_i2s_subgroup", b.pipe("matmul_i2s_subgroup", subgroupRows), [3]uint32{uint32((c.rows + subgroupRows - 1) / subgroupRows), 1, 1},
					bind, uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, f32bits(w.scale), uint32(c.rows))
				continue
			}
			b.dispatch("matmul_i2s", b.pipe("matmul_i2s"), [3]uint32{uint32(c.rows), 1, 1},
				bind, uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, f32bits(w.scale))
		}
	case gguf.TQ1_0, gguf.TQ2_0:
		nb := K / 256
		q := b.scratchBuf("i8", uint64(T*K))
		s := b.scratchBuf("i8scale", uint64(T*nb*4))
		xb, xo := b.in(x)
		b.dispatch("quantize_q8k", b.pipe("quantize_q8k"), [3]uint32{uint32(T * nb), 1, 1},
			[]vkrt.Binding{xb, q.Out(0, uint64(T*K)), s.Out(0, uint64(T*nb*4))}, uint32(K), xo)
		if mv := b.ternaryMatvec(w.dt, T); mv != "" {
			rows := uint32(max(256/b.dev.Info.SubgroupSize, 1))
			b.recMatvec(mv, w, K, T, N, rows, []uint32{256, uint32(K), rows}, func(c chunk) []vkrt.Binding {
				return []vkrt.Binding{c.buf.In(0, 0), q.In(0, uint64(T*K)), s.In(0, uint64(T*nb*4)), yb}
			}, yo)
			return
		}
		name := "matmul_tq2_0"
		if w.dt == gguf.TQ1_0 {
			name = "matmul_tq1_0"
		}
		if T > matvecMaxT {
			// Prompts: the tiled GEMM.
			tiled := name + "_tiled"
			if b.dot {
				tiled += "_dot"
			}
			for _, c := range w.chunks {
				label := ""
				if b.labels() {
					label = fmt.Sprintf("%s %dx%d t=%d", tiled, K, c.rows, T)
				}
				b.dispatchBytes(label, int64(c.rows)*int64(w.rowBytes), b.pipe(tiled),
					[3]uint32{uint32((c.rows + 63) / 64), uint32((T + 63) / 64), 1},
					[]vkrt.Binding{c.buf.In(0, 0), q.In(0, uint64(T*K)), s.In(0, uint64(T*nb*4)), yb},
					uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, uint32(c.rows))
			}
			return
		}
		for _, c := range w.chunks {
			b.dispatch(name, b.pipe(name), [3]uint32{uint32(c.rows), 1, 1},
				[]vkrt.Binding{c.buf.In(0, 0), q.In(0, uint64(T*K)), s.In(0, uint64(T*nb*4)), yb},
				uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, uint32(c.rows))
		}
	default:
		xb, xo := b.in(x)
		if b.floatMatvecRuns(w, x, T) {
			b.recFloatMatvec(dst, w, x, K, N, T, nil)
			return
		}
		name := map[gguf.DType]string{gguf.F32: "matmul_f32", gguf.F16: "matmul_f16", gguf.BF16: "matmul_bf16", gguf.Q8_0: "matmul_q8_0", gguf.Q6_K: "matmul_q6_k"}[w.dt]
		if name == "" {
			panic(fmt.Sprintf("gpu.MatMul: weight type %s", w.dt))
		}
		for _, c := range w.chunks {
			bind := []vkrt.Binding{c.buf.In(0, 0), xb, yb}
			if _, ok := kernels[name+"_subgroup"]; ok && b.subgroups {
				b.dispatch(name+"_subgroup", b.pipe(name+"_subgroup", subgroupRows), [3]uint32{uint32((c.rows + subgroupRows - 1) / subgroupRows), 1, 1},
					bind, uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, xo, uint32(c.rows))
				continue
			}
			b.dispatch(name, b.pipe(name), [3]uint32{uint32(c.rows), 1, 1},
				bind, uint32(K), uint32(T), uint32(N), uint32(c.row0), yo, 0, xo)
		}
	}
}

// floatMatvecRuns reports whether the decode matvec kernel of a float or
// Q8_0/Q6_K weight w runs for T tokens of x.
func (b *Backend) floatMatvecRuns(w, x *tensor, T int) bool {
	_, xo := b.in(x)
	return floatMatvec(w.dt, w.shape[0]) != "" && b.subgroups && T <= matvecMaxT && xo%4 == 0
}

// screenMask is what a float matvec of a screened matmul reads besides its
// weights and input: the rows' upper limits and the TopK result whose
// element mAt-1 is the threshold.
type screenMask struct {
	hi, sel *tensor
	mAt     uint32
}

// recFloatMatvec records the decode matvec of a float or Q8_0/Q6_K weight
// (floatMatvecRuns), over the rows mask keeps when it is not nil (F32, F16
// and BF16 only).
func (b *Backend) recFloatMatvec(dst, w, x *tensor, K, N, T int, mask *screenMask) {
	mv := floatMatvec(w.dt, K)
	xb, xo := b.in(x)
	yb, yo := b.out(dst)
	sg := max(b.dev.Info.SubgroupSize, 1)
	rows := max(256/sg, 1)
	spec := []uint32{256, uint32(K), rows}
	if w.dt == gguf.Q8_0 || w.dt == gguf.Q6_K {
		rows *= b.headRows
		spec = []uint32{256, uint32(K), rows, b.headRows}
		b.recMatvec(mv, w, K, T, N, rows, spec, func(c chunk) []vkrt.Binding {
			return []vkrt.Binding{c.buf.In(0, 0), xb, yb}
		}, xo/4, yo)
		return
	}
	hb, sb, mAt, ho := b.unused(), b.unused(), uint32(0), uint32(0)
	if mask != nil {
		hb, ho = b.in(mask.hi)
		var so uint32
		sb, so = b.in(mask.sel)
		mAt = so + mask.mAt
	}
	b.recMatvec(mv, w, K, T, N, rows, spec, func(c chunk) []vkrt.Binding {
		return []vkrt.Binding{c.buf.In(0, 0), xb, yb, hb, sb}
	}, xo/4, yo, mAt, ho)
}

// recScreen records a screened matmul (compute.Screener): the Q8_0 copy's
// matvec into scratch, the rows' limits (screen_bounds, then screen_keep
// for the rows of keep), the k-th largest lower limit (TopK into scratch)
// and the float matvec of the rows kept. Where the float matvec kernel
// does not run, it records the full matmul.
func (b *Backend) recScreen(o *op) {
	w, approx, x := o.ws[0], o.ws[1], o.a
	K, N := w.shape[0], compute.Elements(w.shape)/w.shape[0]
	if !b.floatMatvecRuns(w, x, 1) || !b.floatMatvecRuns(approx, x, 1) {
		b.recMatMulGeneric(o.dst, w, x)
		return
	}
	scratch := func(role string, dt gguf.DType, shape ...int) *tensor {
		n := uint64(compute.Elements(shape)) * 4
		return &tensor{dt: dt, shape: shape, buf: b.scratchBuf(role, n), bytes: n}
	}
	a, lo, hi := scratch("screen_a", gguf.F32, N, 1), scratch("screen_lo", gguf.F32, N, 1), scratch("screen_hi", gguf.F32, N, 1)
	sel := scratch("screen_sel", gguf.I32, o.k, 2)
	b.recFloatMatvec(a, approx, x, K, N, 1, nil)
	ab, ao := b.in(a)
	cb, co := b.in(o.b)
	xb, xo := b.in(x)
	lb, lof := b.out(lo)
	hb, hof := b.out(hi)
	const perGroup = 256 * 4 // screen_bounds: 256 invocations of 4 rows
	b.dispatch("screen_bounds", b.pipe("screen_bounds"), [3]uint32{uint32((N + perGroup - 1) / perGroup), 1, 1},
		[]vkrt.Binding{ab, cb, xb, lb, hb}, uint32(N), uint32(K), ao, co, xo, lof, hof)
	if o.c != nil {
		n := compute.Elements(o.c.shape)
		ib, io := b.in(o.c)
		b.dispatch("screen_keep", b.pipe("screen_keep"), [3]uint32{uint32((n + 63) / 64), 1, 1},
			[]vkrt.Binding{ib, lb, hb}, uint32(n), uint32(N), io, lof, hof)
	}
	b.recTopK(&op{kind: opTopK, dst: sel, a: lo, k: o.k})
	// The threshold is the k-th candidate's logit: element k + k-1.
	b.recFloatMatvec(o.dst, w, x, K, N, 1, &screenMask{hi: hi, sel: sel, mAt: uint32(2 * o.k)})
}

// recRopeStore records rope_store for any of: the rotation of q (q.dst =
// RoPE(q.a)), the rotation of k (in place when followed by its store), the
// store of k (sk) and of v (sv). Absent parts are nil.
func (b *Backend) recRopeStore(q, k, sk, sv *op) {
	var pos, table *tensor
	var p compute.RoPEParams
	for _, o := range []*op{q, k} {
		if o != nil {
			pos, table, p = o.b, o.c, o.rope
		}
	}
	for _, o := range []*op{sk, sv} {
		if o != nil && pos == nil {
			pos = o.b
		}
	}
	var hd int
	if p.HeadDim > 0 {
		hd = p.HeadDim
	} else {
		// Stores alone: the widest even "head" dividing the row.
		row := sk
		if row == nil {
			row = sv
		}
		for _, h := range []int{128, 64, 32, 16, 8, 4, 2} {
			if row.a.shape[0]%h == 0 {
				hd = h
				break
			}
		}
	}
	T := compute.Elements(pos.shape)
	pb, po := b.in(pos)
	tb := b.unused()
	if table != nil {
		tb, _ = b.in(table)
		if table.off != 0 {
			panic("gpu.RoPE: the table must be a whole tensor")
		}
	}
	bind := [9]vkrt.Binding{pb, tb}
	for i := 2; i < 9; i++ {
		bind[i] = b.unused()
	}
	var (
		qheads, kheads, vheads  uint32
		qxo, qyo, kxo, kyo, vxo uint32
		flags                   uint32
		written                 []*tensor
	)
	if q != nil {
		qheads = uint32(q.a.shape[0] / hd)
		bind[2], qxo = b.in(q.a)
		bind[3], qyo = b.out(q.dst)
		written = append(written, q.dst)
	}
	if k != nil {
		kheads = uint32(k.a.shape[0] / hd)
		bind[4], kxo = b.in(k.a)
		bind[5], kyo = b.out(k.dst)
		flags |= 4
		written = append(written, k.dst)
	}
	if sk != nil {
		if k == nil {
			kheads = uint32(sk.a.shape[0] / hd)
			bind[4], kxo = b.in(sk.a)
		}
		cb, _ := b.out(sk.dst)
		bind[7] = cb
		flags |= 1
		if sk.dst.dt == gguf.F16 {
			flags |= 2
		}
		written = append(written, sk.dst)
	}
	if sv != nil {
		vheads = uint32(sv.a.shape[0] / hd)
		bind[6], vxo = b.in(sv.a)
		cb, _ := b.out(sv.dst)
		bind[8] = cb
		if sv.dst.dt == gguf.F16 {
			flags |= 2
		}
		written = append(written, sv.dst)
	}
	if k != nil && sk != nil && !sameView(k.dst, k.a) {
		panic("gpu: rope_store stores the rotated keys of an in-place rotation only")
	}
	dims, neox := uint32(p.Dims), uint32(0)
	if p.NeoX {
		neox = 1
	}
	label := ""
	if b.labels() {
		label = fmt.Sprintf("rope_store q=%d k=%d v=%d", qheads, kheads, vheads)
	}
	b.dispatch(label, b.pipe("rope_store", uint32(hd/2), uint32(hd)),
		[3]uint32{qheads + kheads + vheads, uint32(T), 1}, bind[:],
		qheads, kheads, vheads, dims, neox, po, qxo, qyo, kxo, kyo, vxo, flags)
	b.wrote(written...)
}

// attnChunk is the default number of cache positions one attn_split
// workgroup takes (its workgroup size; Backend.attnChunk is the one in use),
// attnChunkDecode the one for a few rows over a cache that
// attn_split_merge merges (up to attnMergeChunks of them): fewer chunks to
// merge and shorter loops per invocation (tg128 on an H200, before the
// merge: 415 against 397 tokens/s), while a prompt's many rows fill the
// GPU better with the smaller chunks (pp512: 10,150 against 9,700).
const (
	attnChunk       = 128
	attnChunkDecode = 256
)

// attnRows is the default of Options.AttnRows: the query rows of a prompt
// one attention workgroup takes over the key rows it loads once (an H200,
// two rounds alternating with 1 row: pp512 10,402 against 10,176 tokens/s,
// pp2048 8,036 against 7,082; with 4 rows 10,561 and 7,679).
const attnRows = 8

// attnValueLoads is the default of Options.AttnValueLoads: the value rows
// an attention invocation loads at once; attnValueLoadsLong in a decode
// step over a long cache (not merged in the attention kernel), whose
// workgroups take attnHeadsLong query heads each.
const (
	attnValueLoads     = 8
	attnValueLoadsLong = 16
	attnHeadsLong      = 2
)

// attnMergeChunks is the most chunks of attnChunkDecode positions that
// attn_split_merge merges in its last workgroup (Backend.attnMergeMax is
// the one in use: as many chunks of another decode chunk as cover the
// same positions); a longer cache merges in attn_combine, whose many
// workgroups are faster there (a whole token at depth 4096 on an H200: 342
// against 359 tokens/s with the merge in the kernel).
const attnMergeChunks = 4

// shortCache is the longest cache whose attention over a few rows merges
// its chunks in attn_split_merge.
func (b *Backend) shortCache() int { return int(b.attnMergeMax * b.attnChunkDecode) }

// attnShared is the shared memory of attn_split in bytes for G query heads
// per KV head, head dimension hd, ch positions per workgroup and ks staged
// key rows: the queries, the scores and their reductions, the value sums
// of each key group, and the staged rows (one more than ks, of hd/2 + 1
// words).
func attnShared(g, hd, ch, ks int) uint32 {
	return uint32(4*g*hd + 32*g*ch + 64 + 4*(ks+1)*(hd/2+1))
}

// attnStageRows returns how many key rows a decode attention workgroup of
// g query heads over ch positions of head dimension hd stages in shared
// memory per pass (see Options.AttnKeysInRegisters): the most, a power of
// two up to ch, that fit beside the rest; 0 (keys in registers) when fewer
// than 16 do.
func attnStageRows(g, hd, ch int, limit uint32) int {
	ks := 1
	for ks*2 <= ch && attnShared(g, hd, ch, ks*2) <= limit {
		ks *= 2
	}
	if ks < 16 {
		return 0
	}
	return ks
}

// partialsBudget bounds the scratch of attention partial results; more
// query rows go in several passes (Backend.partials is the bound in use).
const partialsBudget = 64 << 20

// attnSuffix is the suffix of the attention kernel's variant for chunks of
// ch positions: "_sg" (subgroup reductions) where enabled and the chunk is
// whole subgroups.
func (b *Backend) attnSuffix(ch int) string {
	if b.attnSG && ch%int(max(b.dev.Info.SubgroupSize, 1)) == 0 {
		return "_sg"
	}
	return ""
}

// recAttention records attn_split, then attn_combine, which merges the
// chunks of each head; for a few rows, attn_split_merge does both (the
// last workgroup of a KV head merges its chunks). region is the op's place
// in a run of attention ops (see emitAt): its partials and merge counters
// take that region of their scratch buffers.
func (b *Backend) recAttention(o *op, region int) {
	p := o.attn
	q, kc, vc, pos, dst := o.a, o.b, o.c, o.d, o.dst
	_, T := compute.RowsOf(q)
	_, nctx := compute.RowsOf(kc)
	if T <= matvecMaxT && b.attnMerge && nctx > b.shortCache() {
		if b.attnLimit > 0 {
			// The short variant of a captured step: positions below the
			// limit only (the host runs it only then).
			nctx = min(nctx, b.attnLimit)
		} else if b.capturing {
			b.longAttn = append(b.longAttn, pos)
			b.longSpan = max(b.longSpan, b.advanced)
		}
	}
	hd := p.HeadDim
	decode := T <= matvecMaxT
	short := decode && nctx <= b.shortCache()
	// g query heads per workgroup, ng workgroups per row and chunk: one
	// over a short cache (a few rows, merged in the kernel: five times
	// the workgroups, each with a quarter of the score loop on 2B-4T),
	// attnHeadsLong in a decode step over a long one, those of a KV head
	// in a prompt (which load each key and value once);
	// b.attnHeads instead where it divides those of a KV head.
	g := p.NHead / p.NKVHead
	vu := b.attnVU
	if n := int(b.attnHeads); n > 0 && g%n == 0 {
		g = n
	} else if short {
		g = 1
	} else if decode && g%attnHeadsLong == 0 {
		g = attnHeadsLong
	}
	if decode && !short {
		vu = b.attnVULong
	}
	ng := uint32(p.NHead / g)
	lim := &b.dev.Info.Limits
	ch := int(b.attnChunk)
	if short {
		ch = int(b.attnChunkDecode)
	}
	for ch > attnChunk && (ch > int(lim.MaxComputeWorkGroupInvocations) || attnShared(g, hd, ch, 0) > lim.MaxComputeSharedMemorySize) {
		ch /= 2
	}
	if ch < hd/4 || ch > int(lim.MaxComputeWorkGroupInvocations) {
		ch = attnChunk
	}
	nchunks := (nctx + ch - 1) / ch
	perRow := uint64(p.NHead*nchunks*(hd+2)) * 4
	rowsPerPass := int(max(min(b.partials/perRow, uint64(T)), 1))
	partBytes := b.alignUp(uint64(rowsPerPass) * perRow)
	partOff := uint64(region) * partBytes
	part := b.scratchBuf("attn_partials", partOff+partBytes)
	f16 := uint32(0)
	if kc.dt == gguf.F16 {
		f16 = 1
	}
	kb, _ := b.in(kc)
	vb, _ := b.in(vc)
	qk := p.NHead * hd
	// The combine kernel: chunk groups of hd invocations, up to 8 for a
	// few rows, 2 for a prompt (whose rows see few chunks each).
	cg := max(b.combWGS/uint32(hd), 1)
	if T > matvecMaxT {
		cg = min(cg, 2)
	}
	cwgs := cg * uint32(hd)
	// A few rows (decode) in one pass over at most attnMergeMax chunks
	// merge in attn_split_merge, which issues its cache loads before the
	// position. (Merging up to 34 chunks there, without those loads, took
	// the step at depth 4096 from 379 to 344 tokens/s on an H100.)
	merge := b.attnMerge && T <= matvecMaxT && rowsPerPass >= T && nchunks <= int(b.attnMergeMax)
	var cnt *vkrt.Buffer
	cntBytes := b.alignUp(uint64(T) * uint64(ng) * 4)
	cntOff := uint64(region) * cntBytes
	if merge {
		cnt = b.zeroScratch("attn_counters", cntOff+cntBytes)
	}
	// A prompt's rows b.attnRows at a time per workgroup, over the same keys.
	qr := 1
	if !merge && T > matvecMaxT {
		qr = int(b.attnRows)
	}
	// A short cache's key rows staged in shared memory, where F16 (a long
	// cache's would take several passes per chunk with four heads per
	// workgroup: 341 against 419 tokens/s at depth 4096 on an H200; F32
	// caches' scores came out a few bits off the registers' there).
	ks := 0
	if b.attnStage && merge && f16 == 1 {
		ks = attnStageRows(g, hd, ch, lim.MaxComputeSharedMemorySize)
	}
	for r0 := 0; r0 < T; r0 += rowsPerPass {
		nr := min(rowsPerPass, T-r0)
		qs := &tensor{dt: gguf.F32, shape: []int{qk, nr}, buf: q.buf, off: q.off + uint64(r0*qk*4), bytes: uint64(nr*qk) * 4}
		ys := &tensor{dt: gguf.F32, shape: []int{qk, nr}, buf: dst.buf, off: dst.off + uint64(r0*qk*4), bytes: uint64(nr*qk) * 4}
		ps := &tensor{dt: gguf.I32, shape: []int{1, nr}, buf: pos.buf, off: pos.off + uint64(r0*4), bytes: uint64(nr) * 4}
		qb, qo := b.in(qs)
		pb, po := b.in(ps)
		partOut := part.Out(partOff, partBytes)
		partOut.AccessOffset, partOut.AccessSize = partOff, uint64(nr)*perRow
		kernel := "attn_split"
		if merge {
			kernel = "attn_split_merge"
		}
		kernel += b.attnSuffix(ch)
		label := ""
		if b.labels() {
			label = fmt.Sprintf("%s ctx=%d rows=%d", kernel, nctx, nr)
			if qr > 1 {
				label += fmt.Sprintf(" per-workgroup=%d", qr)
			}
			if ks > 0 {
				label += fmt.Sprintf(" staged=%d", ks)
			}
		}
		yb, yo := b.out(ys)
		if merge {
			// One dispatch: the last workgroup of each KV head merges.
			partRW := part.Out(partOff, partBytes)
			partRW.AccessOffset, partRW.AccessSize = partOff, uint64(nr)*perRow
			b.dispatch(label, b.pipe(b.kernel(kernel), uint32(ch), uint32(hd), uint32(g), 1, vu, uint32(ks)),
				[3]uint32{ng, uint32(nchunks), uint32(nr)},
				[]vkrt.Binding{qb, kb, vb, pb, partRW, cnt.Out(cntOff, cntBytes), yb},
				uint32(p.NHead), uint32(p.NKVHead), qo, po, f16, f32bits(p.Scale), uint32(nchunks), uint32(nr), yo)
			continue
		}
		b.dispatch(label, b.pipe(b.kernel(kernel), uint32(ch), uint32(hd), uint32(g), uint32(qr), vu),
			[3]uint32{ng, uint32(nchunks), uint32((nr + qr - 1) / qr)},
			[]vkrt.Binding{qb, kb, vb, pb, partOut},
			uint32(p.NHead), uint32(p.NKVHead), qo, po, f16, f32bits(p.Scale), uint32(nchunks), uint32(nr))
		partIn := part.In(partOff, partBytes)
		partIn.AccessOffset, partIn.AccessSize = partOff, uint64(nr)*perRow
		b.dispatch("attn_combine", b.pipe(b.kernel("attn_combine"), cwgs, uint32(hd)), [3]uint32{uint32(p.NHead), uint32(nr), 1},
			[]vkrt.Binding{partIn, pb, yb},
			uint32(p.NHead), uint32(nchunks), uint32(ch), po, yo)
	}
	b.wrote(dst)
}

// embedType is the embed kernel's code of a table type (-1: none).
func embedType(dt gguf.DType) int {
	switch dt {
	case gguf.F32:
		return 0
	case gguf.F16:
		return 1
	case gguf.BF16:
		return 2
	case gguf.Q8_0:
		return 3
	case gguf.I2_S:
		return 4
	case gguf.Q6_K:
		return 5
	}
	return -1
}

// recEmbed records the embedding lookup: on the device for the table types
// the kernel reads, through the host otherwise (not capturable).
func (b *Backend) recEmbed(o *op) {
	dst, table, ids := o.dst, o.a, o.b
	k, T := compute.RowsOf(dst)
	_, vocab := compute.RowsOf(table)
	typ := embedType(table.dt)
	if typ < 0 {
		b.recEmbedHost(dst, table, ids)
		return
	}
	ib, io := b.in(ids)
	yb, yo := b.out(dst)
	for i, c := range table.chunks {
		first := uint32(0)
		if i == 0 {
			first = 1
		}
		b.dispatch("embed", b.pipe("embed"), groups1D(T*k/4),
			[]vkrt.Binding{c.buf.In(0, 0), ib, yb},
			uint32(k), uint32(T), uint32(c.row0), uint32(c.rows), uint32(vocab), uint32(typ), f32bits(table.scale), io, yo, first)
	}
}

// recEmbedHost looks the rows up on the host (rare table types).
func (b *Backend) recEmbedHost(dst, table, ids *tensor) {
	if b.capturing {
		b.captureErr = fmt.Errorf("vulkan: embedding tables of type %s are read on the host: %w", table.dt, compute.ErrNotCapturable)
		return
	}
	k, T := compute.RowsOf(dst)
	_, vocab := compute.RowsOf(table)
	idm := ids.buf.Mapped()[ids.off:]
	vals := make([]float32, T*k)
	for i := 0; i < T; i++ {
		id := int32(uint32(idm[4*i]) | uint32(idm[4*i+1])<<8 | uint32(idm[4*i+2])<<16 | uint32(idm[4*i+3])<<24)
		if id < 0 || int(id) >= vocab {
			continue
		}
		row := table.host[uint64(id)*table.fileRow : uint64(id+1)*table.fileRow]
		if err := gguf.DecodeRow(table.dt, row, vals[i*k:(i+1)*k], table.scale); err != nil {
			b.deviceFailed(fmt.Errorf("gpu.Embed: %w", err))
		}
	}
	st := b.hostScratch(uint64(4 * len(vals)))
	m := st.Mapped()
	for i, v := range vals {
		binary.LittleEndian.PutUint32(m[4*i:], math.Float32bits(v))
	}
	b.dev.CountHostWrite(4 * len(vals))
	b.rec.Copy(vkrt.Binding{Buffer: dst.buf, Offset: dst.off, Size: dst.bytes, Write: true}, st.In(0, dst.bytes))
}

// hostScratch returns the host-visible scratch buffer of at least n bytes
// (inputs the host prepares while recording; the previous ones have been
// consumed, since every submission is waited for).
func (b *Backend) hostScratch(n uint64) *vkrt.Buffer {
	n = max((n+15)&^15, 1<<16)
	if s := b.scratch["host"]; s != nil && s.Size() >= n {
		return s
	}
	if old := b.scratch["host"]; old != nil {
		b.retired = append(b.retired, old)
	}
	s, err := b.dev.NewBuffer(n, vkrt.HostVisible)
	if err != nil {
		b.deviceFailed(fmt.Errorf("vulkan: host scratch of %d bytes: %w", n, err))
	}
	b.scratch["host"] = s
	return s
}

// recTopK records the passes of topk.
func (b *Backend) recTopK(o *op) {
	n := compute.Elements(o.a.shape)
	k := uint32(o.k)
	lb, lo := b.in(o.a)
	db, do := b.out(o.dst)
	const sortN = 2048
	groups := uint32((n + sortN - 1) / sortN)
	maxOut := uint64(groups) * uint64(k) * 4
	bufs := [2][2]*vkrt.Buffer{
		{b.scratchBuf("topk_i0", maxOut), b.scratchBuf("topk_k0", maxOut)},
		{b.scratchBuf("topk_i1", maxOut), b.scratchBuf("topk_k1", maxOut)},
	}
	cur := 0
	count := uint32(n) // candidates of the pass
	first := uint32(1)
	for pass := 0; ; pass++ {
		per := uint32(sortN)
		if first == 0 {
			per = (sortN / k) * k
		}
		groups := (count + per - 1) / per
		last := uint32(0)
		if groups == 1 {
			last = 1
		}
		in := [2]vkrt.Binding{b.unused(), b.unused()}
		if first == 0 {
			in = [2]vkrt.Binding{bufs[cur][0].In(0, 0), bufs[cur][1].In(0, 0)}
			in[0].AccessSize, in[1].AccessSize = uint64(count)*4, uint64(count)*4
		}
		outI, outK := bufs[1-cur][0].Out(0, 0), bufs[1-cur][1].Out(0, 0)
		outI.AccessSize, outK.AccessSize = uint64(groups*k)*4, uint64(groups*k)*4
		dstB := b.unused()
		if last == 1 {
			dstB = db
			outI, outK = b.unused(), b.unused()
		}
		lbind := b.unused()
		if first == 1 {
			lbind = lb
		}
		label := ""
		if b.labels() {
			label = fmt.Sprintf("topk n=%d k=%d", count, k)
		}
		b.dispatch(label, b.pipe("topk"), [3]uint32{groups, 1, 1},
			[]vkrt.Binding{lbind, in[0], in[1], outI, outK, dstB}, count, k, first, last, lo, do)
		if last == 1 {
			return
		}
		count = groups * k
		first = 0
		cur = 1 - cur
	}
}
