package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"", " ", "Hello BitNet", "  two  spaces  ", "a\r\n\tb", "it's 'RE 'll", "1234567",
	"日本語 😀👍🏽", "x\u00a0y\u3000z", "<|eot_id|></s><s>", "\xff\xfe", "func f() {\n\treturn\n}",
}

func fuzzVocab(f *testing.F) (bpe, spm, tok512 *Tokenizer) {
	return llama3(f), llama2(f), loadVocab(f, "stories260K")
}

// FuzzEncodeDecode: Decode(Encode(s)) == s for valid UTF-8 (the space
// SentencePiece prepends is removed again), streaming equals Decode, and
// nothing panics on any input, with or without special parsing.
func FuzzEncodeDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	bpe, spm, tok512 := fuzzVocab(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, tk := range []*Tokenizer{bpe, spm, tok512} {
			ids := tk.Encode(s, true, false)
			for _, id := range ids {
				if id < 0 || int(id) >= tk.VocabSize() {
					t.Fatalf("%v: id %d out of range", tk.Model(), id)
				}
			}
			dec := tk.Decode(ids)
			if tk.Model() == BPE && dec != s {
				t.Errorf("BPE: Decode(Encode(%q)) = %q", s, dec)
			}
			if tk.Model() == SPM && utf8.ValidString(s) && dec != s && strings.TrimPrefix(dec, " ") != s {
				t.Errorf("SPM %d: Decode(Encode(%q)) = %q", tk.VocabSize(), s, dec)
			}
			if st := streamAll(t, tk, ids); st != dec {
				t.Errorf("%v: stream %q, Decode %q", tk.Model(), st, dec)
			}
			sp := tk.Encode(s, false, true)
			if d := tk.Decode(sp, RenderSpecial()); tk.Model() == BPE && d != s {
				t.Errorf("BPE parseSpecial: decoded %q, want %q", d, s)
			}
		}
	})
}
