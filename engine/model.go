package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// Layer holds one transformer block's weights. Sub-norms are nil for llama.
type Layer struct {
	AttnNorm, Wq, Wk, Wv, Wo, AttnSubNorm  compute.Tensor
	FFNNorm, WGate, WUp, WDown, FFNSubNorm compute.Tensor
	// Optional per-projection output scales (arch bitnet); 1 when absent.
	QScale, KScale, VScale, OScale, GateScale, UpScale, DownScale float32
}

// Model is a loaded model bound to a backend.
type Model struct {
	Config  Config
	Backend compute.Backend
	File    *gguf.File

	TokEmbd    compute.Tensor // [NEmbd, NVocab]
	OutputNorm compute.Tensor // [NEmbd]
	Output     compute.Tensor // [NEmbd, NVocab]; the embedding when tied
	TiedOutput bool           // the file has no output.weight: the head is the embedding's
	HeadType   HeadType       // the type the head runs in (LoadOptions.LMHead)
	headBytes  int64          // the quantized head's size; 0 when as stored
	storedHead compute.Tensor // the head as the file stores it (Output when HeadStored)
	Layers     []Layer

	// ScreenHead says when greedy and top-k decoding screen the LM head
	// (LoadOptions.ScreenHead).
	ScreenHead ScreenMode
	screen     *headScreen
}

// ErrMissingTensor is wrapped when a required tensor is absent.
var ErrMissingTensor = errors.New("missing tensor")

// ErrShape is wrapped when a tensor's shape differs from the expected one.
var ErrShape = errors.New("unexpected tensor shape")

// Load reads the configuration of f and binds its tensors to be. The model
// keeps f open; Close closes the file, not the backend.
func Load(f *gguf.File, be compute.Backend) (*Model, error) {
	return LoadWith(f, be, LoadOptions{})
}

// LoadOptions are the options of LoadWith.
type LoadOptions struct {
	// Progress, if set, is called after each tensor is bound with the
	// bytes of the model's tensors bound so far and in all.
	Progress func(done, total int64)
	// LMHead quantizes the LM head at load (HeadStored keeps it as the
	// file stores it); the embedding lookup keeps the stored table.
	LMHead HeadType
	// ScreenHead says when greedy and top-k decoding screen the LM head
	// (see ScreenMode); the screen is made on first use.
	ScreenHead ScreenMode
}

// LoadWith is Load with options.
func LoadWith(f *gguf.File, be compute.Backend, o LoadOptions) (*Model, error) {
	cfg, err := ConfigFromGGUF(f)
	if err != nil {
		return nil, err
	}
	// Every layer has several tensors: a block count beyond the tensor count
	// is a corrupt header, caught before anything is sized by it.
	if cfg.NLayer > len(f.Tensors) {
		return nil, fmt.Errorf("%s.block_count %d exceeds the %d tensors in the file", cfg.Arch, cfg.NLayer, len(f.Tensors))
	}
	if cfg.NVocab == 0 {
		return nil, fmt.Errorf("%w \"token_embd.weight\" (no %s.vocab_size either: the vocabulary size is unknown)", ErrMissingTensor, cfg.Arch)
	}
	m := &Model{Config: cfg, Backend: be, File: f, Layers: make([]Layer, cfg.NLayer), ScreenHead: o.ScreenHead, screen: &headScreen{}}
	for i := range m.Layers {
		l := &m.Layers[i]
		l.QScale, l.KScale, l.VScale, l.OScale, l.GateScale, l.UpScale, l.DownScale = 1, 1, 1, 1, 1, 1, 1
	}
	b := binder{f: f, be: be}
	var done, total int64
	for _, ts := range cfg.Tensors() {
		if info, ok := f.Tensor(ts.Name); ok {
			total += info.Size
		}
	}
	for _, ts := range cfg.Tensors() {
		info, ok := f.Tensor(ts.Name)
		if !ok && ts.Optional {
			continue
		}
		if ts.scale != nil {
			*ts.scale(m) = b.scale(ts.Name)
		} else {
			*ts.weight(m) = b.tensor(ts.Name, ts.Shape...)
		}
		if ok && o.Progress != nil {
			done += info.Size
			o.Progress(done, total)
		}
	}
	if m.Output == nil {
		m.Output, m.TiedOutput = m.TokEmbd, true
	}
	if err := errors.Join(b.errs...); err != nil {
		return nil, err
	}
	m.storedHead = m.Output
	if o.LMHead != HeadStored {
		if err := m.quantizeHead(o.LMHead); err != nil {
			return nil, err
		}
	}
	slog.Info("model config", "arch", cfg.Arch, "n_embd", cfg.NEmbd, "n_layer", cfg.NLayer,
		"n_head", cfg.NHead, "n_head_kv", cfg.NHeadKV, "head_dim", cfg.HeadDim, "n_ff", cfg.NFF,
		"n_vocab", cfg.NVocab, "n_ctx_train", cfg.NCtx, "rope_theta", cfg.RopeTheta, "neox", cfg.NeoX,
		"act", cfg.Act.String(), "tied_output", m.TiedOutput)
	slog.Info("rms norm eps", "attn_norm", cfg.Eps, "attn_sub_norm", cfg.Eps, "ffn_norm", cfg.Eps,
		"ffn_sub_norm", cfg.Eps, "output_norm", cfg.Eps, "attn_scale", cfg.AttnScale())
	return m, nil
}

// binder collects every binding error so the user sees all of them at once.
type binder struct {
	f    *gguf.File
	be   compute.Backend
	errs []error
}

func (b *binder) tensor(name string, shape ...int) compute.Tensor {
	info, ok := b.f.Tensor(name)
	if !ok {
		b.errs = append(b.errs, fmt.Errorf("%w %q", ErrMissingTensor, name))
		return nil
	}
	if !shapeIs(info.Shape, shape) {
		b.errs = append(b.errs, fmt.Errorf("tensor %q: %w %v, want %v", name, ErrShape, info.Shape, shape))
		return nil
	}
	if !info.Type.Supported() {
		b.errs = append(b.errs, fmt.Errorf("tensor %q: type %s is not supported", name, info.Type))
		return nil
	}
	if len(shape) == 1 && info.Type != gguf.F32 {
		b.errs = append(b.errs, fmt.Errorf("tensor %q: norm weights must be F32, not %s", name, info.Type))
		return nil
	}
	raw, err := b.f.TensorData(info)
	if err != nil {
		b.errs = append(b.errs, err)
		return nil
	}
	if info.Type == gguf.I2_S {
		s, err := gguf.I2SScale(raw, info.Elements())
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("tensor %q: %w", name, err))
			return nil
		}
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) || s < 0 {
			b.errs = append(b.errs, fmt.Errorf("tensor %q: I2_S scale %g is not a finite non-negative number", name, s))
			return nil
		}
	}
	t, err := b.be.Weights(info, raw)
	if err != nil {
		b.errs = append(b.errs, fmt.Errorf("tensor %q: %w", name, err))
		return nil
	}
	return t
}

// scale returns the value of an optional one-element F32 scale tensor, or 1.
func (b *binder) scale(name string) float32 {
	info, ok := b.f.Tensor(name)
	if !ok {
		return 1
	}
	if info.Type != gguf.F32 || info.Elements() != 1 {
		b.errs = append(b.errs, fmt.Errorf("tensor %q: want one F32 element, have %s %v", name, info.Type, info.Shape))
		return 1
	}
	raw, err := b.f.TensorData(info)
	if err != nil {
		b.errs = append(b.errs, err)
		return 1
	}
	v := math.Float32frombits(uint32(raw[0]) | uint32(raw[1])<<8 | uint32(raw[2])<<16 | uint32(raw[3])<<24)
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		b.errs = append(b.errs, fmt.Errorf("tensor %q: scale %g is not finite", name, v))
		return 1
	}
	return v
}

func shapeIs(have []int64, want []int) bool {
	// Trailing dimensions of 1 are equivalent.
	trim := func(n int, at func(int) int) int {
		for n > 1 && at(n-1) == 1 {
			n--
		}
		return n
	}
	nh := trim(len(have), func(i int) int { return int(have[i]) })
	nw := trim(len(want), func(i int) int { return want[i] })
	if nh != nw {
		return false
	}
	for i := 0; i < nh; i++ {
		if int(have[i]) != want[i] {
			return false
		}
	}
	return true
}

// Describe returns a one-line summary of the model.
func (m *Model) Describe() string {
	c := m.Config
	var types []string
	seen := map[gguf.DType]bool{}
	for _, t := range m.File.Tensors {
		if !seen[t.Type] {
			seen[t.Type] = true
			types = append(types, t.Type.String())
		}
	}
	return fmt.Sprintf("%s: %d layers, n_embd %d, %d heads (%d kv), n_ff %d, vocab %d, types %s",
		c.Arch, c.NLayer, c.NEmbd, c.NHead, c.NHeadKV, c.NFF, c.NVocab, strings.Join(types, "/"))
}
