// Package engine holds the model: its configuration from the GGUF header, the
// binding of weights per architecture, the forward pass (written once against
// compute.Backend), the KV cache, sampling and the generation loop.
package engine

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// Architectures supported, by general.architecture.
const (
	ArchBitNetB158 = "bitnet-b1.58" // Microsoft's BitNet b1.58 (2B-4T), I2_S
	ArchBitNet25   = "bitnet-25"    // older name of the same graph
	ArchBitNet     = "bitnet"       // upstream llama.cpp's BitNet (TQ1_0/TQ2_0)
	ArchLlama      = "llama"
)

// SupportedArchitectures lists the architectures a model may declare.
var SupportedArchitectures = func() []string {
	var names []string
	for _, a := range architectures {
		names = append(names, a.Name)
	}
	return names
}()

// Config is the model's hyperparameters, all read from the header.
type Config struct {
	Arch      string
	NEmbd     int     // hidden size
	NLayer    int     // transformer blocks
	NHead     int     // query heads
	NHeadKV   int     // key/value heads
	HeadDim   int     // NEmbd / NHead
	NFF       int     // feed-forward size
	NVocab    int     // vocabulary size: vocab_size, else the rows of token_embd.weight
	NCtx      int     // trained context length
	RopeDims  int     // rotated dimensions per head
	RopeTheta float32 // RoPE frequency base
	Eps       float32 // RMSNorm epsilon, used by every norm

	// Derived from the architecture.
	SubNorms bool               // attn_sub_norm / ffn_sub_norm present
	Act      compute.Activation // FFN gate activation
	NeoX     bool               // RoPE pairs (i, i+d/2) instead of (2i, 2i+1)
	F16Input bool               // F16-weight matmuls take x rounded to F16 (Arch.F16Input)
}

// ErrUnsupportedArch is wrapped when general.architecture is unknown.
var ErrUnsupportedArch = errors.New("unsupported architecture")

// ConfigFromGGUF reads the hyperparameters of f.
func ConfigFromGGUF(f *gguf.File) (Config, error) {
	arch, err := f.Architecture()
	if err != nil {
		return Config{}, err
	}
	a, ok := LookupArch(arch)
	if !ok {
		return Config{}, fmt.Errorf("%w %q (supported: %s)", ErrUnsupportedArch, arch, strings.Join(SupportedArchitectures, ", "))
	}
	c := Config{Arch: arch, SubNorms: a.SubNorms, Act: a.Act, NeoX: a.NeoX, F16Input: a.F16Input}
	geti := func(key string, dst *int, required bool) error {
		v, err := f.Int(arch + "." + key)
		if err != nil {
			if !required && errors.Is(err, gguf.ErrMissingKey) {
				return nil
			}
			return err
		}
		if v <= 0 || v > 1<<30 {
			return fmt.Errorf("%s.%s = %d is out of range", arch, key, v)
		}
		*dst = int(v)
		return nil
	}
	for _, k := range []struct {
		key string
		dst *int
		req bool
	}{
		{"embedding_length", &c.NEmbd, true},
		{"block_count", &c.NLayer, true},
		{"attention.head_count", &c.NHead, true},
		{"feed_forward_length", &c.NFF, true},
		{"context_length", &c.NCtx, true},
		{"attention.head_count_kv", &c.NHeadKV, false},
		{"rope.dimension_count", &c.RopeDims, false},
		{"vocab_size", &c.NVocab, false},
	} {
		if err := geti(k.key, k.dst, k.req); err != nil {
			return Config{}, err
		}
	}
	if c.NHeadKV == 0 {
		c.NHeadKV = c.NHead
	}
	if c.NEmbd%c.NHead != 0 || c.NHead%c.NHeadKV != 0 {
		return Config{}, fmt.Errorf("embedding_length %d, head_count %d and head_count_kv %d are inconsistent", c.NEmbd, c.NHead, c.NHeadKV)
	}
	c.HeadDim = c.NEmbd / c.NHead
	if t, ok := f.Tensor("token_embd.weight"); ok && c.NVocab == 0 && len(t.Shape) == 2 && t.Shape[1] > 0 && t.Shape[1] <= 1<<30 {
		c.NVocab = int(t.Shape[1])
	}
	if c.RopeDims == 0 {
		c.RopeDims = c.HeadDim
	}
	if c.RopeDims > c.HeadDim || c.RopeDims%2 != 0 {
		return Config{}, fmt.Errorf("%s.rope.dimension_count %d does not fit head_dim %d", arch, c.RopeDims, c.HeadDim)
	}
	if c.Eps, err = f.Float32(arch + ".attention.layer_norm_rms_epsilon"); err != nil {
		return Config{}, err
	}
	if !(c.Eps > 0) || math.IsInf(float64(c.Eps), 0) {
		return Config{}, fmt.Errorf("%s.attention.layer_norm_rms_epsilon = %g is not a positive number", arch, c.Eps)
	}
	c.RopeTheta = 10000
	if v, err := f.Float32(arch + ".rope.freq_base"); err == nil {
		c.RopeTheta = v
	} else if !errors.Is(err, gguf.ErrMissingKey) {
		return Config{}, err
	}
	if !(c.RopeTheta > 0) || math.IsInf(float64(c.RopeTheta), 0) {
		return Config{}, fmt.Errorf("%s.rope.freq_base = %g is not a positive number", arch, c.RopeTheta)
	}
	return c, nil
}

// AttnScale is the attention scale 1/sqrt(head_dim).
func (c Config) AttnScale() float32 { return float32(1 / math.Sqrt(float64(c.HeadDim))) }
