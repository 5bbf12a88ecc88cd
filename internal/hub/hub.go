// Package hub downloads GGUF models from the Hugging Face Hub into
// huggingface_hub's own cache, so that files downloaded by huggingface-cli
// or Python are found without downloading them again, and ours are found by
// them.
//
// The protocol is the Hub's as it is:
//
//   - GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true lists
//     the files with their sizes, git oids and, for LFS files, sha256 oids
//     (pages are followed through the Link header);
//   - HEAD {endpoint}/{repo}/resolve/{revision}/{file}, not following
//     redirects to other hosts, gives the commit (X-Repo-Commit), the blob's
//     id (X-Linked-Etag, else ETag) and size (X-Linked-Size, else
//     Content-Length), and where the content is (Location);
//   - GET of that location downloads it, with an HTTP Range from where an
//     interrupted download stopped.
//
// The cache is laid out as huggingface_hub lays it out, under
// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
// else ~/.cache/huggingface/hub:
//
//	models--{org}--{name}/blobs/{etag}                  the content
//	models--{org}--{name}/blobs/{etag}.incomplete       a download in progress
//	models--{org}--{name}/snapshots/{commit}/{file}     relative symlink to the blob
//	models--{org}--{name}/refs/{revision}               the revision's commit hash
//
// A blob is verified (sha256 for LFS files, the git blob sha1 otherwise)
// before it is renamed from its .incomplete name, and a snapshot entry is
// created only for a verified blob, so a model path never holds a partial
// or corrupt file. An interrupted download keeps its .incomplete file and
// the next pull resumes it.
//
// HF_ENDPOINT overrides the endpoint (default https://huggingface.co).
// HF_TOKEN, else the token file ($HF_TOKEN_PATH, else $HF_HOME/token) is
// sent as a bearer token to the endpoint's host only, never to redirect
// targets on other hosts. HF_HUB_OFFLINE=1 resolves from the cache alone.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultEndpoint is the Hugging Face Hub.
const DefaultEndpoint = "https://huggingface.co"

// Errors that Pull's errors wrap, for errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("access denied")
	ErrNoGGUF       = errors.New("no GGUF file")
	ErrAmbiguous    = errors.New("several GGUF files")
	ErrChecksum     = errors.New("checksum mismatch")
	ErrDiskFull     = errors.New("disk full")
	ErrNotCached    = errors.New("not in the cache")
	ErrInterrupted  = errors.New("download interrupted")
	ErrProtocol     = errors.New("unexpected response from the hub")
)

// Client pulls files from a hub into a cache. The zero value is not usable;
// FromEnv returns one configured as huggingface_hub would be.
type Client struct {
	Endpoint string // e.g. https://huggingface.co, without a trailing slash
	Token    string // bearer token, "" for none
	CacheDir string // the hub cache (holding models--org--name folders)
	Offline  bool   // resolve from the cache only

	// HTTP is the client requests go through (nil: a default one). Its
	// redirect policy is replaced; the token is added to requests for the
	// endpoint's host only.
	HTTP *http.Client
	// Progress, when set, reports downloads.
	Progress Progress
	// Retries is how many times a transient failure (a connection error,
	// a cut, HTTP 429 or 5xx) is retried; a retry that made progress does
	// not count. Negative: none.
	Retries int
	// Backoff is the wait before retry n (from 1); nil: 1s, 2s, 4s, ... 30s.
	Backoff func(n int) time.Duration
	// StallTimeout aborts (and retries) a download that receives nothing
	// for this long; 0: one minute.
	StallTimeout time.Duration
	// Log receives diagnostics; nil: slog.Default().
	Log *slog.Logger

	// freeSpace reports the bytes available in a directory (ok false when
	// unknown); tests replace it.
	freeSpace func(dir string) (uint64, bool)
}

// FromEnv returns a client configured from the environment variables that
// huggingface_hub reads: HF_ENDPOINT, HF_TOKEN (else HUGGING_FACE_HUB_TOKEN,
// else the file $HF_TOKEN_PATH, else $HF_HOME/token), HF_HUB_CACHE (else
// HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub), HF_HOME (else
// $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface) and
// HF_HUB_OFFLINE.
func FromEnv() *Client {
	home := os.Getenv("HF_HOME")
	if home == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			if h, err := os.UserHomeDir(); err == nil {
				cache = filepath.Join(h, ".cache")
			}
		}
		home = filepath.Join(cache, "huggingface")
	}
	cacheDir := firstEnv("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
	if cacheDir == "" {
		cacheDir = filepath.Join(home, "hub")
	}
	endpoint := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	token := firstEnv("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
	if token == "" {
		path := os.Getenv("HF_TOKEN_PATH")
		if path == "" {
			path = filepath.Join(home, "token")
		}
		if b, err := os.ReadFile(path); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	return &Client{
		Endpoint: endpoint,
		Token:    token,
		CacheDir: expandHome(cacheDir),
		Offline:  isTrue(os.Getenv("HF_HUB_OFFLINE")),
		Retries:  5,
	}
}

func firstEnv(keys ...string) string {
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[1:])
		}
	}
	return p
}

// Ref names a file in a model repository: REPO[:FILE] and a revision.
// File is a path in the repository, or a fragment of a GGUF file's name
// such as a quantization ("i2_s"), or "" for the repository's GGUF file.
type Ref struct {
	Repo     string
	File     string
	Revision string // "" for main
}

// ParseRef parses "org/name[:file]".
func ParseRef(s string) (Ref, error) {
	repo, file, _ := strings.Cut(s, ":")
	r := Ref{Repo: repo, File: file}
	if err := validRepo(repo); err != nil {
		return Ref{}, err
	}
	if file != "" {
		if err := validPath(file); err != nil {
			return Ref{}, fmt.Errorf("hub: %s: file %q: %w", repo, file, err)
		}
	}
	return r, nil
}

func (r Ref) String() string {
	s := r.Repo
	if r.File != "" {
		s += ":" + r.File
	}
	if r.Revision != "" && r.Revision != "main" {
		s += "@" + r.Revision
	}
	return s
}

func (r Ref) revision() string {
	if r.Revision == "" {
		return "main"
	}
	return r.Revision
}

// validRepo accepts repository ids as huggingface_hub does: [org/]name of
// letters, digits, '-', '_' and '.', without "--" or "..", at most 96
// characters.
func validRepo(repo string) error {
	bad := func(why string) error { return fmt.Errorf("hub: repository %q: %s (want org/name)", repo, why) }
	if repo == "" {
		return bad("empty")
	}
	if len(repo) > 96 {
		return bad("longer than 96 characters")
	}
	if strings.Contains(repo, "--") || strings.Contains(repo, "..") {
		return bad(`"--" and ".." are not allowed`)
	}
	parts := strings.Split(repo, "/")
	if len(parts) > 2 {
		return bad("too many '/'")
	}
	for _, p := range parts {
		if p == "" || p[0] == '-' || p[0] == '.' || p[len(p)-1] == '-' || p[len(p)-1] == '.' {
			return bad("a part is empty or starts or ends with '-' or '.'")
		}
		for _, c := range p {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return bad(fmt.Sprintf("character %q is not allowed", c))
			}
		}
	}
	return nil
}

// validPath accepts a relative slash-separated path without empty, "." or
// ".." elements, backslashes or control characters: a file name from the
// network never leaves its snapshot folder.
func validPath(p string) error {
	if p == "" || len(p) > 1024 {
		return errors.New("empty or too long")
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("character %q is not allowed", c)
		}
	}
	for _, e := range strings.Split(p, "/") {
		if e == "" || e == "." || e == ".." {
			return errors.New("not a relative path inside the repository")
		}
	}
	return nil
}

// validRevision accepts a branch, tag or commit name: a relative path as
// validPath checks it (refs/pr/1 is a revision).
func validRevision(rev string) error {
	if err := validPath(rev); err != nil {
		return fmt.Errorf("revision %q: %w", rev, err)
	}
	return nil
}

// File is a model file in the cache.
type File struct {
	Repo     string
	Path     string // the file's path in the repository
	Revision string // as asked for ("main")
	Commit   string // the snapshot's commit hash
	Local    string // snapshots/{commit}/{path}: a symlink to the blob
	Size     int64
	// Downloaded is the number of bytes this pull transferred (0: the
	// file was in the cache).
	Downloaded int64
}

// Pull makes the file ref names present in the cache and returns it. Online,
// it asks the hub for the revision's commit and the file's blob and
// downloads only what the cache lacks. When the hub cannot be reached, the
// cached snapshot of the revision is used (with a warning). Offline, only
// the cache is consulted.
func (c *Client) Pull(ctx context.Context, ref Ref) (*File, error) {
	if err := validRepo(ref.Repo); err != nil {
		return nil, err
	}
	if err := validRevision(ref.revision()); err != nil {
		return nil, fmt.Errorf("hub: %s: %w", ref.Repo, err)
	}
	if c.Offline {
		f, err := c.Cached(ref)
		if err != nil {
			return nil, fmt.Errorf("%w; offline (HF_HUB_OFFLINE is set): nothing is downloaded", err)
		}
		return f, nil
	}
	f, err := c.pullOnline(ctx, ref)
	var ne *netError
	if err != nil && errors.As(err, &ne) && ctx.Err() == nil {
		if cf, cerr := c.Cached(ref); cerr == nil {
			c.log().Warn("hub unreachable; using the cached copy", "repo", ref.Repo, "file", cf.Path, "commit", cf.Commit, "err", ne.err)
			return cf, nil
		}
	}
	return f, err
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

func (c *Client) pullOnline(ctx context.Context, ref Ref) (*File, error) {
	rev := ref.revision()
	wrap := func(err error) error { return fmt.Errorf("hub: %s: %w", ref.Repo, err) }
	entries, err := c.tree(ctx, ref.Repo, rev)
	if err != nil {
		return nil, wrap(err)
	}
	var files []candidate
	for _, e := range entries {
		if e.Type == "file" {
			files = append(files, candidate{path: e.Path, size: e.Size})
		}
	}
	chosen, err := choose(files, ref.File)
	if err != nil {
		return nil, wrap(err)
	}
	var entry treeEntry
	for _, e := range entries {
		if e.Path == chosen.path {
			entry = e
		}
	}
	meta, err := c.head(ctx, ref.Repo, rev, entry.Path)
	if err != nil {
		return nil, wrap(fmt.Errorf("%s: %w", entry.Path, err))
	}
	if meta.etag == "" {
		meta.etag = entry.blobID()
	}
	if !validEtag(meta.etag) {
		return nil, wrap(fmt.Errorf("%s: %w: blob id %q is neither a sha256 nor a git sha1", entry.Path, ErrProtocol, meta.etag))
	}
	if id := entry.blobID(); id != "" && id != meta.etag {
		// The branch moved between the listing and the resolve: the
		// resolve's commit and blob belong together.
		c.log().Warn("file changed on the hub while pulling; using the newest", "repo", ref.Repo, "file", entry.Path, "listed", id, "resolved", meta.etag)
	}
	if meta.size < 0 {
		meta.size = entry.Size
	}
	f := &File{Repo: ref.Repo, Path: entry.Path, Revision: rev, Commit: meta.commit, Size: meta.size}
	repoDir := c.repoDir(ref.Repo)
	f.Local = filepath.Join(repoDir, "snapshots", meta.commit, filepath.FromSlash(entry.Path))
	blob := filepath.Join(repoDir, "blobs", meta.etag)

	if st, err := os.Stat(f.Local); err == nil && st.Mode().IsRegular() && (meta.size < 0 || st.Size() == meta.size) {
		f.Size = st.Size()
		if err := c.writeRef(repoDir, rev, meta.commit); err != nil {
			return nil, wrap(err)
		}
		return f, nil
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return nil, wrap(err)
	}
	unlock, err := lockFile(filepath.Join(c.CacheDir, ".locks", repoFolder(ref.Repo), meta.etag+".lock"))
	if err != nil {
		return nil, wrap(fmt.Errorf("lock: %w", err))
	}
	defer unlock()
	if st, err := os.Stat(blob); err != nil || (meta.size >= 0 && st.Size() != meta.size) {
		n, err := c.download(ctx, meta.url, blob, meta.etag, meta.size, entry.Path)
		f.Downloaded = n
		if err != nil {
			return nil, wrap(fmt.Errorf("%s: %w", entry.Path, err))
		}
	}
	if err := linkBlob(blob, f.Local); err != nil {
		return nil, wrap(err)
	}
	if st, err := os.Stat(f.Local); err == nil {
		f.Size = st.Size()
	}
	if err := c.writeRef(repoDir, rev, meta.commit); err != nil {
		return nil, wrap(err)
	}
	return f, nil
}
