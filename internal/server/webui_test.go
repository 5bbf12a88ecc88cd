package server

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestWebUI: with Options.WebUI, GET / is the chat page, with a strict
// Content-Security-Policy and without the API key; without it / is 404.
func TestWebUI(t *testing.T) {
	md := loadModel(t, storiesPath(t))
	get := func(url, auth string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}

	_, ts, _ := newServerOptions(t, md, 1, Options{Defaults: DefaultParams, WebUI: true, APIKey: "k",
		Backend: "cpu", Device: "test device", LMHead: "q8_0"}, nil)
	resp, body := get(ts.URL+"/", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(body, `<textarea id="input"`) {
		t.Fatalf("GET /: %d %q %.100q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !regexp.MustCompile(`^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]{43}='; style-src 'unsafe-inline'; connect-src 'self';`).MatchString(csp) {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	// Only / is the page, and nothing else gets past the key.
	for _, c := range []struct {
		path, auth string
		status     int
	}{{"/index.html", "", 401}, {"/x", "Bearer k", 404}, {"/v1/models", "", 401}} {
		if resp, body := get(ts.URL+c.path, c.auth); resp.StatusCode != c.status {
			t.Errorf("GET %s: %d %s, want %d", c.path, resp.StatusCode, body, c.status)
		}
	}
	if resp, err := http.Post(ts.URL+"/", "text/plain", nil); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST /: %v %v, want 405", resp.StatusCode, err)
	}
	// /v1/models tells the page the backend and device.
	resp, body = get(ts.URL+"/v1/models", "Bearer k")
	var m struct {
		Data []struct {
			ID   string
			Meta struct {
				Backend, Device string
				LMHead          string `json:"lm_head"`
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || len(m.Data) != 1 || m.Data[0].ID != "tiny" ||
		m.Data[0].Meta.Backend != "cpu" || m.Data[0].Meta.Device != "test device" || m.Data[0].Meta.LMHead != "q8_0" {
		t.Errorf("/v1/models: %v %s", err, body)
	}

	_, ts, _ = newServerOptions(t, md, 1, Options{Defaults: DefaultParams}, nil)
	if resp, body := get(ts.URL+"/", ""); resp.StatusCode != 404 || !strings.Contains(body, "no endpoint GET /") {
		t.Errorf("GET / without WebUI: %d %s, want 404", resp.StatusCode, body)
	}
}

// TestWebUIPageSelfContained: the page loads nothing from elsewhere and
// never hands text to the HTML parser.
func TestWebUIPageSelfContained(t *testing.T) {
	s := string(page)
	for _, bad := range []string{"http://", "https://", "//cdn", "@import", "url(", "<link", "src=", "innerHTML", "outerHTML",
		"insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(s, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if strings.Count(s, "<script>") != 1 || strings.Count(s, "</script>") != 1 {
		t.Errorf("want one inline script (its hash is in the CSP)")
	}
	if n := strings.Count(s, "\n"); n > 400 {
		t.Errorf("the page has %d lines; keep it small", n)
	}
}
