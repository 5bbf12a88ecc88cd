// Package cpu is the pure-Go backend. Its reference mode (Options.Reference)
// runs plain scalar loops on one goroutine and is the numeric oracle that
// every other path is checked against; the default mode splits rows across a
// persistent worker pool.
package cpu

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/klauspost/cpuid/v2"

	"bitnet/cpu/kernels"
	"bitnet/engine/compute"
	"bitnet/gguf"
)

// Options configures the backend.
type Options struct {
	// Threads is the number of workers; 0 means the number of CPUs.
	Threads int
	// Reference selects the scalar single-threaded oracle path.
	Reference bool
}

// Backend implements compute.Backend on the CPU.
type Backend struct {
	opt  Options
	pool *pool
	scr  scratch
}

var _ compute.Backend = (*Backend)(nil)

// New returns a CPU backend.
func New(opt Options) *Backend {
	if opt.Threads <= 0 {
		opt.Threads = DefaultThreads()
	}
	if opt.Reference {
		opt.Threads = 1
	}
	return &Backend{opt: opt, pool: newPool(opt.Threads)}
}

// DefaultThreads is the number of physical cores (memory-bound kernels gain
// nothing from hyper-threads), or the number of CPUs when that is unknown.
func DefaultThreads() int {
	if n := cpuid.CPU.PhysicalCores; n > 0 {
		return min(n, runtime.NumCPU())
	}
	return runtime.NumCPU()
}

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// Device describes the path and thread count.
func (b *Backend) Device() string {
	if b.opt.Reference {
		return "reference (scalar, 1 thread)"
	}
	return fmt.Sprintf("%d threads, %s kernels", b.opt.Threads, kernels.Path())
}

// Threads returns the worker count.
func (b *Backend) Threads() int { return b.opt.Threads }

// Close stops the worker pool.
func (b *Backend) Close() error {
	b.pool.close()
	return nil
}

// Flush is a no-op: every op runs when called.
func (b *Backend) Flush() error { return nil }

// tensor is the CPU tensor. Exactly one of f32, f16, raw is the storage; an
// F16 KV cache is f16.
type tensor struct {
	dt    gguf.DType
	shape []int
	f32   []float32
	f16   []uint16 // F16/BF16 weights, F16 KV caches
	i32   []int32  // I32 tensors (token ids, positions, TopK results)
	raw   []byte   // quantized weights (I2_S, TQ1_0, TQ2_0, Q8_0)
	scale float32  // I2_S per-tensor scale
	code3 bool     // I2_S payload holds the never-written code 3 (reference path only)
	name  string
	file  []byte // a weight's file bytes, rowBytes per row (embedding lookups)
	rowB  int
}

func (t *tensor) DType() gguf.DType { return t.dt }
func (t *tensor) Shape() []int      { return t.shape }

func asT(op string, t compute.Tensor) *tensor {
	ct, ok := t.(*tensor)
	if !ok {
		panic(fmt.Sprintf("cpu.%s: tensor of type %T does not belong to the cpu backend", op, t))
	}
	return ct
}

func rows(t *tensor) (k, n int) { return compute.RowsOf(t) }

// Alloc returns a zeroed F32, F16 or I32 tensor.
func (b *Backend) Alloc(dt gguf.DType, shape ...int) (compute.Tensor, error) {
	if dt != gguf.F32 && dt != gguf.F16 && dt != gguf.I32 {
		panic(fmt.Sprintf("cpu.Alloc: type %s is not an activation, cache or index type", dt))
	}
	n := compute.Elements(shape)
	if n < 0 || uint64(n) > 1<<36 {
		return nil, fmt.Errorf("cpu: a tensor of shape %v is too large", shape)
	}
	t := &tensor{dt: dt, shape: append([]int(nil), shape...)}
	switch dt {
	case gguf.F16:
		t.f16 = make([]uint16, n)
	case gguf.I32:
		t.i32 = make([]int32, n)
	default:
		t.f32 = make([]float32, n)
	}
	return t, nil
}

// Free drops the tensor's storage (the garbage collector reclaims it once
// no view refers to it).
func (b *Backend) Free(x compute.Tensor) {
	t := asT("Free", x)
	t.f32, t.f16, t.i32 = nil, nil, nil
}

// Rows returns a view of rows [row0, row0+n).
func (b *Backend) Rows(x compute.Tensor, row0, n int) compute.Tensor {
	t := asT("Rows", x)
	k, r := rows(t)
	if row0 < 0 || n < 0 || row0+n > r {
		panic(fmt.Sprintf("cpu.Rows: rows [%d, %d) of a tensor with %d rows", row0, row0+n, r))
	}
	v := &tensor{dt: t.dt, shape: []int{k, n}}
	switch {
	case t.f32 != nil:
		v.f32 = t.f32[row0*k : (row0+n)*k]
	case t.f16 != nil:
		v.f16 = t.f16[row0*k : (row0+n)*k]
	case t.i32 != nil:
		v.i32 = t.i32[row0*k : (row0+n)*k]
	default:
		panic("cpu.Rows: views of weights are not supported")
	}
	return v
}

// Weights wraps raw file bytes without copying them.
func (b *Backend) Weights(info gguf.TensorInfo, raw []byte) (compute.Tensor, error) {
	shape := make([]int, len(info.Shape))
	for i, d := range info.Shape {
		shape[i] = int(d)
	}
	t := &tensor{dt: info.Type, shape: shape, name: info.Name, file: raw}
	n := info.Elements()
	if int64(len(raw)) < info.Size {
		return nil, fmt.Errorf("cpu: tensor %q: %d bytes, want %d", info.Name, len(raw), info.Size)
	}
	if rb, err := info.Type.ByteSize(int64(shape[0])); err == nil {
		t.rowB = int(rb)
	}
	if info.Type == gguf.I2_S {
		t.rowB = shape[0] / 4
	}
	switch info.Type {
	case gguf.F32:
		t.f32 = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(raw))), n)
	case gguf.F16, gguf.BF16:
		t.f16 = unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(raw))), n)
	case gguf.I2_S:
		if shape[0]%128 != 0 {
			return nil, fmt.Errorf("cpu: tensor %q: I2_S row length %d is not a multiple of 128", info.Name, shape[0])
		}
		s, err := gguf.I2SScale(raw, n)
		if err != nil {
			return nil, fmt.Errorf("cpu: tensor %q: %w", info.Name, err)
		}
		t.raw, t.scale = raw[:info.Size], s
		if !b.opt.Reference {
			t.code3 = gguf.I2SHasCode3(raw[:n/4])
		}
	case gguf.TQ1_0, gguf.TQ2_0, gguf.Q8_0:
		t.raw = raw[:info.Size]
	default:
		return nil, fmt.Errorf("cpu: tensor %q: type %s is not supported", info.Name, info.Type)
	}
	return t, nil
}

// Write copies src into an F32 tensor.
func (b *Backend) Write(dst compute.Tensor, src []float32) error {
	t := asT("Write", dst)
	if t.f32 == nil || len(src) != len(t.f32) {
		return fmt.Errorf("cpu.Write: %d values into a %s tensor of shape %v", len(src), t.dt, t.shape)
	}
	copy(t.f32, src)
	return nil
}

// WriteInts copies src into an I32 tensor.
func (b *Backend) WriteInts(dst compute.Tensor, src []int32) error {
	t := asT("WriteInts", dst)
	if t.i32 == nil || len(src) != len(t.i32) {
		return fmt.Errorf("cpu.WriteInts: %d values into a %s tensor of shape %v", len(src), t.dt, t.shape)
	}
	copy(t.i32, src)
	return nil
}

// ReadInts copies an I32 tensor out.
func (b *Backend) ReadInts(src compute.Tensor, dst []int32) error {
	t := asT("ReadInts", src)
	if t.i32 == nil || len(dst) != len(t.i32) {
		return fmt.Errorf("cpu.ReadInts: %d values from a %s tensor of shape %v", len(dst), t.dt, t.shape)
	}
	copy(dst, t.i32)
	return nil
}

// Read copies an F32 or F16 tensor out as float32.
func (b *Backend) Read(src compute.Tensor, dst []float32) error {
	t := asT("Read", src)
	switch {
	case t.f32 != nil && len(dst) == len(t.f32):
		copy(dst, t.f32)
	case t.f16 != nil && t.dt == gguf.F16 && len(dst) == len(t.f16):
		for i, h := range t.f16 {
			dst[i] = gguf.F16ToF32(h)
		}
	default:
		return fmt.Errorf("cpu.Read: %d values from a %s tensor of shape %v", len(dst), t.dt, t.shape)
	}
	return nil
}

// Embed copies table rows ids into dst as float32 (zeros for ids outside
// the table).
func (b *Backend) Embed(dstT, tableT, idsT compute.Tensor) {
	k, _, tn := compute.CheckEmbed(dstT, tableT, idsT)
	dst, table, ids := asT("Embed", dstT), asT("Embed", tableT), asT("Embed", idsT)
	for i, id := range ids.i32 {
		out := dst.f32[i*k : (i+1)*k]
		if id < 0 || int(id) >= tn {
			clear(out)
			continue
		}
		rowToF32(table, int(id), out)
	}
}

// rowToF32 dequantizes row n of a weight tensor into out.
func rowToF32(w *tensor, n int, out []float32) {
	if w.file == nil {
		panic(fmt.Sprintf("cpu: cannot read rows of a %s tensor that is not a weight", w.dt))
	}
	if err := gguf.DecodeRow(w.dt, w.file[n*w.rowB:(n+1)*w.rowB], out, w.scale); err != nil {
		panic(fmt.Sprintf("cpu: %v", err))
	}
}

// RMSNorm: y = x * (1/sqrt(mean(x^2)+eps)) * w; the sum of squares in float64,
// the rest in float32, in that order (as ggml's rms_norm followed by mul).
func (b *Backend) RMSNorm(dstT, xT, wT compute.Tensor, eps float32) {
	dst, x, w := asT("RMSNorm", dstT), asT("RMSNorm", xT), asT("RMSNorm", wT)
	compute.CheckSame("RMSNorm", dst, x)
	k, r := rows(x)
	if w.f32 == nil || len(w.f32) != k {
		panic(fmt.Sprintf("cpu.RMSNorm: weight %v %s for rows of %d", w.shape, w.dt, k))
	}
	norm := rmsNormRow
	if !b.opt.Reference {
		norm = rmsNormRowFast
	}
	if r == 1 {
		norm(dst.f32[:k], x.f32[:k], w.f32, eps)
		return
	}
	b.pool.run(r, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			norm(dst.f32[i*k:(i+1)*k], x.f32[i*k:(i+1)*k], w.f32, eps)
		}
	})
}

func rmsNormRow(dst, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	mean := float32(sum / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	for i, v := range x {
		dst[i] = (v * scale) * w[i]
	}
}

// rmsNormRowFast is rmsNormRow with the sum of squares in vector partial
// sums (float64; the order of summation differs) and the scaling vectorized
// (bit-identical).
func rmsNormRowFast(dst, x, w []float32, eps float32) {
	mean := float32(kernels.SumSquaresF64(x) / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	kernels.ScaleMulF32(dst, x, w, scale)
}

// Scale multiplies elementwise by s.
func (b *Backend) Scale(dstT, xT compute.Tensor, s float32) {
	dst, x := asT("Scale", dstT), asT("Scale", xT)
	compute.CheckSame("Scale", dst, x)
	for i, v := range x.f32 {
		dst.f32[i] = v * s
	}
}

// Add: dst = a + b.
func (b *Backend) Add(dstT, aT, bT compute.Tensor) {
	dst, a, c := asT("Add", dstT), asT("Add", aT), asT("Add", bT)
	compute.CheckSame("Add", dst, a, c)
	if !b.opt.Reference {
		kernels.AddF32(dst.f32, a.f32, c.f32)
		return
	}
	for i := range dst.f32 {
		dst.f32[i] = a.f32[i] + c.f32[i]
	}
}

// ActMul: dst = act(gate) * up.
func (b *Backend) ActMul(dstT, gateT, upT compute.Tensor, act compute.Activation) {
	dst, g, u := asT("ActMul", dstT), asT("ActMul", gateT), asT("ActMul", upT)
	compute.CheckSame("ActMul", dst, g, u)
	switch act {
	case compute.ReLU2:
		if !b.opt.Reference {
			kernels.ReLU2MulF32(dst.f32, g.f32, u.f32)
			return
		}
		for i, v := range g.f32 {
			r := max(v, 0)
			dst.f32[i] = r * r * u.f32[i]
		}
	case compute.SiLU:
		for i, v := range g.f32 {
			dst.f32[i] = v / (1 + float32(math.Exp(float64(-v)))) * u.f32[i]
		}
	default:
		panic(fmt.Sprintf("cpu.ActMul: unknown activation %v", act))
	}
}

// RoPE rotates each head of each row with the table row of its position.
func (b *Backend) RoPE(dstT, xT, posT, tableT compute.Tensor, p compute.RoPEParams) {
	k, r, n := compute.CheckRoPE(dstT, xT, posT, tableT, p)
	dst, x, pos, table := asT("RoPE", dstT), asT("RoPE", xT), asT("RoPE", posT), asT("RoPE", tableT)
	half := p.Dims / 2
	for i := 0; i < r; i++ {
		ps := int(pos.i32[i])
		if ps < 0 || ps >= n {
			panic(fmt.Sprintf("cpu.RoPE: position %d outside the table's %d", ps, n))
		}
		cs := table.f32[ps*p.Dims : (ps+1)*p.Dims]
		row, out := x.f32[i*k:(i+1)*k], dst.f32[i*k:(i+1)*k]
		for h := 0; h < k; h += p.HeadDim {
			xh, oh := row[h:h+p.HeadDim], out[h:h+p.HeadDim]
			for j := 0; j < half; j++ {
				c, s := cs[2*j], cs[2*j+1]
				var a, bi int
				if p.NeoX {
					a, bi = j, j+half
				} else {
					a, bi = 2*j, 2*j+1
				}
				x0, x1 := xh[a], xh[bi]
				oh[a] = x0*c - x1*s
				oh[bi] = x0*s + x1*c
			}
			copy(oh[p.Dims:], xh[p.Dims:])
		}
	}
}

// StoreKV writes x's rows into the cache at rows pos[0], pos[0]+1, ...
func (b *Backend) StoreKV(cacheT, xT, posT compute.Tensor) {
	k, r, cn := compute.CheckStoreKV(cacheT, xT, posT)
	c, x := asT("StoreKV", cacheT), asT("StoreKV", xT)
	pos0 := consecutive("StoreKV", asT("StoreKV", posT).i32, cn)
	_ = r
	switch c.dt {
	case gguf.F32:
		copy(c.f32[pos0*k:], x.f32)
	case gguf.F16:
		if !b.opt.Reference {
			kernels.F32ToF16(c.f16[pos0*k:], x.f32)
			return
		}
		for i, v := range x.f32 {
			c.f16[pos0*k+i] = gguf.F32ToF16(v)
		}
	default:
		panic(fmt.Sprintf("cpu.StoreKV: cache type %s", c.dt))
	}
}

// attendFast computes one head's attention output acc [hd] for the query
// qh [hd] over the len(sc) positions of the F32 caches k and v whose rows
// (stride elements apart) start at k[0] and v[0]; sc is scratch for the
// scores. The softmax is the reference's (scaled float32 scores, row maximum
// subtracted, float64 sum of the exponentials), the products use the vector
// kernels. F16 caches take attentionDecodeF16.
func attendFast(qh, k, v []float32, stride int, sc, acc []float32, scale float32) {
	kernels.DotsF32(qh, k, stride, sc)
	kernels.SoftmaxF32(sc, scale)
	clear(acc)
	kernels.AxpysF32(sc, v, stride, acc)
}

// kvRow returns row j, elements [e0, e0+len(buf)), of a KV cache of rows of
// k elements: a slice of an F32 cache, or buf holding the values of an F16
// one.
func kvRow(c *tensor, j, k, e0 int, buf []float32) []float32 {
	if c.f16 == nil {
		return c.f32[j*k+e0 : j*k+e0+len(buf)]
	}
	for d, h := range c.f16[j*k+e0 : j*k+e0+len(buf)] {
		buf[d] = gguf.F16ToF32(h)
	}
	return buf
}

// Attention: causal softmax(Q.K^T*scale) V with grouped KV heads. Q is rounded
// to the cache type, dot products accumulate in float32, the softmax is
// float32 with the row maximum subtracted first (sum of exponentials in
// float64, as ggml), probabilities stay float32.
func (b *Backend) Attention(dstT, qT, kT, vT, posT compute.Tensor, p compute.AttnParams) {
	r, nctx := compute.CheckAttention(dstT, qT, kT, vT, posT, p)
	dst, q, kc, vc := asT("Attention", dstT), asT("Attention", qT), asT("Attention", kT), asT("Attention", vT)
	pos0 := consecutive("Attention", asT("Attention", posT).i32, nctx)
	qk, _ := rows(q)
	kvk, _ := rows(kc)
	hd := p.HeadDim
	group := p.NHead / p.NKVHead
	nkv := pos0 + r
	roundQ := kc.dt == gguf.F16
	fast := !b.opt.Reference
	if fast && r > 1 && kc.dt == gguf.F16 {
		b.attentionBatchFast(dst, q, kc, vc, p, pos0)
		return
	}
	if fast && kc.f16 != nil {
		b.attentionDecodeF16(dst, q, kc, vc, p, pos0)
		return
	}
	b.pool.run(r*p.NHead, 1, func(lo, hi int) {
		qh := make([]float32, hd)
		sc := make([]float32, nkv)
		acc := make([]float32, hd)
		row := make([]float32, hd)
		for idx := lo; idx < hi; idx++ {
			i, h := idx/p.NHead, idx%p.NHead
			kvh := h / group
			copy(qh, q.f32[i*qk+h*hd:i*qk+(h+1)*hd])
			if roundQ {
				for d := range qh {
					qh[d] = gguf.RoundF16(qh[d])
				}
			}
			n := pos0 + i + 1 // causal: positions 0..pos0+i
			if fast {
				attendFast(qh, kc.f32[kvh*hd:], vc.f32[kvh*hd:], kvk, sc[:n], acc, p.Scale)
				copy(dst.f32[i*qk+h*hd:], acc)
				continue
			}
			mx := float32(math.Inf(-1))
			for j := 0; j < n; j++ {
				kr := kvRow(kc, j, kvk, kvh*hd, row)
				var s float32
				for d, qv := range qh {
					s += qv * kr[d]
				}
				s *= p.Scale
				sc[j] = s
				mx = max(mx, s)
			}
			var sum float64
			for j := 0; j < n; j++ {
				e := float32(math.Exp(float64(sc[j] - mx)))
				sc[j] = e
				sum += float64(e)
			}
			inv := float32(1 / sum)
			clear(acc)
			for j := 0; j < n; j++ {
				pr := sc[j] * inv
				vr := kvRow(vc, j, kvk, kvh*hd, row)
				for d := range acc {
					acc[d] += pr * vr[d]
				}
			}
			copy(dst.f32[i*qk+h*hd:], acc)
		}
	})
}

// consecutive returns pos[0] after checking that the positions are
// consecutive and inside a cache of n rows.
func consecutive(op string, pos []int32, n int) int {
	for i, p := range pos {
		if p != pos[0]+int32(i) || p < 0 || int(p) >= n {
			panic(fmt.Sprintf("cpu.%s: positions %v are not consecutive rows of a cache of %d", op, pos, n))
		}
	}
	if len(pos) == 0 {
		return 0
	}
	return int(pos[0])
}

// Penalize applies the repetition penalty (compute.Penalize).
func (b *Backend) Penalize(logitsT, idsT compute.Tensor, penalty float32) {
	compute.CheckPenalize(logitsT, idsT)
	compute.Penalize(asT("Penalize", logitsT).f32, asT("Penalize", idsT).i32, penalty)
}

// TopK selects the k largest logits (compute.TopK).
func (b *Backend) TopK(dstT, logitsT compute.Tensor, k int) {
	compute.CheckTopK(dstT, logitsT, k)
	dst := asT("TopK", dstT)
	b.scr.cands = compute.TopK(b.scr.cands, asT("TopK", logitsT).f32, k)
	for i, c := range b.scr.cands {
		dst.i32[i] = c.ID
		dst.i32[k+i] = int32(math.Float32bits(c.Logit))
	}
}
