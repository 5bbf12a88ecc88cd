package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"bitnet/engine"
	"bitnet/engine/tokenizer"
)

// refLogprobs is what the engine reports for a greedy generation of n
// tokens from ids.
func (md *model) refLogprobs(t testing.TB, ids []int32, n, top int, bias map[int32]float32) []engine.TokenLogprobs {
	t.Helper()
	md.ref.Reset()
	var lps []engine.TokenLogprobs
	_, _, err := md.ref.Generate(ids, engine.GenerateOptions{MaxNewTokens: n, IsEOG: md.tok.IsEOG,
		TopLogprobs: top, LogitBias: bias, OnLogprobs: func(lp engine.TokenLogprobs) { lps = append(lps, lp) }})
	if err != nil {
		t.Fatal(err)
	}
	return lps
}

// lpResponse is a response's choices with their log probabilities.
type lpResponse struct {
	Choices []struct {
		Text    string `json:"text"`
		Message *struct {
			Content string `json:"content"`
		} `json:"message"`
		Delta *struct {
			Content *string `json:"content"`
		} `json:"delta"`
		Logprobs json.RawMessage `json:"logprobs"`
	} `json:"choices"`
}

type chatLP struct {
	Token       string  `json:"token"`
	Logprob     float64 `json:"logprob"`
	Bytes       []int   `json:"bytes"`
	TopLogprobs []struct {
		Token   string  `json:"token"`
		Logprob float64 `json:"logprob"`
		Bytes   []int   `json:"bytes"`
	} `json:"top_logprobs"`
}

type textLP struct {
	Tokens        []string          `json:"tokens"`
	TokenLogprobs []float64         `json:"token_logprobs"`
	TopLogprobs   []json.RawMessage `json:"top_logprobs"`
	TextOffset    []int             `json:"text_offset"`
}

type pair struct {
	token string
	lp    float64
}

// orderedPairs reads a JSON object of token: logprob in its order.
func orderedPairs(t testing.TB, raw json.RawMessage) []pair {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tk, err := dec.Token(); err != nil || tk != json.Delim('{') {
		t.Fatalf("top_logprobs entry %s is not an object", raw)
	}
	var out []pair
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v float64
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, pair{k.(string), v})
	}
	return out
}

func intBytes(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}

// postLP posts body, streamed or not, to a new server (whose cache is
// empty, so that it evaluates the prompt as the reference does: a prompt
// token evaluated alone differs from the same token in a batch in the last
// bits) and returns the text of each choice (or chunk) with its logprobs.
func postLP(t *testing.T, md *model, path string, body map[string]any, streamed bool) (texts []string, lps []json.RawMessage) {
	t.Helper()
	b := maps.Clone(body)
	b["stream"] = streamed
	code, _, raw := post(t, newServer(t, md, 1, DefaultParams), path, b)
	if code != 200 {
		t.Fatalf("status %d: %s", code, raw)
	}
	events := [][]byte{[]byte(raw)}
	if streamed {
		events = nil
		for _, line := range strings.Split(raw, "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
				events = append(events, []byte(d))
			}
		}
	}
	for _, ev := range events {
		var r lpResponse
		if err := json.Unmarshal(ev, &r); err != nil {
			t.Fatalf("%v: %s", err, ev)
		}
		if len(r.Choices) == 0 {
			continue
		}
		c := r.Choices[0]
		txt := c.Text
		switch {
		case c.Message != nil:
			txt = c.Message.Content
		case c.Delta != nil && c.Delta.Content != nil:
			txt = *c.Delta.Content
		}
		texts = append(texts, txt)
		lps = append(lps, c.Logprobs)
	}
	return texts, lps
}

// sameLogprob: the server's value is the engine's, through JSON.
func sameLogprob(got, want float64) bool { return got == want || math.Abs(got-want) <= 1e-12 }

func TestCompletionsLogprobs(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	prompt := "Once upon a time"
	ids := md.tok.Encode(prompt, md.tok.AddBOS(), true)
	const n, top = 16, 3
	ref := md.refLogprobs(t, ids, n, top, nil)
	body := map[string]any{"prompt": prompt, "max_tokens": n, "temperature": 0, "logprobs": top}
	var whole textLP
	for _, streamed := range []bool{false, true} {
		texts, raws := postLP(t, md, "/v1/completions", body, streamed)
		var all textLP
		for i, raw := range raws {
			var lp textLP
			if err := json.Unmarshal(raw, &lp); err != nil || lp.Tokens == nil || lp.TokenLogprobs == nil || lp.TopLogprobs == nil || lp.TextOffset == nil {
				t.Fatalf("stream %v, choice %d: logprobs %s, want OpenAI's object (%v)", streamed, i, raw, err)
			}
			if streamed && texts[i] != "" && strings.Join(lp.Tokens, "") != texts[i] {
				t.Errorf("chunk %d: text %q, its tokens %q", i, texts[i], lp.Tokens)
			}
			all.Tokens = append(all.Tokens, lp.Tokens...)
			all.TokenLogprobs = append(all.TokenLogprobs, lp.TokenLogprobs...)
			all.TopLogprobs = append(all.TopLogprobs, lp.TopLogprobs...)
			all.TextOffset = append(all.TextOffset, lp.TextOffset...)
		}
		if len(all.Tokens) != len(ref) || len(all.TokenLogprobs) != len(ref) || len(all.TopLogprobs) != len(ref) || len(all.TextOffset) != len(ref) {
			t.Fatalf("stream %v: %d tokens, %d logprobs, %d tops, %d offsets; the engine generated %d", streamed,
				len(all.Tokens), len(all.TokenLogprobs), len(all.TopLogprobs), len(all.TextOffset), len(ref))
		}
		if text := strings.Join(texts, ""); strings.Join(all.Tokens, "") != text {
			t.Errorf("stream %v: text %q, tokens %q", streamed, text, all.Tokens)
		}
		off := 0
		for i, r := range ref {
			if tok := md.tok.Piece(r.ID, tokenizer.RenderSpecial()); all.Tokens[i] != tok || !sameLogprob(all.TokenLogprobs[i], r.Logprob) {
				t.Errorf("stream %v, token %d: %q %v, engine %q %v", streamed, i, all.Tokens[i], all.TokenLogprobs[i], tok, r.Logprob)
			}
			if all.TextOffset[i] != off {
				t.Errorf("stream %v, token %d: text_offset %d, want %d", streamed, i, all.TextOffset[i], off)
			}
			off += len(all.Tokens[i])
			pairs := orderedPairs(t, all.TopLogprobs[i])
			if len(pairs) != top {
				t.Fatalf("token %d: %d alternatives, want %d: %s", i, len(pairs), top, all.TopLogprobs[i])
			}
			for k, p := range pairs {
				if k > 0 && p.lp > pairs[k-1].lp {
					t.Errorf("token %d: alternatives out of order: %s", i, all.TopLogprobs[i])
				}
				if w := r.Top[k]; p.token != md.tok.Piece(w.ID, tokenizer.RenderSpecial()) || !sameLogprob(p.lp, w.Logprob) {
					t.Errorf("token %d, alternative %d: %q %v, engine %d %v", i, k, p.token, p.lp, w.ID, w.Logprob)
				}
			}
			if pairs[0].token != all.Tokens[i] || pairs[0].lp != all.TokenLogprobs[i] {
				t.Errorf("token %d: greedy %q %v is not the best alternative %+v", i, all.Tokens[i], all.TokenLogprobs[i], pairs[0])
			}
		}
		if streamed && !slices.Equal(all.TokenLogprobs, whole.TokenLogprobs) {
			t.Errorf("streamed logprobs %v, whole %v", all.TokenLogprobs, whole.TokenLogprobs)
		}
		whole = all
	}
	// logprobs 0: the tokens' own values, no alternatives.
	_, raws := postLP(t, md, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 4, "temperature": 0, "logprobs": 0}, false)
	var lp textLP
	if err := json.Unmarshal(raws[0], &lp); err != nil || len(lp.TokenLogprobs) != 4 || len(lp.TopLogprobs) != 4 || string(lp.TopLogprobs[0]) != "{}" {
		t.Errorf("logprobs 0: %s (%v)", raws[0], err)
	}
	// Without logprobs: null.
	_, raws = postLP(t, md, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 4, "temperature": 0}, false)
	if string(raws[0]) != "null" {
		t.Errorf("no logprobs asked: %s", raws[0])
	}
}

func TestChatLogprobs(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	msgs := []tokenizer.Message{{Role: "user", Content: "Tell me about a cat."}}
	text, err := md.tok.RenderChat(msgs, true)
	if err != nil {
		t.Fatal(err)
	}
	const n, top = 12, 5
	ref := md.refLogprobs(t, md.tok.Encode(text, md.tok.AddBOS(), true), n, top, nil)
	body := map[string]any{"messages": []map[string]any{{"role": "user", "content": "Tell me about a cat."}},
		"max_tokens": n, "temperature": 0, "logprobs": true, "top_logprobs": top}
	var whole []chatLP
	for _, streamed := range []bool{false, true} {
		_, raws := postLP(t, md, "/v1/chat/completions", body, streamed)
		var all []chatLP
		for i, raw := range raws {
			if streamed && i == 0 {
				continue // the role
			}
			var lp struct {
				Content []chatLP `json:"content"`
			}
			if err := json.Unmarshal(raw, &lp); err != nil || lp.Content == nil {
				t.Fatalf("stream %v, choice %d: logprobs %s, want {\"content\": [...]} (%v)", streamed, i, raw, err)
			}
			all = append(all, lp.Content...)
		}
		// The reply may end at a stop string: its tokens are a prefix.
		if len(all) == 0 || len(all) > len(ref) {
			t.Fatalf("stream %v: %d tokens, the engine generated %d", streamed, len(all), len(ref))
		}
		for i, c := range all {
			r := ref[i]
			tok := md.tok.Piece(r.ID, tokenizer.RenderSpecial())
			if c.Token != strings.ToValidUTF8(tok, "\uFFFD") || !slices.Equal(c.Bytes, intBytes(tok)) || !sameLogprob(c.Logprob, r.Logprob) {
				t.Errorf("stream %v, token %d: %q %v %v, engine %q %v", streamed, i, c.Token, c.Bytes, c.Logprob, tok, r.Logprob)
			}
			if len(c.TopLogprobs) != top {
				t.Fatalf("token %d: %d alternatives, want %d", i, len(c.TopLogprobs), top)
			}
			for k, a := range c.TopLogprobs {
				w := r.Top[k]
				if k > 0 && a.Logprob > c.TopLogprobs[k-1].Logprob {
					t.Errorf("token %d: alternatives out of order", i)
				}
				wt := md.tok.Piece(w.ID, tokenizer.RenderSpecial())
				if !slices.Equal(a.Bytes, intBytes(wt)) || !sameLogprob(a.Logprob, w.Logprob) {
					t.Errorf("token %d, alternative %d: %q %v, engine %q %v", i, k, a.Token, a.Logprob, wt, w.Logprob)
				}
			}
		}
		if streamed && len(all) != len(whole) {
			t.Errorf("streamed %d tokens, whole %d", len(all), len(whole))
		}
		whole = all
	}
	// logprobs without top_logprobs: no alternatives.
	b := maps.Clone(body)
	delete(b, "top_logprobs")
	_, raws := postLP(t, md, "/v1/chat/completions", b, false)
	var lp struct {
		Content []chatLP `json:"content"`
	}
	if err := json.Unmarshal(raws[0], &lp); err != nil || len(lp.Content) == 0 || lp.Content[0].TopLogprobs == nil || len(lp.Content[0].TopLogprobs) != 0 {
		t.Errorf("logprobs without top_logprobs: %s (%v)", raws[0], err)
	}
}

// TestLogitBias: -100 on the greedy token gives the engine's next choice,
// +100 forces a token, and the logprobs are those of the biased logits.
func TestLogitBias(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	prompt := "Once upon a time"
	ids := md.tok.Encode(prompt, md.tok.AddBOS(), true)
	plain := md.refLogprobs(t, ids, 1, 2, nil)[0]
	first := func(path string, bias map[int32]float32) (string, float64) {
		t.Helper()
		body := map[string]any{"max_tokens": 1, "temperature": 0, "logit_bias": bias}
		if path == "/v1/completions" {
			body["prompt"], body["logprobs"] = prompt, 0
		} else {
			body["messages"], body["logprobs"] = []map[string]any{{"role": "user", "content": "Tell me about a cat."}}, true
		}
		_, raws := postLP(t, md, path, body, false)
		if path == "/v1/completions" {
			var lp textLP
			if err := json.Unmarshal(raws[0], &lp); err != nil || len(lp.Tokens) != 1 {
				t.Fatalf("%s: %s", path, raws[0])
			}
			return lp.Tokens[0], lp.TokenLogprobs[0]
		}
		var lp struct{ Content []chatLP }
		if err := json.Unmarshal(raws[0], &lp); err != nil || len(lp.Content) != 1 {
			t.Fatalf("%s: %s", path, raws[0])
		}
		return string(intToBytes(lp.Content[0].Bytes)), lp.Content[0].Logprob
	}
	piece := func(id int32) string { return md.tok.Piece(id, tokenizer.RenderSpecial()) }
	if got, _ := first("/v1/completions", nil); got != piece(plain.ID) {
		t.Fatalf("greedy %q, engine %q", got, piece(plain.ID))
	}
	banned := map[int32]float32{plain.ID: -100}
	want := md.refLogprobs(t, ids, 1, 0, banned)[0]
	if want.ID != plain.Top[1].ID {
		t.Fatalf("the engine under -100 chose %d, the next best is %d", want.ID, plain.Top[1].ID)
	}
	if got, lp := first("/v1/completions", banned); got != piece(want.ID) || !sameLogprob(lp, want.Logprob) {
		t.Errorf("-100 on %q: got %q %v, want %q %v", piece(plain.ID), got, lp, piece(want.ID), want.Logprob)
	}
	forced := int32(300)
	if forced == plain.ID {
		forced++
	}
	want = md.refLogprobs(t, ids, 1, 0, map[int32]float32{forced: 100})[0]
	if got, lp := first("/v1/completions", map[int32]float32{forced: 100}); got != piece(forced) || want.ID != forced || !sameLogprob(lp, want.Logprob) {
		t.Errorf("+100 on %q: got %q %v, engine %d %v", piece(forced), got, lp, want.ID, want.Logprob)
	}
	if got, _ := first("/v1/chat/completions", map[int32]float32{forced: 100}); got != piece(forced) {
		t.Errorf("chat, +100 on %q: got %q", piece(forced), got)
	}
	// Streamed, the bias holds for every token.
	texts, _ := postLP(t, md, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 3, "temperature": 0,
		"logit_bias": map[string]float64{fmt.Sprint(forced): 100}}, true)
	if got := strings.Join(texts, ""); got != strings.Repeat(piece(forced), 3) {
		t.Errorf("streamed with +100 on %q: %q", piece(forced), got)
	}
}

func intToBytes(v []int) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}
