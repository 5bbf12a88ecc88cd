// Package modelgen makes synthetic GGUF models with random weights: the
// tensor tables, metadata and tokenizer vocabularies of the supported
// architectures (bitnet-b1.58, bitnet, llama) at a few sizes, up to the exact
// layout of bitnet-b1.58-2B-4T. The same options and seed always give the same
// bytes. Tensor data is produced while the file is written, one chunk at a
// time, so even the 1.2 GB 2b4t model is written in little memory.
package modelgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"bitnet/engine"
	"bitnet/gguf"
)

// Architectures the generator can make.
var Architectures = []string{"bitnet-b1.58", "bitnet", "llama"}

// WeightTypes are the accepted Options.WeightType values.
var WeightTypes = []string{"i2_s", "tq2_0", "tq1_0", "f32", "f16"}

// Params are a model's hyperparameters.
type Params struct {
	Embd, Layers, Heads, HeadsKV, FF, Vocab, Ctx int
	Theta, Eps                                   float32 // 0: the architecture's default
}

// Presets are the named sizes. 2b4t is bitnet-b1.58-2B-4T's.
var Presets = map[string]Params{
	"tiny":  {Embd: 256, Layers: 2, Heads: 4, HeadsKV: 2, FF: 512, Vocab: 512, Ctx: 512},
	"small": {Embd: 512, Layers: 4, Heads: 8, HeadsKV: 4, FF: 1536, Vocab: 2048, Ctx: 1024},
	"2b4t":  {Embd: 2560, Layers: 30, Heads: 20, HeadsKV: 5, FF: 6912, Vocab: 128256, Ctx: 4096},
}

// PresetNames lists the presets in size order.
var PresetNames = []string{"tiny", "small", "2b4t"}

// Options select the model to generate.
type Options struct {
	Arch       string  // "bitnet-b1.58" (default), "bitnet" or "llama"
	Preset     string  // "tiny" (default), "small" or "2b4t"; ignored when Params is set
	Params     *Params // explicit hyperparameters instead of a preset
	Seed       uint64  // weights are a function of the seed
	WeightType string  // linear weight type (WeightTypes); "" picks the architecture's default
	Name       string  // general.name; "" gives a descriptive default
}

// ChatTemplate is the chat template written for byte-level BPE vocabularies:
// "Role: content<|eot_id|>" per message after one BOS, then "Assistant: ".
const ChatTemplate = "{{ bos_token }}{% for message in messages %}{{ message['role'] | capitalize }}: {{ message['content'] | trim }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}Assistant: {% endif %}"

type plan struct {
	arch    string
	p       Params
	wt      gguf.DType // linear weights
	embT    gguf.DType // token_embd (and output.weight)
	seed    uint64
	ternary bool // float linear weights are ternary times a scale
}

func (o Options) resolve() (plan, error) {
	pl := plan{arch: o.Arch, seed: o.Seed}
	if pl.arch == "" {
		pl.arch = "bitnet-b1.58"
	}
	if !slices.Contains(Architectures, pl.arch) {
		return pl, fmt.Errorf("unknown architecture %q (want %s)", pl.arch, strings.Join(Architectures, ", "))
	}
	if o.Params != nil {
		pl.p = *o.Params
	} else {
		name := o.Preset
		if name == "" {
			name = "tiny"
		}
		p, ok := Presets[name]
		if !ok {
			return pl, fmt.Errorf("unknown preset %q (want %s)", name, strings.Join(PresetNames, ", "))
		}
		pl.p = p
	}
	p := &pl.p
	if p.Theta == 0 {
		p.Theta = 10000
		if pl.arch == "bitnet-b1.58" {
			p.Theta = 500000
		}
	}
	if p.Eps == 0 {
		p.Eps = 1e-5
	}
	if p.Embd <= 0 || p.Layers <= 0 || p.Heads <= 0 || p.HeadsKV <= 0 || p.FF <= 0 || p.Vocab <= 0 || p.Ctx <= 0 {
		return pl, fmt.Errorf("hyperparameters %+v must all be positive", *p)
	}
	if p.Embd%p.Heads != 0 || p.Heads%p.HeadsKV != 0 || (p.Embd/p.Heads)%2 != 0 {
		return pl, fmt.Errorf("n_embd %d, heads %d, kv heads %d: need an even head size and heads a multiple of kv heads", p.Embd, p.Heads, p.HeadsKV)
	}
	wt := o.WeightType
	if wt == "" {
		wt = map[string]string{"bitnet-b1.58": "i2_s", "bitnet": "tq2_0", "llama": "f32"}[pl.arch]
	}
	switch wt {
	case "i2_s":
		pl.wt, pl.embT = gguf.I2_S, gguf.F16
	case "tq2_0":
		pl.wt, pl.embT = gguf.TQ2_0, gguf.F16
	case "tq1_0":
		pl.wt, pl.embT = gguf.TQ1_0, gguf.F16
	case "f32":
		pl.wt, pl.embT = gguf.F32, gguf.F32
	case "f16":
		pl.wt, pl.embT = gguf.F16, gguf.F16
	default:
		return pl, fmt.Errorf("unknown weight type %q (want %s)", wt, strings.Join(WeightTypes, ", "))
	}
	if row := int(pl.wt.BlockSize()); pl.wt == gguf.I2_S || row > 1 {
		if pl.wt == gguf.I2_S {
			row = 128
		}
		if p.Embd%row != 0 || p.FF%row != 0 {
			return pl, fmt.Errorf("%s weights need n_embd (%d) and n_ff (%d) to be multiples of %d", pl.wt, p.Embd, p.FF, row)
		}
	}
	pl.ternary = pl.arch != "llama"
	return pl, nil
}

func fileType(t gguf.DType) uint32 {
	switch t {
	case gguf.F32:
		return 0
	case gguf.F16:
		return 1
	case gguf.TQ1_0:
		return 36
	case gguf.TQ2_0:
		return 37
	}
	return 40 // mostly I2_S
}

// Build plans the model and returns a writer holding its metadata and tensor
// table; no tensor data is produced until the writer writes the file.
func Build(o Options) (*gguf.Writer, error) {
	pl, err := o.resolve()
	if err != nil {
		return nil, err
	}
	w := gguf.NewWriter()
	if err := pl.metadata(w, o); err != nil {
		return nil, err
	}
	if err := pl.tensors(w); err != nil {
		return nil, err
	}
	return w, nil
}

// Generate writes the model to out.
func Generate(out io.Writer, o Options) error {
	w, err := Build(o)
	if err != nil {
		return err
	}
	_, err = w.WriteTo(out)
	return err
}

// GenerateFile writes the model to path; a partial file is removed on error.
func GenerateFile(path string, o Options) error {
	w, err := Build(o)
	if err != nil {
		return err
	}
	return w.WriteFile(path)
}

func (pl plan) metadata(w *gguf.Writer, o Options) error {
	p, a := pl.p, pl.arch
	name := o.Name
	if name == "" {
		if o.Params == nil && o.Preset == "2b4t" && a == "bitnet-b1.58" {
			name = "bitnet2b"
		} else {
			preset := o.Preset
			switch {
			case o.Params != nil:
				preset = "custom"
			case preset == "":
				preset = "tiny"
			}
			name = fmt.Sprintf("synthetic-%s-%s-seed%d", a, preset, pl.seed)
		}
	}
	type kv struct {
		k string
		v any
	}
	kvs := []kv{
		{"general.architecture", a},
		{"general.name", name},
		{a + ".vocab_size", uint32(p.Vocab)},
		{a + ".context_length", uint32(p.Ctx)},
		{a + ".embedding_length", uint32(p.Embd)},
		{a + ".block_count", uint32(p.Layers)},
		{a + ".feed_forward_length", uint32(p.FF)},
		{a + ".rope.dimension_count", uint32(p.Embd / p.Heads)},
		{a + ".attention.head_count", uint32(p.Heads)},
		{a + ".attention.head_count_kv", uint32(p.HeadsKV)},
		{a + ".attention.layer_norm_rms_epsilon", p.Eps},
		{a + ".rope.freq_base", p.Theta},
		{"general.file_type", fileType(pl.wt)},
		{"general.quantization_version", uint32(2)},
	}
	var v *Vocab
	var err error
	if a == "bitnet-b1.58" {
		v, err = GPT2Vocab(p.Vocab)
	} else {
		v, err = SPMVocab(p.Vocab)
	}
	if err != nil {
		return err
	}
	kvs = append(kvs,
		kv{"tokenizer.ggml.model", v.Model},
		kv{"tokenizer.ggml.tokens", v.Tokens},
		kv{"tokenizer.ggml.scores", v.Scores},
		kv{"tokenizer.ggml.token_type", v.Types},
	)
	if v.Model == "gpt2" {
		kvs = append(kvs,
			kv{"tokenizer.ggml.merges", v.Merges},
			kv{"tokenizer.ggml.bos_token_id", v.BOS},
			kv{"tokenizer.ggml.eos_token_id", v.EOS},
			kv{"tokenizer.ggml.padding_token_id", v.EOS},
		)
		if p.Vocab != Llama3VocabSize && v.EOT >= 0 {
			kvs = append(kvs, kv{"tokenizer.ggml.eot_token_id", uint32(v.EOT)})
		}
		kvs = append(kvs,
			kv{"tokenizer.ggml.add_bos_token", true},
			kv{"tokenizer.chat_template", ChatTemplate},
		)
	} else {
		kvs = append(kvs,
			kv{"tokenizer.ggml.bos_token_id", v.BOS},
			kv{"tokenizer.ggml.eos_token_id", v.EOS},
			kv{"tokenizer.ggml.unknown_token_id", uint32(v.UNK)},
			kv{"tokenizer.ggml.add_bos_token", true},
			kv{"tokenizer.ggml.add_eos_token", false},
		)
	}
	for _, e := range kvs {
		if err := w.Set(e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}

func (pl plan) tensors(w *gguf.Writer) error {
	p := pl.p
	embStd := min(1, max(0.02, 3/math.Sqrt(float64(p.Embd))))
	var errs []error
	add := func(name string, typ gguf.DType, shape []int64, gen func(r *rand.Rand, out io.Writer) error) {
		err := w.AddTensorFunc(name, typ, shape, func(out io.Writer) error {
			return gen(pl.rng(name), out)
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	norm := func(name string, n int64) {
		add(name, gguf.F32, []int64{n}, func(r *rand.Rand, out io.Writer) error {
			return writeFloats(out, gguf.F32, n, func() float32 { return 0.8 + 0.4*r.Float32() })
		})
	}
	linear := func(name string, k, n int64) {
		add(name, pl.wt, []int64{k, n}, func(r *rand.Rand, out io.Writer) error {
			return pl.writeLinear(r, out, k*n, k)
		})
	}
	normal := func(name string, typ gguf.DType, k, n int64, std float64) {
		add(name, typ, []int64{k, n}, func(r *rand.Rand, out io.Writer) error {
			return writeFloats(out, typ, k*n, func() float32 { return float32(r.NormFloat64() * std) })
		})
	}
	// The tensors are the engine's table for the architecture: what the
	// loader binds is what is written. Optional tensors are left out (the
	// output projection is tied to the embedding, and scales are 1), but
	// for llama, whose files carry an output.weight.
	cfg := engine.Config{Arch: pl.arch, NEmbd: p.Embd, NLayer: p.Layers, NHead: p.Heads, NHeadKV: p.HeadsKV,
		HeadDim: p.Embd / p.Heads, NFF: p.FF, NVocab: p.Vocab}
	for _, ts := range cfg.Tensors() {
		if ts.Optional && !(pl.arch == "llama" && ts.Name == "output.weight") {
			continue
		}
		switch ts.Role {
		case engine.RoleNorm:
			norm(ts.Name, int64(ts.Shape[0]))
		case engine.RoleEmbedding:
			normal(ts.Name, pl.embT, int64(ts.Shape[0]), int64(ts.Shape[1]), embStd)
		case engine.RoleLinear:
			linear(ts.Name, int64(ts.Shape[0]), int64(ts.Shape[1]))
		default:
			return fmt.Errorf("modelgen: tensor %q: role %d", ts.Name, ts.Role)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// rng returns the tensor's own random stream: a function of the seed and the
// tensor name only.
func (pl plan) rng(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(pl.seed, h.Sum64()))
}

const chunk = 1 << 16

// writeFloats writes n values from next as F32 or F16, in chunks.
func writeFloats(out io.Writer, typ gguf.DType, n int64, next func() float32) error {
	bw := bufio.NewWriterSize(out, chunk)
	var b [4]byte
	for range n {
		v := next()
		if typ == gguf.F16 {
			binary.LittleEndian.PutUint16(b[:], gguf.F32ToF16(v))
			bw.Write(b[:2])
		} else {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}

// packed2 lists the 81 bytes whose four 2-bit fields are all codes 0..2.
var packed2 = func() [81]byte {
	var t [81]byte
	for i := range 81 {
		t[i] = byte(i%3 | (i/3%3)<<2 | (i/9%3)<<4 | (i/27%3)<<6)
	}
	return t
}()

// randPacked2 fills b with bytes of four uniform ternary codes each. The
// I2_S and TQ2_0 layouts only permute elements within a block, so bytes of
// independent codes are independent ternary elements in either layout.
func randPacked2(r *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 4 {
		x := r.Uint64()
		for j := i; j < min(i+4, len(b)); j++ {
			b[j] = packed2[(x&0xffff)*81>>16]
			x >>= 16
		}
	}
}

// tq1Byte stores a base-3 value q (five trits, 0..242) as ggml does.
func tq1Byte(q int) byte { return byte((q*256 + 242) / 243) }

// writeLinear writes n elements (rows of k) of a linear weight: ternary codes
// with one random scale in [0.5, 2) per tensor for the ternary types (and, as
// ternary times that scale, for float weights of the bitnet architectures);
// normal values of standard deviation 1/sqrt(k) for llama's float weights.
func (pl plan) writeLinear(r *rand.Rand, out io.Writer, n, k int64) error {
	scale := 0.5 + 1.5*r.Float32()
	switch pl.wt {
	case gguf.I2_S:
		buf := make([]byte, chunk)
		for left := n / 4; left > 0; {
			c := min(left, chunk)
			randPacked2(r, buf[:c])
			if _, err := out.Write(buf[:c]); err != nil {
				return err
			}
			left -= c
		}
		tail := make([]byte, 32) // scale, then 28 unused bytes
		binary.LittleEndian.PutUint32(tail, math.Float32bits(scale))
		_, err := out.Write(tail)
		return err
	case gguf.TQ2_0, gguf.TQ1_0:
		d := gguf.F32ToF16(scale)
		bs := int64(gguf.TQ2_0Bytes)
		if pl.wt == gguf.TQ1_0 {
			bs = gguf.TQ1_0Bytes
		}
		per := chunk / bs
		buf := make([]byte, per*bs)
		for left := n / gguf.QK_K; left > 0; {
			c := min(left, per)
			for bi := range c {
				blk := buf[bi*bs : (bi+1)*bs]
				if pl.wt == gguf.TQ2_0 {
					randPacked2(r, blk[:64])
				} else {
					for j := range 48 {
						blk[j] = tq1Byte(r.IntN(243))
					}
					for j := 48; j < 52; j++ {
						blk[j] = tq1Byte(r.IntN(81) * 3)
					}
				}
				binary.LittleEndian.PutUint16(blk[bs-2:], d)
			}
			if _, err := out.Write(buf[:c*bs]); err != nil {
				return err
			}
			left -= c
		}
		return nil
	}
	if pl.ternary {
		return writeFloats(out, pl.wt, n, func() float32 { return float32(r.IntN(3)-1) * scale })
	}
	std := 1 / math.Sqrt(float64(k))
	return writeFloats(out, pl.wt, n, func() float32 { return float32(r.NormFloat64() * std) })
}
