package tokenizer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"bitnet/gguf"
)

// config is everything needed to build a Tokenizer, whatever the source.
type config struct {
	model        Model
	tokens       []string
	types        []TokenType // may be nil
	scores       []float32   // may be nil
	merges       [][2]string
	bos, eos     int32 // -1 when absent
	eot, eom     int32 // -1 when absent
	unk          int32 // -1 when absent
	addBOS       *bool
	addSpace     *bool
	pre          *string // tokenizer.ggml.pre; nil when absent
	ignoreMerges *bool
	chatTemplate string
}

// FromGGUF builds a tokenizer from the tokenizer.ggml.* metadata of a GGUF
// file. Vocabulary-only files (no tensors) work too.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	name, err := f.String("tokenizer.ggml.model")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var c config
	switch name {
	case "llama":
		c.model = SPM
	case "gpt2":
		c.model = BPE
	default:
		return nil, fmt.Errorf("tokenizer: unsupported tokenizer model %q", name)
	}
	if c.tokens, err = f.Strings("tokenizer.ggml.tokens"); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	n := len(c.tokens)
	if n == 0 {
		return nil, errors.New("tokenizer: empty vocabulary")
	}
	if tt, err := f.Int32s("tokenizer.ggml.token_type"); err == nil {
		if len(tt) != n {
			return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(tt), n)
		}
		c.types = make([]TokenType, n)
		for i, v := range tt {
			c.types[i] = TokenType(v)
		}
	} else if !errors.Is(err, gguf.ErrMissingKey) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if sc, err := f.Float32s("tokenizer.ggml.scores"); err == nil {
		if len(sc) != n {
			return nil, fmt.Errorf("tokenizer: %d scores for %d tokens", len(sc), n)
		}
		c.scores = sc
	} else if !errors.Is(err, gguf.ErrMissingKey) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if c.model == BPE {
		ms, err := f.Strings("tokenizer.ggml.merges")
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		c.merges = make([][2]string, 0, len(ms))
		for i, m := range ms {
			k := -1
			if len(m) > 1 {
				k = strings.IndexByte(m[1:], ' ')
			}
			if k < 0 {
				return nil, fmt.Errorf("tokenizer: merge %d %q has no separator", i, m)
			}
			c.merges = append(c.merges, [2]string{m[:k+1], m[k+2:]})
		}
	}
	id := func(key string) (int32, error) {
		v, err := f.Int(key)
		if errors.Is(err, gguf.ErrMissingKey) {
			return -1, nil
		}
		if err != nil {
			return -1, fmt.Errorf("tokenizer: %w", err)
		}
		if v < 0 || v >= int64(n) {
			return -1, nil // e.g. 0xFFFFFFFF for "none"
		}
		return int32(v), nil
	}
	for _, p := range []struct {
		key string
		dst *int32
	}{
		{"tokenizer.ggml.bos_token_id", &c.bos},
		{"tokenizer.ggml.eos_token_id", &c.eos},
		{"tokenizer.ggml.eot_token_id", &c.eot},
		{"tokenizer.ggml.eom_token_id", &c.eom},
		{"tokenizer.ggml.unknown_token_id", &c.unk},
	} {
		if *p.dst, err = id(p.key); err != nil {
			return nil, err
		}
	}
	optBool := func(key string) (*bool, error) {
		b, err := f.Bool(key)
		if errors.Is(err, gguf.ErrMissingKey) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		return &b, nil
	}
	if c.addBOS, err = optBool("tokenizer.ggml.add_bos_token"); err != nil {
		return nil, err
	}
	if c.addSpace, err = optBool("tokenizer.ggml.add_space_prefix"); err != nil {
		return nil, err
	}
	if s, err := f.String("tokenizer.ggml.pre"); err == nil {
		c.pre = &s
	} else if !errors.Is(err, gguf.ErrMissingKey) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if s, err := f.String("tokenizer.chat_template"); err == nil {
		c.chatTemplate = s
	} else if !errors.Is(err, gguf.ErrMissingKey) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return build(c)
}

// isLlama3Vocab reports whether the vocabulary looks like the llama3 one.
func isLlama3Vocab(ids map[string]int32, n int) bool {
	_, bot := ids["<|begin_of_text|>"]
	_, eot := ids["<|eot_id|>"]
	return bot && eot && n >= 128000
}

// llama3Pre reports whether a tokenizer.ggml.pre value names the llama3
// pre-tokenizer.
func llama3Pre(pre string) bool {
	switch pre {
	case "llama3", "llama-v3", "llama-bpe", "smaug-bpe", "falcon3":
		return true
	}
	return false
}

func build(c config) (*Tokenizer, error) {
	n := len(c.tokens)
	if n == 0 {
		return nil, errors.New("tokenizer: empty vocabulary")
	}
	if n > 1<<30 {
		return nil, errors.New("tokenizer: vocabulary too large")
	}
	t := &Tokenizer{
		model:        c.model,
		tokens:       c.tokens,
		scores:       c.scores,
		bos:          c.bos,
		eos:          c.eos,
		unk:          c.unk,
		chatTemplate: c.chatTemplate,
		ids:          make(map[string]int32, n),
	}
	for i, s := range c.tokens {
		t.ids[s] = int32(i)
	}
	t.types = c.types
	if t.types == nil {
		t.types = make([]TokenType, n)
		for i, s := range c.tokens {
			t.types[i] = TypeNormal
			if c.model == SPM && isByteToken(s) {
				t.types[i] = TypeByte
			}
		}
		for _, id := range []int32{c.bos, c.eos, c.eot, c.eom} {
			if id >= 0 {
				t.types[id] = TypeControl
			}
		}
		if c.unk >= 0 {
			t.types[c.unk] = TypeUnknown
		}
	}

	// End-of-generation tokens. A generated BOS starts another document
	// (story models end a story with it, as llama2.c's do), so it ends the
	// text too.
	addEOG := func(id int32) {
		if id >= 0 && !slices.Contains(t.eog, id) {
			t.eog = append(t.eog, id)
		}
	}
	addEOG(c.eos)
	addEOG(c.bos)
	addEOG(c.eot)
	addEOG(c.eom)
	for _, s := range []string{"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "<end_of_turn>"} {
		if id, ok := t.ids[s]; ok && t.types[id] == TypeControl {
			addEOG(id)
		}
	}

	// Special tokens, longest first.
	t.specials = map[byte][]int32{}
	for i, s := range c.tokens {
		if s != "" && isSpecialType(t.types[i]) {
			t.specials[s[0]] = append(t.specials[s[0]], int32(i))
		}
	}
	for _, l := range t.specials {
		slices.SortStableFunc(l, func(a, b int32) int { return len(t.tokens[b]) - len(t.tokens[a]) })
	}

	t.initPieces()
	switch c.model {
	case SPM:
		t.pre = PreNone
		t.addBOS = c.addBOS == nil || *c.addBOS
		t.addSpacePrefix = c.addSpace == nil || *c.addSpace
		t.initSPM()
	case BPE:
		llama3 := false
		if c.pre != nil {
			llama3 = llama3Pre(*c.pre)
		} else {
			llama3 = isLlama3Vocab(t.ids, n)
		}
		t.pre = PreGPT2
		if llama3 {
			t.pre = PreLlama3
		}
		t.ignoreMerges = llama3
		if c.ignoreMerges != nil {
			t.ignoreMerges = *c.ignoreMerges
		}
		t.addBOS = llama3
		if c.addBOS != nil {
			t.addBOS = *c.addBOS
		}
		t.initBPE(c.merges)
	default:
		return nil, fmt.Errorf("tokenizer: unsupported model %v", c.model)
	}
	return t, nil
}
