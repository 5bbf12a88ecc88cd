package tokenizer

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// The pre-tokenizer regexes, run by a backtracking engine with lookahead as
// the reference for the hand-written splitters.
var (
	reLlama3 = regexp2.MustCompile(`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`, regexp2.None)
	reGPT2   = regexp2.MustCompile(`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, regexp2.None)
)

// regexSplit splits s into the regex matches and the text between them.
func regexSplit(t testing.TB, re *regexp2.Regexp, s string) []string {
	var out []string
	runes := []rune(s)
	pos := 0 // in runes
	m, err := re.FindRunesMatch(runes)
	for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
		if m.Index > pos {
			out = append(out, string(runes[pos:m.Index]))
		}
		out = append(out, string(runes[m.Index:m.Index+m.Length]))
		pos = m.Index + m.Length
	}
	if err != nil {
		t.Fatal(err)
	}
	if pos < len(runes) {
		out = append(out, string(runes[pos:]))
	}
	return out
}

func handSplit(next func(string, int) int, s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := next(s, i)
		if j <= i || j > len(s) {
			panic("pre-tokenizer did not advance")
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

var preTokenizerCases = []string{
	"", " ", "  ", "a", "Hello world", "  Hello  world  ", "hello\nworld", "a\r\n\r\nb",
	"\n \n  x", " \t\n", "x \t y", "it's I'M we'Re 'll 'LL 've 'd 'x ''s", "12345 6 78",
	"1,000.5", "x1y22z333w4444", "(hello) [world]", " !!", "a !!\n\nb", "end.\n\n",
	"日本語 テキスト", "emoji 😀🎉 ok", "Ⅻ ½ ٣٤", "\u00a0x\u2003 y\u3000", "a\u0301b",
	"  \n", "\n  ", "tab\there", "...", " ...\r\n", "$x = 5;", "x\u2028y", "\u0085x", "\u0085\u0085x",
	"a\u200db", "'", "' s", "'sa", "\r", "a\rb", "_under_score", "💡idea", "?!a",
}

func TestPreTokenizersMatchRegex(t *testing.T) {
	for _, s := range preTokenizerCases {
		if got, want := handSplit(nextLlama3, s), regexSplit(t, reLlama3, s); !slices.Equal(got, want) {
			t.Errorf("llama3 %q: got %q, want %q", s, got, want)
		}
		if got, want := handSplit(nextGPT2, s), regexSplit(t, reGPT2, s); !slices.Equal(got, want) {
			t.Errorf("gpt2 %q: got %q, want %q", s, got, want)
		}
	}
}

func TestPreTokenizerExamples(t *testing.T) {
	for _, c := range []struct {
		next func(string, int) int
		in   string
		want []string
	}{
		{nextLlama3, "WE'LL go", []string{"WE", "'LL", " go"}},
		{nextLlama3, "1234567", []string{"123", "456", "7"}},
		{nextLlama3, "a   b  ", []string{"a", "  ", " b", "  "}},
		{nextLlama3, "(hello", []string{"(hello"}},
		{nextLlama3, "x.\n\ny", []string{"x", ".\n\n", "y"}},
		{nextGPT2, "WE'LL go", []string{"WE", "'", "LL", " go"}},
		{nextGPT2, "1234567 89", []string{"1234567", " 89"}},
		{nextGPT2, "(hello", []string{"(", "hello"}},
	} {
		if got := handSplit(c.next, c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzPreTokenizers(f *testing.F) {
	for _, s := range preTokenizerCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Every byte is covered, in order, whatever the input.
		for _, next := range []func(string, int) int{nextLlama3, nextGPT2} {
			parts := handSplit(next, s)
			n := 0
			for _, p := range parts {
				n += len(p)
			}
			if n != len(s) {
				t.Fatalf("split of %q covers %d bytes", s, n)
			}
		}
		if !utf8.ValidString(s) {
			return
		}
		if got, want := handSplit(nextLlama3, s), regexSplit(t, reLlama3, s); !slices.Equal(got, want) {
			t.Errorf("llama3 %q: got %q, want %q", s, got, want)
		}
		if got, want := handSplit(nextGPT2, s), regexSplit(t, reGPT2, s); !slices.Equal(got, want) {
			t.Errorf("gpt2 %q: got %q, want %q", s, got, want)
		}
	})
}
