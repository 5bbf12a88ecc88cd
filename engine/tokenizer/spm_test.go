package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func TestLlama2Reference(t *testing.T) {
	checkReference(t, llama2(t), "llama2_reference.json", false)
}

func TestTok512Reference(t *testing.T) {
	checkReference(t, loadVocab(t, "stories260K"), "tok512_reference.json", false)
}

func TestLlama2(t *testing.T) {
	tk := llama2(t)
	if tk.Model() != SPM || tk.VocabSize() != 32000 || tk.BOS() != 1 || tk.EOS() != 2 || !tk.AddBOS() {
		t.Fatalf("model %v vocab %d BOS %d EOS %d AddBOS %v", tk.Model(), tk.VocabSize(), tk.BOS(), tk.EOS(), tk.AddBOS())
	}
	if got, want := tk.Encode("Hello world", true, false), []int32{1, 15043, 3186}; !slices.Equal(got, want) {
		t.Errorf("Hello world: got %v, want %v", got, want)
	}
	// The leading-space rule: a space is prepended, so "Hello" is "▁Hello",
	// and a leading space in the text becomes a lone "▁" before it.
	ids := tk.Encode(" Hello world", false, false)
	if got, want := pieces(tk, ids), []string{"▁", "▁Hello", "▁world"}; !slices.Equal(got, want) {
		t.Errorf("leading space: pieces %q, want %q", got, want)
	}
	if d := tk.Decode(ids); d != " Hello world" {
		t.Errorf("leading space: decoded %q", d)
	}
	// Byte fallback: U+1D518 is not in the vocabulary.
	ids = tk.Encode("𝔘", false, false)
	if got, want := pieces(tk, ids), []string{"▁", "<0xF0>", "<0x9D>", "<0x94>", "<0x98>"}; !slices.Equal(got, want) {
		t.Errorf("byte fallback: pieces %q, want %q", got, want)
	}
	if d := tk.Decode(ids); d != "𝔘" {
		t.Errorf("byte fallback: decoded %q", d)
	}
	// BOS and special parsing: "</s>" is the EOS token only with parseSpecial,
	// and a space is prefixed again after it.
	ids = tk.Encode("hi</s>there", true, true)
	if got, want := pieces(tk, ids), []string{"<s>", "▁hi", "</s>", "▁there"}; !slices.Equal(got, want) {
		t.Errorf("special: pieces %q, want %q", got, want)
	}
	if d := tk.Decode(ids); d != "hi there" {
		t.Errorf("special: decoded %q", d)
	}
	ids = tk.Encode("hi</s>", false, false)
	if slices.Contains(ids, 2) {
		t.Errorf("</s> parsed without parseSpecial: %v", ids)
	}
	// Decode strips the prefix space after BOS, and only there.
	if d := tk.Decode([]int32{1, 15043, 3186}); d != "Hello world" {
		t.Errorf("Decode with BOS = %q", d)
	}
	if d := tk.Decode([]int32{3186, 3186}); d != "world world" {
		t.Errorf("Decode = %q", d)
	}
	if d := tk.Decode([]int32{3186}, KeepLeadingSpace()); d != " world" {
		t.Errorf("Decode(KeepLeadingSpace) = %q", d)
	}
	if d := tk.Decode([]int32{1, 15043, 2}, RenderSpecial()); d != "<s>Hello</s>" {
		t.Errorf("Decode(RenderSpecial) = %q", d)
	}
	if d := tk.Decode([]int32{0}); d != unknownPiece {
		t.Errorf("unknown token decodes to %q", d)
	}
	// EOS, and BOS: story models end a story by starting another.
	if !tk.IsEOG(2) || !tk.IsEOG(1) || tk.IsEOG(0) || tk.IsEOG(3) {
		t.Error("IsEOG")
	}
	if tk.ChatFormat() != ChatLlama2 {
		t.Errorf("ChatFormat = %s", tk.ChatFormat())
	}
}

func TestTok512RoundTrip(t *testing.T) {
	for _, name := range []string{"stories260K", "tinybitnet-stories"} {
		tk := loadVocab(t, name)
		if tk.VocabSize() != 512 || tk.Model() != SPM || tk.BOS() != 1 || tk.EOS() != 2 {
			t.Fatalf("%s: vocab %d model %v BOS %d EOS %d", name, tk.VocabSize(), tk.Model(), tk.BOS(), tk.EOS())
		}
		for _, s := range []string{
			"Once upon a time",
			"Once upon a time, there was a little girl named Lily. She loved to play with her toys.",
			"\"Hello!\" said Tom.\nThe end.",
			"Ünïcödé and 日本 fall back to bytes",
		} {
			ids := tk.Encode(s, true, false)
			if ids[0] != 1 {
				t.Errorf("%s: no BOS", name)
			}
			if d := tk.Decode(ids); d != s {
				t.Errorf("%s: Decode(Encode(%q)) = %q", name, s, d)
			}
		}
		// "Once upon a time" with BOS: "▁Once" "▁upon" "▁a" "▁time".
		ids := tk.Encode("Once upon a time", true, false)
		if got, want := pieces(tk, ids), []string{"<s>", "▁Once", "▁upon", "▁a", "▁time"}; !slices.Equal(got, want) {
			t.Errorf("%s: pieces %q, want %q", name, got, want)
		}
	}
}

func TestSPMLongInput(t *testing.T) {
	tk := llama2(t)
	s := strings.Repeat("the quick brown fox ", 2000) + strings.Repeat("x", 3000)
	if d := tk.Decode(tk.Encode(s, true, false)); d != s {
		t.Error("round trip failed")
	}
}
