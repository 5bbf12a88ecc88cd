package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type hfTokenizer struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         struct {
		Type         string            `json:"type"`
		Vocab        map[string]int    `json:"vocab"`
		Merges       []json.RawMessage `json:"merges"`
		IgnoreMerges *bool             `json:"ignore_merges"`
	} `json:"model"`
}

// hfConfig is the part of tokenizer_config.json that is used.
type hfConfig struct {
	BOS          json.RawMessage `json:"bos_token"`
	EOS          json.RawMessage `json:"eos_token"`
	AddBOS       *bool           `json:"add_bos_token"`
	ChatTemplate json.RawMessage `json:"chat_template"`
}

// tokenString reads a token given as "text" or {"content": "text"}.
func tokenString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Content
	}
	return ""
}

// templateString reads a chat template given as a string or as a list of
// {"name", "template"} (the "default" one, else the first).
func templateString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var l []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if json.Unmarshal(raw, &l) != nil || len(l) == 0 {
		return ""
	}
	for _, e := range l {
		if e.Name == "default" {
			return e.Template
		}
	}
	return l[0].Template
}

// FromJSON builds a tokenizer from a Hugging Face tokenizer.json with a
// byte-level BPE model (merges given as "a b" strings or ["a", "b"] pairs).
// Added tokens become control tokens (special) or user-defined tokens. When a
// tokenizer_config.json sits in the same directory, its bos_token,
// eos_token, add_bos_token and chat_template are used.
func FromJSON(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var h hfTokenizer
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	var cfg hfConfig
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "tokenizer_config.json")); err == nil {
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, fmt.Errorf("tokenizer: tokenizer_config.json: %w", err)
		}
	}
	c, err := configFromHF(&h, &cfg)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return build(c)
}

func configFromHF(h *hfTokenizer, cfg *hfConfig) (config, error) {
	c := config{model: BPE, bos: -1, eos: -1, eot: -1, eom: -1, unk: -1}
	if h.Model.Type != "BPE" {
		return c, fmt.Errorf("unsupported model type %q (want BPE)", h.Model.Type)
	}
	if !bytes.Contains(h.PreTokenizer, []byte("ByteLevel")) && !bytes.Contains(h.Decoder, []byte("ByteLevel")) {
		return c, errors.New("only byte-level BPE tokenizers are supported")
	}
	n := 0
	for _, id := range h.Model.Vocab {
		n = max(n, id+1)
	}
	for _, a := range h.AddedTokens {
		n = max(n, a.ID+1)
	}
	if n == 0 {
		return c, errors.New("empty vocabulary")
	}
	if n > 1<<24 {
		return c, fmt.Errorf("token id %d out of range", n-1)
	}
	c.tokens = make([]string, n)
	c.types = make([]TokenType, n)
	for i := range c.types {
		c.types[i] = TypeUnused
	}
	for s, id := range h.Model.Vocab {
		if id < 0 {
			return c, fmt.Errorf("negative id for token %q", s)
		}
		c.tokens[id], c.types[id] = s, TypeNormal
	}
	for _, a := range h.AddedTokens {
		if a.ID < 0 {
			return c, fmt.Errorf("negative id for added token %q", a.Content)
		}
		c.tokens[a.ID] = a.Content
		if a.Special {
			c.types[a.ID] = TypeControl
		} else {
			c.types[a.ID] = TypeUserDefined
		}
	}
	for i := range c.tokens {
		if c.types[i] == TypeUnused && c.tokens[i] == "" {
			c.tokens[i] = fmt.Sprintf("<unused_%d>", i)
		}
	}
	c.merges = make([][2]string, 0, len(h.Model.Merges))
	for i, raw := range h.Model.Merges {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			k := -1
			if len(s) > 1 {
				k = strings.IndexByte(s[1:], ' ')
			}
			if k < 0 {
				return c, fmt.Errorf("merge %d %q has no separator", i, s)
			}
			c.merges = append(c.merges, [2]string{s[:k+1], s[k+2:]})
			continue
		}
		var p []string
		if err := json.Unmarshal(raw, &p); err != nil || len(p) != 2 {
			return c, fmt.Errorf("merge %d: want \"a b\" or [a, b], got %s", i, raw)
		}
		c.merges = append(c.merges, [2]string{p[0], p[1]})
	}
	c.ignoreMerges = h.Model.IgnoreMerges

	ids := make(map[string]int32, n)
	for i, s := range c.tokens {
		ids[s] = int32(i)
	}
	find := func(cands ...string) int32 {
		for _, s := range cands {
			if id, ok := ids[s]; ok && s != "" {
				return id
			}
		}
		return -1
	}
	bosText, eosText := tokenString(cfg.BOS), tokenString(cfg.EOS)
	c.bos = find(bosText, "<|begin_of_text|>", "<s>")
	c.eos = find(eosText, "<|end_of_text|>", "</s>", "<|endoftext|>")
	c.eot = find("<|eot_id|>")
	c.eom = find("<|eom_id|>")
	c.chatTemplate = templateString(cfg.ChatTemplate)

	pre := PreGPT2
	if bytes.Contains(h.PreTokenizer, []byte(`p{N}{1,3}`)) {
		pre = "llama3"
	} else if len(h.PreTokenizer) == 0 || string(h.PreTokenizer) == "null" {
		if isLlama3Vocab(ids, n) {
			pre = "llama3"
		}
	}
	c.pre = &pre
	switch {
	case cfg.AddBOS != nil:
		c.addBOS = cfg.AddBOS
	case c.bos >= 0 && bytes.Contains(h.PostProcessor, []byte("TemplateProcessing")) &&
		bytes.Contains(h.PostProcessor, []byte(fmt.Sprintf("%q", c.tokens[c.bos]))):
		t := true
		c.addBOS = &t
	}
	return c, nil
}
