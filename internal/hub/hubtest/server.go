// Package hubtest is a fake Hugging Face Hub for tests: the tree listing,
// the resolve endpoint with its X-Repo-Commit and X-Linked-* headers, LFS
// content on a second host (the "CDN") reached by a redirect, Range
// requests, and injectable faults (a connection cut in the middle, corrupt
// content, gated repositories).
package hubtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// File is a file of a repository. LFS files are served from the CDN by a
// redirect, the others by the endpoint itself.
type File struct {
	Path string
	Data []byte
	LFS  bool
}

// SHA256 is the file's LFS oid.
func (f File) SHA256() string {
	s := sha256.Sum256(f.Data)
	return hex.EncodeToString(s[:])
}

// GitSHA1 is the file's git blob id.
func (f File) GitSHA1() string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(f.Data))
	h.Write(f.Data)
	return hex.EncodeToString(h.Sum(nil))
}

// Repo is a model repository at one commit.
type Repo struct {
	Commit string
	Files  []File
	// Token, when set, makes the repository gated: requests without
	// "Authorization: Bearer Token" get 401, with another token 403.
	Token string
}

// Request is a request the fake received.
type Request struct {
	Host   string // "hub" or "cdn"
	Method string
	Path   string
	Range  string
	Auth   string
}

// Server is the fake hub. Its URL is the endpoint (HF_ENDPOINT).
type Server struct {
	*httptest.Server
	CDN *httptest.Server

	mu       sync.Mutex
	repos    map[string]*Repo
	requests []Request
	// Cuts is how many of the next content responses are cut off after
	// CutAfter bytes (the connection drops).
	Cuts     int
	CutAfter int
	// Corrupt serves content with its last byte changed.
	Corrupt bool
	// NoRange makes the content ignore Range requests (200, whole file).
	NoRange bool
	// PageSize splits the tree listing into pages of this many entries
	// linked by Link headers (0: one page).
	PageSize int
	// TreeBody, when set, is served as the tree listing.
	TreeBody []byte
	// ResolveHeader overrides headers of the resolve responses.
	ResolveHeader map[string]string
}

// New starts the fake hub and its CDN; they stop at the end of the test.
func New(t testing.TB) *Server {
	s := &Server{repos: map[string]*Repo{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.hub))
	s.CDN = httptest.NewServer(http.HandlerFunc(s.cdn))
	t.Cleanup(func() {
		s.Server.Close()
		s.CDN.Close()
	})
	return s
}

// Add adds (or replaces) a repository; its commit is derived from its
// files unless set.
func (s *Server) Add(id string, r *Repo) *Repo {
	if r.Commit == "" {
		h := sha1.New()
		fmt.Fprint(h, id)
		for _, f := range r.Files {
			fmt.Fprint(h, f.Path, f.GitSHA1())
		}
		r.Commit = hex.EncodeToString(h.Sum(nil))
	}
	s.mu.Lock()
	s.repos[id] = r
	s.mu.Unlock()
	return r
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ContentGets counts the GET requests for file content (on either host).
func (s *Server) ContentGets() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == http.MethodGet && (r.Host == "cdn" || strings.Contains(r.Path, "/resolve/")) {
			n++
		}
	}
	return n
}

func (s *Server) record(host string, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Host: host, Method: r.Method, Path: r.URL.Path,
		Range: r.Header.Get("Range"), Auth: r.Header.Get("Authorization")})
	s.mu.Unlock()
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// repo finds the repository and checks access, answering errors itself.
func (s *Server) repo(w http.ResponseWriter, r *http.Request, id, rev string) *Repo {
	s.mu.Lock()
	repo := s.repos[id]
	s.mu.Unlock()
	if repo == nil {
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		return nil
	}
	if repo.Token != "" {
		switch r.Header.Get("Authorization") {
		case "Bearer " + repo.Token:
		case "":
			hubError(w, http.StatusUnauthorized, "GatedRepo", "Access to model "+id+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
			return nil
		default:
			hubError(w, http.StatusForbidden, "GatedRepo", "Access to model "+id+" is restricted and you are not in the authorized list.")
			return nil
		}
	}
	if rev != "main" && rev != repo.Commit {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return nil
	}
	return repo
}

func (s *Server) hub(w http.ResponseWriter, r *http.Request) {
	s.record("hub", r)
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/api/models/"); ok {
		// {org}/{name}/tree/{rev}
		parts := strings.SplitN(rest, "/", 4)
		if len(parts) < 4 || parts[2] != "tree" {
			http.NotFound(w, r)
			return
		}
		s.tree(w, r, parts[0]+"/"+parts[1], parts[3])
		return
	}
	// /{org}/{name}/resolve/{rev}/{file}
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5)
	if len(parts) < 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	repo := s.repo(w, r, parts[0]+"/"+parts[1], parts[3])
	if repo == nil {
		return
	}
	var f *File
	for i := range repo.Files {
		if repo.Files[i].Path == parts[4] {
			f = &repo.Files[i]
		}
	}
	if f == nil {
		hubError(w, http.StatusNotFound, "EntryNotFound", parts[4]+" does not exist on \"main\"")
		return
	}
	w.Header().Set("X-Repo-Commit", repo.Commit)
	if f.LFS {
		w.Header().Set("ETag", `"`+f.GitSHA1()+`"`)
		w.Header().Set("X-Linked-Etag", `"`+f.SHA256()+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.Data)))
		s.override(w)
		http.Redirect(w, r, s.CDN.URL+"/repos/"+f.SHA256()+"?name="+path.Base(f.Path), http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+f.GitSHA1()+`"`)
	s.override(w)
	s.content(w, r, f.Data)
}

func (s *Server) override(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.ResolveHeader {
		w.Header().Set(k, v)
	}
}

func (s *Server) tree(w http.ResponseWriter, r *http.Request, id, rev string) {
	repo := s.repo(w, r, id, rev)
	if repo == nil {
		return
	}
	if s.TreeBody != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.TreeBody)
		return
	}
	type lfs struct {
		Oid         string `json:"oid"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type entry struct {
		Type string `json:"type"`
		Oid  string `json:"oid"`
		Size int    `json:"size"`
		LFS  *lfs   `json:"lfs,omitempty"`
		Path string `json:"path"`
	}
	recursive := r.URL.Query().Get("recursive") == "true"
	dirs := map[string]bool{}
	var out []entry
	for _, f := range repo.Files {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		if !recursive && strings.Contains(f.Path, "/") {
			continue
		}
		e := entry{Type: "file", Oid: f.GitSHA1(), Size: len(f.Data), Path: f.Path}
		if f.LFS {
			e.Size = len(f.Data)
			e.LFS = &lfs{Oid: f.SHA256(), Size: len(f.Data), PointerSize: 134}
		}
		out = append(out, e)
	}
	for d := range dirs {
		if recursive || !strings.Contains(d, "/") {
			out = append(out, entry{Type: "directory", Oid: strings.Repeat("0", 40), Path: d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	if s.PageSize > 0 {
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		end := min(start+s.PageSize, len(out))
		start = min(start, end)
		if end < len(out) {
			q := r.URL.Query()
			q.Set("cursor", strconv.Itoa(end))
			w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, s.URL, r.URL.Path, q.Encode()))
		}
		out = out[start:end]
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (s *Server) cdn(w http.ResponseWriter, r *http.Request) {
	s.record("cdn", r)
	oid := strings.TrimPrefix(r.URL.Path, "/repos/")
	s.mu.Lock()
	var data []byte
	for _, repo := range s.repos {
		for _, f := range repo.Files {
			if f.LFS && f.SHA256() == oid {
				data = f.Data
			}
		}
	}
	s.mu.Unlock()
	if data == nil {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	s.content(w, r, data)
}

// content serves data with Range support and the faults.
func (s *Server) content(w http.ResponseWriter, r *http.Request, data []byte) {
	s.mu.Lock()
	cut := s.Cuts > 0 && r.Method == http.MethodGet
	if cut {
		s.Cuts--
	}
	corrupt, noRange, cutAfter := s.Corrupt, s.NoRange, s.CutAfter
	s.mu.Unlock()
	if corrupt && len(data) > 0 {
		data = bytes.Clone(data)
		data[len(data)-1] ^= 0xff
	}
	if noRange {
		r.Header.Del("Range")
	}
	if !cut {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		return
	}
	start := 0
	if v, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes="); ok {
		start, _ = strconv.Atoi(strings.TrimSuffix(v, "-"))
		start = min(start, len(data))
	}
	rest := data[start:]
	w.Header().Set("Content-Length", strconv.Itoa(len(rest)))
	if start > 0 {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
		w.WriteHeader(http.StatusPartialContent)
	}
	w.Write(rest[:min(cutAfter, len(rest))])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler) // drops the connection
}
