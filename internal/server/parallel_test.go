package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
)

// TestParallelCompletions: on a server whose slots decode together,
// requests sent at the same time (greedy and seeded sampling, streamed
// and not, more of them than slots) get the texts that one-at-a-time
// requests get, and their tokens were decoded several at a time.
func TestParallelCompletions(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	type req struct {
		body   map[string]any
		stream bool
	}
	var reqs []req
	for i, prompt := range []string{"Once upon a time", "The little dog", "Tom and Sue", "One day, a bird", "The sun was", "Lily had a red ball"} {
		b := map[string]any{"prompt": prompt, "max_tokens": 30 + 10*i, "temperature": 0}
		if i%2 == 1 {
			b["temperature"], b["seed"] = 0.8, 10+i
		}
		reqs = append(reqs, req{b, i%3 == 2})
	}
	texts := func(ts string) ([]string, error) {
		out := make([]string, len(reqs))
		errs := make([]error, len(reqs))
		var wg sync.WaitGroup
		for i, r := range reqs {
			wg.Go(func() { out[i], errs[i] = completion(ts, r.body, r.stream) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	// One at a time: a server of one slot.
	want, err := texts(newServer(t, md, 1, DefaultParams).URL)
	if err != nil {
		t.Fatal(err)
	}
	_, ts, _ := newServerOptions(t, md, 4, Options{Defaults: DefaultParams, Parallel: true}, nil)
	got, err := texts(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	for i := range reqs {
		if got[i] != want[i] {
			t.Errorf("request %d %v:\nparallel %q\nalone    %q", i, reqs[i].body, got[i], want[i])
		}
	}
	st := md.batcher.Stats()
	t.Logf("batcher: %+v", st)
	if st.Max < 2 || st.Steps >= st.Rows {
		t.Errorf("batcher stats %+v: want steps of several rows", st)
	}
}

// completion posts a completion request (streamed or not) to the server at
// url and returns its text.
func completion(url string, body map[string]any, stream bool) (string, error) {
	b := map[string]any{"stream": stream}
	for k, v := range body {
		b[k] = v
	}
	j, _ := json.Marshal(b)
	resp, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(j))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d, %v: %s", resp.StatusCode, err, raw)
	}
	if !stream {
		var r response
		if err := json.Unmarshal(raw, &r); err != nil || len(r.Choices) != 1 {
			return "", fmt.Errorf("%v: %s", err, raw)
		}
		return r.Choices[0].Text, nil
	}
	var text string
	for _, line := range bytes.Split(raw, []byte("\n")) {
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok || string(data) == "[DONE]" {
			continue
		}
		var r response
		if err := json.Unmarshal(data, &r); err != nil {
			return "", fmt.Errorf("%v: %s", err, data)
		}
		for _, c := range r.Choices {
			text += c.Text
		}
	}
	return text, nil
}
