package gguf

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Architectures whose tensor tables CheckModel knows.
var CheckedArchitectures = []string{"bitnet-b1.58", "bitnet-25", "bitnet", "llama"}

// ProblemKind classifies a Problem.
type ProblemKind string

// Problem kinds. Every kind but ProblemUnused makes a model unloadable.
const (
	ProblemArch      ProblemKind = "architecture" // unknown or missing general.architecture
	ProblemMetadata  ProblemKind = "metadata"     // missing or inconsistent hyperparameter
	ProblemMissing   ProblemKind = "missing"      // a required tensor is absent
	ProblemShape     ProblemKind = "shape"        // a tensor has an unexpected shape
	ProblemType      ProblemKind = "type"         // a tensor's type is not supported for its role
	ProblemUnused    ProblemKind = "unused"       // a tensor the architecture does not use (ignored)
	ProblemVocabOnly ProblemKind = "vocab-only"   // the file has metadata but no tensors
)

// Problem is one reason a file cannot be loaded as a model (or, for
// ProblemUnused, a note about an ignored tensor).
type Problem struct {
	Kind   ProblemKind `json:"kind"`
	Tensor string      `json:"tensor,omitempty"`
	Msg    string      `json:"message"`
}

func (p Problem) String() string {
	if p.Tensor != "" {
		return fmt.Sprintf("%s: %s: %s", p.Kind, p.Tensor, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.Kind, p.Msg)
}

// Fatal reports whether the problem prevents loading the model.
func (p Problem) Fatal() bool { return p.Kind != ProblemUnused }

// ModelParams are the hyperparameters that determine a model's tensor table.
type ModelParams struct {
	Arch    string
	Embd    int64 // <arch>.embedding_length
	Layers  int64 // <arch>.block_count
	FF      int64 // <arch>.feed_forward_length
	Heads   int64 // <arch>.attention.head_count
	HeadsKV int64 // <arch>.attention.head_count_kv (default Heads)
	HeadDim int64 // Embd / Heads
	Vocab   int64 // <arch>.vocab_size, else the token list length, else token_embd's rows
}

// Role of an expected tensor: decides the types allowed for it.
type TensorRole int

// Tensor roles.
const (
	RoleNorm      TensorRole = iota // 1-D RMSNorm weight: F32
	RoleEmbedding                   // token_embd / output: float or Q8_0/ternary blocks
	RoleLinear                      // projection weight: any supported type
	RoleScale                       // one-element F32 scale of a projection
)

// ExpectedTensor is one entry of an architecture's tensor table.
type ExpectedTensor struct {
	Name     string
	Shape    []int64 // ggml order
	Role     TensorRole
	Optional bool
}

// AllowedTypes returns the tensor types accepted for the role.
func (r TensorRole) AllowedTypes() []DType {
	switch r {
	case RoleNorm, RoleScale:
		return []DType{F32}
	case RoleEmbedding:
		return []DType{F32, F16, BF16, Q8_0, TQ1_0, TQ2_0}
	}
	return []DType{F32, F16, BF16, Q8_0, TQ1_0, TQ2_0, I2_S}
}

func archSubNorms(arch string) (sub, known bool) {
	switch arch {
	case "bitnet-b1.58", "bitnet-25", "bitnet":
		return true, true
	case "llama":
		return false, true
	}
	return false, false
}

// ReadModelParams reads the hyperparameters of a supported architecture.
func ReadModelParams(f *File) (ModelParams, error) {
	arch, err := f.Architecture()
	if err != nil {
		return ModelParams{}, err
	}
	if _, known := archSubNorms(arch); !known {
		return ModelParams{}, fmt.Errorf("architecture %q is not supported (supported: %s)", arch, strings.Join(CheckedArchitectures, ", "))
	}
	p := ModelParams{Arch: arch}
	var errs []error
	get := func(key string, dst *int64, required bool) {
		v, err := f.Int(arch + "." + key)
		switch {
		case errors.Is(err, ErrMissingKey) && !required:
		case err != nil:
			errs = append(errs, err)
		case v <= 0 || v > 1<<30:
			errs = append(errs, fmt.Errorf("%s.%s = %d is out of range", arch, key, v))
		default:
			*dst = v
		}
	}
	get("embedding_length", &p.Embd, true)
	get("block_count", &p.Layers, true)
	get("feed_forward_length", &p.FF, true)
	get("attention.head_count", &p.Heads, true)
	get("attention.head_count_kv", &p.HeadsKV, false)
	get("vocab_size", &p.Vocab, false)
	if len(errs) > 0 {
		return p, errors.Join(errs...)
	}
	if p.HeadsKV == 0 {
		p.HeadsKV = p.Heads
	}
	if p.Embd%p.Heads != 0 || p.Heads%p.HeadsKV != 0 {
		return p, fmt.Errorf("embedding_length %d, head_count %d and head_count_kv %d are inconsistent", p.Embd, p.Heads, p.HeadsKV)
	}
	p.HeadDim = p.Embd / p.Heads
	if p.Vocab == 0 {
		if kv, ok := f.Lookup("tokenizer.ggml.tokens"); ok {
			if a, ok := kv.Value.(Array); ok {
				p.Vocab = int64(a.Len())
			}
		}
	}
	if p.Vocab == 0 {
		if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Shape) == 2 {
			p.Vocab = t.Shape[1]
		}
	}
	if p.Vocab == 0 {
		return p, errors.New("vocabulary size unknown: no vocab_size key, token list or token_embd.weight")
	}
	return p, nil
}

// ExpectedTensors returns the tensor table of the architecture for p: every
// tensor the engine binds, with its ggml shape, in the usual file order.
func ExpectedTensors(p ModelParams) []ExpectedTensor {
	sub, _ := archSubNorms(p.Arch)
	e, ff, kv := p.Embd, p.FF, p.HeadsKV*p.HeadDim
	ts := []ExpectedTensor{
		{Name: "token_embd.weight", Shape: []int64{e, p.Vocab}, Role: RoleEmbedding},
		{Name: "output_norm.weight", Shape: []int64{e}, Role: RoleNorm},
		{Name: "output.weight", Shape: []int64{e, p.Vocab}, Role: RoleEmbedding, Optional: true},
	}
	for i := range p.Layers {
		b := fmt.Sprintf("blk.%d.", i)
		add := func(name string, role TensorRole, shape ...int64) {
			ts = append(ts, ExpectedTensor{Name: b + name, Shape: shape, Role: role})
		}
		add("attn_norm.weight", RoleNorm, e)
		add("attn_q.weight", RoleLinear, e, e)
		add("attn_k.weight", RoleLinear, e, kv)
		add("attn_v.weight", RoleLinear, e, kv)
		add("attn_output.weight", RoleLinear, e, e)
		add("ffn_gate.weight", RoleLinear, e, ff)
		add("ffn_up.weight", RoleLinear, e, ff)
		add("ffn_down.weight", RoleLinear, ff, e)
		if sub {
			add("attn_sub_norm.weight", RoleNorm, e)
		}
		add("ffn_norm.weight", RoleNorm, e)
		if sub {
			add("ffn_sub_norm.weight", RoleNorm, ff)
		}
		for _, proj := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			ts = append(ts, ExpectedTensor{Name: b + proj + ".scale", Shape: []int64{1}, Role: RoleScale, Optional: true})
		}
	}
	return ts
}

// CheckModel checks that f can be loaded as a model of a supported
// architecture: hyperparameters present and consistent, every required
// tensor present with the expected shape and a supported type. It returns nil
// for a loadable model. A file without tensors gives one ProblemVocabOnly.
// Tensors the architecture does not use are reported as ProblemUnused.
func CheckModel(f *File) []Problem {
	arch, err := f.Architecture()
	if err != nil {
		return []Problem{{Kind: ProblemArch, Msg: err.Error()}}
	}
	if _, known := archSubNorms(arch); !known {
		return []Problem{{Kind: ProblemArch, Msg: fmt.Sprintf("architecture %q is not supported (supported: %s)", arch, strings.Join(CheckedArchitectures, ", "))}}
	}
	if len(f.Tensors) == 0 {
		return []Problem{{Kind: ProblemVocabOnly, Msg: "vocab only, no tensors"}}
	}
	p, err := ReadModelParams(f)
	if err != nil {
		var probs []Problem
		for _, e := range unjoin(err) {
			probs = append(probs, Problem{Kind: ProblemMetadata, Msg: e.Error()})
		}
		return probs
	}
	var probs []Problem
	if p.Layers > int64(len(f.Tensors)) {
		// Each layer has several tensors: listing them all would only repeat
		// that the header and the tensor table disagree.
		return []Problem{{Kind: ProblemMetadata, Msg: fmt.Sprintf("%s.block_count %d is more than the file's %d tensors", arch, p.Layers, len(f.Tensors))}}
	}
	if _, err := f.Int(arch + ".context_length"); err != nil {
		probs = append(probs, Problem{Kind: ProblemMetadata, Msg: err.Error()})
	}
	if v, err := f.Float32(arch + ".attention.layer_norm_rms_epsilon"); err != nil {
		probs = append(probs, Problem{Kind: ProblemMetadata, Msg: err.Error()})
	} else if !(v > 0) || v > 1 {
		probs = append(probs, Problem{Kind: ProblemMetadata, Msg: fmt.Sprintf("%s.attention.layer_norm_rms_epsilon = %g is not a small positive number", arch, v)})
	}
	if rd, err := f.Int(arch + ".rope.dimension_count"); err == nil && (rd <= 0 || rd > p.HeadDim || rd%2 != 0) {
		probs = append(probs, Problem{Kind: ProblemMetadata, Msg: fmt.Sprintf("%s.rope.dimension_count %d does not fit head_dim %d", arch, rd, p.HeadDim)})
	}
	if kv, ok := f.Lookup("tokenizer.ggml.tokens"); ok {
		if a, ok := kv.Value.(Array); ok && int64(a.Len()) != p.Vocab {
			probs = append(probs, Problem{Kind: ProblemMetadata, Msg: fmt.Sprintf("tokenizer.ggml.tokens has %d entries, vocabulary size is %d", a.Len(), p.Vocab)})
		}
	}
	expected := map[string]bool{}
	for _, et := range ExpectedTensors(p) {
		expected[et.Name] = true
		t, ok := f.Tensor(et.Name)
		if !ok {
			if !et.Optional {
				probs = append(probs, Problem{Kind: ProblemMissing, Tensor: et.Name, Msg: fmt.Sprintf("required tensor is absent (want %s of shape %v)", typeList(et.Role.AllowedTypes()), et.Shape)})
			}
			continue
		}
		if !sameShape(t.Shape, et.Shape) {
			probs = append(probs, Problem{Kind: ProblemShape, Tensor: et.Name, Msg: fmt.Sprintf("shape %v, want %v", t.Shape, et.Shape)})
		}
		if allowed := et.Role.AllowedTypes(); !slices.Contains(allowed, t.Type) {
			probs = append(probs, Problem{Kind: ProblemType, Tensor: et.Name, Msg: fmt.Sprintf("type %s is not supported here (want %s)", t.Type, typeList(allowed))})
		} else if t.Type == I2_S && t.Shape[0]%128 != 0 {
			probs = append(probs, Problem{Kind: ProblemType, Tensor: et.Name, Msg: fmt.Sprintf("I2_S rows of %d elements are not a multiple of 128", t.Shape[0])})
		}
	}
	for _, t := range f.Tensors {
		if !expected[t.Name] {
			probs = append(probs, Problem{Kind: ProblemUnused, Tensor: t.Name, Msg: fmt.Sprintf("not used by architecture %s (%s %v)", arch, t.Type, t.Shape)})
		}
	}
	return probs
}

// Compatible reports whether none of the problems is fatal.
func Compatible(probs []Problem) bool {
	for _, p := range probs {
		if p.Fatal() {
			return false
		}
	}
	return true
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func typeList(ts []DType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, "/")
}

// sameShape compares shapes, treating trailing dimensions of 1 as absent.
func sameShape(a, b []int64) bool {
	trim := func(s []int64) []int64 {
		for len(s) > 1 && s[len(s)-1] == 1 {
			s = s[:len(s)-1]
		}
		return s
	}
	return slices.Equal(trim(a), trim(b))
}
