package engine

import (
	"fmt"
	"math"

	"bitnet/engine/compute"
)

// Capture holds the intermediates of one forward pass, in execution order.
type Capture struct {
	Names  []string
	Values map[string][]float32
	Shapes map[string][]int
}

// ForwardCapture runs Forward with a trace that copies every intermediate
// (see TraceFunc for the names) and returns them with the logits of all
// positions.
func (s *State) ForwardCapture(ids []int32) (*Capture, []float32, error) {
	c := &Capture{Values: map[string][]float32{}, Shapes: map[string][]int{}}
	var readErr error
	prev := s.Trace
	s.Trace = func(name string, t compute.Tensor) {
		v := make([]float32, compute.Elements(t.Shape()))
		if err := s.m.Backend.Read(t, v); err != nil && readErr == nil {
			readErr = fmt.Errorf("read %s: %w", name, err)
		}
		if _, seen := c.Values[name]; !seen {
			c.Names = append(c.Names, name)
		} else {
			// A later chunk of the same prompt: append its rows.
			v = append(c.Values[name], v...)
		}
		c.Values[name] = v
		c.Shapes[name] = append([]int(nil), t.Shape()...)
	}
	defer func() { s.Trace = prev }()
	logits, err := s.Forward(ids, true)
	if err == nil {
		err = readErr
	}
	return c, logits, err
}

// Diff compares one intermediate of two runs.
type Diff struct {
	Name    string
	Cosine  float64 // cosine similarity of the flattened tensors
	MaxAbs  float64 // largest absolute difference
	RelRMS  float64 // rms(a-b) / rms(b)
	Missing bool    // present in only one run
}

// Diverges reports whether d exceeds the thresholds.
func (d Diff) Diverges(minCosine, maxAbs float64) bool {
	return d.Missing || d.Cosine < minCosine || d.MaxAbs > maxAbs || math.IsNaN(d.Cosine)
}

// CompareVectors returns the cosine similarity, largest absolute difference
// and relative RMS difference of a and b (b is the reference).
func CompareVectors(a, b []float32) (cosine, maxAbs, relRMS float64) {
	if len(a) != len(b) {
		return math.NaN(), math.Inf(1), math.Inf(1)
	}
	var dot, na, nb, dd float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
		d := x - y
		dd += d * d
		if ad := math.Abs(d); ad > maxAbs || math.IsNaN(d) {
			maxAbs = ad
		}
	}
	switch {
	case na == 0 && nb == 0:
		cosine = 1
	case na == 0 || nb == 0:
		cosine = 0
	default:
		cosine = dot / math.Sqrt(na*nb)
	}
	if nb > 0 {
		relRMS = math.Sqrt(dd / nb)
	} else {
		relRMS = math.Sqrt(dd)
	}
	return cosine, maxAbs, relRMS
}

// CompareCaptures compares every intermediate of a against the reference b,
// in a's order.
func CompareCaptures(a, b *Capture) []Diff {
	var out []Diff
	for _, name := range a.Names {
		ref, ok := b.Values[name]
		if !ok {
			out = append(out, Diff{Name: name, Missing: true})
			continue
		}
		cos, mx, rel := CompareVectors(a.Values[name], ref)
		out = append(out, Diff{Name: name, Cosine: cos, MaxAbs: mx, RelRMS: rel})
	}
	return out
}
