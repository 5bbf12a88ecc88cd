package modelgen

import (
	"fmt"
	"sort"
	"strings"
)

// Vocab is a tokenizer vocabulary as stored in tokenizer.ggml.* keys.
type Vocab struct {
	Model  string    // "gpt2" (byte-level BPE) or "llama" (SentencePiece)
	Tokens []string  // tokenizer.ggml.tokens
	Scores []float32 // tokenizer.ggml.scores
	Types  []int32   // tokenizer.ggml.token_type
	Merges []string  // tokenizer.ggml.merges (gpt2 only)
	BOS    uint32
	EOS    uint32
	EOT    int64 // -1 when the vocabulary has no end-of-turn token
	UNK    int64 // -1 when absent
}

// Token types (llama.cpp's llama_token_type).
const (
	TokenNormal      int32 = 1
	TokenUnknown     int32 = 2
	TokenControl     int32 = 3
	TokenUserDefined int32 = 4
	TokenUnused      int32 = 5
	TokenByte        int32 = 6
)

// Llama 3 special token ids used by the bitnet-b1.58-2B-4T vocabulary.
const (
	Llama3VocabSize  = 128256
	Llama3BOS        = 128000
	Llama3EOS        = 128001
	Llama3EOT        = 128009
	llama3FirstSpecl = 128000
)

// corpus is the text the merges and word pieces are learned from.
const corpus = `Once upon a time, there was a little model that wanted to learn the world.
The model read the tokens one by one, and the tokens became words, and the words became stories.
It learned that the weights of a ternary network are minus one, zero or plus one, with one scale for the whole tensor.
The tokenizer splits the text into pieces; the pieces are merged by rank, and the merges are stored in the file.
She said: "Hello, world! How are you today?" and he answered, "I am fine, thank you."
Numbers like 1, 2, 3, 42, 128 and 2025 appear in the text as well as names like Lily, Tom and BitNet.
Every layer has attention, a feed forward network and normalization; the residual stream carries the state.
In the morning the sun was bright, the birds were singing and the children played in the garden with their friends.
They ran, they jumped, they laughed, and when the evening came they went home to eat dinner with their family.
This is a test of the quick brown fox that jumps over the lazy dog, again and again, until the end of the story.
`

// ByteToUnicode returns GPT-2's byte-to-unicode mapping: printable bytes map
// to themselves, the other 68 bytes, in order, to U+0100 and up.
func ByteToUnicode() [256]rune {
	var m [256]rune
	next := rune(0x100)
	for b := range 256 {
		if (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff) {
			m[b] = rune(b)
		} else {
			m[b] = next
			next++
		}
	}
	return m
}

// trainBPE learns up to maxMerges merges over words (each a list of symbols,
// weighted by count): the most frequent adjacent pair first, ties broken by
// the pair's text. It returns the merges in rank order.
func trainBPE(words [][]string, counts []int, maxMerges int) [][2]string {
	var merges [][2]string
	for len(merges) < maxMerges {
		pairs := map[[2]string]int{}
		for wi, w := range words {
			for i := 0; i+1 < len(w); i++ {
				pairs[[2]string{w[i], w[i+1]}] += counts[wi]
			}
		}
		if len(pairs) == 0 {
			break
		}
		best, bestN := [2]string{}, -1
		for p, n := range pairs {
			if n > bestN || (n == bestN && (p[0] < best[0] || (p[0] == best[0] && p[1] < best[1]))) {
				best, bestN = p, n
			}
		}
		merges = append(merges, best)
		for wi, w := range words {
			out := w[:0:0]
			for i := 0; i < len(w); i++ {
				if i+1 < len(w) && w[i] == best[0] && w[i+1] == best[1] {
					out = append(out, best[0]+best[1])
					i++
				} else {
					out = append(out, w[i])
				}
			}
			words[wi] = out
		}
	}
	return merges
}

// corpusWords splits the corpus at spaces and newlines; every word but the
// first of a line carries the given space marker in front.
func corpusWords(space string, mapRune func(string) string) ([][]string, []int) {
	idx := map[string]int{}
	var words [][]string
	var counts []int
	for _, line := range strings.Split(corpus, "\n") {
		for i, w := range strings.Fields(line) {
			if i > 0 || space == "▁" {
				w = " " + w
			}
			w = mapRune(w)
			if j, ok := idx[w]; ok {
				counts[j]++
				continue
			}
			idx[w] = len(words)
			var syms []string
			for _, r := range w {
				syms = append(syms, string(r))
			}
			words = append(words, syms)
			counts = append(counts, 1)
		}
	}
	return words, counts
}

// GPT2Vocab builds a byte-level BPE vocabulary of n tokens: the 256 byte
// symbols (token id = byte value), merges learned from a fixed text, filler
// tokens "[fillN]", and special tokens. With n = 128256 the specials take the
// Llama 3 ids 128000..128255 (<|begin_of_text|>, <|end_of_text|>, <|eot_id|>
// at 128009, reserved tokens elsewhere); otherwise the last three ids are
// <|begin_of_text|>, <|end_of_text|> and <|eot_id|>.
func GPT2Vocab(n int) (*Vocab, error) {
	var specials []string
	first := n - 3
	if n == Llama3VocabSize {
		first = llama3FirstSpecl
		specials = llama3Specials()
	} else {
		specials = []string{"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"}
	}
	if first < 256 {
		return nil, fmt.Errorf("vocabulary of %d tokens is too small for a byte-level BPE (need at least %d)", n, 256+len(specials))
	}
	v := &Vocab{Model: "gpt2", UNK: -1}
	b2u := ByteToUnicode()
	have := map[string]bool{}
	for b := range 256 {
		s := string(b2u[b])
		v.Tokens = append(v.Tokens, s)
		have[s] = true
	}
	mapBytes := func(s string) string {
		var sb strings.Builder
		for _, c := range []byte(s) {
			sb.WriteRune(b2u[c])
		}
		return sb.String()
	}
	words, counts := corpusWords("", mapBytes)
	for _, m := range trainBPE(words, counts, min(first-256, 1000)) {
		if len(v.Tokens) >= first {
			break
		}
		v.Merges = append(v.Merges, m[0]+" "+m[1])
		if s := m[0] + m[1]; !have[s] {
			have[s] = true
			v.Tokens = append(v.Tokens, s)
		}
	}
	for i := 0; len(v.Tokens) < first; i++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("[fill%d]", i))
	}
	v.Types = make([]int32, n)
	for i := range v.Types {
		v.Types[i] = TokenNormal
	}
	for i, s := range specials {
		v.Tokens = append(v.Tokens, s)
		v.Types[first+i] = TokenControl
	}
	v.Scores = make([]float32, n)
	if n == Llama3VocabSize {
		v.BOS, v.EOS, v.EOT = Llama3BOS, Llama3EOS, Llama3EOT
	} else {
		v.BOS, v.EOS, v.EOT = uint32(first), uint32(first+1), int64(first+2)
	}
	return v, nil
}

func llama3Specials() []string {
	s := make([]string, Llama3VocabSize-llama3FirstSpecl)
	named := map[int]string{
		0: "<|begin_of_text|>", 1: "<|end_of_text|>", 4: "<|finetune_right_pad_id|>",
		6: "<|start_header_id|>", 7: "<|end_header_id|>", 8: "<|eom_id|>", 9: "<|eot_id|>", 10: "<|python_tag|>",
	}
	reserved := 0
	for i := range s {
		if name, ok := named[i]; ok {
			s[i] = name
			continue
		}
		s[i] = fmt.Sprintf("<|reserved_special_token_%d|>", reserved)
		reserved++
	}
	return s
}

// SPMVocab builds a SentencePiece-style vocabulary of n tokens as llama.cpp
// stores it: <unk>, <s>, </s>, the byte tokens <0x00>..<0xFF>, the characters
// of a fixed text, pieces (many starting with ▁) learned from it, scored so
// that earlier pieces merge first, then filler pieces "[fillN]".
func SPMVocab(n int) (*Vocab, error) {
	v := &Vocab{Model: "llama", BOS: 1, EOS: 2, EOT: -1, UNK: 0}
	add := func(s string, score float32, typ int32) {
		v.Tokens = append(v.Tokens, s)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, typ)
	}
	add("<unk>", 0, TokenUnknown)
	add("<s>", 0, TokenControl)
	add("</s>", 0, TokenControl)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), 0, TokenByte)
	}
	words, counts := corpusWords("▁", func(s string) string { return strings.ReplaceAll(s, " ", "▁") })
	chars := map[string]bool{}
	for _, w := range words {
		for _, c := range w {
			chars[c] = true
		}
	}
	var cs []string
	for c := range chars {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	if len(v.Tokens)+len(cs) > n {
		return nil, fmt.Errorf("vocabulary of %d tokens is too small for a SentencePiece vocabulary (need at least %d)", n, len(v.Tokens)+len(cs))
	}
	have := map[string]bool{}
	for _, c := range cs {
		add(c, -1000, TokenNormal)
		have[c] = true
	}
	rank := 0
	for _, m := range trainBPE(words, counts, n-len(v.Tokens)) {
		if len(v.Tokens) >= n {
			break
		}
		if s := m[0] + m[1]; !have[s] {
			have[s] = true
			add(s, -float32(rank), TokenNormal)
			rank++
		}
	}
	for i := 0; len(v.Tokens) < n; i++ {
		add(fmt.Sprintf("[fill%d]", i), -2000-float32(i), TokenNormal)
	}
	return v, nil
}
