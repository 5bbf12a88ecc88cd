package engine

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// ScreenMode says when greedy and top-k decoding screen the LM head
// (compute.Screener): an int8 copy of the head ranks the vocabulary
// first, and only the rows it cannot rule out are computed with the
// stored weights. The candidates, and so the generated tokens, are those
// of the full head, bit for bit; a decoded token reads about 53% of an F16
// head's bytes (and 27% of an F32 one's) plus the kept rows, for 8.5 bits
// per weight more memory.
type ScreenMode int

const (
	// ScreenAuto screens heads of at least screenMinWeights weights on
	// the backends where screening was measured to pay
	// (compute.Screener's ScreensByDefault).
	ScreenAuto ScreenMode = iota
	// ScreenOn screens every head it can.
	ScreenOn
	// ScreenOff never screens.
	ScreenOff
)

// ScreenModeNames are the names ParseScreenMode accepts, ScreenAuto first.
var ScreenModeNames = []string{"auto", "on", "off"}

// ParseScreenMode parses "auto", "on" or "off".
func ParseScreenMode(s string) (ScreenMode, error) {
	i, err := parseNamed(ScreenModeNames, s, "head screening")
	return ScreenMode(i), err
}

func (s ScreenMode) String() string { return nameOf(ScreenModeNames, int(s), "screen") }

// screenMinWeights is the smallest head ScreenAuto screens (2B-4T's has
// 328M weights; below a few million the head is a small part of a token).
const screenMinWeights = 1 << 22

// headScreen is the screen of a model's LM head, made on first use.
type headScreen struct {
	once   sync.Once
	approx compute.Tensor // Q8_0 [NEmbd, NVocab]
	bound  compute.Tensor // F32 [NVocab]: compute.ScreenBound of each row
	bytes  int64          // approx's and bound's bytes
	err    error
}

// screens reports whether the LM head is screened (before the screen is
// made): the mode allows it, the head is stored (not --lm-head) in a float
// type with rows of whole Q8_0 blocks, and the backend is a
// compute.Screener.
func (m *Model) screens() bool {
	if m.screen == nil || m.ScreenHead == ScreenOff || m.HeadType != HeadStored || m.Output == nil {
		return false
	}
	sc, ok := m.Backend.(compute.Screener)
	if !ok {
		return false
	}
	switch m.Output.DType() {
	case gguf.F32, gguf.F16, gguf.BF16:
	default:
		return false
	}
	k, n := compute.RowsOf(m.Output)
	return k%gguf.QK8_0 == 0 && (m.ScreenHead == ScreenOn || k*n >= screenMinWeights && sc.ScreensByDefault())
}

// headScreen returns the LM head's screen, making it on first use; nil
// when the head is not screened (Model.screens) or the screen could not be
// made (logged once: decoding then runs the full head).
func (m *Model) headScreen() *headScreen {
	if !m.screens() {
		return nil
	}
	sc := m.screen
	sc.once.Do(func() {
		if sc.err = m.makeScreen(sc); sc.err != nil {
			slog.Warn("LM head not screened; decoding runs the full head", "err", sc.err)
		}
	})
	if sc.err != nil {
		return nil
	}
	return sc
}

// PrepareScreen makes the LM head's screen now, if decoding would screen
// the head: what a command that decodes calls at load, so that the first
// token does not wait for it. A screen that cannot be made is logged, and
// decoding runs the full head.
func (m *Model) PrepareScreen() { m.headScreen() }

// makeScreen quantizes the head's rows to Q8_0 and computes their bounds,
// rows split across the CPU's cores.
func (m *Model) makeScreen(sc *headScreen) error {
	src, ok := m.headSource()
	if !ok {
		return fmt.Errorf("%w \"output.weight\"", ErrMissingTensor)
	}
	t0 := time.Now()
	raw, err := m.File.TensorData(src)
	if err != nil {
		return err
	}
	k, rows := int(src.Shape[0]), int(src.Elements()/src.Shape[0])
	srcRow := int(src.Size) / rows
	rowBytes64, err := gguf.Q8_0.ByteSize(int64(k))
	if err != nil {
		return err
	}
	rowBytes := int(rowBytes64)
	out := make([]byte, rows*rowBytes)
	bound := make([]float32, rows)
	workers, err := eachRows(rows, func() func(r int) error {
		w := make([]float32, k)
		return func(r int) error {
			_, c, err := compute.ScreenRow(out[r*rowBytes:r*rowBytes], src.Type, raw[r*srcRow:(r+1)*srcRow], w)
			if err != nil {
				return err
			}
			bound[r] = c
			return nil
		}
	})
	if err != nil {
		return fmt.Errorf("tensor %q: %w", src.Name, err)
	}
	// The bounds first: a device without room for the copy then frees
	// them and decoding runs the full head.
	be := m.Backend
	if sc.bound, err = be.Alloc(gguf.F32, rows); err != nil {
		return err
	}
	info := gguf.TensorInfo{Name: "output.weight.screen", Type: gguf.Q8_0, Shape: []int64{int64(k), int64(rows)}, Size: int64(len(out))}
	if err = be.Write(sc.bound, bound); err == nil {
		sc.approx, err = be.Weights(info, out)
	}
	if err != nil {
		be.Free(sc.bound)
		return err
	}
	sc.bytes = int64(len(out)) + 4*int64(rows)
	slog.Info("LM head screen made", "from", src.Type.String(), "tensor", src.Name,
		"bytes", sc.bytes, "workers", workers, "ms", time.Since(t0).Milliseconds())
	return nil
}

// eachRows calls a function made by newFn for every row in [0, rows), the
// rows split into one contiguous range per worker (one per CPU, newFn
// called once per worker), and returns the worker count and the first
// error, naming its row.
func eachRows(rows int, newFn func() func(r int) error) (int, error) {
	workers := max(1, min(runtime.GOMAXPROCS(0), rows))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn := newFn()
			for r := w * rows / workers; r < (w+1)*rows/workers; r++ {
				if err := fn(r); err != nil {
					errs[w] = fmt.Errorf("row %d: %w", r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return workers, err
		}
	}
	return workers, nil
}

// ScreenBytes is the size of the LM head's screen (its Q8_0 copy and
// bounds) once made, else 0.
func (m *Model) ScreenBytes() int64 {
	if sc := m.screen; sc != nil && sc.err == nil {
		return sc.bytes
	}
	return 0
}

// screenFor returns the head screen a step with head h and selection sel
// runs (nil: the full head): the last row's K best candidates (after a
// repetition penalty or not), nothing looking at the logits, and a
// screened head.
func (s *State) screenFor(h head, sel Selection) *headScreen {
	if h != headLast || sel.K <= 0 || s.Trace != nil || s.Debug.any() {
		return nil
	}
	return s.m.headScreen()
}
