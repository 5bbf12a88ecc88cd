package modelgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"bitnet/engine"
	"bitnet/gguf"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// headerOnly serves a file's header and zeros after it, so a planned file can
// be parsed without producing its tensor data.
type headerOnly []byte

func (h headerOnly) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(h)) {
		copy(p, h[off:])
	}
	return len(p), nil
}

// planned parses the header a Build would write, with the real file size.
func planned(t *testing.T, o Options) *gguf.File {
	t.Helper()
	w, err := Build(o)
	require.NoError(t, err)
	var hdr bytes.Buffer
	require.NoError(t, w.WriteHeader(&hdr))
	_, _, size := w.Layout()
	f, err := gguf.Read(headerOnly(hdr.Bytes()), size)
	require.NoError(t, err)
	return f
}

// official2B4T is the tensor table of bitnet-b1.58-2B-4T (ggml ne order).
func official2B4T() map[string]string {
	m := map[string]string{
		"token_embd.weight":  "F16 [2560 128256]",
		"output_norm.weight": "F32 [2560]",
	}
	for i := range 30 {
		b := fmt.Sprintf("blk.%d.", i)
		for _, n := range []string{"attn_norm", "attn_sub_norm", "ffn_norm"} {
			m[b+n+".weight"] = "F32 [2560]"
		}
		m[b+"ffn_sub_norm.weight"] = "F32 [6912]"
		m[b+"attn_q.weight"] = "I2_S [2560 2560]"
		m[b+"attn_output.weight"] = "I2_S [2560 2560]"
		m[b+"attn_k.weight"] = "I2_S [2560 640]"
		m[b+"attn_v.weight"] = "I2_S [2560 640]"
		m[b+"ffn_gate.weight"] = "I2_S [2560 6912]"
		m[b+"ffn_up.weight"] = "I2_S [2560 6912]"
		m[b+"ffn_down.weight"] = "I2_S [6912 2560]"
	}
	return m
}

func Test2B4TTable(t *testing.T) {
	f := planned(t, Options{Preset: "2b4t", Seed: 1})
	got := map[string]string{}
	count := map[gguf.DType]int{}
	var data int64
	for _, ti := range f.Tensors {
		got[ti.Name] = fmt.Sprintf("%s %v", ti.Type, ti.Shape)
		count[ti.Type]++
		data += ti.Size
	}
	assert.Len(t, f.Tensors, 332)
	assert.Equal(t, official2B4T(), got)
	assert.Equal(t, map[gguf.DType]int{gguf.I2_S: 210, gguf.F32: 121, gguf.F16: 1}, count)
	assert.Equal(t, int64(1_179_449_920), data)
	assert.Equal(t, int64(1_179_449_920), f.FileSize-f.DataOffset)
	assert.Equal(t, int64(32), f.Alignment)
	_, hasAlign := f.Lookup("general.alignment")
	assert.False(t, hasAlign)

	keys := []string{}
	for _, kv := range f.KV {
		keys = append(keys, kv.Key)
	}
	p := "bitnet-b1.58."
	assert.ElementsMatch(t, []string{
		"general.architecture", "general.name", "general.file_type", "general.quantization_version",
		p + "vocab_size", p + "context_length", p + "embedding_length", p + "block_count",
		p + "feed_forward_length", p + "rope.dimension_count", p + "attention.head_count",
		p + "attention.head_count_kv", p + "attention.layer_norm_rms_epsilon", p + "rope.freq_base",
		"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
		"tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
		"tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.chat_template",
	}, keys)
	for key, want := range map[string]any{
		"general.name": "bitnet2b", "general.file_type": uint32(40), "general.quantization_version": uint32(2),
		p + "vocab_size": uint32(128256), p + "context_length": uint32(4096), p + "embedding_length": uint32(2560),
		p + "block_count": uint32(30), p + "feed_forward_length": uint32(6912), p + "rope.dimension_count": uint32(128),
		p + "attention.head_count": uint32(20), p + "attention.head_count_kv": uint32(5),
		p + "attention.layer_norm_rms_epsilon": float32(1e-5), p + "rope.freq_base": float32(500000),
		"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.bos_token_id": uint32(128000),
		"tokenizer.ggml.eos_token_id": uint32(128001), "tokenizer.ggml.padding_token_id": uint32(128001),
		"tokenizer.ggml.add_bos_token": true,
	} {
		kv, ok := f.Lookup(key)
		require.True(t, ok, key)
		assert.Equal(t, want, kv.Value, key)
	}
	toks, err := f.Strings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	types, err := f.Int32s("tokenizer.ggml.token_type")
	require.NoError(t, err)
	require.Len(t, toks, 128256)
	for id, s := range map[int]string{128000: "<|begin_of_text|>", 128001: "<|end_of_text|>", 128009: "<|eot_id|>"} {
		assert.Equal(t, s, toks[id])
		assert.Equal(t, TokenControl, types[id])
	}
	assert.Equal(t, TokenNormal, types[127999])
	assert.Empty(t, engine.CheckModel(f))
}

func TestVocabs(t *testing.T) {
	v, err := GPT2Vocab(512)
	require.NoError(t, err)
	require.Len(t, v.Tokens, 512)
	b2u := ByteToUnicode()
	assert.Equal(t, 'Ġ', b2u[' '])
	assert.Equal(t, 'Ċ', b2u['\n'])
	assert.Equal(t, "Ā", v.Tokens[0])
	assert.Equal(t, "!", v.Tokens['!'])
	assert.Greater(t, len(v.Merges), 200)
	seen := map[string]bool{}
	for _, s := range v.Tokens {
		assert.False(t, seen[s], "duplicate token %q", s)
		seen[s] = true
	}
	for _, m := range v.Merges {
		a, b, ok := strings.Cut(m, " ")
		require.True(t, ok)
		assert.True(t, seen[a] && seen[b] && seen[a+b], "merge %q", m)
	}
	assert.Equal(t, []string{"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"}, v.Tokens[509:])
	assert.Equal(t, uint32(509), v.BOS)

	s, err := SPMVocab(512)
	require.NoError(t, err)
	require.Len(t, s.Tokens, 512)
	assert.Equal(t, []string{"<unk>", "<s>", "</s>", "<0x00>"}, s.Tokens[:4])
	assert.Equal(t, "<0xFF>", s.Tokens[258])
	assert.Equal(t, []int32{TokenUnknown, TokenControl, TokenControl, TokenByte}, s.Types[:4])
	n := 0
	for _, tok := range s.Tokens {
		if strings.HasPrefix(tok, "▁") && len(tok) > len("▁") {
			n++
		}
	}
	assert.Greater(t, n, 20, "pieces starting with ▁")
	_, err = GPT2Vocab(100)
	assert.ErrorContains(t, err, "too small")
	_, err = SPMVocab(100)
	assert.ErrorContains(t, err, "too small")
}

func TestTinyModels(t *testing.T) {
	for _, c := range []struct {
		arch, wt string
		types    map[gguf.DType]int
	}{
		{"bitnet-b1.58", "", map[gguf.DType]int{gguf.I2_S: 14, gguf.F32: 9, gguf.F16: 1}},
		{"bitnet-b1.58", "f32", map[gguf.DType]int{gguf.F32: 24}},
		{"bitnet-b1.58", "tq1_0", map[gguf.DType]int{gguf.TQ1_0: 14, gguf.F32: 9, gguf.F16: 1}},
		{"bitnet", "", map[gguf.DType]int{gguf.TQ2_0: 14, gguf.F32: 9, gguf.F16: 1}},
		{"bitnet", "tq1_0", map[gguf.DType]int{gguf.TQ1_0: 14, gguf.F32: 9, gguf.F16: 1}},
		{"llama", "", map[gguf.DType]int{gguf.F32: 21}},
		{"llama", "f16", map[gguf.DType]int{gguf.F16: 16, gguf.F32: 5}},
	} {
		t.Run(c.arch+"/"+c.wt, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, Generate(&buf, Options{Arch: c.arch, WeightType: c.wt, Seed: 3}))
			f, err := gguf.ReadBytes(buf.Bytes())
			require.NoError(t, err)
			assert.Empty(t, engine.CheckModel(f))
			count := map[gguf.DType]int{}
			for _, ti := range f.Tensors {
				count[ti.Type]++
			}
			assert.Equal(t, c.types, count)
			arch, _ := f.Architecture()
			assert.Equal(t, c.arch, arch)
			emb, _ := f.Int(arch + ".embedding_length")
			assert.Equal(t, int64(256), emb)
			checkWeights(t, f)
		})
	}
}

// checkWeights decodes every linear weight and checks it is ternary times one
// scale (bitnet archs) and the norms are near 1.
func checkWeights(t *testing.T, f *gguf.File) {
	arch, _ := f.Architecture()
	for _, ti := range f.Tensors {
		raw, err := f.TensorData(ti)
		require.NoError(t, err)
		n := ti.Elements()
		vals := make([]float32, n)
		switch ti.Type {
		case gguf.I2_S:
			tern := make([]int8, n)
			gguf.DecodeI2S(raw, tern)
			s, err := gguf.I2SScale(raw, n)
			require.NoError(t, err)
			assert.True(t, s >= 0.5 && s < 2, "%s scale %v", ti.Name, s)
			for i, v := range tern {
				vals[i] = float32(v) * s
			}
			for _, b := range raw[:n/4] {
				for k := 0; k < 8; k += 2 {
					require.NotEqual(t, byte(3), b>>k&3, "%s holds code 3", ti.Name)
				}
			}
		case gguf.TQ2_0:
			require.NoError(t, gguf.DecodeTQ2_0(raw, vals))
		case gguf.TQ1_0:
			require.NoError(t, gguf.DecodeTQ1_0(raw, vals))
		case gguf.F16:
			for i := range vals {
				vals[i] = gguf.F16ToF32(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
			}
		case gguf.F32:
			for i := range vals {
				vals[i] = f32at(raw, i)
			}
		}
		distinct := map[float32]int{}
		for _, v := range vals {
			distinct[v]++
		}
		switch {
		case len(ti.Shape) == 1:
			for _, v := range vals {
				require.True(t, v >= 0.8 && v <= 1.2, "%s = %v", ti.Name, v)
			}
		case ti.Name == "token_embd.weight" || ti.Name == "output.weight" || arch == "llama":
			assert.Greater(t, len(distinct), 100, ti.Name)
		default:
			// ternary times one scale: three values, each about a third
			assert.Len(t, distinct, 3, ti.Name)
			for v, c := range distinct {
				assert.InDelta(t, float64(n)/3, c, float64(n)/10, "%s value %v", ti.Name, v)
			}
		}
	}
}

func f32at(b []byte, i int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
}

func TestDeterministic(t *testing.T) {
	sum := func(o Options) [32]byte {
		h := sha256.New()
		require.NoError(t, Generate(h, o))
		var s [32]byte
		copy(s[:], h.Sum(nil))
		return s
	}
	for _, arch := range Architectures {
		a := sum(Options{Arch: arch, Seed: 7})
		assert.Equal(t, a, sum(Options{Arch: arch, Seed: 7}), arch)
		assert.NotEqual(t, a, sum(Options{Arch: arch, Seed: 8}), arch)
	}
	// The name does not hide a difference in the data.
	var a, b bytes.Buffer
	require.NoError(t, Generate(&a, Options{Seed: 1, Name: "x"}))
	require.NoError(t, Generate(&b, Options{Seed: 2, Name: "x"}))
	_, dataOff, _ := mustBuild(t, Options{Seed: 1, Name: "x"}).Layout()
	assert.Equal(t, a.Bytes()[:dataOff], b.Bytes()[:dataOff])
	assert.NotEqual(t, a.Bytes()[dataOff:], b.Bytes()[dataOff:])
}

func mustBuild(t *testing.T, o Options) *gguf.Writer {
	w, err := Build(o)
	require.NoError(t, err)
	return w
}

func TestOptionsErrors(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Arch: "gpt9"}, `unknown architecture "gpt9"`},
		{Options{Preset: "huge"}, `unknown preset "huge"`},
		{Options{WeightType: "q4_0"}, `unknown weight type "q4_0"`},
		{Options{Arch: "bitnet", WeightType: "tq2_0", Params: &Params{Embd: 128, Layers: 1, Heads: 2, HeadsKV: 1, FF: 256, Vocab: 512, Ctx: 64}}, "multiples of 256"},
		{Options{Params: &Params{Embd: 96, Layers: 1, Heads: 2, HeadsKV: 1, FF: 256, Vocab: 512, Ctx: 64}}, "multiples of 128"},
		{Options{Params: &Params{Embd: 128, Layers: 1, Heads: 3, HeadsKV: 1, FF: 256, Vocab: 512, Ctx: 64}}, "even head size"},
		{Options{Params: &Params{Embd: 128, Layers: 0, Heads: 2, HeadsKV: 1, FF: 256, Vocab: 512, Ctx: 64}}, "must all be positive"},
	} {
		_, err := Build(c.o)
		assert.ErrorContains(t, err, c.want)
	}
	// Custom sizes work for fixtures.
	var buf bytes.Buffer
	require.NoError(t, Generate(&buf, Options{Params: &Params{Embd: 128, Layers: 1, Heads: 4, HeadsKV: 2, FF: 384, Vocab: 300, Ctx: 64}}))
	f, err := gguf.ReadBytes(buf.Bytes())
	require.NoError(t, err)
	assert.Empty(t, engine.CheckModel(f))
	name, _ := f.String("general.name")
	assert.Equal(t, "synthetic-bitnet-b1.58-custom-seed0", name)
	require.NoError(t, Generate(io.Discard, Options{Arch: "llama", Preset: "small"}))
}
