package engine

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"bitnet/gguf"
)

// HeadType is the weight type the LM head (the output projection onto the
// vocabulary) runs in.
type HeadType int

const (
	// HeadStored keeps the head as the file stores it (F16 in the BitNet
	// releases): logits as bitnet.cpp computes them.
	HeadStored HeadType = iota
	// HeadQ8_0 quantizes the head to Q8_0 at load (8.5 bits per weight).
	HeadQ8_0
	// HeadQ6_K quantizes the head to Q6_K at load (6.5625 bits per weight).
	HeadQ6_K
)

// HeadTypeNames are the names ParseHeadType accepts, HeadStored first.
var HeadTypeNames = []string{"f16", "q8_0", "q6_k"}

// ParseHeadType parses "f16" (the head as stored), "q8_0" or "q6_k".
func ParseHeadType(s string) (HeadType, error) {
	i, err := parseNamed(HeadTypeNames, s, "LM head type")
	return HeadType(i), err
}

func (h HeadType) String() string { return nameOf(HeadTypeNames, int(h), "head") }

// parseNamed returns the index in names of s (any case, spaces around it
// ignored), or an error naming what s is and the names.
func parseNamed(names []string, s, what string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s %q: want %s", what, s, strings.Join(names, ", "))
}

// nameOf returns names[i], or kind(i) for an index out of range.
func nameOf(names []string, i int, kind string) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("%s(%d)", kind, i)
}

// dtype is the tensor type of a quantized head.
func (h HeadType) dtype() gguf.DType {
	if h == HeadQ6_K {
		return gguf.Q6_K
	}
	return gguf.Q8_0
}

// headSource is the file tensor the LM head is read from: output.weight, or
// the token embedding when the head is tied to it.
func (m *Model) headSource() (gguf.TensorInfo, bool) {
	if !m.TiedOutput {
		if info, ok := m.File.Tensor("output.weight"); ok {
			return info, true
		}
	}
	return m.File.Tensor("token_embd.weight")
}

// quantizeHead replaces the LM head by its quantization to h, made from the
// file's tensor once, rows split across the CPU's cores. The embedding
// lookup keeps the stored table, so a tied model's input rows stay exact.
func (m *Model) quantizeHead(h HeadType) error {
	src, ok := m.headSource()
	if !ok {
		return fmt.Errorf("--lm-head %s: %w \"output.weight\"", h, ErrMissingTensor)
	}
	dt := h.dtype()
	k, rows := int(src.Shape[0]), int(src.Elements()/src.Shape[0])
	if k%int(dt.BlockSize()) != 0 {
		return fmt.Errorf("--lm-head %s: rows of %d elements are not a multiple of the %s block size %d", h, k, dt, dt.BlockSize())
	}
	if src.Type == dt {
		m.HeadType = h
		return nil // already that type
	}
	t0 := time.Now()
	raw, err := m.File.TensorData(src)
	if err != nil {
		return err
	}
	var scale float32
	srcRow := int(src.Size) / rows
	if src.Type == gguf.I2_S {
		if scale, err = gguf.I2SScale(raw, src.Elements()); err != nil {
			return fmt.Errorf("tensor %q: %w", src.Name, err)
		}
		srcRow = k / 4
	}
	rowBytes64, err := dt.ByteSize(int64(k))
	if err != nil {
		return err
	}
	rowBytes := int(rowBytes64)
	out := make([]byte, rows*rowBytes)
	encode := gguf.EncodeQ8_0
	if dt == gguf.Q6_K {
		encode = gguf.EncodeQ6_K
	}
	workers, err := eachRows(rows, func() func(r int) error {
		row := make([]float32, k)
		return func(r int) error {
			if err := gguf.DecodeRow(src.Type, raw[r*srcRow:(r+1)*srcRow], row, scale); err != nil {
				return err
			}
			q, err := encode(row)
			if err != nil {
				return err
			}
			copy(out[r*rowBytes:], q)
			return nil
		}
	})
	if err != nil {
		return fmt.Errorf("--lm-head %s: tensor %q: %w", h, src.Name, err)
	}
	info := gguf.TensorInfo{Name: "output.weight", Type: dt, Shape: []int64{int64(k), int64(rows)}, Size: int64(len(out))}
	t, err := m.Backend.Weights(info, out)
	if err != nil {
		return fmt.Errorf("--lm-head %s: %w", h, err)
	}
	m.Output, m.HeadType, m.headBytes = t, h, int64(len(out))
	slog.Info("LM head quantized", "type", dt.String(), "from", src.Type.String(), "tensor", src.Name,
		"bytes", len(out), "stored_bytes", src.Size, "workers", workers, "ms", time.Since(t0).Milliseconds())
	return nil
}

// WithHead returns a model that shares m's weights, backend and file, with
// its LM head in type h (quantized from the file's tensor as LoadWith
// does): to compare head types without loading the model again.
func (m *Model) WithHead(h HeadType) (*Model, error) {
	c := *m
	c.Output, c.HeadType, c.headBytes, c.screen = m.storedHead, HeadStored, 0, &headScreen{}
	if h != HeadStored {
		if err := c.quantizeHead(h); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// HeadDType is the tensor type the LM head runs in.
func (m *Model) HeadDType() gguf.DType {
	if m.Output != nil {
		return m.Output.DType()
	}
	return gguf.F16
}

// HeadBytes is the size of the LM head's weights as the backend reads them.
func (m *Model) HeadBytes() int64 {
	if m.headBytes > 0 {
		return m.headBytes
	}
	if src, ok := m.headSource(); ok {
		return src.Size
	}
	return 0
}

// BytesPerToken is the weight data one generated token reads: every tensor
// of the file once, except the token embedding, of which one row is read
// when the head is not the table itself, and with the head counted at the
// size it runs at.
func (m *Model) BytesPerToken() int64 {
	var n int64
	quantized := m.headBytes > 0
	for _, t := range m.File.Tensors {
		switch {
		case t.Name == "token_embd.weight" && (!m.TiedOutput || quantized):
			n += t.Size / t.Shape[1]
		case t.Name == "output.weight" && quantized:
		default:
			n += t.Size
		}
	}
	if quantized {
		n += m.headBytes
	}
	return n
}
