package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServe runs bitnet serve on a free loopback port and returns its URL
// and a function that stops it and returns the exit status and stderr.
func startServe(t *testing.T, args ...string) (string, func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	oldCtx, oldListen := serveContext, serveListening
	addrc := make(chan string, 1)
	serveContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	serveListening = func(addr string) { addrc <- addr }
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(append([]string{"serve", "--host", "127.0.0.1", "--port", "0"}, args...), io.Discard, &errb)
	}()
	stop := func() (int, string) {
		cancel()
		code := <-done
		serveContext, serveListening = oldCtx, oldListen
		return code, errb.String()
	}
	select {
	case addr := <-addrc:
		return "http://" + addr, stop
	case code := <-done:
		serveContext, serveListening = oldCtx, oldListen
		t.Fatalf("serve exited with %d: %s", code, errb.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start listening")
	}
	return "", nil
}

func TestServeMatchesRun(t *testing.T) {
	model := storiesModel(t)
	url, stop := startServe(t, "--model", model, "--backend", "cpu", "--parallel", "2")
	for _, prompt := range []string{"Once upon a time", "The dog ran"} {
		want, errs, code := bitnet(t, "run", "--model", model, "--backend", "cpu", "--prompt", prompt, "--temperature", "0", "--max-new-tokens", "40")
		if code != 0 {
			t.Fatalf("run: exit %d: %s", code, errs)
		}
		body, _ := json.Marshal(map[string]any{"prompt": prompt, "max_tokens": 40, "temperature": 0})
		resp, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Choices []struct {
				Text string `json:"text"`
			} `json:"choices"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || len(r.Choices) != 1 {
			t.Fatalf("response: %v %+v", err, r)
		}
		if r.Choices[0].Text+"\n" != want {
			t.Errorf("%q: server %q, run %q", prompt, r.Choices[0].Text, want)
		}
	}
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"id":"tinybitnet-stories"`) {
		t.Errorf("/v1/models: %s", b)
	}
	code, errs := stop()
	if code != 0 {
		t.Fatalf("serve exited with %d: %s", code, errs)
	}
	for _, want := range []string{"listening", "path=/v1/completions status=200", "server stopped"} {
		if !strings.Contains(errs, want) {
			t.Errorf("log lacks %q:\n%s", want, errs)
		}
	}
}

func TestServeFlagErrors(t *testing.T) {
	model := storiesModel(t)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"serve"}, "--model is required"},
		{[]string{"serve", "--model", model, "--parallel", "0"}, "--parallel"},
		{[]string{"serve", "--model", model, "--port", "70000"}, "--port"},
		{[]string{"serve", "--model", model, "--temperature", "-2"}, "--temperature"},
		{[]string{"serve", "--model", model, "stray"}, "stray"},
	} {
		_, errs, code := bitnet(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, %s; want 2 and %q", c.args, code, errs, c.msg)
		}
	}
	// Defaults of requests that the sampler cannot use are refused before
	// the model is loaded.
	for _, c := range [][2]string{{"--temperature", "NaN"}, {"--temperature", "+Inf"}, {"--temperature", "1e-40"},
		{"--top-p", "NaN"}, {"--min-p", "NaN"}, {"--repeat-penalty", "Inf"}, {"--repeat-penalty", "NaN"}} {
		_, errs, code := bitnet(t, "serve", "--model", "/nonexistent.gguf", "--port", "0", c[0], c[1])
		if code != 2 || !strings.Contains(errs, c[0]+" ") || !strings.Contains(errs, "must be") {
			t.Errorf("%s %s: exit %d, %s; want 2 and an error naming the flag", c[0], c[1], code, errs)
		}
	}
	if _, errs, code := bitnet(t, "serve", "--model", "/nonexistent.gguf", "--port", "0"); code != 1 || !strings.Contains(errs, "nonexistent") {
		t.Errorf("missing model: exit %d: %s", code, errs)
	}
}
