package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// streamAll pushes ids one at a time and checks that every chunk is valid
// UTF-8 when the whole text is.
func streamAll(t *testing.T, tk *Tokenizer, ids []int32, opts ...DecodeOption) string {
	t.Helper()
	s := tk.NewStream(opts...)
	var b strings.Builder
	for _, id := range ids {
		chunk := s.Push(id)
		b.WriteString(chunk)
	}
	b.WriteString(s.Flush())
	return b.String()
}

func TestStreamHoldsPartialCharacters(t *testing.T) {
	tk := llama3(t)
	text := "日本語 😀 ok 👨‍👩‍👧"
	ids := tk.Encode(text, true, false)
	s := tk.NewStream()
	var b strings.Builder
	for _, id := range ids {
		chunk := s.Push(id)
		if !utf8.ValidString(chunk) {
			t.Errorf("Push(%d) returned partial UTF-8 %q", id, chunk)
		}
		b.WriteString(chunk)
	}
	if rest := s.Flush(); rest != "" {
		t.Errorf("Flush = %q", rest)
	}
	if b.String() != text {
		t.Errorf("streamed %q, want %q", b.String(), text)
	}

	// SentencePiece byte tokens: "é" is <0xC3><0xA9> in tok512.
	sp := loadVocab(t, "stories260K")
	ids = sp.Encode("é!", false, false)
	st := sp.NewStream()
	var got []string
	for _, id := range ids {
		got = append(got, st.Push(id))
	}
	if strings.Join(got, "") != "é!" || got[len(got)-1] != "!" {
		t.Errorf("chunks %q (ids %v)", got, ids)
	}
	for _, c := range got {
		if !utf8.ValidString(c) {
			t.Errorf("partial chunk %q", c)
		}
	}
}

func TestStreamFlushesIncomplete(t *testing.T) {
	sp := llama2(t)
	c3, _ := sp.ID("<0xE6>")
	s := sp.NewStream()
	if got := s.Push(c3); got != "" {
		t.Errorf("Push = %q", got)
	}
	if got := s.Flush(); got != "\xe6" {
		t.Errorf("Flush = %q", got)
	}
	// Bytes that can never complete a character are not held back.
	ff, _ := sp.ID("<0xFF>")
	if got := s.Push(ff); got != "\xff" {
		t.Errorf("Push(0xFF) = %q", got)
	}
}

func TestStreamEqualsDecode(t *testing.T) {
	for _, tk := range []*Tokenizer{llama3(t), llama2(t)} {
		for _, text := range []string{"Hello world", " lead", "a😀b日本", "x\xffy", "<|eot_id|>hi</s>"} {
			for _, opts := range [][]DecodeOption{nil, {RenderSpecial()}, {KeepLeadingSpace()}} {
				for _, bos := range []bool{false, true} {
					ids := tk.Encode(text, bos, true)
					if a, b := tk.Decode(ids, opts...), streamAll(t, tk, ids, opts...); a != b {
						t.Errorf("%v %q: Decode %q, stream %q", tk.Model(), text, a, b)
					}
				}
			}
		}
	}
}

func TestCompleteUTF8(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"", 0}, {"abc", 3}, {"a\xe6", 1}, {"a\xe6\x97", 1}, {"\xe6\x97\xa5", 3},
		{"\xf0\x9f\x98", 0}, {"\xf0\x9f\x98\x80", 4}, {"a\xff", 2}, {"a\x80", 2},
		{"\xe6a", 2}, {"\xe0\x80", 2}, {"\xed\xa0", 2}, {"\xf4\x90", 2}, {"\xf5", 1}, {"\xc1", 1},
	} {
		if got := completeUTF8([]byte(c.in)); got != c.want {
			t.Errorf("completeUTF8(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestPiece(t *testing.T) {
	tk := llama3(t)
	if p := tk.Piece(6631); p != " Bit" {
		t.Errorf("Piece(6631) = %q", p)
	}
	if p := tk.Piece(128009); p != "" {
		t.Errorf("Piece(eot) = %q", p)
	}
	if p := tk.Piece(128009, RenderSpecial()); p != "<|eot_id|>" {
		t.Errorf("Piece(eot, RenderSpecial) = %q", p)
	}
	if p := tk.Piece(-5); p != "" {
		t.Errorf("Piece(-5) = %q", p)
	}
	sp := llama2(t)
	if p := sp.Piece(15043); p != " Hello" {
		t.Errorf("SPM Piece = %q", p)
	}
	if d := tk.Decode([]int32{-1, 9906, 1 << 30}); d != "Hello" {
		t.Errorf("Decode with bad ids = %q", d)
	}
}

func TestByteLevelMap(t *testing.T) {
	if got := ByteLevelEncode(" \n\x00a\xff"); got != "ĠĊĀaÿ" {
		t.Errorf("ByteLevelEncode = %q", got)
	}
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := byteToRune[b]
		if seen[r] {
			t.Fatalf("rune %U used twice", r)
		}
		seen[r] = true
		if s := string([]byte{byte(b)}); ByteLevelDecode(ByteLevelEncode(s)) != s {
			t.Errorf("byte %#x does not round-trip", b)
		}
	}
	if byteToRune[' '] != 0x120 || byteToRune['\n'] != 0x10A || byteToRune[0xAD] != 0x143 {
		t.Errorf("map: space %U newline %U soft hyphen %U", byteToRune[' '], byteToRune['\n'], byteToRune[0xAD])
	}
}

func TestConcurrentEncode(t *testing.T) {
	tk := llama3(t)
	text := englishText(tk, 20<<10)
	want := tk.Encode(text, true, false)
	done := make(chan []int32)
	for range 4 {
		go func() { done <- tk.Encode(text, true, false) }()
	}
	for range 4 {
		if got := <-done; len(got) != len(want) || tk.Decode(got) != text {
			t.Error("concurrent Encode differs")
		}
	}
	if Model(0).String() != "unknown" || BPE.String() != "gpt2" || SPM.String() != "llama" {
		t.Error("Model.String")
	}
	// EOS, <|eot_id|> and BOS (which starts another document).
	if eog := tk.EOG(); len(eog) != 3 || !tk.IsEOG(tk.BOS()) {
		t.Errorf("EOG = %v", eog)
	}
}
