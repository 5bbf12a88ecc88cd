package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
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

// TestHealthSlots: /health counts the slots in use: one while a streamed
// completion is generating, none after it.
func TestHealthSlots(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	_, ts, _ := newServerOptions(t, md, 3, Options{Defaults: DefaultParams, Parallel: true}, nil)
	health := func() map[string]any {
		resp, err := http.Get(ts.URL + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	j, _ := json.Marshal(map[string]any{"prompt": "Once upon a time", "max_tokens": 200, "temperature": 0, "stream": true})
	resp, err := http.Post(ts.URL+"/v1/completions", "application/json", bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	// The first event is out: the request holds its slot until the last.
	if _, err := resp.Body.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	during := health()
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	after := health()
	if during["status"] != "ok" || during["slots_processing"] != 1.0 || during["slots_idle"] != 2.0 ||
		after["slots_processing"] != 0.0 || after["slots_idle"] != 3.0 {
		t.Errorf("/health while generating %v, after %v; want 1 slot of 3 processing, then none", during, after)
	}
}

// TestParallelDisconnect: a client that goes away while its request decodes
// together with others stops only its own generation: the others get the
// texts they get alone, and every slot is free afterwards.
func TestParallelDisconnect(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	prompts := []string{"Once upon a time", "The little dog", "Tom and Sue"}
	body := func(p string) map[string]any { return map[string]any{"prompt": p, "max_tokens": 120, "temperature": 0} }
	alone := newServer(t, md, 1, DefaultParams)
	var want []string
	for _, p := range prompts[1:] {
		text, err := completion(alone.URL, body(p), true)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, text)
	}
	_, ts, _ := newServerOptions(t, md, 3, Options{Defaults: DefaultParams, Parallel: true}, nil)
	// The first request's client reads a little of the stream and goes.
	ctx, cancel := context.WithCancel(context.Background())
	b := body(prompts[0])
	b["stream"] = true
	j, _ := json.Marshal(b)
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/completions", bytes.NewReader(j))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, p := range prompts[1:] {
		wg.Go(func() { got[i], errs[i] = completion(ts.URL, body(p), i == 0) })
	}
	if _, err := resp.Body.Read(make([]byte, 256)); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != want[i] {
			t.Errorf("request %q beside the one that went: %v\ngot  %q\nwant %q", prompts[i+1], errs[i], got[i], want[i])
		}
	}
	// The generation of the client that went ends at its next step.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(ts.URL + "/health")
		if err != nil {
			t.Fatal(err)
		}
		var h map[string]any
		err = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if err == nil && h["slots_idle"] == 3.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health %v: want every slot idle after the client went", h)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
