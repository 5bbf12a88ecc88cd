package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// Chat formats, as reported by ChatFormat.
const (
	ChatBitNet = "bitnet" // Role: content<|eot_id|> ... Assistant:
	ChatLlama3 = "llama3" // <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>
	ChatLlama2 = "llama2" // [INST] ... [/INST]
	ChatPlain  = "plain"  // Role: content, one per paragraph
)

// ChatFormat returns the prompt format RenderChat uses, chosen from the chat
// template and the vocabulary.
func (t *Tokenizer) ChatFormat() string {
	tpl := t.chatTemplate
	_, hasEOT := t.ids["<|eot_id|>"]
	switch {
	case strings.Contains(tpl, "<|start_header_id|>"):
		return ChatLlama3
	case strings.Contains(tpl, "Assistant: ") && hasEOT:
		return ChatBitNet
	case strings.Contains(tpl, "[INST]"):
		return ChatLlama2
	case tpl == "" && hasEOT:
		return ChatBitNet
	case tpl == "" && t.model == SPM && len(t.tokens) >= 32000:
		return ChatLlama2
	}
	return ChatPlain
}

// capitalize upper-cases the first letter of a role name.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// RenderChat renders messages as prompt text in the model's chat format (see
// ChatFormat). The BOS token is not part of the text: Encode adds it. Encode
// the result with special-token parsing on. With addGenerationPrompt the
// text ends with the start of an assistant turn.
//
// The bitnet-b1.58 format is, per message, "Role: content<|eot_id|>" with the
// role capitalized and the content trimmed, and "Assistant: " as the
// generation prompt.
func (t *Tokenizer) RenderChat(msgs []Message, addGenerationPrompt bool) (string, error) {
	for i, m := range msgs {
		if m.Role == "" {
			return "", fmt.Errorf("tokenizer: chat message %d has no role", i)
		}
		if !utf8.ValidString(m.Role) || strings.ContainsAny(m.Role, "\r\n") {
			return "", fmt.Errorf("tokenizer: chat message %d has an invalid role %q", i, m.Role)
		}
	}
	var b strings.Builder
	switch t.ChatFormat() {
	case ChatLlama3:
		for _, m := range msgs {
			fmt.Fprintf(&b, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>", m.Role, strings.TrimSpace(m.Content))
		}
		if addGenerationPrompt {
			b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		}
	case ChatBitNet:
		for _, m := range msgs {
			fmt.Fprintf(&b, "%s: %s<|eot_id|>", capitalize(m.Role), strings.TrimSpace(m.Content))
		}
		if addGenerationPrompt {
			b.WriteString("Assistant: ")
		}
	case ChatLlama2:
		return t.renderLlama2(msgs, addGenerationPrompt)
	default:
		for _, m := range msgs {
			fmt.Fprintf(&b, "%s: %s\n\n", capitalize(m.Role), strings.TrimSpace(m.Content))
		}
		if addGenerationPrompt {
			b.WriteString("Assistant:")
		}
	}
	return b.String(), nil
}

// renderLlama2 renders the llama2 chat format:
// [INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] assistant</s><s>[INST] user [/INST]
// The first <s> is left to Encode.
func (t *Tokenizer) renderLlama2(msgs []Message, addGenerationPrompt bool) (string, error) {
	var b strings.Builder
	bos, eos := t.Token(t.bos), t.Token(t.eos)
	system := ""
	open := false // inside [INST] ... waiting for [/INST]
	started := false
	for _, m := range msgs {
		content := strings.TrimSpace(m.Content)
		switch m.Role {
		case "system":
			system = content
		case "user":
			if open {
				b.WriteString(" [/INST]")
			}
			if started {
				b.WriteString(bos)
			}
			b.WriteString("[INST] ")
			if system != "" {
				fmt.Fprintf(&b, "<<SYS>>\n%s\n<</SYS>>\n\n", system)
				system = ""
			}
			b.WriteString(content)
			open, started = true, true
		case "assistant":
			if open {
				b.WriteString(" [/INST]")
				open = false
			}
			fmt.Fprintf(&b, " %s%s", content, eos)
			started = true
		default:
			return "", fmt.Errorf("tokenizer: the llama2 chat format has no role %q", m.Role)
		}
	}
	if system != "" { // a system message with no user turn after it
		if started {
			b.WriteString(bos)
		}
		fmt.Fprintf(&b, "[INST] <<SYS>>\n%s\n<</SYS>>\n\n", system)
		open = true
	}
	if open {
		b.WriteString(" [/INST]")
	}
	_ = addGenerationPrompt // the model answers after [/INST]
	return b.String(), nil
}
