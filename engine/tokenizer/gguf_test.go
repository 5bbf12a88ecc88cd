package tokenizer

import (
	"bitnet/internal/testdata"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"bitnet/gguf"
)

// memGGUF builds a vocabulary-only GGUF in memory.
func memGGUF(t *testing.T, kv map[string]any) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := w.Set(k, kv[k]); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.ReadBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// byteLevelVocab returns the 256 byte-level characters followed by extra.
func byteLevelVocab(extra ...string) []string {
	v := make([]string, 0, 256+len(extra))
	for b := 0; b < 256; b++ {
		v = append(v, string(byteToRune[b]))
	}
	return append(v, extra...)
}

func TestFromGGUFErrors(t *testing.T) {
	toks := byteLevelVocab()
	for name, kv := range map[string]map[string]any{
		"no model":      {"tokenizer.ggml.tokens": toks},
		"unknown model": {"tokenizer.ggml.model": "bert", "tokenizer.ggml.tokens": toks},
		"no tokens":     {"tokenizer.ggml.model": "llama"},
		"empty":         {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": []string{}},
		"types length":  {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": toks, "tokenizer.ggml.token_type": []int32{1}},
		"scores length": {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": toks, "tokenizer.ggml.scores": []float32{1}},
		"no merges":     {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": toks},
		"bad merge":     {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": toks, "tokenizer.ggml.merges": []string{"ab"}},
		"bad bos type":  {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": toks, "tokenizer.ggml.bos_token_id": "one"},
		"bad add_bos":   {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": toks, "tokenizer.ggml.add_bos_token": uint32(1)},
	} {
		if _, err := FromGGUF(memGGUF(t, kv)); err == nil {
			t.Errorf("%s: no error", name)
		} else if name == "no model" && !errors.Is(err, gguf.ErrMissingKey) {
			t.Errorf("%s: %v does not wrap ErrMissingKey", name, err)
		}
	}
}

func TestFromGGUFSyntheticBPE(t *testing.T) {
	toks := byteLevelVocab("Ġa", "Ġab", "<eos>")
	f := memGGUF(t, map[string]any{
		"tokenizer.ggml.model":        "gpt2",
		"tokenizer.ggml.tokens":       toks,
		"tokenizer.ggml.merges":       []string{"Ġ a", "Ġa b", "x y"},
		"tokenizer.ggml.eos_token_id": uint32(258),
		"tokenizer.ggml.bos_token_id": uint32(0xFFFFFFFF), // none
	})
	tk, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if tk.PreTokenizer() != PreGPT2 || tk.AddBOS() || tk.BOS() != -1 || tk.EOS() != 258 {
		t.Errorf("pre %s AddBOS %v BOS %d EOS %d", tk.PreTokenizer(), tk.AddBOS(), tk.BOS(), tk.EOS())
	}
	// Without token types the EOS token is still a control token.
	if tk.TokenType(258) != TypeControl || tk.TokenType(5) != TypeNormal {
		t.Errorf("types %v %v", tk.TokenType(258), tk.TokenType(5))
	}
	// "x y" produces "xy", which is not in the vocabulary: its bytes are emitted.
	got := tk.Encode("ab xy", true, false)
	want := []int32{tk.byteSym['a'], tk.byteSym['b'], tk.byteSym[' '], tk.byteSym['x'], tk.byteSym['y']}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := tk.Encode(" ab", false, false); !slices.Equal(got, []int32{257}) {
		t.Errorf("got %v, want [257]", got)
	}
	if d := tk.Decode(tk.Encode("ab xy", false, false)); d != "ab xy" {
		t.Errorf("decoded %q", d)
	}
}

func TestFromGGUFSyntheticSPM(t *testing.T) {
	toks := []string{"<unk>", "<s>", "</s>"}
	for b := 0; b < 256; b++ {
		toks = append(toks, fmt.Sprintf("<0x%02X>", b))
	}
	toks = append(toks, "▁", "a", "b", "▁a", "ab", "▁ab")
	scores := make([]float32, len(toks))
	for i := range scores {
		scores[i] = float32(-i)
	}
	scores[len(toks)-1] = 10 // ▁ab beats everything
	f := memGGUF(t, map[string]any{
		"tokenizer.ggml.model":             "llama",
		"tokenizer.ggml.tokens":            toks,
		"tokenizer.ggml.scores":            scores,
		"tokenizer.ggml.bos_token_id":      uint32(1),
		"tokenizer.ggml.eos_token_id":      uint32(2),
		"tokenizer.ggml.unknown_token_id":  uint32(0),
		"tokenizer.ggml.add_space_prefix":  false,
		"tokenizer.ggml.add_bos_token":     false,
		"tokenizer.chat_template":          "{{ messages }}",
		"tokenizer.ggml.some_other_string": "x",
	})
	tk, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if tk.AddBOS() || tk.ChatTemplate() != "{{ messages }}" || tk.ChatFormat() != ChatPlain {
		t.Errorf("AddBOS %v template %q format %s", tk.AddBOS(), tk.ChatTemplate(), tk.ChatFormat())
	}
	if tk.TokenType(3) != TypeByte || tk.TokenType(0) != TypeUnknown || tk.TokenType(1) != TypeControl {
		t.Errorf("types %v %v %v", tk.TokenType(3), tk.TokenType(0), tk.TokenType(1))
	}
	last := int32(len(toks) - 1)
	// No space prefix: "ab" then " ab" -> "ab" "▁ab"; "c" falls back to <0x63>.
	got := tk.Encode("ab abc", false, false)
	want := []int32{last - 1, last, 3 + 'c'}
	if !slices.Equal(got, want) {
		t.Errorf("got %v (%q), want %v", got, pieces(tk, got), want)
	}
	if d := tk.Decode(got); d != "ab abc" {
		t.Errorf("decoded %q", d)
	}
}

func TestFromGGUFLlama3Detection(t *testing.T) {
	// Without tokenizer.ggml.pre, a llama3-sized vocabulary with its special
	// tokens gets the llama3 pre-tokenizer and BOS.
	toks := byteLevelVocab()
	for len(toks) < 128000 {
		toks = append(toks, fmt.Sprintf("tok%d", len(toks)))
	}
	toks = append(toks, "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>")
	types := make([]int32, len(toks))
	for i := range types {
		types[i] = 1
		if i >= 128000 {
			types[i] = 3
		}
	}
	kv := map[string]any{
		"tokenizer.ggml.model":        "gpt2",
		"tokenizer.ggml.tokens":       toks,
		"tokenizer.ggml.token_type":   types,
		"tokenizer.ggml.merges":       []string{"Ġ a"},
		"tokenizer.ggml.bos_token_id": uint32(128000),
		"tokenizer.ggml.eos_token_id": uint32(128001),
	}
	tk, err := FromGGUF(memGGUF(t, kv))
	if err != nil {
		t.Fatal(err)
	}
	if tk.PreTokenizer() != PreLlama3 || !tk.AddBOS() || !tk.IsEOG(128002) || tk.ChatFormat() != ChatBitNet {
		t.Errorf("pre %s AddBOS %v EOG %v chat %s", tk.PreTokenizer(), tk.AddBOS(), tk.EOG(), tk.ChatFormat())
	}
	// An explicit pre wins.
	kv["tokenizer.ggml.pre"] = "default"
	tk, err = FromGGUF(memGGUF(t, kv))
	if err != nil {
		t.Fatal(err)
	}
	if tk.PreTokenizer() != PreGPT2 {
		t.Errorf("pre %s with tokenizer.ggml.pre=default", tk.PreTokenizer())
	}
}

// TestGoldenTinyVocab loads the byte-level vocabulary of the golden test
// models (bos/eos/eot 509/510/511, add_bos false).
func TestGoldenTinyVocab(t *testing.T) {
	path := filepath.Join(sharedModels, "..", "golden", "tiny-i2_s.gguf")
	if _, err := os.Stat(path); err != nil {
		testdata.SkipUnlessCI(t, "%s not available: %v", path, err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tk, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() != 512 || tk.AddBOS() || tk.BOS() != 509 || !tk.IsEOG(510) || !tk.IsEOG(511) {
		t.Errorf("vocab %d AddBOS %v BOS %d EOG %v", tk.VocabSize(), tk.AddBOS(), tk.BOS(), tk.EOG())
	}
	for _, s := range []string{"Hello world", "the cat sat on the mat.\n", "日本 😀"} {
		if d := tk.Decode(tk.Encode(s, false, false)); d != s {
			t.Errorf("%q: decoded %q", s, d)
		}
	}
}
