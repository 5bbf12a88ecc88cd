package computetest

import (
	"fmt"
	"math"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// ternary returns n random values in {-1, 0, 1}.
func (h *Harness) ternary(n int) []int8 {
	t := make([]int8, n)
	for i := range t {
		t[i] = int8(h.rng.IntN(3)) - 1
	}
	return t
}

// WeightI2S makes a random I2_S weight [k, n] with the given scale.
func (h *Harness) WeightI2S(k, n int, scale float32) compute.Tensor {
	return h.Weight("w_i2s", gguf.I2_S, gguf.EncodeI2S(h.ternary(k*n), scale), k, n)
}

// WeightFloat makes a random float weight [k, n] of type dt (F32, F16, BF16,
// Q8_0, Q6_K).
func (h *Harness) WeightFloat(dt gguf.DType, k, n int, std float64) compute.Tensor {
	v := h.Floats(k*n, std)
	var raw []byte
	switch dt {
	case gguf.F32:
		raw = make([]byte, 4*len(v))
		for i, x := range v {
			putU32(raw[4*i:], math.Float32bits(x))
		}
	case gguf.F16, gguf.BF16:
		raw = make([]byte, 2*len(v))
		for i, x := range v {
			var b uint16
			if dt == gguf.F16 {
				b = gguf.F32ToF16(x)
			} else {
				b = uint16(math.Float32bits(x) >> 16)
			}
			raw[2*i], raw[2*i+1] = byte(b), byte(b>>8)
		}
	case gguf.Q8_0:
		var err error
		if raw, err = gguf.EncodeQ8_0(v); err != nil {
			h.T.Fatal(err)
		}
	case gguf.Q6_K:
		var err error
		if raw, err = gguf.EncodeQ6_K(v); err != nil {
			h.T.Fatal(err)
		}
	default:
		h.T.Fatalf("WeightFloat: type %s", dt)
	}
	return h.Weight("w_"+dt.String(), dt, raw, k, n)
}

// WeightQuantRandom makes a Q8_0 or Q6_K weight [k, n] of random codes and
// group scales with block scales near 1/1024: LM-head sizes in a moment,
// where encoding floats would take seconds.
func (h *Harness) WeightQuantRandom(dt gguf.DType, k, n int) compute.Tensor {
	blk, vals, at := gguf.Q8_0Bytes, gguf.QK8_0, 0
	if dt == gguf.Q6_K {
		blk, vals, at = gguf.Q6_KBytes, gguf.QK_K, gguf.Q6_KBytes-2
	}
	raw := make([]byte, k/vals*n*blk)
	for i := range raw {
		raw[i] = byte(h.rng.Uint32())
	}
	for b := 0; b < len(raw); b += blk {
		d := gguf.F32ToF16(float32(0.5+h.rng.Float64()) / 1024)
		raw[b+at], raw[b+at+1] = byte(d), byte(d>>8)
	}
	return h.Weight("w_"+dt.String(), dt, raw, k, n)
}

// WeightTQ makes a random TQ1_0 or TQ2_0 weight [k, n].
func (h *Harness) WeightTQ(dt gguf.DType, k, n int) compute.Tensor {
	tern := h.ternary(k * n)
	d := make([]float32, k*n/256)
	for i := range d {
		d[i] = gguf.RoundF16(float32(0.5 + h.rng.Float64()))
	}
	var raw []byte
	var err error
	if dt == gguf.TQ2_0 {
		raw, err = gguf.EncodeTQ2_0(tern, d)
	} else {
		raw, err = gguf.EncodeTQ1_0(tern, d)
	}
	if err != nil {
		h.T.Fatal(err)
	}
	return h.Weight("w_"+dt.String(), dt, raw, k, n)
}

// matMuls runs the matmuls of one input as one op where the backend has
// MultiMatMuler (as the engine does), else one by one.
func (h *Harness) matMuls(dst, w []compute.Tensor, x compute.Tensor) {
	if m, ok := h.BE.(compute.MultiMatMuler); ok {
		m.MatMuls(dst, w, x)
		return
	}
	for i := range w {
		h.BE.MatMul(dst[i], w[i], x)
	}
}

// concat writes into out (rows of the summed widths, t rows) row r of each
// of ts (F32 tensors of t rows) side by side.
func (h *Harness) concat(out compute.Tensor, t int, ts ...compute.Tensor) {
	var res []float32
	vals := make([][]float32, len(ts))
	for i, x := range ts {
		k, _ := compute.RowsOf(x)
		vals[i] = make([]float32, k*t)
		if err := h.BE.Read(x, vals[i]); err != nil {
			h.T.Fatal(err)
		}
	}
	for r := 0; r < t; r++ {
		for i, x := range ts {
			k, _ := compute.RowsOf(x)
			res = append(res, vals[i][r*k:(r+1)*k]...)
		}
	}
	if err := h.BE.Write(out, res); err != nil {
		h.T.Fatal(err)
	}
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// Cases returns the conformance table.
func Cases() []Case {
	var cs []Case
	add := func(c Case) { cs = append(cs, c) }

	for _, k := range []int{5, 7, 33, 127, 256, 2560, 6912} {
		for _, rows := range []int{1, 3} {
			add(Case{Name: fmt.Sprintf("rmsnorm/k=%d/rows=%d", k, rows), Run: func(h *Harness) compute.Tensor {
				x := h.Input(h.Floats(k*rows, 1.5), k, rows)
				w := h.Input(h.Floats(k, 1), k, 1)
				out := h.Output(k, rows)
				h.BE.RMSNorm(out, x, w, 1e-5)
				return out
			}})
		}
	}
	// In place, as the engine runs the sub-norms.
	add(Case{Name: "rmsnorm/inplace/k=640/rows=2", Run: func(h *Harness) compute.Tensor {
		out := h.Output(640, 2)
		if err := h.BE.Write(out, h.Floats(640*2, 3)); err != nil {
			h.T.Fatal(err)
		}
		h.BE.RMSNorm(out, out, h.Input(h.Floats(640, 1), 640, 1), 1e-6)
		return out
	}})

	type mm struct{ k, n, t int }
	for _, s := range []mm{{128, 5, 1}, {128, 33, 3}, {256, 7, 8}, {2560, 640, 1}, {2560, 2560, 2}, {6912, 33, 3}, {2560, 6912, 1}, {384, 127, 5}} {
		add(Case{Name: fmt.Sprintf("matmul_i2s/k=%d/n=%d/t=%d", s.k, s.n, s.t), Exact: true, Run: func(h *Harness) compute.Tensor {
			w := h.WeightI2S(s.k, s.n, 0.7+float32(h.rng.Float64()))
			x := h.Input(h.Floats(s.k*s.t, 1), s.k, s.t)
			out := h.Output(s.n, s.t)
			h.BE.MatMul(out, w, x)
			return out
		}})
	}
	// Several weights over one input (compute.MultiMatMuler where the backend
	// has it): each output as MatMul gives it. The 2B model's q/k/v and
	// gate/up shapes, one token and two.
	for _, s := range []struct {
		k   int
		ns  []int
		t   int
		out int
	}{{2560, []int{2560, 640, 640}, 1, 0}, {2560, []int{2560, 640, 640}, 1, 1}, {2560, []int{2560, 640, 640}, 1, 2},
		{2560, []int{6912, 6912}, 1, 1}, {256, []int{33, 7, 100}, 1, 1}, {256, []int{33, 7, 100}, 2, 2}} {
		add(Case{Name: fmt.Sprintf("matmuls_i2s/k=%d/n=%v/t=%d/out=%d", s.k, s.ns, s.t, s.out), Exact: true, Run: func(h *Harness) compute.Tensor {
			x := h.Input(h.Floats(s.k*s.t, 1), s.k, s.t)
			var ws, dsts []compute.Tensor
			var out compute.Tensor
			for i, n := range s.ns {
				ws = append(ws, h.WeightI2S(s.k, n, 0.5+float32(h.rng.Float64())))
				if i == s.out {
					out = h.Output(n, s.t)
					dsts = append(dsts, out)
				} else {
					dsts = append(dsts, h.Alloc(gguf.F32, n, s.t))
				}
			}
			h.matMuls(dsts, ws, x)
			return out
		}})
	}
	// Zero scale: the tensor is zero, no NaN.
	add(Case{Name: "matmul_i2s/zero-scale", Exact: true, Run: func(h *Harness) compute.Tensor {
		w := h.WeightI2S(256, 9, 0)
		out := h.Output(9, 2)
		h.BE.MatMul(out, w, h.Input(h.Floats(512, 1), 256, 2))
		return out
	}})
	// An all-zero input row exercises the 1e-5 floor of the quantizer.
	add(Case{Name: "matmul_i2s/zero-row", Exact: true, Run: func(h *Harness) compute.Tensor {
		w := h.WeightI2S(128, 4, 1)
		x := h.Floats(256, 1)
		clear(x[:128])
		out := h.Output(4, 2)
		h.BE.MatMul(out, w, h.Input(x, 128, 2))
		return out
	}})
	for _, dt := range []gguf.DType{gguf.TQ2_0, gguf.TQ1_0} {
		// Decode and prompt sizes: tile edges (odd N and T) and real widths.
		for _, s := range []mm{{256, 7, 1}, {512, 33, 3}, {2560, 64, 2}, {256, 7, 5}, {512, 130, 64}, {2560, 70, 65}} {
			add(Case{Name: fmt.Sprintf("matmul_%s/k=%d/n=%d/t=%d", dt, s.k, s.n, s.t), NMSE: 1e-10, Large: s.t >= 64, Run: func(h *Harness) compute.Tensor {
				w := h.WeightTQ(dt, s.k, s.n)
				out := h.Output(s.n, s.t)
				h.BE.MatMul(out, w, h.Input(h.Floats(s.k*s.t, 1), s.k, s.t))
				return out
			}})
		}
	}
	// Float weights, and the quantized LM head types at head-like shapes too
	// (each type at the shapes its block size divides).
	floatShapes := []mm{{32, 5, 1}, {64, 33, 3}, {2560, 127, 1}, {256, 1000, 5}, {128, 70, 7}}
	headShapes := []mm{{256, 7, 1}, {512, 33, 3}, {2560, 1000, 1}, {2560, 515, 4}, {768, 64, 7}}
	for _, dt := range []gguf.DType{gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0, gguf.Q6_K} {
		shapes := floatShapes
		if dt == gguf.Q8_0 || dt == gguf.Q6_K {
			shapes = append(shapes, headShapes...)
		}
		for _, s := range shapes {
			if int64(s.k)%dt.BlockSize() != 0 {
				continue
			}
			add(Case{Name: fmt.Sprintf("matmul_%s/k=%d/n=%d/t=%d", dt, s.k, s.n, s.t), Run: func(h *Harness) compute.Tensor {
				w := h.WeightFloat(dt, s.k, s.n, 0.05)
				out := h.Output(s.n, s.t)
				h.BE.MatMul(out, w, h.Input(h.Floats(s.k*s.t, 1), s.k, s.t))
				return out
			}})
		}
	}
	// An F16 LM head larger than 128 MiB, the storage-buffer range of some
	// devices: backends must split it.
	add(Case{Name: "matmul_f16/lm-head/k=640/n=128256", Large: true, Run: func(h *Harness) compute.Tensor {
		w := h.WeightFloat(gguf.F16, 640, 128256, 0.05)
		out := h.Output(128256, 1)
		h.BE.MatMul(out, w, h.Input(h.Floats(640, 1), 640, 1))
		return out
	}})

	// Quantized heads of more rows than one binding takes on some devices.
	for _, dt := range []gguf.DType{gguf.Q8_0, gguf.Q6_K} {
		for _, s := range []mm{{256, 70000, 1}, {512, 66000, 2}} {
			add(Case{Name: fmt.Sprintf("matmul_%s/lm-head/k=%d/n=%d/t=%d", dt, s.k, s.n, s.t), Large: true, Run: func(h *Harness) compute.Tensor {
				w := h.WeightQuantRandom(dt, s.k, s.n)
				out := h.Output(s.n, s.t)
				h.BE.MatMul(out, w, h.Input(h.Floats(s.k*s.t, 1), s.k, s.t))
				return out
			}})
		}
	}

	// Float tables, and the quantized head types as a tied embedding table
	// (rows of whole blocks).
	for _, e := range []struct {
		dt      gguf.DType
		k, rows int
	}{{gguf.F16, 96, 50}, {gguf.F32, 96, 50}, {gguf.BF16, 96, 50}, {gguf.Q8_0, 512, 20}, {gguf.Q6_K, 512, 20}} {
		add(Case{Name: fmt.Sprintf("embed/%s", e.dt), Exact: true, Run: func(h *Harness) compute.Tensor {
			table := h.WeightFloat(e.dt, e.k, e.rows, 1)
			ids := []int32{3, 0, int32(e.rows - 1), 3, 11}
			out := h.Output(e.k, len(ids))
			h.BE.Embed(out, table, h.Ints(ids))
			return out
		}})
	}
	add(Case{Name: "embed/i2s", Exact: true, Run: func(h *Harness) compute.Tensor {
		table := h.WeightI2S(128, 10, 0.25)
		out := h.Output(128, 3)
		h.BE.Embed(out, table, h.Ints([]int32{9, 0, 4}))
		return out
	}})

	type rp struct {
		heads, hd, dims, t int
		neox               bool
		theta              float32
	}
	for _, r := range []rp{{4, 64, 64, 3, true, 500000}, {20, 128, 128, 2, true, 500000}, {8, 8, 8, 5, false, 10000}, {2, 32, 16, 3, true, 10000}, {3, 16, 8, 2, false, 10000}} {
		add(Case{Name: fmt.Sprintf("rope/neox=%v/heads=%d/hd=%d/dims=%d/t=%d", r.neox, r.heads, r.hd, r.dims, r.t), Exact: true, Run: func(h *Harness) compute.Tensor {
			k := r.heads * r.hd
			x := h.Input(h.Floats(k*r.t, 1), k, r.t)
			pos0 := h.rng.IntN(4000)
			p := compute.RoPEParams{HeadDim: r.hd, Dims: r.dims, Theta: r.theta, NeoX: r.neox}
			out := h.Output(k, r.t)
			h.BE.RoPE(out, x, h.Positions(pos0, r.t), h.RoPETable(4000+r.t, p), p)
			return out
		}})
	}

	type at struct {
		nh, nkv, hd, pos0, t int
		kv                   gguf.DType
	}
	for _, a := range []at{{4, 2, 64, 0, 8, gguf.F16}, {4, 2, 64, 10, 70, gguf.F16}, {4, 2, 64, 5, 1, gguf.F16}, {8, 8, 8, 3, 4, gguf.F32}, {20, 5, 128, 70, 3, gguf.F16}, {4, 1, 32, 0, 1, gguf.F32},
		{15, 5, 128, 600, 1, gguf.F16}, {4, 2, 96, 300, 1, gguf.F16}, {8, 1, 64, 520, 1, gguf.F16}} {
		add(Case{Name: fmt.Sprintf("attention/heads=%d/kv=%d/hd=%d/pos0=%d/t=%d/%s", a.nh, a.nkv, a.hd, a.pos0, a.t, a.kv), NMSE: 1e-9, Run: func(h *Harness) compute.Tensor {
			kvd := a.nkv * a.hd
			nctx := a.pos0 + a.t + 3
			kc := h.Alloc(a.kv, kvd, nctx)
			vc := h.Alloc(a.kv, kvd, nctx)
			n := a.pos0 + a.t
			all := h.Positions(0, n)
			h.BE.StoreKV(kc, h.Input(h.Floats(kvd*n, 1.5), kvd, n), all)
			h.BE.StoreKV(vc, h.Input(h.Floats(kvd*n, 1), kvd, n), all)
			q := h.Input(h.Floats(a.nh*a.hd*a.t, 1.5), a.nh*a.hd, a.t)
			out := h.Output(a.nh*a.hd, a.t)
			h.BE.Attention(out, q, kc, vc, h.Positions(a.pos0, a.t), compute.AttnParams{NHead: a.nh, NKVHead: a.nkv, HeadDim: a.hd, Scale: float32(1 / math.Sqrt(float64(a.hd)))})
			return out
		}})
	}
	// StoreKV rounding is observable through Read of the cache.
	add(Case{Name: "store_kv/f16", Exact: true, Run: func(h *Harness) compute.Tensor {
		c := h.Alloc(gguf.F16, 64, 6)
		h.BE.StoreKV(c, h.Input(h.Floats(64*4, 2), 64, 4), h.Positions(2, 4))
		out := h.Output(64, 6)
		vals := make([]float32, 64*6)
		if err := h.BE.Read(c, vals); err != nil {
			h.T.Fatal(err)
		}
		if err := h.BE.Write(out, vals); err != nil {
			h.T.Fatal(err)
		}
		return out
	}})

	// RoundF16: ties to even, subnormal halves, the largest finite half, in
	// place and out of place, a row and a batch.
	for _, s := range []struct {
		k, rows int
		inPlace bool
	}{{64, 1, false}, {2560, 3, true}, {6912, 2, false}} {
		add(Case{Name: fmt.Sprintf("round_f16/k=%d/rows=%d/inplace=%v", s.k, s.rows, s.inPlace), Exact: true, Run: func(h *Harness) compute.Tensor {
			x := h.Floats(s.k*s.rows, 2)
			special := []float32{1 + 1.0/2048, 1 + 3.0/2048, -(1 + 1.0/2048), 65504, 65519, -65519, 3e-6, -3e-6, 1e-8, 6.1e-5, 0, 2049, 2051, 0.1}
			copy(x, special)
			for i := len(special); i < len(x); i += 7 {
				x[i] *= 1e-5 // some in the subnormal range
			}
			out := h.Output(s.k, s.rows)
			if s.inPlace {
				if err := h.BE.Write(out, x); err != nil {
					h.T.Fatal(err)
				}
				h.BE.RoundF16(out, out)
				return out
			}
			h.BE.RoundF16(out, h.Input(x, s.k, s.rows))
			return out
		}})
	}

	for _, act := range []compute.Activation{compute.ReLU2, compute.SiLU} {
		for _, n := range []int{7, 6912 * 3} {
			add(Case{Name: fmt.Sprintf("act_mul/%s/n=%d", act, n), NMSE: 1e-12, Run: func(h *Harness) compute.Tensor {
				g := h.Input(h.Floats(n, 2), n, 1)
				u := h.Input(h.Floats(n, 1), n, 1)
				out := h.Output(n, 1)
				h.BE.ActMul(out, g, u, act)
				return out
			}})
		}
	}
	for _, n := range []int{5, 2560 * 3} {
		add(Case{Name: fmt.Sprintf("add/n=%d", n), Exact: true, Run: func(h *Harness) compute.Tensor {
			out := h.Output(n, 1)
			h.BE.Add(out, h.Input(h.Floats(n, 1), n, 1), h.Input(h.Floats(n, 1), n, 1))
			return out
		}})
		add(Case{Name: fmt.Sprintf("scale/n=%d", n), Exact: true, Run: func(h *Harness) compute.Tensor {
			out := h.Output(n, 1)
			h.BE.Scale(out, h.Input(h.Floats(n, 1), n, 1), 0.37)
			return out
		}})
	}
	// Prompt-sized ternary matmuls: tile edges (odd N and T) and real widths.
	for _, s := range []mm{{2560, 320, 7}, {256, 100, 64}, {2560, 96, 65}, {512, 130, 512}, {6912, 64, 33}} {
		add(Case{Name: fmt.Sprintf("matmul_i2s/k=%d/n=%d/t=%d", s.k, s.n, s.t), Exact: true, Large: s.t >= 64, Run: func(h *Harness) compute.Tensor {
			w := h.WeightI2S(s.k, s.n, 0.7+float32(h.rng.Float64()))
			x := h.Input(h.Floats(s.k*s.t, 1), s.k, s.t)
			out := h.Output(s.n, s.t)
			h.BE.MatMul(out, w, x)
			return out
		}})
	}
	// A prompt-sized matmul whose result a backend may add to the residual
	// in the same kernel.
	add(Case{Name: "fused/matmul_i2s+add/t=9", Exact: true, Run: func(h *Harness) compute.Tensor {
		out := h.Output(2560, 9)
		if err := h.BE.Write(out, h.Floats(2560*9, 3)); err != nil {
			h.T.Fatal(err)
		}
		y := h.Alloc(gguf.F32, 2560, 9)
		h.BE.MatMul(y, h.WeightI2S(6912, 2560, 0.6), h.Input(h.Floats(6912*9, 1), 6912, 9))
		h.BE.Add(out, out, y)
		return out
	}})
	// Op sequences a backend may fuse into one kernel; each result must equal
	// the ops run one by one.
	for _, t := range []int{1, 3} {
		// RMSNorm itself is not bit-exact across backends (its float64 sum
		// of squares has no order a GPU can follow), so neither is what
		// follows it: a tolerance that a flipped int8 code exceeds.
		add(Case{Name: fmt.Sprintf("fused/rmsnorm+matmul_i2s/t=%d", t), NMSE: 1e-10, Run: func(h *Harness) compute.Tensor {
			x := h.Input(h.Floats(2560*t, 2), 2560, t)
			hn := h.Alloc(gguf.F32, 2560, t)
			h.BE.RMSNorm(hn, x, h.Input(h.Floats(2560, 1), 2560, 1), 1e-5)
			out := h.Output(640, t)
			h.BE.MatMul(out, h.WeightI2S(2560, 640, 0.9), hn)
			return out
		}})
		add(Case{Name: fmt.Sprintf("fused/rmsnorm+matmul_i2s/norm/t=%d", t), Run: func(h *Harness) compute.Tensor {
			x := h.Input(h.Floats(2560*t, 2), 2560, t)
			out := h.Output(2560, t)
			h.BE.RMSNorm(out, x, h.Input(h.Floats(2560, 1), 2560, 1), 1e-5)
			h.BE.MatMul(h.Alloc(gguf.F32, 640, t), h.WeightI2S(2560, 640, 0.9), out)
			return out
		}})
		add(Case{Name: fmt.Sprintf("fused/matmul_i2s+add/t=%d", t), Exact: true, Run: func(h *Harness) compute.Tensor {
			out := h.Output(2560, t)
			if err := h.BE.Write(out, h.Floats(2560*t, 3)); err != nil {
				h.T.Fatal(err)
			}
			y := h.Alloc(gguf.F32, 2560, t)
			h.BE.MatMul(y, h.WeightI2S(6912, 2560, 0.6), h.Input(h.Floats(6912*t, 1), 6912, t))
			h.BE.Add(out, out, y)
			return out
		}})
		add(Case{Name: fmt.Sprintf("fused/matmuls_i2s+act_mul/t=%d", t), NMSE: 1e-12, Run: func(h *Harness) compute.Tensor {
			x := h.Input(h.Floats(2560*t, 1), 2560, t)
			out := h.Output(6912, t)
			up := h.Alloc(gguf.F32, 6912, t)
			wg, wu := h.WeightI2S(2560, 6912, 0.02), h.WeightI2S(2560, 6912, 0.03)
			h.matMuls([]compute.Tensor{out, up}, []compute.Tensor{wg, wu}, x)
			h.BE.ActMul(out, out, up, compute.ReLU2)
			return out
		}})
		add(Case{Name: fmt.Sprintf("fused/rope+store_kv/t=%d", t), Exact: true, Run: func(h *Harness) compute.Tensor {
			p := compute.RoPEParams{HeadDim: 128, Dims: 128, Theta: 500000, NeoX: true}
			table := h.RoPETable(300, p)
			pos := h.Positions(250, t)
			q := h.Output(2560, t)
			if err := h.BE.Write(q, h.Floats(2560*t, 1)); err != nil {
				h.T.Fatal(err)
			}
			k := h.Input(h.Floats(640*t, 1), 640, t)
			v := h.Input(h.Floats(640*t, 1), 640, t)
			kc, vc := h.Alloc(gguf.F16, 640, 300), h.Alloc(gguf.F16, 640, 300)
			h.BE.RoPE(q, q, pos, table, p)
			h.BE.RoPE(k, k, pos, table, p)
			h.BE.StoreKV(kc, k, pos)
			h.BE.StoreKV(vc, v, pos)
			// q, then the rows written to both caches.
			out := h.Output(2560+2*640, t)
			vals := make([]float32, 2560*t)
			if err := h.BE.Read(q, vals); err != nil {
				h.T.Fatal(err)
			}
			all := make([]float32, 640*300)
			res := make([]float32, 0, (2560+2*640)*t)
			for i := 0; i < t; i++ {
				res = append(res, vals[i*2560:(i+1)*2560]...)
				for _, c := range []compute.Tensor{kc, vc} {
					if err := h.BE.Read(c, all); err != nil {
						h.T.Fatal(err)
					}
					res = append(res, all[(250+i)*640:(251+i)*640]...)
				}
			}
			if err := h.BE.Write(out, res); err != nil {
				h.T.Fatal(err)
			}
			return out
		}})
	}
	// The residual add and the RMSNorm after a matmul, then the ternary
	// matmul of the norm (a GPU runs the norm inside the second matmul).
	for _, t := range []int{1, 2} {
		add(Case{Name: fmt.Sprintf("fused/matmul+add+rmsnorm+matmul/t=%d", t), NMSE: 1e-10, Run: func(h *Harness) compute.Tensor {
			x := h.Input(h.Floats(2560*t, 2), 2560, t)
			y, hn := h.Alloc(gguf.F32, 2560, t), h.Alloc(gguf.F32, 2560, t)
			h.BE.MatMul(y, h.WeightI2S(2560, 2560, 0.8), h.Input(h.Floats(2560*t, 1), 2560, t))
			h.BE.Add(x, x, y)
			h.BE.RMSNorm(hn, x, h.Input(h.Floats(2560, 1), 2560, 1), 1e-5)
			out := h.Output(640, t)
			h.BE.MatMul(out, h.WeightI2S(2560, 640, 0.9), hn)
			return out
		}})
	}
	// The second half of a decode layer and the next layer's q/k/v, as the
	// engine issues them, every input written first: the output
	// projection and its residual add, the FFN norm, gate/up and their
	// activation, the sub-norm, down and its residual add, the next
	// attention norm and q/k/v (a GPU may run each norm at the end of the
	// matvec before it).
	for _, t := range []int{1, 4} {
		add(Case{Name: fmt.Sprintf("fused/layer-ffn+next-qkv/t=%d", t), NMSE: 1e-10, Run: func(h *Harness) compute.Tensor {
			x := h.Input(h.Floats(2560*t, 2), 2560, t)
			att := h.Input(h.Floats(2560*t, 1), 2560, t)
			wo, wg, wu, wd := h.WeightI2S(2560, 2560, 0.05), h.WeightI2S(2560, 6912, 0.02), h.WeightI2S(2560, 6912, 0.03), h.WeightI2S(6912, 2560, 0.7)
			wq, wk, wv := h.WeightI2S(2560, 2560, 0.9), h.WeightI2S(2560, 640, 1.1), h.WeightI2S(2560, 640, 0.7)
			fn, sn, an := h.Input(h.Floats(2560, 1), 2560, 1), h.Input(h.Floats(6912, 1), 6912, 1), h.Input(h.Floats(2560, 1), 2560, 1)
			hh, g, u := h.Alloc(gguf.F32, 2560, t), h.Alloc(gguf.F32, 6912, t), h.Alloc(gguf.F32, 6912, t)
			q, k, v := h.Alloc(gguf.F32, 2560, t), h.Alloc(gguf.F32, 640, t), h.Alloc(gguf.F32, 640, t)
			h.BE.MatMul(hh, wo, att)
			h.BE.Add(x, x, hh)
			h.BE.RMSNorm(hh, x, fn, 1e-5)
			h.matMuls([]compute.Tensor{g, u}, []compute.Tensor{wg, wu}, hh)
			h.BE.ActMul(g, g, u, compute.ReLU2)
			h.BE.RMSNorm(u, g, sn, 1e-5)
			h.BE.MatMul(hh, wd, u)
			h.BE.Add(x, x, hh)
			h.BE.RMSNorm(hh, x, an, 1e-5)
			h.matMuls([]compute.Tensor{q, k, v}, []compute.Tensor{wq, wk, wv}, hh)
			out := h.Output(2*2560+6912+2560+2*640, t)
			h.concat(out, t, x, hh, u, q, k, v)
			return out
		}})
	}
	// The decode layer's sequences with the norm out of place, which a GPU
	// runs inside the matvec that reads it: the norm of the residual
	// stream into q/k/v, and the sub-norm of the activation into down with
	// its residual add.
	for _, t := range []int{1, 4} {
		add(Case{Name: fmt.Sprintf("fused/rmsnorm+matmuls_i2s(qkv)/t=%d", t), NMSE: 1e-10, Run: func(h *Harness) compute.Tensor {
			x := h.Input(h.Floats(2560*t, 2), 2560, t)
			hn := h.Alloc(gguf.F32, 2560, t)
			h.BE.RMSNorm(hn, x, h.Input(h.Floats(2560, 1), 2560, 1), 1e-5)
			out := h.Output(2*2560+2*640, t)
			q, k, v := h.Alloc(gguf.F32, 2560, t), h.Alloc(gguf.F32, 640, t), h.Alloc(gguf.F32, 640, t)
			h.matMuls([]compute.Tensor{q, k, v}, []compute.Tensor{h.WeightI2S(2560, 2560, 0.9), h.WeightI2S(2560, 640, 1.1), h.WeightI2S(2560, 640, 0.7)}, hn)
			h.concat(out, t, q, k, v, hn)
			return out
		}})
		for _, c := range []struct {
			neox bool
			dt   gguf.DType
		}{{true, gguf.F16}, {false, gguf.F16}, {true, gguf.F32}} {
			add(Case{Name: fmt.Sprintf("fused/rmsnorm+qkv+rope+store_kv/t=%d/neox=%v/%s", t, c.neox, c.dt), NMSE: 1e-10, Run: func(h *Harness) compute.Tensor {
				// The attention block's head: the norm, q/k/v, RoPE of q and k
				// in place, the stores of k and v at the tokens' positions.
				p := compute.RoPEParams{HeadDim: 128, Dims: 128, Theta: 500000, NeoX: c.neox}
				const ctx = 300
				table := h.RoPETable(ctx, p)
				pos := h.Positions(250, t)
				x := h.Input(h.Floats(2560*t, 2), 2560, t)
				hn := h.Alloc(gguf.F32, 2560, t)
				h.BE.RMSNorm(hn, x, h.Input(h.Floats(2560, 1), 2560, 1), 1e-5)
				q, k, v := h.Alloc(gguf.F32, 2560, t), h.Alloc(gguf.F32, 640, t), h.Alloc(gguf.F32, 640, t)
				h.matMuls([]compute.Tensor{q, k, v}, []compute.Tensor{h.WeightI2S(2560, 2560, 0.9), h.WeightI2S(2560, 640, 1.1), h.WeightI2S(2560, 640, 0.7)}, hn)
				kc, vc := h.Alloc(c.dt, 640, ctx), h.Alloc(c.dt, 640, ctx)
				h.BE.RoPE(q, q, pos, table, p)
				h.BE.RoPE(k, k, pos, table, p)
				h.BE.StoreKV(kc, k, pos)
				h.BE.StoreKV(vc, v, pos)
				// q, k, v, then the rows of both caches at the positions.
				kr, vr := h.Alloc(gguf.F32, 640, t), h.Alloc(gguf.F32, 640, t)
				all := make([]float32, 640*ctx)
				for i, cc := range []compute.Tensor{kc, vc} {
					if err := h.BE.Read(cc, all); err != nil {
						h.T.Fatal(err)
					}
					if err := h.BE.Write([]compute.Tensor{kr, vr}[i], all[250*640:(250+t)*640]); err != nil {
						h.T.Fatal(err)
					}
				}
				out := h.Output(2560+4*640, t)
				h.concat(out, t, q, k, v, kr, vr)
				return out
			}})
		}
		if t == 1 {
			// The attention block's head and the token's attention (a
			// backend may run them in one kernel over a short cache): 2B-4T
			// heads and a smaller layout with 4 query heads per KV head,
			// from the first position to the cache's last.
			// Then also the attention's sub-norm, the output projection and
			// its residual add, with q/k/v reading their input as it is (a
			// backend may run that sub-norm at the end of the kernel that
			// attends).
			type qa struct {
				k, nh, nkv, hd, pos0, ctx int
				neox                      bool
				dt                        gguf.DType
				tail                      bool
			}
			var qas []qa
			for _, tail := range []bool{false, true} {
				qas = append(qas, qa{2560, 20, 5, 128, 0, 256, true, gguf.F16, tail}, qa{2560, 20, 5, 128, 37, 256, false, gguf.F16, tail},
					qa{2560, 20, 5, 128, 255, 256, true, gguf.F16, tail}, qa{2560, 20, 5, 128, 130, 140, true, gguf.F32, tail}, qa{512, 8, 2, 64, 70, 128, true, gguf.F16, tail})
			}
			for _, c := range qas {
				name := "fused/rmsnorm+qkv+rope+store_kv+attention"
				if c.tail {
					name = "fused/qkv+rope+store_kv+attention+subnorm+matmul+add"
				}
				add(Case{Name: fmt.Sprintf("%s/heads=%d/kv=%d/hd=%d/pos0=%d/ctx=%d/neox=%v/%s", name, c.nh, c.nkv, c.hd, c.pos0, c.ctx, c.neox, c.dt), NMSE: 1e-8, Run: func(h *Harness) compute.Tensor {
					p := compute.RoPEParams{HeadDim: c.hd, Dims: c.hd, Theta: 500000, NeoX: c.neox}
					qd, kvd := c.nh*c.hd, c.nkv*c.hd
					table := h.RoPETable(c.ctx, p)
					// The cache's earlier rows, then the block at pos0.
					kc, vc := h.Alloc(c.dt, kvd, c.ctx), h.Alloc(c.dt, kvd, c.ctx)
					if c.pos0 > 0 {
						before := h.Positions(0, c.pos0)
						h.BE.StoreKV(kc, h.Input(h.Floats(kvd*c.pos0, 1.5), kvd, c.pos0), before)
						h.BE.StoreKV(vc, h.Input(h.Floats(kvd*c.pos0, 1), kvd, c.pos0), before)
					}
					pos := h.Positions(c.pos0, 1)
					x := h.Input(h.Floats(c.k, 2), c.k, 1)
					nw := h.Input(h.Floats(c.k, 1), c.k, 1)
					wq, wk, wv := h.WeightI2S(c.k, qd, 0.05), h.WeightI2S(c.k, kvd, 0.06), h.WeightI2S(c.k, kvd, 0.7)
					hn := h.Alloc(gguf.F32, c.k, 1)
					q, k, v := h.Alloc(gguf.F32, qd, 1), h.Alloc(gguf.F32, kvd, 1), h.Alloc(gguf.F32, kvd, 1)
					att := h.Alloc(gguf.F32, qd, 1)
					// The tail's inputs, written before the first op.
					var snw, wo compute.Tensor
					if c.tail {
						snw, wo = h.Input(h.Floats(qd, 1), qd, 1), h.WeightI2S(qd, c.k, 0.04)
						hn = x
					} else {
						h.BE.RMSNorm(hn, x, nw, 1e-5)
					}
					h.matMuls([]compute.Tensor{q, k, v}, []compute.Tensor{wq, wk, wv}, hn)
					h.BE.RoPE(q, q, pos, table, p)
					h.BE.RoPE(k, k, pos, table, p)
					h.BE.StoreKV(kc, k, pos)
					h.BE.StoreKV(vc, v, pos)
					h.BE.Attention(att, q, kc, vc, pos, compute.AttnParams{NHead: c.nh, NKVHead: c.nkv, HeadDim: c.hd, Scale: float32(1 / math.Sqrt(float64(c.hd)))})
					if !c.tail {
						out := h.Output(2*qd+2*kvd, 1)
						h.concat(out, 1, att, q, k, v)
						return out
					}
					sn, y := h.Alloc(gguf.F32, qd, 1), h.Alloc(gguf.F32, c.k, 1)
					h.BE.RMSNorm(sn, att, snw, 1e-5)
					h.BE.MatMul(y, wo, sn)
					h.BE.Add(x, x, y)
					out := h.Output(2*qd+c.k, 1)
					h.concat(out, 1, att, sn, x)
					return out
				}})
			}
		}
		for _, inPlace := range []bool{false, true} {
			// Out of place (as the engine issues it), or the sub-norm
			// overwriting the activation.
			add(Case{Name: fmt.Sprintf("fused/gate-up+act+subnorm+matmul+add/t=%d/in-place=%v", t, inPlace), NMSE: 1e-10, Run: func(h *Harness) compute.Tensor {
				x := h.Input(h.Floats(2560*t, 1), 2560, t)
				g, u := h.Alloc(gguf.F32, 6912, t), h.Alloc(gguf.F32, 6912, t)
				wg, wu := h.WeightI2S(2560, 6912, 0.02), h.WeightI2S(2560, 6912, 0.03)
				h.matMuls([]compute.Tensor{g, u}, []compute.Tensor{wg, wu}, x)
				h.BE.ActMul(g, g, u, compute.ReLU2)
				n := u
				if inPlace {
					n = g
				}
				h.BE.RMSNorm(n, g, h.Input(h.Floats(6912, 1), 6912, 1), 1e-5)
				y := h.Alloc(gguf.F32, 2560, t)
				h.BE.MatMul(y, h.WeightI2S(6912, 2560, 0.7), n)
				res := h.Input(h.Floats(2560*t, 2), 2560, t)
				h.BE.Add(res, res, y)
				out := h.Output(2560+6912, t)
				h.concat(out, t, res, n)
				return out
			}})
		}
	}
	// Attention over long contexts (split across workgroups on a GPU), then
	// the sub-norm a backend may fuse with it.
	for _, a := range []struct{ pos0, t int }{{0, 1}, {63, 1}, {127, 2}, {254, 3}, {700, 3}, {1015, 1}, {1023, 1}, {2000, 4}, {4095, 1}, {1000, 7}, {0, 64}, {4000, 96}, {0, 512}} {
		add(Case{Name: fmt.Sprintf("attention/2b4t/pos0=%d/t=%d", a.pos0, a.t), NMSE: 1e-9, Large: a.pos0+a.t > 1100, Run: func(h *Harness) compute.Tensor {
			n := a.pos0 + a.t
			kc, vc := h.Alloc(gguf.F16, 640, n+5), h.Alloc(gguf.F16, 640, n+5)
			all := h.Positions(0, n)
			h.BE.StoreKV(kc, h.Input(h.Floats(640*n, 1.5), 640, n), all)
			h.BE.StoreKV(vc, h.Input(h.Floats(640*n, 1), 640, n), all)
			q := h.Input(h.Floats(2560*a.t, 1.5), 2560, a.t)
			out := h.Output(2560, a.t)
			h.BE.Attention(out, q, kc, vc, h.Positions(a.pos0, a.t), compute.AttnParams{NHead: 20, NKVHead: 5, HeadDim: 128, Scale: float32(1 / math.Sqrt(128))})
			return out
		}})
	}
	for _, t := range []int{1, 2} {
		add(Case{Name: fmt.Sprintf("fused/attention+rmsnorm+matmul_i2s/t=%d", t), NMSE: 1e-8, Run: func(h *Harness) compute.Tensor {
			n := 300 + t
			kc, vc := h.Alloc(gguf.F16, 640, n), h.Alloc(gguf.F16, 640, n)
			all := h.Positions(0, n)
			h.BE.StoreKV(kc, h.Input(h.Floats(640*n, 1.5), 640, n), all)
			h.BE.StoreKV(vc, h.Input(h.Floats(640*n, 1), 640, n), all)
			q := h.Input(h.Floats(2560*t, 1.5), 2560, t)
			att := h.Output(2560, t)
			h.BE.Attention(att, q, kc, vc, h.Positions(300, t), compute.AttnParams{NHead: 20, NKVHead: 5, HeadDim: 128, Scale: float32(1 / math.Sqrt(128))})
			h.BE.RMSNorm(att, att, h.Input(h.Floats(2560, 1), 2560, 1), 1e-5)
			h.BE.MatMul(h.Alloc(gguf.F32, 2560, t), h.WeightI2S(2560, 2560, 1), att)
			return att
		}})
	}
	// The attention block's tail as the engine issues it: attention, the
	// sub-norm out of place, the output projection and the residual add (a
	// backend may run the first three in one kernel for one token over a
	// short cache). Attention outputs that differ in their last bits (the
	// summation orders differ) can flip an int8 activation code, which
	// moves every projected row: about 1e-7 of normalized error each (the
	// arm64 CPU path flips a few here at t=2); a wrong attention gives
	// 1e-4 and more.
	type ab struct {
		nh, nkv, hd, pos0, t int
		kv                   gguf.DType
	}
	for _, a := range []ab{{20, 5, 128, 0, 1, gguf.F16}, {20, 5, 128, 37, 1, gguf.F16}, {20, 5, 128, 127, 1, gguf.F16}, {20, 5, 128, 200, 1, gguf.F16},
		{20, 5, 128, 60, 2, gguf.F16}, {4, 2, 64, 9, 1, gguf.F32}, {4, 2, 64, 130, 1, gguf.F32}} {
		add(Case{Name: fmt.Sprintf("fused/attention+subnorm+matmul_i2s+add/heads=%d/kv=%d/hd=%d/pos0=%d/t=%d/%s", a.nh, a.nkv, a.hd, a.pos0, a.t, a.kv), NMSE: 1e-5, Run: func(h *Harness) compute.Tensor {
			k, kvd, n := a.nh*a.hd, a.nkv*a.hd, a.pos0+a.t
			rows := n + 3
			if n <= 128 {
				rows = min(rows, 128) // a cache of 128 positions, all of them attended at pos0 127
			}
			kc, vc := h.Alloc(a.kv, kvd, rows), h.Alloc(a.kv, kvd, rows)
			all := h.Positions(0, n)
			h.BE.StoreKV(kc, h.Input(h.Floats(kvd*n, 1.5), kvd, n), all)
			h.BE.StoreKV(vc, h.Input(h.Floats(kvd*n, 1), kvd, n), all)
			q := h.Input(h.Floats(k*a.t, 1.5), k, a.t)
			res := h.Input(h.Floats(k*a.t, 2), k, a.t)
			att, nrm, y := h.Alloc(gguf.F32, k, a.t), h.Alloc(gguf.F32, k, a.t), h.Alloc(gguf.F32, k, a.t)
			// Every input is written first: a write between the ops would
			// run the ones before it.
			pos, nw, wo := h.Positions(a.pos0, a.t), h.Input(h.Floats(k, 1), k, 1), h.WeightI2S(k, k, 0.5)
			h.BE.Attention(att, q, kc, vc, pos, compute.AttnParams{NHead: a.nh, NKVHead: a.nkv, HeadDim: a.hd, Scale: float32(1 / math.Sqrt(float64(a.hd)))})
			h.BE.RMSNorm(nrm, att, nw, 1e-5)
			h.BE.MatMul(y, wo, nrm)
			h.BE.Add(res, res, y)
			out := h.Output(3*k, a.t)
			h.concat(out, a.t, res, nrm, att)
			return out
		}})
	}
	// Candidate selection: logits with ties, a few NaN-free extremes.
	for _, c := range []struct{ n, k int }{{1000, 1}, {1000, 40}, {128256, 1}, {128256, 40}, {128256, 104}, {128256, 256}, {300, 256}} {
		add(Case{Name: fmt.Sprintf("topk/n=%d/k=%d", c.n, c.k), Exact: true, Run: func(h *Harness) compute.Tensor {
			v := h.Floats(c.n, 3)
			for i := 0; i < c.n/50; i++ { // ties, across ids far apart
				v[h.rng.IntN(c.n)] = v[h.rng.IntN(c.n)]
			}
			v[h.rng.IntN(c.n)] = float32(math.Inf(-1))
			lg := h.Input(v, c.n, 1)
			out := h.IntOutput(c.k, 2)
			h.BE.TopK(out, lg, c.k)
			return out
		}})
	}
	add(Case{Name: "penalize", Exact: true, Run: func(h *Harness) compute.Tensor {
		out := h.Output(5000, 1)
		if err := h.BE.Write(out, h.Floats(5000, 2)); err != nil {
			h.T.Fatal(err)
		}
		ids := []int32{7, 4999, 0, -1, 1234, 17, -1, -1}
		h.BE.Penalize(out, h.Ints(ids), 1.3)
		return out
	}})
	add(Case{Name: "penalize+topk", Exact: true, Run: func(h *Harness) compute.Tensor {
		lg := h.Input(h.Floats(128256, 2), 128256, 1)
		ids := make([]int32, 64)
		for i := range ids {
			ids[i] = int32(i * 2003)
		}
		h.BE.Penalize(lg, h.Ints(ids), 0.7) // below 1: raises positive logits
		out := h.IntOutput(40, 2)
		h.BE.TopK(out, lg, 40)
		return out
	}})
	add(Case{Name: "embed/out-of-range", Exact: true, Run: func(h *Harness) compute.Tensor {
		table := h.WeightFloat(gguf.F16, 64, 10, 1)
		out := h.Output(64, 3)
		h.BE.Embed(out, table, h.Ints([]int32{2, 10, -1}))
		return out
	}})
	return cs
}
