package engine

import (
	"fmt"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// Arch describes what differs between the architectures the engine runs:
// the rest of the graph (RMSNorm, attention, a gated FFN) is shared.
type Arch struct {
	Name     string             // general.architecture
	SubNorms bool               // attn_sub_norm and ffn_sub_norm, before the output and down projections
	Act      compute.Activation // FFN gate activation
	NeoX     bool               // RoPE pairs (i, i+d/2) instead of (2i, 2i+1)
	// F16Input: matmuls with F16 weights take x rounded to F16, as llama.cpp
	// converts the activations to F16 (ggml's dot type for F16 weights)
	// before the product. bitnet.cpp's F16 LM head takes x as it is: its
	// golden logits are 1000x farther off with the rounding.
	F16Input bool
}

// architectures is the one description of every supported architecture;
// the tensors each one binds are listed by Config.Tensors.
var architectures = []Arch{
	{Name: ArchBitNetB158, SubNorms: true, Act: compute.ReLU2, NeoX: true},
	{Name: ArchBitNet25, SubNorms: true, Act: compute.ReLU2, NeoX: true},
	{Name: ArchBitNet, SubNorms: true, Act: compute.SiLU, NeoX: true},
	{Name: ArchLlama, SubNorms: false, Act: compute.SiLU, NeoX: false, F16Input: true},
}

// LookupArch returns the description of the architecture called name.
func LookupArch(name string) (Arch, bool) {
	for _, a := range architectures {
		if a.Name == name {
			return a, true
		}
	}
	return Arch{}, false
}

// TensorRole is what a tensor is for; it decides the types allowed for it.
type TensorRole int

// Tensor roles.
const (
	RoleNorm      TensorRole = iota // 1-D RMSNorm weight: F32
	RoleEmbedding                   // token_embd / output: float, Q8_0/Q6_K or ternary blocks
	RoleLinear                      // projection weight: any supported type
	RoleScale                       // one-element F32 output scale of a projection
)

// AllowedTypes returns the tensor types accepted for the role.
func (r TensorRole) AllowedTypes() []gguf.DType {
	switch r {
	case RoleNorm, RoleScale:
		return []gguf.DType{gguf.F32}
	case RoleEmbedding:
		return []gguf.DType{gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0, gguf.Q6_K, gguf.TQ1_0, gguf.TQ2_0}
	}
	return []gguf.DType{gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0, gguf.Q6_K, gguf.TQ1_0, gguf.TQ2_0, gguf.I2_S}
}

// TensorSpec is one entry of an architecture's tensor table.
type TensorSpec struct {
	Name     string
	Shape    []int // ggml order: the row length first
	Role     TensorRole
	Optional bool // output.weight (tied to the embedding when absent) and the scales (1 when absent)

	weight func(m *Model) *compute.Tensor // where Load binds a weight
	scale  func(m *Model) *float32        // where Load stores a scale
}

// Tensors returns the tensor table of c's architecture: every tensor Load
// binds, with its shape, in the usual file order. Load binds by it and
// CheckModel checks files against it.
func (c Config) Tensors() []TensorSpec {
	arch, _ := LookupArch(c.Arch)
	e, ff, kv := c.NEmbd, c.NFF, c.NHeadKV*c.HeadDim
	ts := []TensorSpec{
		{Name: "token_embd.weight", Shape: []int{e, c.NVocab}, Role: RoleEmbedding, weight: func(m *Model) *compute.Tensor { return &m.TokEmbd }},
		{Name: "output_norm.weight", Shape: []int{e}, Role: RoleNorm, weight: func(m *Model) *compute.Tensor { return &m.OutputNorm }},
		{Name: "output.weight", Shape: []int{e, c.NVocab}, Role: RoleEmbedding, Optional: true, weight: func(m *Model) *compute.Tensor { return &m.Output }},
	}
	for i := range c.NLayer {
		p := fmt.Sprintf("blk.%d.", i)
		w := func(name string, role TensorRole, field func(l *Layer) *compute.Tensor, shape ...int) {
			ts = append(ts, TensorSpec{Name: p + name, Shape: shape, Role: role,
				weight: func(m *Model) *compute.Tensor { return field(&m.Layers[i]) }})
		}
		w("attn_norm.weight", RoleNorm, func(l *Layer) *compute.Tensor { return &l.AttnNorm }, e)
		w("attn_q.weight", RoleLinear, func(l *Layer) *compute.Tensor { return &l.Wq }, e, e)
		w("attn_k.weight", RoleLinear, func(l *Layer) *compute.Tensor { return &l.Wk }, e, kv)
		w("attn_v.weight", RoleLinear, func(l *Layer) *compute.Tensor { return &l.Wv }, e, kv)
		w("attn_output.weight", RoleLinear, func(l *Layer) *compute.Tensor { return &l.Wo }, e, e)
		w("ffn_gate.weight", RoleLinear, func(l *Layer) *compute.Tensor { return &l.WGate }, e, ff)
		w("ffn_up.weight", RoleLinear, func(l *Layer) *compute.Tensor { return &l.WUp }, e, ff)
		w("ffn_down.weight", RoleLinear, func(l *Layer) *compute.Tensor { return &l.WDown }, ff, e)
		if arch.SubNorms {
			w("attn_sub_norm.weight", RoleNorm, func(l *Layer) *compute.Tensor { return &l.AttnSubNorm }, e)
		}
		w("ffn_norm.weight", RoleNorm, func(l *Layer) *compute.Tensor { return &l.FFNNorm }, e)
		if arch.SubNorms {
			w("ffn_sub_norm.weight", RoleNorm, func(l *Layer) *compute.Tensor { return &l.FFNSubNorm }, ff)
		}
		s := func(name string, field func(l *Layer) *float32) {
			ts = append(ts, TensorSpec{Name: p + name, Shape: []int{1}, Role: RoleScale, Optional: true,
				scale: func(m *Model) *float32 { return field(&m.Layers[i]) }})
		}
		s("attn_q.scale", func(l *Layer) *float32 { return &l.QScale })
		s("attn_k.scale", func(l *Layer) *float32 { return &l.KScale })
		s("attn_v.scale", func(l *Layer) *float32 { return &l.VScale })
		s("attn_output.scale", func(l *Layer) *float32 { return &l.OScale })
		s("ffn_gate.scale", func(l *Layer) *float32 { return &l.GateScale })
		s("ffn_up.scale", func(l *Layer) *float32 { return &l.UpScale })
		s("ffn_down.scale", func(l *Layer) *float32 { return &l.DownScale })
	}
	return ts
}
