package hub

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bitnet/internal/hub/hubtest"
)

const repoID = "microsoft/bitnet-test-gguf"

// modelData is deterministic content of n bytes starting like a GGUF file.
func modelData(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	copy(b, "GGUF\x03\x00\x00\x00")
	return b
}

// setup starts a fake hub holding repoID with an LFS model, a README and a
// small model in a subfolder stored in git, and a client for it.
func setup(t *testing.T) (*hubtest.Server, *Client, *hubtest.Repo) {
	t.Helper()
	s := hubtest.New(t)
	r := s.Add(repoID, &hubtest.Repo{Files: []hubtest.File{
		{Path: "README.md", Data: []byte("# test\n")},
		{Path: "ggml-model-i2_s.gguf", Data: modelData(600_000, 1), LFS: true},
		{Path: "extra/small-f32.bin", Data: modelData(5000, 2)},
	}})
	return s, newClient(t, s), r
}

func newClient(t *testing.T, s *hubtest.Server) *Client {
	return &Client{
		Endpoint:  s.URL,
		CacheDir:  filepath.Join(t.TempDir(), "hub"),
		Retries:   3,
		Backoff:   func(int) time.Duration { return 0 },
		freeSpace: func(string) (uint64, bool) { return 0, false },
	}
}

func pull(t *testing.T, c *Client, ref string) *File {
	t.Helper()
	r, err := ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Pull(context.Background(), r)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	return f
}

func pullErr(t *testing.T, c *Client, ref string) error {
	t.Helper()
	r, err := ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Pull(context.Background(), r)
	if err == nil {
		t.Fatalf("pull %s: no error, got %+v", ref, f)
	}
	return err
}

// files lists every path under dir (symlinks as "path -> target").
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			rel += " -> " + target
		case d.IsDir():
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	return out
}

func TestPullFreshLayoutAsHuggingfaceHub(t *testing.T) {
	s, c, r := setup(t)
	model := r.Files[1]
	f := pull(t, c, repoID)
	if f.Path != "ggml-model-i2_s.gguf" || f.Commit != r.Commit || f.Revision != "main" || f.Size != int64(len(model.Data)) || f.Downloaded != f.Size {
		t.Fatalf("pulled %+v", f)
	}
	repoDir := filepath.Join(c.CacheDir, "models--microsoft--bitnet-test-gguf")
	wantLocal := filepath.Join(repoDir, "snapshots", r.Commit, "ggml-model-i2_s.gguf")
	if f.Local != wantLocal {
		t.Fatalf("local %s, want %s", f.Local, wantLocal)
	}
	got, err := os.ReadFile(f.Local)
	if err != nil || !bytes.Equal(got, model.Data) {
		t.Fatalf("content differs (%v)", err)
	}
	// Another file of the same commit, in a subfolder and stored in git
	// (its blob is named by its git sha1).
	sub := pull(t, c, repoID+":extra/small-f32.bin")
	if sub.Local != filepath.Join(repoDir, "snapshots", r.Commit, "extra", "small-f32.bin") {
		t.Fatalf("local %s", sub.Local)
	}
	want := []string{
		"blobs/",
		"blobs/" + model.SHA256(),
		"blobs/" + r.Files[2].GitSHA1(),
		"refs/",
		"refs/main",
		"snapshots/",
		"snapshots/" + r.Commit + "/",
		"snapshots/" + r.Commit + "/extra/",
		"snapshots/" + r.Commit + "/extra/small-f32.bin -> ../../../blobs/" + r.Files[2].GitSHA1(),
		"snapshots/" + r.Commit + "/ggml-model-i2_s.gguf -> ../../blobs/" + model.SHA256(),
	}
	slices.Sort(want)
	if got := files(t, repoDir); !slices.Equal(got, want) {
		t.Fatalf("cache layout:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ref, _ := os.ReadFile(filepath.Join(repoDir, "refs", "main")); string(ref) != r.Commit {
		t.Fatalf("refs/main holds %q, want %q", ref, r.Commit)
	}
	// The content came from the CDN by way of the redirect.
	var cdn int
	for _, q := range s.Requests() {
		if q.Host == "cdn" {
			cdn++
		}
	}
	if cdn != 1 {
		t.Fatalf("%d CDN requests, want 1: %+v", cdn, s.Requests())
	}
}

func TestSecondPullDownloadsNothing(t *testing.T) {
	s, c, _ := setup(t)
	first := pull(t, c, repoID)
	gets := s.ContentGets()
	second := pull(t, c, repoID)
	if s.ContentGets() != gets || second.Downloaded != 0 || second.Local != first.Local {
		t.Fatalf("second pull: %d content GETs (was %d), %+v", s.ContentGets(), gets, second)
	}
}

func TestTokenGoesToTheEndpointOnly(t *testing.T) {
	s, c, r := setup(t)
	r.Token = "hf_secret"
	c.Token = "hf_secret"
	pull(t, c, repoID)
	var hub, cdn int
	for _, q := range s.Requests() {
		switch {
		case q.Host == "hub" && q.Auth == "Bearer hf_secret":
			hub++
		case q.Host == "cdn" && q.Auth == "":
			cdn++
		default:
			t.Errorf("request %+v", q)
		}
	}
	if hub != 2 || cdn != 1 {
		t.Fatalf("%d authorized hub requests (want 2: tree, resolve), %d anonymous CDN requests (want 1)", hub, cdn)
	}
}

func TestResumeAfterCutWithinOnePull(t *testing.T) {
	s, c, r := setup(t)
	s.Cuts, s.CutAfter = 2, 100_000
	f := pull(t, c, repoID)
	got, _ := os.ReadFile(f.Local)
	if !bytes.Equal(got, r.Files[1].Data) {
		t.Fatal("content differs")
	}
	var ranges []string
	for _, q := range s.Requests() {
		if q.Host == "cdn" {
			ranges = append(ranges, q.Range)
		}
	}
	if want := []string{"", "bytes=100000-", "bytes=200000-"}; !slices.Equal(ranges, want) {
		t.Fatalf("CDN ranges %q, want %q", ranges, want)
	}
}

func TestResumeInALaterPull(t *testing.T) {
	s, c, r := setup(t)
	c.Retries = 0
	s.Cuts, s.CutAfter = 1, 250_000
	err := pullErr(t, c, repoID)
	if !strings.Contains(err.Error(), "pull again to resume") || !strings.Contains(err.Error(), "250000 of 600000 bytes kept") {
		t.Fatalf("error: %v", err)
	}
	repoDir := filepath.Join(c.CacheDir, "models--microsoft--bitnet-test-gguf")
	part := filepath.Join(repoDir, "blobs", r.Files[1].SHA256()+".incomplete")
	if st, err := os.Stat(part); err != nil || st.Size() != 250_000 {
		t.Fatalf("incomplete file: %v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(repoDir, "snapshots")); err == nil {
		t.Fatal("a snapshot entry exists for a partial download")
	}
	f := pull(t, c, repoID)
	if f.Downloaded != 350_000 {
		t.Fatalf("downloaded %d bytes, want 350000", f.Downloaded)
	}
	got, _ := os.ReadFile(f.Local)
	if !bytes.Equal(got, r.Files[1].Data) {
		t.Fatal("content differs")
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Host != "cdn" || last.Range != "bytes=250000-" {
		t.Fatalf("last request %+v, want a CDN range from 250000", last)
	}
	if _, err := os.Stat(part); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("incomplete file left: %v", err)
	}
}

func TestResumeFromServerWithoutRanges(t *testing.T) {
	s, c, r := setup(t)
	c.Retries = 0
	s.Cuts, s.CutAfter = 1, 250_000
	pullErr(t, c, repoID)
	s.NoRange = true
	f := pull(t, c, repoID)
	if got, _ := os.ReadFile(f.Local); !bytes.Equal(got, r.Files[1].Data) || f.Downloaded != 600_000 {
		t.Fatalf("downloaded %d; content equal %v", f.Downloaded, bytes.Equal(got, r.Files[1].Data))
	}
}

func TestInterruptKeepsIncomplete(t *testing.T) {
	s, c, r := setup(t)
	s.Cuts, s.CutAfter = 1, 50_000
	ctx, cancel := context.WithCancel(context.Background())
	c.Progress = cancelOnUpdate{cancel, 50_000}
	_, err := c.Pull(ctx, Ref{Repo: repoID})
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "50000 of 600000 bytes kept") {
		t.Fatalf("error: %v", err)
	}
	part := filepath.Join(c.CacheDir, "models--microsoft--bitnet-test-gguf", "blobs", r.Files[1].SHA256()+".incomplete")
	if st, err := os.Stat(part); err != nil || st.Size() != 50_000 {
		t.Fatalf("incomplete: %v %v", st, err)
	}
}

// cancelOnUpdate cancels the pull (as Ctrl-C does) once it has at bytes.
type cancelOnUpdate struct {
	cancel func()
	at     int64
}

func (cancelOnUpdate) Start(string, int64, int64) {}
func (p cancelOnUpdate) Update(have int64) {
	if have >= p.at {
		p.cancel()
	}
}
func (cancelOnUpdate) Stop(bool) {}

// noModelLeft fails if the cache holds any blob, partial blob or snapshot
// entry.
func noModelLeft(t *testing.T, c *Client) {
	t.Helper()
	for _, p := range files(t, c.CacheDir) {
		if !strings.HasSuffix(p, "/") && (strings.Contains(p, "blobs/") || strings.Contains(p, "snapshots/")) {
			t.Errorf("left behind: %s", p)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name  string
		ref   string
		setup func(s *hubtest.Server, c *Client, r *hubtest.Repo)
		is    error
		msg   []string
	}{
		{"unknown repository", "nobody/nothing", nil, ErrNotFound, []string{"hub: nobody/nothing: repository not found", "404"}},
		{"gated without token", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) { r.Token = "t" },
			ErrUnauthorized, []string{"401", "HF_TOKEN", "gated", s_(repoID)}},
		{"gated with a wrong token", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) { r.Token, c.Token = "t", "u" },
			ErrUnauthorized, []string{"403", "accept its terms"}},
		{"unknown revision", repoID + "@v9", nil, ErrNotFound, []string{"revision not found"}},
		{"unknown file", repoID + ":nope.gguf", nil, ErrNotFound, []string{`"nope.gguf"`, "ggml-model-i2_s.gguf (600.0 kB)"}},
		{"no gguf", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) { r.Files = r.Files[:1] },
			ErrNoGGUF, []string{"no GGUF file", "README.md"}},
		{"ambiguous", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) {
			r.Files = append(r.Files, hubtest.File{Path: "model-q4.gguf", Data: []byte("GGUF q4"), LFS: true},
				hubtest.File{Path: "x/model-I2_S.gguf", Data: []byte("GGUF i2s"), LFS: true})
		}, ErrAmbiguous, []string{"ggml-model-i2_s.gguf (600.0 kB), model-q4.gguf (7 B), x/model-I2_S.gguf (8 B)", "REPO:FILE"}},
		{"checksum mismatch", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) { s.Corrupt = true },
			ErrChecksum, []string{"the data was removed"}},
		{"disk full", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) {
			c.freeSpace = func(string) (uint64, bool) { return 1000, true }
		}, ErrDiskFull, []string{"600.0 kB needs 600.0 kB more, 1.00 kB is free"}},
		{"cut with no retries left", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) { s.Cuts, c.Retries = 5, 1 },
			nil, []string{"network error", "nothing was kept"}},
		{"offline with nothing cached", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) { c.Offline = true },
			ErrNotCached, []string{"offline", "HF_HUB_OFFLINE", "not in the cache"}},
		{"hostile tree", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) {
			s.TreeBody = []byte(`[{"type":"file","path":"../../../etc/x.gguf","size":1},{"type":"file","path":"/abs.gguf","size":2},` +
				`{"type":"file","path":"a.gguf","size":-5},{"type":"file","path":"b\\c.gguf","size":9223372036854775807,"lfs":{"oid":"../x","size":-1}},{"path":3}]`)
		}, ErrProtocol, []string{"file listing"}},
		{"hostile paths", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) {
			s.TreeBody = []byte(`[{"type":"file","path":"../../../etc/x.gguf","size":1},{"type":"file","path":"/abs.gguf","size":2},` +
				`{"type":"file","path":"a.gguf","size":-5},{"type":"file","path":"b\\c.gguf","size":9223372036854775807,"lfs":{"oid":"../x","size":-1}}]`)
		}, ErrNoGGUF, []string{"files: none"}},
		{"huge size in the listing", repoID + ":big.gguf", func(s *hubtest.Server, c *Client, r *hubtest.Repo) {
			s.TreeBody = []byte(`[{"type":"file","path":"big.gguf","size":9223372036854775807,"oid":"` + strings.Repeat("a", 40) + `"}]`)
		}, ErrNotFound, []string{"file not found"}},
		{"bad commit", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) {
			s.ResolveHeader = map[string]string{"X-Repo-Commit": "../../../x"}
		}, ErrProtocol, []string{`X-Repo-Commit "../../../x" is not a commit hash`}},
		{"bad etag", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) {
			s.ResolveHeader = map[string]string{"X-Linked-Etag": `"../../etc/passwd"`}
		}, ErrProtocol, []string{"neither a sha256 nor a git sha1"}},
		{"huge size", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) {
			s.ResolveHeader = map[string]string{"X-Linked-Size": "9223372036854775807"}
		}, ErrProtocol, []string{"the download has 600000 bytes, the hub announced 9223372036854775807"}},
		{"huge size, no space", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) {
			s.ResolveHeader = map[string]string{"X-Linked-Size": "9223372036854775807"}
			c.freeSpace = func(string) (uint64, bool) { return 1 << 40, true }
		}, ErrDiskFull, []string{"9223.4 PB needs 9223.4 PB more, 1.10 TB is free"}},
		{"not json", repoID, func(s *hubtest.Server, c *Client, r *hubtest.Repo) { s.TreeBody = []byte("<html>") }, ErrProtocol, []string{"file listing"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c, r := setup(t)
			if tc.setup != nil {
				tc.setup(s, c, r)
			}
			ref, err := ParseRef(strings.Split(tc.ref, "@")[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, rev, ok := strings.Cut(tc.ref, "@"); ok {
				ref.Revision = rev
			}
			_, err = c.Pull(context.Background(), ref)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not say %q", err, m)
				}
			}
			noModelLeft(t, c)
		})
	}
}

func s_(repo string) string { return "/" + repo }

func TestChooseFile(t *testing.T) {
	s, c, r := setup(t)
	r.Files = append(r.Files,
		hubtest.File{Path: "ggml-model-q4_k_m.gguf", Data: []byte("GGUF q4"), LFS: true},
		hubtest.File{Path: "ggml-model-f16.gguf", Data: []byte("GGUF f16"), LFS: true})
	s.Add(repoID, r)
	s.PageSize = 2 // the listing comes in pages
	for ref, want := range map[string]string{
		repoID:                          "ggml-model-i2_s.gguf",
		repoID + ":Q4_K_M":              "ggml-model-q4_k_m.gguf",
		repoID + ":ggml-model-f16.gguf": "ggml-model-f16.gguf",
	} {
		if f := pull(t, c, ref); f.Path != want {
			t.Errorf("%s: pulled %s, want %s", ref, f.Path, want)
		}
	}
}

func TestReusesHuggingfaceHubCache(t *testing.T) {
	s, c, r := setup(t)
	model := r.Files[1]
	// The cache as huggingface_hub leaves it (refs/main, snapshot symlink,
	// blob), written by hand.
	repoDir := filepath.Join(c.CacheDir, "models--microsoft--bitnet-test-gguf")
	os.MkdirAll(filepath.Join(repoDir, "blobs"), 0o755)
	os.MkdirAll(filepath.Join(repoDir, "refs"), 0o755)
	os.MkdirAll(filepath.Join(repoDir, "snapshots", r.Commit), 0o755)
	os.WriteFile(filepath.Join(repoDir, "blobs", model.SHA256()), model.Data, 0o644)
	os.WriteFile(filepath.Join(repoDir, "refs", "main"), []byte(r.Commit), 0o644)
	os.Symlink("../../blobs/"+model.SHA256(), filepath.Join(repoDir, "snapshots", r.Commit, "ggml-model-i2_s.gguf"))
	before := files(t, repoDir)
	f := pull(t, c, repoID)
	if f.Downloaded != 0 || s.ContentGets() != 0 || !slices.Equal(files(t, repoDir), before) {
		t.Fatalf("pulled %+v with %d content GETs; cache now %q", f, s.ContentGets(), files(t, repoDir))
	}
	// A new commit with the same blob: linked, not downloaded.
	r.Commit = strings.Repeat("c", 40)
	s.Add(repoID, r)
	f = pull(t, c, repoID)
	if f.Downloaded != 0 || s.ContentGets() != 0 || f.Commit != r.Commit {
		t.Fatalf("pulled %+v with %d content GETs", f, s.ContentGets())
	}
	if target, _ := os.Readlink(f.Local); target != "../../blobs/"+model.SHA256() {
		t.Fatalf("link %s -> %s", f.Local, target)
	}
	if ref, _ := os.ReadFile(filepath.Join(repoDir, "refs", "main")); string(ref) != r.Commit {
		t.Fatalf("refs/main %q", ref)
	}
}

func TestOffline(t *testing.T) {
	s, c, r := setup(t)
	online := pull(t, c, repoID)
	n := len(s.Requests())
	c.Offline = true
	for _, ref := range []string{repoID, repoID + ":ggml-model-i2_s.gguf", repoID + ":i2_s"} {
		if f := pull(t, c, ref); f.Local != online.Local || f.Commit != r.Commit || f.Size != 600_000 {
			t.Errorf("offline %s: %+v", ref, f)
		}
	}
	if f, err := c.Pull(context.Background(), Ref{Repo: repoID, Revision: r.Commit}); err != nil || f.Local != online.Local {
		t.Errorf("offline by commit: %+v %v", f, err)
	}
	if len(s.Requests()) != n {
		t.Fatalf("offline pulls made %d requests", len(s.Requests())-n)
	}
	err := pullErr(t, c, repoID+":other.gguf")
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("error %v", err)
	}
}

func TestUnreachableHubUsesCache(t *testing.T) {
	s, c, _ := setup(t)
	online := pull(t, c, repoID)
	s.Server.Close()
	if f := pull(t, c, repoID); f.Local != online.Local {
		t.Fatalf("pulled %+v", f)
	}
	c.CacheDir = t.TempDir()
	if err := pullErr(t, c, repoID); !strings.Contains(err.Error(), "network error") {
		t.Fatalf("error %v", err)
	}
}

func TestList(t *testing.T) {
	_, c, r := setup(t)
	pull(t, c, repoID)
	pull(t, c, repoID+":README.md")
	got, err := c.List(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Repo != repoID || got[0].Path != "ggml-model-i2_s.gguf" || got[0].Size != 600_000 ||
		got[0].Commit != r.Commit || !slices.Equal(got[0].Refs, []string{"main"}) {
		t.Fatalf("list: %+v", got)
	}
	if all, _ := c.List(true); len(all) != 2 || all[0].Path != "README.md" {
		t.Fatalf("list all: %+v", all)
	}
	c.CacheDir = filepath.Join(t.TempDir(), "absent")
	if got, err := c.List(false); err != nil || len(got) != 0 {
		t.Fatalf("empty cache: %v %v", got, err)
	}
}

func TestParseRef(t *testing.T) {
	good := map[string]Ref{
		"microsoft/bitnet-b1.58-2B-4T-gguf":                      {Repo: "microsoft/bitnet-b1.58-2B-4T-gguf"},
		"microsoft/bitnet-b1.58-2B-4T-gguf:ggml-model-i2_s.gguf": {Repo: "microsoft/bitnet-b1.58-2B-4T-gguf", File: "ggml-model-i2_s.gguf"},
		"gpt2:sub/dir/f.gguf":                                    {Repo: "gpt2", File: "sub/dir/f.gguf"},
	}
	for s, want := range good {
		if got, err := ParseRef(s); err != nil || got != want {
			t.Errorf("ParseRef(%q) = %+v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "a/b/c", "a//b", "../x", "a/b:../../x", "a/b:/abs", "a--b/c", "a/b c", "-a/b", "a/b:", "a/b:x\\y", strings.Repeat("a", 97)} {
		if r, err := ParseRef(s); err == nil && (s != "a/b:" || r.File != "") {
			t.Errorf("ParseRef(%q) = %+v, want an error", s, r)
		}
	}
}

func TestFromEnv(t *testing.T) {
	home := t.TempDir()
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT", "HF_HUB_OFFLINE"} {
		t.Setenv(k, "")
	}
	t.Setenv("HF_HOME", home)
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_fromfile\n"), 0o600)
	c := FromEnv()
	if c.Token != "hf_fromfile" || c.CacheDir != filepath.Join(home, "hub") || c.Endpoint != DefaultEndpoint || c.Offline {
		t.Fatalf("%+v", c)
	}
	tokPath := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tokPath, []byte("hf_path"), 0o600)
	t.Setenv("HF_TOKEN_PATH", tokPath)
	t.Setenv("HF_HUB_CACHE", "/x/cache")
	t.Setenv("HF_ENDPOINT", "http://mirror.example/")
	t.Setenv("HF_HUB_OFFLINE", "1")
	c = FromEnv()
	if c.Token != "hf_path" || c.CacheDir != "/x/cache" || c.Endpoint != "http://mirror.example" || !c.Offline {
		t.Fatalf("%+v", c)
	}
	t.Setenv("HF_TOKEN", "hf_env")
	if c = FromEnv(); c.Token != "hf_env" {
		t.Fatalf("token %q", c.Token)
	}
}

func TestProgress(t *testing.T) {
	now := time.Unix(1000, 0)
	var b bytes.Buffer
	p := &progress{w: &b, now: func() time.Time { return now }}
	p.Start("m.gguf", 1_000_000_000, 100_000_000)
	now = now.Add(5 * time.Second)
	p.Update(200_000_000) // within 10 s: no line
	now = now.Add(5 * time.Second)
	p.Update(300_000_000)
	now = now.Add(10 * time.Second)
	p.Update(1_000_000_000)
	p.Stop(true)
	want := "downloading m.gguf (1.00 GB), resuming at 100.0 MB\n" +
		" 30.0% 300.0 MB of 1.00 GB, 20.0 MB/s, 35s left\n" +
		"100.0% 1.00 GB of 1.00 GB, 45.0 MB/s, 0s left\n" +
		"downloaded m.gguf: 900.0 MB in 20s (45.0 MB/s)\n"
	if b.String() != want {
		t.Fatalf("progress:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	p = &progress{w: &b, tty: true, now: func() time.Time { return now }}
	p.Start("m.gguf", 1000, 0)
	now = now.Add(time.Second)
	p.Update(500)
	if !strings.Contains(b.String(), "\r[===============               ]  50.0% 500 B of 1.00 kB, 500 B/s, 1s left") {
		t.Fatalf("bar: %q", b.String())
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.00 kB", 1_187_801_280: "1.19 GB", 355_648: "355.6 kB", 1 << 62: "4611.7 PB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestCutsWithoutRangesEnd: a server that cuts every response and cannot
// resume makes no progress past the first cut, so the retries run out.
func TestCutsWithoutRangesEnd(t *testing.T) {
	s, c, r := setup(t)
	s.NoRange, s.Cuts, s.CutAfter, c.Retries = true, 1000, 100_000, 2
	err := pullErr(t, c, repoID)
	if !strings.Contains(err.Error(), "100000 of 600000 bytes kept") {
		t.Fatalf("error: %v", err)
	}
	if n := s.ContentGets(); n != 3 {
		t.Fatalf("%d content requests, want 3 (1 + 2 retries)", n)
	}
	s.Cuts, s.NoRange = 0, false
	if f := pull(t, c, repoID); f.Downloaded != 500_000 {
		t.Fatalf("resumed pull downloaded %d", f.Downloaded)
	}
	if got, _ := os.ReadFile(filepath.Join(c.CacheDir, "models--microsoft--bitnet-test-gguf", "blobs", r.Files[1].SHA256())); !bytes.Equal(got, r.Files[1].Data) {
		t.Fatal("content differs")
	}
}
