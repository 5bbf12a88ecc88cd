package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"bitnet/internal/testdata"
)

// startServe runs bitnet serve on a free loopback port and returns its URL
// and a function that stops it (as SIGINT does) and returns the exit status
// and stderr.
func startServe(t *testing.T, args ...string) (string, func() (int, string)) {
	t.Helper()
	return startServeSignals(t, make(chan os.Signal, 1), args...)
}

// startServeSignals is startServe with the channel the server's signals
// come from.
func startServeSignals(t *testing.T, sigc chan os.Signal, args ...string) (string, func() (int, string)) {
	t.Helper()
	oldSignals, oldListen := serveSignals, serveListening
	addrc := make(chan string, 1)
	serveSignals = func() (<-chan os.Signal, func()) { return sigc, func() {} }
	serveListening = func(addr string) { addrc <- addr }
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(append([]string{"serve", "--host", "127.0.0.1", "--port", "0"}, args...), io.Discard, &errb)
	}()
	stop := func() (int, string) {
		sigc <- os.Interrupt
		code := <-done
		serveSignals, serveListening = oldSignals, oldListen
		return code, errb.String()
	}
	select {
	case addr := <-addrc:
		return "http://" + addr, stop
	case code := <-done:
		serveSignals, serveListening = oldSignals, oldListen
		t.Fatalf("serve exited with %d: %s", code, errb.String())
	}
	return "", nil
}

type syncBuffer = testdata.SyncBuffer

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
		if code != 2 || !strings.Contains(errs, c[0]+" ") || !strings.Contains(errs, "must be") && !strings.Contains(errs, "want a finite number") {
			t.Errorf("%s %s: exit %d, %s; want 2 and an error naming the flag", c[0], c[1], code, errs)
		}
	}
	if _, errs, code := bitnet(t, "serve", "--model", "/nonexistent.gguf", "--port", "0"); code != 1 || !strings.Contains(errs, "nonexistent") {
		t.Errorf("missing model: exit %d: %s", code, errs)
	}
}

// TestServeShutdownStopsGeneration: a signal stops a running streamed
// generation at its next token: the stream ends with an error event, and the
// server exits once the handler has returned.
func TestServeShutdownStopsGeneration(t *testing.T) {
	url, stop := startServe(t, "--model", storiesModel(t), "--backend", "cpu", "--ctx-size", "4096")
	// 4000 tokens take seconds; the signal follows the first.
	body := `{"prompt": "Once upon a time", "max_tokens": 4000, "temperature": 0, "stream": true}`
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var events []string
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, data)
			break
		}
	}
	type result struct {
		code int
		log  string
	}
	stopped := make(chan result, 1)
	go func() {
		code, log := stop()
		stopped <- result{code, log}
	}()
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, data)
		}
	}
	res := <-stopped
	if res.code != 0 {
		t.Fatalf("serve exited with %d: %s", res.code, res.log)
	}
	n := len(events)
	if n < 3 || events[n-1] != "[DONE]" || !strings.Contains(events[n-2], "the server is shutting down") {
		t.Fatalf("the stream ends with %q; want an error event and [DONE]", events[max(0, n-3):])
	}
	if n > 1000 {
		t.Errorf("%d events: the generation was not stopped", n)
	}
	i := strings.Index(res.log, "shutting down")
	j := strings.Index(res.log, "finish=shutdown")
	k := strings.Index(res.log, "server stopped")
	if i < 0 || j < i || k < j {
		t.Errorf("want the log to say shutting down, then finish=shutdown, then server stopped:\n%s", res.log)
	}
}

// TestServeSecondSignalExits: a second signal while the server shuts down
// ends the process at once with status 130.
func TestServeSecondSignalExits(t *testing.T) {
	sigc := make(chan os.Signal, 1)
	exitc := make(chan int, 1)
	oldExit, oldStopping := serveExit, serveStopping
	t.Cleanup(func() { serveExit, serveStopping = oldExit, oldStopping })
	serveExit = func(code int) { exitc <- code }
	var exited int
	serveStopping = func() {
		sigc <- os.Interrupt
		exited = <-exitc
	}
	_, stop := startServeSignals(t, sigc, "--model", storiesModel(t), "--backend", "cpu")
	_, log := stop()
	if exited != 130 || !strings.Contains(log, "second signal: exiting now") {
		t.Errorf("exit status %d, want 130 and the log to say so:\n%s", exited, log)
	}
}

// TestServePortInUse: serve binds its port before it loads the model, so a
// port in use is reported at once (here the model does not even exist).
func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_, errs, code := bitnet(t, "serve", "--model", "/nonexistent.gguf", "--host", "127.0.0.1", "--port", port)
	want := "cannot listen on 127.0.0.1:" + port + ": the address is already in use"
	if code != 1 || !strings.Contains(errs, want) || strings.Contains(errs, "nonexistent") {
		t.Errorf("exit %d: %s\nwant 1 and %q", code, errs, want)
	}
}

// TestServeAPIKey: --api-key, or $BITNET_API_KEY without it, makes requests
// but /health need "Authorization: Bearer KEY".
func TestServeAPIKey(t *testing.T) {
	model := storiesModel(t)
	status := func(url, path, key string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		env  string
		args []string
		key  string // the key in force; "": none
	}{
		{"", []string{"--api-key", "flag-key"}, "flag-key"},
		{"env-key", nil, "env-key"},
		{"env-key", []string{"--api-key", "flag-key"}, "flag-key"},
		{"env-key", []string{"--api-key", ""}, ""},
		{"", nil, ""},
	} {
		t.Setenv("BITNET_API_KEY", c.env)
		url, stop := startServe(t, append([]string{"--model", model, "--backend", "cpu"}, c.args...)...)
		got := []int{status(url, "/v1/models", ""), status(url, "/v1/models", "wrong"), status(url, "/v1/models", c.key), status(url, "/health", "")}
		want := []int{401, 401, 200, 200}
		if c.key == "" {
			want = []int{200, 200, 200, 200}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("BITNET_API_KEY=%q %q: /v1/models without, with a wrong and with the key, /health: %v, want %v", c.env, c.args, got, want)
		}
		if code, errs := stop(); code != 0 || strings.Contains(errs, c.key) && c.key != "" {
			t.Errorf("exit %d; the log must not show the key:\n%s", code, errs)
		}
	}
}
