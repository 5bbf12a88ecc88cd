package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// bitnetTemplate is the chat template of microsoft/bitnet-b1.58-2B-4T.
const bitnetTemplate = `{% for message in messages %}{% set content = message['content'] %}{% if loop.first %}{% set content = bos_token + content %}{% endif %}{% if message['role'] == 'system' %}{{ 'System: ' + content | trim + '<|eot_id|>' }}{% elif message['role'] == 'user' %}{{ 'User: ' + content | trim + '<|eot_id|>' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + content | trim + '<|eot_id|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}`

const llama3Template = `{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}`

func TestRenderChatBitNet(t *testing.T) {
	tk := llama3(t).WithChatTemplate(bitnetTemplate)
	if tk.ChatFormat() != ChatBitNet {
		t.Fatalf("ChatFormat = %s", tk.ChatFormat())
	}
	msgs := []Message{
		{"system", "You are helpful. "},
		{"user", "\n How are you?"},
		{"assistant", "Fine."},
		{"user", "Good"},
	}
	got, err := tk.RenderChat(msgs, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "System: You are helpful.<|eot_id|>User: How are you?<|eot_id|>Assistant: Fine.<|eot_id|>User: Good<|eot_id|>Assistant: "
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got, _ := tk.RenderChat(msgs[1:2], false); got != "User: How are you?<|eot_id|>" {
		t.Errorf("no generation prompt: %q", got)
	}
	// The reference vector of bitnet-format.md, with one BOS from Encode.
	ids := llama3(t).Encode("User: How are you?<|eot_id|>Assistant: ", true, true)
	want2 := []int32{128000, 1502, 25, 2650, 527, 499, 30, 128009, 72803, 25, 220}
	if !slices.Equal(ids, want2) {
		t.Errorf("encoded %v, want %v", ids, want2)
	}
}

func TestRenderChatLlama3(t *testing.T) {
	tk := llama3(t).WithChatTemplate(llama3Template)
	if tk.ChatFormat() != ChatLlama3 {
		t.Fatalf("ChatFormat = %s", tk.ChatFormat())
	}
	got, err := tk.RenderChat([]Message{{"system", "Be brief."}, {"user", " Hi "}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestRenderChatLlama2(t *testing.T) {
	tk := llama2(t)
	got, err := tk.RenderChat([]Message{{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello!</s><s>[INST] Bye [/INST]"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if _, err := tk.RenderChat([]Message{{"tool", "x"}}, true); err == nil {
		t.Error("unknown role: no error")
	}
	got, _ = tk.RenderChat([]Message{{"system", "S"}}, true)
	if got != "[INST] <<SYS>>\nS\n<</SYS>>\n\n [/INST]" {
		t.Errorf("system only: %q", got)
	}
}

func TestRenderChatPlain(t *testing.T) {
	tk := loadVocab(t, "tinybitnet-stories")
	if tk.ChatFormat() != ChatPlain {
		t.Fatalf("ChatFormat = %s", tk.ChatFormat())
	}
	got, err := tk.RenderChat([]Message{{"user", "Tell me a story."}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got != "User: Tell me a story.\n\nAssistant:" {
		t.Errorf("got %q", got)
	}
}

func TestRenderChatErrors(t *testing.T) {
	tk := llama3(t)
	for _, m := range []Message{{"", "x"}, {"us\ner", "x"}, {"\xff", "x"}} {
		if _, err := tk.RenderChat([]Message{m}, true); err == nil {
			t.Errorf("role %q: no error", m.Role)
		}
	}
	if got, err := tk.RenderChat(nil, true); err != nil || got != "Assistant: " {
		t.Errorf("no messages: %q, %v", got, err)
	}
}

func FuzzRenderChat(f *testing.F) {
	f.Add("user", "Hello", "assistant", " Hi there ", true)
	f.Add("system", "", "user", "<|eot_id|>", false)
	f.Add("ünïcode", "日本\n", "x", "\xff", true)
	tks := []*Tokenizer{llama3(f), llama2(f), loadVocab(f, "stories260K")}
	f.Fuzz(func(t *testing.T, r1, c1, r2, c2 string, gen bool) {
		msgs := []Message{{r1, c1}, {r2, c2}}
		for _, tk := range tks {
			for _, tpl := range []string{tk.ChatTemplate(), llama3Template, bitnetTemplate} {
				c := tk.WithChatTemplate(tpl)
				s, err := c.RenderChat(msgs, gen)
				if err != nil {
					continue
				}
				if utf8.ValidString(c1) && utf8.ValidString(c2) && !utf8.ValidString(s) {
					t.Errorf("invalid UTF-8 output %q", s)
				}
				if c.ChatFormat() != ChatLlama2 && !strings.Contains(s, strings.TrimSpace(c2)) {
					t.Errorf("%s: content %q missing from %q", c.ChatFormat(), c2, s)
				}
				tk.Encode(s, true, true)
			}
		}
	})
}
