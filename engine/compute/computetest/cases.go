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

// WeightFloat makes a random float weight [k, n] of type dt (F32, F16, BF16, Q8_0).
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
	default:
		h.T.Fatalf("WeightFloat: type %s", dt)
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
			if m, ok := h.BE.(compute.MultiMatMuler); ok {
				m.MatMuls(dsts, ws, x)
			} else {
				for i := range ws {
					h.BE.MatMul(dsts[i], ws[i], x)
				}
			}
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
		for _, s := range []mm{{256, 7, 1}, {512, 33, 3}, {2560, 64, 2}} {
			add(Case{Name: fmt.Sprintf("matmul_%s/k=%d/n=%d/t=%d", dt, s.k, s.n, s.t), NMSE: 1e-10, Run: func(h *Harness) compute.Tensor {
				w := h.WeightTQ(dt, s.k, s.n)
				out := h.Output(s.n, s.t)
				h.BE.MatMul(out, w, h.Input(h.Floats(s.k*s.t, 1), s.k, s.t))
				return out
			}})
		}
	}
	for _, dt := range []gguf.DType{gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0} {
		for _, s := range []mm{{32, 5, 1}, {64, 33, 3}, {2560, 127, 1}, {256, 1000, 5}} {
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

	for _, dt := range []gguf.DType{gguf.F16, gguf.F32, gguf.BF16} {
		add(Case{Name: fmt.Sprintf("embed/%s", dt), Exact: true, Run: func(h *Harness) compute.Tensor {
			table := h.WeightFloat(dt, 96, 50, 1)
			ids := []int32{3, 0, 49, 3, 17}
			out := h.Output(96, len(ids))
			h.BE.Embed(out, table, ids)
			return out
		}})
	}
	add(Case{Name: "embed/i2s", Exact: true, Run: func(h *Harness) compute.Tensor {
		table := h.WeightI2S(128, 10, 0.25)
		out := h.Output(128, 3)
		h.BE.Embed(out, table, []int32{9, 0, 4})
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
			pos := make([]int32, r.t)
			for i := range pos {
				pos[i] = int32(h.rng.IntN(4000))
			}
			out := h.Output(k, r.t)
			h.BE.RoPE(out, x, pos, compute.RoPEParams{HeadDim: r.hd, Dims: r.dims, Theta: r.theta, NeoX: r.neox})
			return out
		}})
	}

	type at struct {
		nh, nkv, hd, pos0, t int
		kv                   gguf.DType
	}
	for _, a := range []at{{4, 2, 64, 0, 8, gguf.F16}, {4, 2, 64, 10, 70, gguf.F16}, {4, 2, 64, 5, 1, gguf.F16}, {8, 8, 8, 3, 4, gguf.F32}, {20, 5, 128, 70, 3, gguf.F16}, {4, 1, 32, 0, 1, gguf.F32}} {
		add(Case{Name: fmt.Sprintf("attention/heads=%d/kv=%d/hd=%d/pos0=%d/t=%d/%s", a.nh, a.nkv, a.hd, a.pos0, a.t, a.kv), NMSE: 1e-9, Run: func(h *Harness) compute.Tensor {
			kvd := a.nkv * a.hd
			nctx := a.pos0 + a.t + 3
			kc := h.Alloc(a.kv, kvd, nctx)
			vc := h.Alloc(a.kv, kvd, nctx)
			n := a.pos0 + a.t
			h.BE.StoreKV(kc, h.Input(h.Floats(kvd*n, 1.5), kvd, n), 0)
			h.BE.StoreKV(vc, h.Input(h.Floats(kvd*n, 1), kvd, n), 0)
			q := h.Input(h.Floats(a.nh*a.hd*a.t, 1.5), a.nh*a.hd, a.t)
			out := h.Output(a.nh*a.hd, a.t)
			h.BE.Attention(out, q, kc, vc, compute.AttnParams{NHead: a.nh, NKVHead: a.nkv, HeadDim: a.hd, Pos0: a.pos0, Scale: float32(1 / math.Sqrt(float64(a.hd)))})
			return out
		}})
	}
	// StoreKV rounding is observable through Read of the cache.
	add(Case{Name: "store_kv/f16", Exact: true, Run: func(h *Harness) compute.Tensor {
		c := h.Alloc(gguf.F16, 64, 6)
		h.BE.StoreKV(c, h.Input(h.Floats(64*4, 2), 64, 4), 2)
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
	return cs
}
