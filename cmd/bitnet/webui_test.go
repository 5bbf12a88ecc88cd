package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"bitnet/engine/tokenizer"
	"bitnet/gguf"
	"bitnet/internal/testdata"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the chat page's screenshot to docs/webui.png")

// TestServeNoWebUI: / is the chat page, or 404 with --no-webui.
func TestServeNoWebUI(t *testing.T) {
	model := storiesModel(t)
	for _, c := range []struct {
		args   []string
		status int
		want   string
	}{{nil, 200, "<title>bitnet</title>"}, {[]string{"--no-webui"}, 404, "no endpoint GET /"}} {
		u, stop := startServe(t, append([]string{"--model", model, "--backend", "cpu"}, c.args...)...)
		resp, err := http.Get(u + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.want) {
			t.Errorf("%v: GET /: %d %.200s; want %d and %q", c.args, resp.StatusCode, b, c.status, c.want)
		}
		if code, log := stop(); code != 0 {
			t.Fatalf("exit %d: %s", code, log)
		}
	}
}

// browser is a headless Chromium tab; dialogs counts the JavaScript dialogs
// (alert) that pages opened: model text must never run.
type browser struct {
	ctx     context.Context
	mu      sync.Mutex
	dialogs []string
}

func (b *browser) dialogCount() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// newBrowser starts headless Chromium, skipping with -short (the browser
// tests take seconds) or, outside CI, when it is not installed.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: -short skips it")
	}
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		testdata.SkipUnlessCI(t, "chromium is not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Headless, chromedp.WindowSize(960, 640))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			b.mu.Lock()
			b.dialogs = append(b.dialogs, e.Message)
			b.mu.Unlock()
			go chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{})
		}
	}))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first run starts the browser, for the context's lifetime.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTime)
	b.ctx = ctx
	return b
}

func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// poll waits (generously) until the JavaScript expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return into(chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(60*time.Second)), nil)
}

// into is the action a storing its value in *dst (nil: dropping it).
func into[T any](a chromedp.Action[T], dst *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		if dst != nil {
			*dst = v
		}
		return chromedp.Void{}, err
	}
}

// eval evaluates the JavaScript expression into *dst.
func eval[T any](expr string, dst *T) chromedp.Action[chromedp.Void] {
	return into(chromedp.Evaluate[T](expr), dst)
}

// media emulates the prefers-color-scheme of the system.
func media(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}

// lastReply is the text of the last assistant message.
const lastReply = `document.querySelector('#log .msg.assistant:last-child .text').textContent`

// sendMessage types text into the message box and sends it with Enter,
// recording in window.lengths every length the reply's text takes.
func sendMessage(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(chromedp.ID("input"), text),
		into(chromedp.Evaluate[bool](`window.lengths = [];
			new MutationObserver(() => {
				const t = document.querySelector('#log .msg.assistant:last-child .text');
				if (t) window.lengths.push(t.textContent.length);
			}).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true}); true`), nil),
		chromedp.Focus(chromedp.ID("input")),
		chromedp.KeyEvent(kb.Enter),
	)
}

// TestWebUIChat: the page shows the model and backend, Shift+Enter makes a
// new line and Enter sends, the reply streams in piece by piece and is the
// server's, the user's HTML-like text shows literally, and after the reply
// come the tokens/s, model, backend and device. It follows the system's
// dark preference.
func TestWebUIChat(t *testing.T) {
	b := newBrowser(t)
	u, stop := startServe(t, "--model", storiesModel(t), "--backend", "cpu")
	defer stop()
	b.run(t, "load the page", chromedp.Navigate(u+"/"),
		poll(`document.getElementById('model').textContent.startsWith('tinybitnet-stories · cpu · ')`))

	// Shift+Enter: a new line, nothing sent.
	var value string
	var nmsg int
	b.run(t, "Shift+Enter", chromedp.SendKeys(chromedp.ID("input"), "one"),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(kb.ModifierShift)),
		chromedp.SendKeys(chromedp.ID("input"), "two"),
		into(chromedp.Value(chromedp.ID("input")), &value),
		eval(`document.querySelectorAll('#log .msg').length`, &nmsg))
	if value != "one\ntwo" || nmsg != 0 {
		t.Fatalf("after one, Shift+Enter, two: the box holds %q and %d messages were sent; want \"one\\ntwo\" and none", value, nmsg)
	}

	const userText = `<img src=x onerror=alert(1)> <b>Tell</b> me & a story`
	var reply, shown, stats string
	var lengths []int
	var elements int
	b.run(t, "chat", chromedp.SetValue(chromedp.ID("temperature"), "0"), chromedp.SetValue(chromedp.ID("max-tokens"), "48"),
		sendMessage(userText),
		poll(`document.querySelector('#log .msg.assistant:last-child')?.dataset.state === 'done'`),
		eval(lastReply, &reply),
		eval(`document.querySelector('#log .msg.user .text').textContent`, &shown),
		eval(`document.querySelector('#log .msg.assistant:last-child .stats').textContent`, &stats),
		eval(`window.lengths`, &lengths),
		eval(`document.querySelectorAll('#log img, #log b, #log script').length`, &elements))
	if shown != userText || elements != 0 {
		t.Errorf("the user's message shows as %q with %d HTML elements; want it literally", shown, elements)
	}
	// The same request through the API gives the same text.
	body, _ := json.Marshal(map[string]any{"messages": []map[string]string{{"role": "user", "content": userText}},
		"temperature": 0, "max_tokens": 48})
	resp, err := http.Post(u+"/v1/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Choices []struct{ Message struct{ Content string } }
		Usage   struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if err != nil || len(r.Choices) != 1 || r.Choices[0].Message.Content == "" {
		t.Fatalf("the API's reply: %v %+v", err, r)
	}
	if reply != r.Choices[0].Message.Content {
		t.Errorf("the page shows %q; the API replies %q", reply, r.Choices[0].Message.Content)
	}
	// It showed in pieces as they came (the tiny model's 48 tokens come too
	// fast for one event per read: TestWebUIStop sees a longer reply grow).
	if n := len(lengths); n < 2 || lengths[n-1] != len([]rune(reply)) || lengths[0] >= lengths[n-1] {
		t.Errorf("the reply's text took the lengths %v; want it to grow to %d", lengths, len([]rune(reply)))
	}
	statsRe := regexp.MustCompile(`^(\d+) tokens · \d+\.\d tokens/s · tinybitnet-stories · cpu \(\d+ threads?, .+\)( · max tokens reached)?$`)
	if m := statsRe.FindStringSubmatch(stats); m == nil || m[1] != fmt.Sprint(r.Usage.CompletionTokens) {
		t.Errorf("stats %q; want %d tokens, tokens/s, the model, backend and device", stats, r.Usage.CompletionTokens)
	}

	// The screenshot of the README.
	var shot []byte
	b.run(t, "screenshot", chromedp.SetValue(chromedp.ID("system"), "You are a storyteller."),
		into(chromedp.CaptureScreenshot(), &shot))
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() != 960 || img.Bounds().Dy() < 400 {
		t.Fatalf("screenshot: %v %v", err, img.Bounds())
	}
	if *updateScreenshot {
		p := filepath.Join(testdata.RepoRoot(t), "docs", "webui.png")
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The system's light or dark preference.
	var light, dark string
	b.run(t, "color scheme",
		media("light"),
		eval(`getComputedStyle(document.body).backgroundColor`, &light),
		media("dark"),
		eval(`getComputedStyle(document.body).backgroundColor`, &dark))
	if light != "rgb(255, 255, 255)" || dark != "rgb(22, 22, 27)" {
		t.Errorf("background: light %q, dark %q", light, dark)
	}

	// New chat empties the conversation.
	b.run(t, "new chat", chromedp.Click(chromedp.ID("new")), eval(`document.querySelectorAll('#log .msg').length`, &nmsg))
	if nmsg != 0 {
		t.Errorf("%d messages after New chat", nmsg)
	}
	if d := b.dialogCount(); len(d) > 0 {
		t.Errorf("the page opened dialogs: %q", d)
	}
}

// TestWebUIStop: Stop during a long reply aborts the request; the server
// logs the disconnect and stops generating.
func TestWebUIStop(t *testing.T) {
	b := newBrowser(t)
	// The scalar oracle backend: a few thousand tokens take seconds.
	u, stop := startServe(t, "--model", storiesModel(t), "--backend", "cpu", "--reference", "--ctx-size", "4096")
	var text, state, stats string
	var sendDisabled, stopDisabled bool
	var lengths []int
	// The reply must still be running when Stop is pressed: the story model
	// would end its story (a few hundred tokens, a fraction of a second),
	// so the page's requests are sent with the end-of-generation tokens
	// banned (a logit bias the page itself never sets), and 4000 tokens
	// take seconds. Stop is pressed as soon as the reply has 240 characters
	// (in the page, without a round trip to the test): enough pieces to
	// see it grow even where a loaded machine delivers several tokens in
	// one read (60 characters took only 7 lengths once).
	f, err := gguf.Open(storiesModel(t))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromGGUF(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	bias := map[string]int{strconv.Itoa(int(tok.BOS())): -100}
	for _, id := range tok.EOG() {
		bias[strconv.Itoa(int(id))] = -100
	}
	biasJSON, _ := json.Marshal(bias)
	var wrapped bool
	banEOG := eval(`(() => { const f = window.fetch; window.fetch = (url, o) => {
		if (o && o.body) { const r = JSON.parse(o.body); r.logit_bias = `+string(biasJSON)+`; o = Object.assign({}, o, {body: JSON.stringify(r)}); }
		return f(url, o); }; return true; })()`, &wrapped)
	b.run(t, "stop", chromedp.Navigate(u+"/"), poll(`document.getElementById('model').textContent !== 'connecting…'`),
		banEOG,
		chromedp.SetValue(chromedp.ID("temperature"), "0"), chromedp.SetValue(chromedp.ID("max-tokens"), "4000"),
		sendMessage("Tell me a long story"),
		poll(`(() => { if (`+lastReply+`.length <= 240) return false; document.getElementById('stop').click(); return true; })()`),
		poll(`document.querySelector('#log .msg.assistant:last-child').dataset.state === 'stopped'`),
		eval(lastReply, &text),
		eval(`window.lengths`, &lengths),
		eval(`document.querySelector('#log .msg.assistant:last-child').dataset.state`, &state),
		eval(`document.querySelector('#log .msg.assistant:last-child .stats').textContent`, &stats),
		eval(`document.getElementById('send').disabled`, &sendDisabled),
		eval(`document.getElementById('stop').disabled`, &stopDisabled))
	code, log := stop()
	if code != 0 {
		t.Fatalf("serve exited with %d: %s", code, log)
	}
	if !strings.Contains(stats, "stopped after") || sendDisabled || !stopDisabled {
		t.Errorf("after Stop: state %q, stats %q, Send disabled %v, Stop disabled %v", state, stats, sendDisabled, stopDisabled)
	}
	// Streamed: the text grew through many lengths, token by token.
	grew := 0
	for i := 1; i < len(lengths); i++ {
		if lengths[i] > lengths[i-1] {
			grew++
		}
	}
	if grew < 10 {
		t.Errorf("the reply's text took the lengths %v; want it to grow piece by piece", lengths)
	}
	m := regexp.MustCompile(`msg=generation .* tokens=(\d+) .*finish=(\w+)`).FindStringSubmatch(log)
	if m == nil || m[2] != "disconnect" {
		t.Fatalf("want the generation logged with finish=disconnect:\n%s", log)
	}
	if n := len(text); m[1] == "4000" || n == 0 {
		t.Errorf("the generation ran %s tokens (the page shows %d bytes); want it stopped early", m[1], n)
	}
}

// TestWebUIRendersRepliesAsText: a reply holding HTML shows literally and
// runs nothing; the system prompt, temperature and max tokens are sent.
func TestWebUIRendersRepliesAsText(t *testing.T) {
	b := newBrowser(t)
	u, stop := startServe(t, "--model", storiesModel(t), "--backend", "cpu")
	defer stop()
	target, _ := url.Parse(u)
	proxy := httputil.NewSingleHostReverseProxy(target)
	pieces := []string{"<img src=x ", "onerror=alert(1)>", " <script>alert(2)</script>", " &amp; <b>bold</b>"}
	reqs := make(chan map[string]any, 1)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			proxy.ServeHTTP(w, r)
			return
		}
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		reqs <- req
		w.Header().Set("Content-Type", "text/event-stream")
		for _, p := range pieces {
			c, _ := json.Marshal(map[string]any{"model": "fake", "choices": []any{map[string]any{"delta": map[string]string{"content": p}}}})
			fmt.Fprintf(w, "data: %s\n\n", c)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, `data: {"model":"fake","choices":[{"delta":{},"finish_reason":"stop"}],"timings":{"predicted_n":4,"predicted_per_second":12.5}}`+"\n\ndata: [DONE]\n\n")
	}))
	defer fake.Close()

	var reply, stats string
	var elements int
	b.run(t, "chat", chromedp.Navigate(fake.URL+"/"), poll(`document.getElementById('model').textContent.startsWith('tinybitnet-stories')`),
		chromedp.SetValue(chromedp.ID("system"), "<i>sys</i>"),
		chromedp.SetValue(chromedp.ID("temperature"), "0.5"), chromedp.SetValue(chromedp.ID("max-tokens"), "7"),
		sendMessage("hi"),
		poll(`document.querySelector('#log .msg.assistant:last-child')?.dataset.state === 'done'`),
		eval(lastReply, &reply),
		eval(`document.querySelector('#log .msg.assistant:last-child .stats').textContent`, &stats),
		eval(`document.querySelectorAll('#log img, #log script, #log b').length`, &elements))
	if want := strings.Join(pieces, ""); reply != want || elements != 0 {
		t.Errorf("the reply shows as %q with %d HTML elements; want %q literally", reply, elements, want)
	}
	if !strings.HasPrefix(stats, "4 tokens · 12.5 tokens/s · fake · cpu (") {
		t.Errorf("stats %q", stats)
	}
	got, _ := json.Marshal(<-reqs)
	if want := `{"max_tokens":7,"messages":[{"content":"\u003ci\u003esys\u003c/i\u003e","role":"system"},{"content":"hi","role":"user"}],"stream":true,"temperature":0.5}`; string(got) != want {
		t.Errorf("request %s\nwant %s", got, want)
	}
	if d := b.dialogCount(); len(d) > 0 {
		t.Errorf("the page opened dialogs: %q", d)
	}
}

// TestWebUIAPIKey: with --api-key the page asks for the key, keeps it for
// the session (a reload does not ask again) and sends it as a bearer token.
func TestWebUIAPIKey(t *testing.T) {
	b := newBrowser(t)
	u, stop := startServe(t, "--model", storiesModel(t), "--backend", "cpu", "--api-key", "s3cret")
	defer stop()
	var stored, reply string
	var formHidden bool
	b.run(t, "key", chromedp.Navigate(u+"/"), chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), "s3cret"), chromedp.Click(chromedp.CSS("#key-form button")),
		poll(`document.getElementById('model').textContent.startsWith('tinybitnet-stories')`),
		chromedp.Reload(),
		poll(`document.getElementById('model').textContent.startsWith('tinybitnet-stories')`),
		eval(`document.getElementById('key-form').hidden`, &formHidden),
		eval(`sessionStorage.getItem('bitnet-api-key')`, &stored),
		chromedp.SetValue(chromedp.ID("max-tokens"), "8"),
		sendMessage("Hello"),
		poll(`document.querySelector('#log .msg.assistant:last-child')?.dataset.state === 'done'`),
		eval(lastReply, &reply))
	if stored != "s3cret" || !formHidden || reply == "" {
		t.Errorf("stored key %q, key form hidden after reload %v, reply %q", stored, formHidden, reply)
	}
}
