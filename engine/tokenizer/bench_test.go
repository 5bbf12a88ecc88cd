package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// englishText returns about n bytes of English-like text with a realistic
// spread of word frequencies: words are drawn from the vocabulary's
// whole-word tokens with a Zipf distribution, plus rarer made-up words that
// force real merging work.
func englishText(tk *Tokenizer, n int) string {
	var words []string
	for i := 0; i < tk.VocabSize() && len(words) < 20000; i++ {
		s := tk.Token(int32(i))
		if len(s) > 3 && strings.HasPrefix(s, "Ġ") && strings.Trim(s[2:], "abcdefghijklmnopqrstuvwxyz") == "" {
			words = append(words, s[2:])
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 2, uint64(len(words)-1))
	var b strings.Builder
	for b.Len() < n {
		switch k := r.IntN(100); {
		case k < 5:
			// made-up word
			for j := 3 + r.IntN(8); j > 0; j-- {
				b.WriteByte(byte('a' + r.IntN(26)))
			}
		case k < 8:
			b.WriteString(strings.ToUpper(words[z.Uint64()][:1]) + words[z.Uint64()][1:])
		default:
			b.WriteString(words[z.Uint64()])
		}
		switch k := r.IntN(100); {
		case k < 6:
			b.WriteString(". ")
		case k < 10:
			b.WriteString(", ")
		case k < 11:
			b.WriteString(".\n\n")
		case k < 12:
			b.WriteString(" 1984 ")
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func TestEncodeSpeed(t *testing.T) {
	tk := llama3(t)
	text := englishText(tk, 100<<10)
	tk.cache.mu.Lock()
	clear(tk.cache.m)
	tk.cache.mu.Unlock()
	start := time.Now()
	ids := tk.Encode(text, true, false)
	cold := time.Since(start)
	start = time.Now()
	tk.Encode(text, true, false)
	warm := time.Since(start)
	t.Logf("100 KiB -> %d tokens: %v with an empty cache, %v warm", len(ids), cold, warm)
	if tk.Decode(ids) != text {
		t.Error("round trip failed")
	}
	if cold > 2*time.Second { // generous: the target is well under a second
		t.Errorf("encoding 100 KiB took %v", cold)
	}
}

func BenchmarkEncodeLlama3(b *testing.B) {
	tk := llama3(b)
	text := englishText(tk, 100<<10)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.Encode(text, true, false)
	}
}

func BenchmarkEncodeLlama3Cold(b *testing.B) {
	tk := llama3(b)
	text := englishText(tk, 100<<10)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.cache.mu.Lock()
		clear(tk.cache.m)
		tk.cache.mu.Unlock()
		tk.Encode(text, true, false)
	}
}

func BenchmarkEncodeLlama2(b *testing.B) {
	tk := llama2(b)
	text := englishText(llama3(b), 100<<10)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.Encode(text, true, false)
	}
}

func BenchmarkLoadLlama3(b *testing.B) {
	for b.Loop() {
		loadMu.Lock()
		delete(loaded, "ggml-vocab-llama-bpe")
		loadMu.Unlock()
		llama3(b)
	}
}
