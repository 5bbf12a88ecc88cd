package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

const (
	maxTreePage  = 16 << 20 // bytes of one page of the tree listing
	maxTreePages = 100
	maxErrorBody = 4 << 10
	maxRedirects = 10
)

// netError is a failure to reach the hub (as opposed to an answer from it).
type netError struct{ err error }

func (e *netError) Error() string { return "network error: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// statusError is an HTTP error response that may be retried.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// transient reports whether err is worth retrying.
func transient(err error) bool {
	var ne *netError
	var se *statusError
	switch {
	case errors.As(err, &ne):
		return true
	case errors.As(err, &se):
		return se.status == http.StatusTooManyRequests || se.status >= 500
	}
	return false
}

// authTransport adds the token to requests for the endpoint's host only
// (host and port), including redirected ones, so that it never reaches a
// redirect target on another host.
type authTransport struct {
	base  http.RoundTripper
	host  string
	token string
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.token != "" && strings.EqualFold(req.URL.Host, t.host) {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+t.token)
	} else if req.Header.Get("Authorization") != "" {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	return t.base.RoundTrip(req)
}

// httpClient returns the client for the hub: no redirects are followed
// when follow is false.
func (c *Client) httpClient(follow bool) *http.Client {
	base := http.DefaultTransport
	var jar http.CookieJar
	if c.HTTP != nil {
		if c.HTTP.Transport != nil {
			base = c.HTTP.Transport
		}
		jar = c.HTTP.Jar
	}
	host := ""
	if u, err := url.Parse(c.Endpoint); err == nil {
		host = u.Host
	}
	hc := &http.Client{Transport: &authTransport{base: base, host: host, token: c.Token}, Jar: jar}
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", ErrProtocol, maxRedirects)
		}
		return nil
	}
	return hc
}

var userAgent = "bitnet; go/" + runtime.Version()

func (c *Client) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept-Encoding", "identity")
	return req, nil
}

// do sends a request; a transport failure becomes a netError.
func do(hc *http.Client, req *http.Request) (*http.Response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, &netError{err}
	}
	return resp, nil
}

// metadataRetries bounds the retries of the listing and resolve requests,
// so that an unreachable hub falls back to the cache quickly.
const metadataRetries = 1

// withRetries runs f until it succeeds, fails for good, or the retries
// (c.Retries, at most metadataRetries) are spent.
func (c *Client) withRetries(ctx context.Context, what string, f func() error) error {
	for n := 1; ; n++ {
		err := f()
		if err == nil || !transient(err) || n > min(c.Retries, metadataRetries) || ctx.Err() != nil {
			return err
		}
		if werr := c.wait(ctx, n, what, err); werr != nil {
			return werr
		}
	}
}

func (c *Client) wait(ctx context.Context, n int, what string, err error) error {
	d := time.Duration(0)
	if c.Backoff != nil {
		d = c.Backoff(n)
	} else {
		d = min(time.Second<<(n-1), 30*time.Second)
	}
	c.log().Warn("retrying", "what", what, "attempt", n+1, "in", d, "err", err)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// responseError turns an error response into an error saying what happened,
// from the hub's X-Error-Code and X-Error-Message headers and the status.
func (c *Client) responseError(repo, what string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := resp.Header.Get("X-Error-Message")
	if msg == "" {
		var j struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &j) == nil {
			msg = j.Error
		}
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	detail := resp.Status
	if msg != "" {
		detail += ": " + msg
	}
	code := resp.Header.Get("X-Error-Code")
	page := c.Endpoint + "/" + repo
	var err error
	switch {
	case code == "GatedRepo" || (code == "" && (resp.StatusCode == 401 || resp.StatusCode == 403)):
		if c.Token == "" {
			err = fmt.Errorf("%w: the repository is gated or private and no token is set (%s): accept its terms at %s, create a token at %s/settings/tokens and set HF_TOKEN",
				ErrUnauthorized, detail, page, c.Endpoint)
		} else {
			err = fmt.Errorf("%w: the token (HF_TOKEN or the token file) is not allowed to read it (%s): accept its terms at %s or check the token",
				ErrUnauthorized, detail, page)
		}
	case code == "RepoNotFound" || (code == "" && resp.StatusCode == 404 && what == "tree"):
		hint := ""
		if c.Token == "" {
			hint = "; if it is private, set HF_TOKEN"
		}
		err = fmt.Errorf("repository %w at %s (%s)%s", ErrNotFound, c.Endpoint, detail, hint)
	case code == "RevisionNotFound":
		err = fmt.Errorf("revision %w (%s)", ErrNotFound, detail)
	case code == "EntryNotFound" || resp.StatusCode == 404:
		err = fmt.Errorf("file %w (%s)", ErrNotFound, detail)
	default:
		err = fmt.Errorf("%s: %s", what, detail)
	}
	return &statusError{status: resp.StatusCode, err: err}
}

// treeEntry is an entry of the tree listing.
type treeEntry struct {
	Type string `json:"type"` // file or directory
	Path string `json:"path"`
	Size int64  `json:"size"`
	Oid  string `json:"oid"` // git blob sha1
	LFS  *struct {
		Oid  string `json:"oid"` // sha256
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// blobID is the id of the entry's blob in the cache: the LFS sha256, else
// the git sha1.
func (e treeEntry) blobID() string {
	if e.LFS != nil && e.LFS.Oid != "" {
		return strings.ToLower(e.LFS.Oid)
	}
	return strings.ToLower(e.Oid)
}

var linkNext = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// tree lists the repository's files at the revision, recursively,
// following the Link header's next pages. Entries with invalid paths or
// negative sizes are dropped.
func (c *Client) tree(ctx context.Context, repo, rev string) ([]treeEntry, error) {
	u := fmt.Sprintf("%s/api/models/%s/tree/%s?recursive=true", c.Endpoint, repo, url.PathEscape(rev))
	hc := c.httpClient(true)
	var out []treeEntry
	for page := 0; u != ""; page++ {
		if page == maxTreePages {
			return nil, fmt.Errorf("%w: the file listing has more than %d pages", ErrProtocol, maxTreePages)
		}
		var entries []treeEntry
		next := ""
		err := c.withRetries(ctx, "list files", func() error {
			req, err := c.newRequest(ctx, http.MethodGet, u)
			if err != nil {
				return err
			}
			req.Header.Set("Accept", "application/json")
			resp, err := do(hc, req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return c.responseError(repo, "tree", resp)
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, maxTreePage+1))
			if err != nil {
				return &netError{err}
			}
			if len(body) > maxTreePage {
				return fmt.Errorf("%w: a page of the file listing exceeds %d bytes", ErrProtocol, maxTreePage)
			}
			entries = entries[:0]
			if err := json.Unmarshal(body, &entries); err != nil {
				return fmt.Errorf("%w: file listing: %v", ErrProtocol, err)
			}
			if m := linkNext.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
				ref, err := url.Parse(m[1])
				if err != nil {
					return fmt.Errorf("%w: Link %q: %v", ErrProtocol, m[1], err)
				}
				next = resp.Request.URL.ResolveReference(ref).String()
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if validPath(e.Path) != nil || e.Size < 0 || (e.LFS != nil && e.LFS.Size < 0) {
				continue
			}
			if e.LFS != nil && e.LFS.Size > 0 {
				e.Size = e.LFS.Size
			}
			out = append(out, e)
		}
		u = next
	}
	return out, nil
}

// fileMeta is what the resolve endpoint says about a file.
type fileMeta struct {
	commit string
	etag   string // "" when the response had none
	size   int64  // -1 when unknown
	url    string // where to download it from
}

// head asks the resolve endpoint for the file's metadata, following
// redirects on the endpoint's host (renamed repositories) but not to other
// hosts (the storage the content is on).
func (c *Client) head(ctx context.Context, repo, rev, file string) (fileMeta, error) {
	u := fmt.Sprintf("%s/%s/resolve/%s/%s", c.Endpoint, repo, url.PathEscape(rev), escapePath(file))
	hc := c.httpClient(false)
	var m fileMeta
	err := c.withRetries(ctx, "resolve", func() error {
		m = fileMeta{size: -1, url: u}
		cur := u
		for hop := 0; ; hop++ {
			req, err := c.newRequest(ctx, http.MethodHead, cur)
			if err != nil {
				return err
			}
			resp, err := do(hc, req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			h := resp.Header
			if m.commit == "" {
				m.commit = h.Get("X-Repo-Commit")
			}
			if m.etag == "" {
				m.etag = normalizeEtag(h.Get("X-Linked-Etag"))
			}
			if m.size < 0 {
				if s, err := strconv.ParseInt(h.Get("X-Linked-Size"), 10, 64); err == nil && s >= 0 {
					m.size = s
				}
			}
			if resp.StatusCode >= 300 && resp.StatusCode < 400 {
				loc, err := resp.Location()
				if err != nil {
					return fmt.Errorf("%w: redirect without a valid Location", ErrProtocol)
				}
				m.url = loc.String()
				if loc.Host != resp.Request.URL.Host || hop >= maxRedirects {
					break // the storage: GET follows it
				}
				cur = m.url
				continue
			}
			if resp.StatusCode != http.StatusOK {
				return c.responseError(repo, "resolve", resp)
			}
			if m.etag == "" {
				m.etag = normalizeEtag(h.Get("ETag"))
			}
			if m.size < 0 && resp.ContentLength >= 0 {
				m.size = resp.ContentLength
			}
			break
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	if !isCommit(m.commit) {
		return m, fmt.Errorf("%w: X-Repo-Commit %q is not a commit hash", ErrProtocol, m.commit)
	}
	return m, nil
}

// normalizeEtag strips W/ and quotes: huggingface_hub's _normalize_etag.
func normalizeEtag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	return strings.ToLower(strings.Trim(s, `"`))
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
