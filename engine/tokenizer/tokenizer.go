// Package tokenizer converts text to token ids and back for the tokenizers
// used by BitNet b1.58 and llama-family GGUF models.
//
// Two tokenizer models are supported, selected by tokenizer.ggml.model:
//
//   - "gpt2": byte-level BPE (llama3, GPT-2 style vocabularies). Text is split
//     by a pre-tokenizer regex (the llama3 one, or the GPT-2 default), each
//     piece's bytes are mapped through the GPT-2 byte-to-unicode table and
//     merged by merge rank.
//   - "llama": SentencePiece (llama2 and the tok512 story vocabularies).
//     Spaces become U+2581, a space is prepended, and adjacent symbols are
//     merged by vocabulary score, with <0xNN> byte fallback.
//
// A Tokenizer is safe for concurrent use.
package tokenizer

import (
	"strings"
	"sync"
)

// wordCache maps pre-tokens to their ids.
type wordCache struct {
	mu sync.Mutex
	m  map[string][]int32
}

// Model is the tokenizer algorithm.
type Model int

const (
	// SPM is SentencePiece-style score merging (tokenizer.ggml.model "llama").
	SPM Model = iota + 1
	// BPE is byte-level BPE (tokenizer.ggml.model "gpt2").
	BPE
)

func (m Model) String() string {
	switch m {
	case SPM:
		return "llama"
	case BPE:
		return "gpt2"
	}
	return "unknown"
}

// TokenType is the GGUF token type (tokenizer.ggml.token_type).
type TokenType int32

// Token types, as in llama.cpp.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

// Pre-tokenizer names reported by PreTokenizer.
const (
	PreLlama3 = "llama3"
	PreGPT2   = "gpt2"
	PreNone   = "none" // SentencePiece: no pre-tokenization
)

// Tokenizer encodes and decodes text for one vocabulary.
type Tokenizer struct {
	model  Model
	tokens []string
	types  []TokenType
	scores []float32
	ids    map[string]int32 // token text -> id

	bos, eos, unk int32
	eog           []int32
	addBOS        bool
	chatTemplate  string

	// special tokens matched verbatim with parseSpecial, grouped by first
	// byte, longest first.
	specials map[byte][]int32

	// byte-level BPE
	pre          string
	ignoreMerges bool
	rawIDs       map[string]int32 // decoded bytes of normal tokens -> id
	merges       map[uint64]merge
	byteSym      [256]int32 // symbol id of each byte's mapped character
	extra        []string   // symbols that are not in the vocabulary (ids from len(tokens))
	cache        *wordCache

	// SentencePiece
	addSpacePrefix bool
	byteTok        [256]int32 // <0xNN> token of each byte, or -1

	pieces []string // decoded bytes of every token (control tokens: their text)
}

// Model returns the tokenizer algorithm.
func (t *Tokenizer) Model() Model { return t.model }

// PreTokenizer returns the pre-tokenizer in use: PreLlama3, PreGPT2 or PreNone.
func (t *Tokenizer) PreTokenizer() string { return t.pre }

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Token returns the raw vocabulary string of id ("" when out of range).
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenType returns the type of id (TypeUndefined when out of range).
func (t *Tokenizer) TokenType(id int32) TokenType {
	if id < 0 || int(id) >= len(t.types) {
		return TypeUndefined
	}
	return t.types[id]
}

// Score returns the SentencePiece score of id (0 when the vocabulary has none).
func (t *Tokenizer) Score(id int32) float32 {
	if id < 0 || int(id) >= len(t.scores) {
		return 0
	}
	return t.scores[id]
}

// ID returns the id of a raw vocabulary string.
func (t *Tokenizer) ID(token string) (int32, bool) {
	id, ok := t.ids[token]
	return id, ok
}

// BOS returns the beginning-of-sequence token id, or -1.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence token id, or -1.
func (t *Tokenizer) EOS() int32 { return t.eos }

// EOG returns the tokens that end generation (EOS, EOT, EOM, <|end_of_text|>).
func (t *Tokenizer) EOG() []int32 { return append([]int32(nil), t.eog...) }

// IsEOG reports whether id ends generation.
func (t *Tokenizer) IsEOG(id int32) bool {
	for _, e := range t.eog {
		if e == id {
			return true
		}
	}
	return false
}

// AddBOS reports whether the model expects a BOS token at the start of a
// prompt.
func (t *Tokenizer) AddBOS() bool { return t.addBOS && t.bos >= 0 }

// WithChatTemplate returns a tokenizer that shares everything with t but
// has chat template tpl (which selects the ChatFormat).
func (t *Tokenizer) WithChatTemplate(tpl string) *Tokenizer {
	c := *t
	c.chatTemplate = tpl
	return &c
}

// ChatTemplate returns the Jinja chat template stored with the model ("" if none).
func (t *Tokenizer) ChatTemplate() string { return t.chatTemplate }

// isSpecialType reports whether tokens of type ty are matched verbatim in the
// input when special parsing is on.
func isSpecialType(ty TokenType) bool {
	return ty == TypeControl || ty == TypeUserDefined || ty == TypeUnknown
}

// Encode converts text to token ids. With addBOS the BOS token is prepended
// (when the vocabulary has one). With parseSpecial, the text of control,
// user-defined and unknown tokens (such as "<|eot_id|>") is matched verbatim,
// longest first, and emitted as that token; otherwise it is encoded as plain
// text.
func (t *Tokenizer) Encode(text string, addBOS, parseSpecial bool) []int32 {
	out := make([]int32, 0, len(text)/3+2)
	if addBOS && t.bos >= 0 {
		out = append(out, t.bos)
	}
	prevSpecial := true // SentencePiece: prefix a space at the start and after special tokens
	emitText := func(s string) {
		if s == "" {
			return
		}
		if t.model == SPM {
			out = t.encodeSPM(s, prevSpecial && t.addSpacePrefix, out)
		} else {
			out = t.encodeBPE(s, out)
		}
		prevSpecial = false
	}
	if !parseSpecial || len(t.specials) == 0 {
		emitText(text)
		return out
	}
	start := 0
	for i := 0; i < len(text); {
		id, n := t.matchSpecial(text[i:])
		if n == 0 {
			i++
			continue
		}
		emitText(text[start:i])
		out = append(out, id)
		prevSpecial = true
		i += n
		start = i
	}
	emitText(text[start:])
	return out
}

// matchSpecial returns the longest special token that s starts with.
func (t *Tokenizer) matchSpecial(s string) (int32, int) {
	for _, id := range t.specials[s[0]] {
		if strings.HasPrefix(s, t.tokens[id]) {
			return id, len(t.tokens[id])
		}
	}
	return 0, 0
}
