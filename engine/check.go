package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"bitnet/gguf"
)

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

// CheckModel checks, without loading anything, that f can be loaded as a
// model: the header read as Load reads it (ConfigFromGGUF), then every
// tensor of the architecture's table (Config.Tensors) present with its
// shape and a type allowed for its role. It returns nil for a loadable
// model. A file without tensors gives one ProblemVocabOnly; tensors the
// architecture does not use are reported as ProblemUnused.
func CheckModel(f *gguf.File) []Problem {
	arch, err := f.Architecture()
	if err != nil {
		return []Problem{{Kind: ProblemArch, Msg: err.Error()}}
	}
	if _, ok := LookupArch(arch); !ok {
		return []Problem{{Kind: ProblemArch, Msg: fmt.Sprintf("architecture %q is not supported (supported: %s)", arch, strings.Join(SupportedArchitectures, ", "))}}
	}
	if len(f.Tensors) == 0 {
		return []Problem{{Kind: ProblemVocabOnly, Msg: "vocab only, no tensors"}}
	}
	c, err := ConfigFromGGUF(f)
	if err != nil {
		var probs []Problem
		for _, e := range unjoin(err) {
			probs = append(probs, Problem{Kind: ProblemMetadata, Msg: e.Error()})
		}
		return probs
	}
	if c.NLayer > len(f.Tensors) {
		// Each layer has several tensors: listing them all would only repeat
		// that the header and the tensor table disagree.
		return []Problem{{Kind: ProblemMetadata, Msg: fmt.Sprintf("%s.block_count %d is more than the file's %d tensors", arch, c.NLayer, len(f.Tensors))}}
	}
	var probs []Problem
	if c.NVocab == 0 {
		probs = append(probs, Problem{Kind: ProblemMetadata, Msg: fmt.Sprintf("vocabulary size unknown: no %s.vocab_size and no token_embd.weight", arch)})
	} else if kv, ok := f.Lookup("tokenizer.ggml.tokens"); ok {
		if a, ok := kv.Value.(gguf.Array); ok && a.Len() != c.NVocab {
			probs = append(probs, Problem{Kind: ProblemMetadata, Msg: fmt.Sprintf("tokenizer.ggml.tokens has %d entries, vocabulary size is %d", a.Len(), c.NVocab)})
		}
	}
	expected := map[string]bool{}
	for _, ts := range c.Tensors() {
		expected[ts.Name] = true
		t, ok := f.Tensor(ts.Name)
		if !ok {
			if !ts.Optional {
				probs = append(probs, Problem{Kind: ProblemMissing, Tensor: ts.Name, Msg: fmt.Sprintf("required tensor is absent (want %s of shape %v)", typeList(ts.Role.AllowedTypes()), ts.Shape)})
			}
			continue
		}
		if !shapeIs(t.Shape, ts.Shape) {
			probs = append(probs, Problem{Kind: ProblemShape, Tensor: ts.Name, Msg: fmt.Sprintf("shape %v, want %v", t.Shape, ts.Shape)})
		}
		if allowed := ts.Role.AllowedTypes(); !slices.Contains(allowed, t.Type) {
			probs = append(probs, Problem{Kind: ProblemType, Tensor: ts.Name, Msg: fmt.Sprintf("type %s is not supported here (want %s)", t.Type, typeList(allowed))})
		} else if t.Type == gguf.I2_S && len(t.Shape) > 0 && t.Shape[0]%128 != 0 {
			probs = append(probs, Problem{Kind: ProblemType, Tensor: ts.Name, Msg: fmt.Sprintf("I2_S rows of %d elements are not a multiple of 128", t.Shape[0])})
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
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

func typeList(ts []gguf.DType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, "/")
}
