package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// repoFolder is the cache folder of a model repository: models--org--name.
func repoFolder(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}

func (c *Client) repoDir(repo string) string {
	return filepath.Join(c.CacheDir, repoFolder(repo))
}

func isCommit(s string) bool { return len(s) == 40 && isHex(s) }

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// validEtag accepts the blob ids the hub uses: a sha256 (LFS files) or a
// git blob sha1, in lower-case hex.
func validEtag(s string) bool { return (len(s) == 64 || len(s) == 40) && isHex(s) }

// writeRef records refs/{revision} = commit, as huggingface_hub does (no
// trailing newline), unless the revision is the commit itself.
func (c *Client) writeRef(repoDir, rev, commit string) error {
	if rev == commit {
		return nil
	}
	p := filepath.Join(repoDir, "refs", filepath.FromSlash(rev))
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeAtomic(p, []byte(commit))
}

func writeAtomic(p string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// linkBlob points the snapshot entry at the blob with a relative symlink
// (../../blobs/{etag}, one more ../ per subfolder), replacing whatever was
// there atomically. Where symlinks are not allowed it falls back to a hard
// link.
func linkBlob(blob, entry string) error {
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(entry), blob)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(entry), ".tmp-link-"+filepath.Base(entry))
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		if lerr := os.Link(blob, tmp); lerr != nil {
			return fmt.Errorf("link %s: %w", entry, err)
		}
	}
	if err := os.Rename(tmp, entry); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// candidate is a file that may be the model.
type candidate struct {
	path string
	size int64
}

func isGGUF(p string) bool { return strings.HasSuffix(strings.ToLower(p), ".gguf") }

// choose picks the model among a repository's files. want "" picks the only
// GGUF file, else the only one whose name contains "i2_s". Otherwise want
// is a path in the repository or, when no path matches, a fragment of one
// GGUF file's name (case-insensitive), such as "i2_s".
func choose(files []candidate, want string) (candidate, error) {
	var ggufs []candidate
	for _, f := range files {
		if want != "" && f.path == want {
			return f, nil
		}
		if isGGUF(f.path) {
			ggufs = append(ggufs, f)
		}
	}
	slices.SortFunc(ggufs, func(a, b candidate) int { return strings.Compare(a.path, b.path) })
	if len(ggufs) == 0 {
		if want != "" {
			return candidate{}, fmt.Errorf("%q: %w, and the repository has %w", want, ErrNotFound, ErrNoGGUF)
		}
		return candidate{}, fmt.Errorf("the repository has %w (files: %s)", ErrNoGGUF, listNames(files, 8))
	}
	pick := func(frag string) []candidate {
		var m []candidate
		for _, f := range ggufs {
			if strings.Contains(strings.ToLower(path.Base(f.path)), strings.ToLower(frag)) {
				m = append(m, f)
			}
		}
		return m
	}
	if want != "" {
		m := pick(want)
		switch len(m) {
		case 1:
			return m[0], nil
		case 0:
			return candidate{}, fmt.Errorf("%q: %w; its GGUF files: %s", want, ErrNotFound, listNames(ggufs, 0))
		}
		return candidate{}, fmt.Errorf("%q matches %w: %s; name one as REPO:FILE", want, ErrAmbiguous, listNames(m, 0))
	}
	if len(ggufs) == 1 {
		return ggufs[0], nil
	}
	if m := pick("i2_s"); len(m) == 1 {
		return m[0], nil
	}
	return candidate{}, fmt.Errorf("the repository has %w: %s; name one as REPO:FILE", ErrAmbiguous, listNames(ggufs, 0))
}

// listNames lists files with their sizes, at most max (0: all).
func listNames(files []candidate, max int) string {
	if len(files) == 0 {
		return "none"
	}
	var s []string
	for i, f := range files {
		if max > 0 && i == max {
			s = append(s, fmt.Sprintf("and %d more", len(files)-max))
			break
		}
		if f.size >= 0 {
			s = append(s, fmt.Sprintf("%s (%s)", f.path, FormatBytes(f.size)))
		} else {
			s = append(s, f.path)
		}
	}
	return strings.Join(s, ", ")
}

// Cached finds the file ref names in the cache without the network: the
// revision is a commit hash or a ref recorded in refs/, and the file is in
// that commit's snapshot (chosen among its GGUF files as Pull chooses).
func (c *Client) Cached(ref Ref) (*File, error) {
	rev := ref.revision()
	repoDir := c.repoDir(ref.Repo)
	notCached := func(what string) error {
		return fmt.Errorf("hub: %s: %w: %s (cache %s)", ref.Repo, ErrNotCached, what, c.CacheDir)
	}
	if err := validRevision(rev); err != nil {
		return nil, fmt.Errorf("hub: %s: %w", ref.Repo, err)
	}
	commit := rev
	if !isCommit(rev) {
		b, err := os.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(rev)))
		if err != nil {
			return nil, notCached(fmt.Sprintf("no revision %q", rev))
		}
		commit = strings.TrimSpace(string(b))
		if !isCommit(commit) {
			return nil, notCached(fmt.Sprintf("refs/%s does not hold a commit hash", rev))
		}
	}
	snap := filepath.Join(repoDir, "snapshots", commit)
	var files []candidate
	filepath.WalkDir(snap, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		st, err := os.Stat(p) // follows the symlink: a missing blob is not cached
		if err != nil || !st.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(snap, p)
		files = append(files, candidate{path: filepath.ToSlash(rel), size: st.Size()})
		return nil
	})
	if len(files) == 0 {
		return nil, notCached(fmt.Sprintf("no files of revision %q", rev))
	}
	chosen, err := choose(files, ref.File)
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoGGUF) {
			return nil, notCached(err.Error())
		}
		return nil, fmt.Errorf("hub: %s: %w", ref.Repo, err)
	}
	return &File{Repo: ref.Repo, Path: chosen.path, Revision: rev, Commit: commit,
		Local: filepath.Join(snap, filepath.FromSlash(chosen.path)), Size: chosen.size}, nil
}

// CachedFile is a file of a snapshot in the cache.
type CachedFile struct {
	Repo   string   `json:"repo"`
	Path   string   `json:"file"`
	Size   int64    `json:"size"`
	Commit string   `json:"commit"`
	Refs   []string `json:"refs"` // the revisions pointing at the commit
	Local  string   `json:"path"`
}

// List returns the cached files of every model repository, GGUF files only
// unless all, sorted by repository, file and commit. Snapshot entries whose
// blob is missing are left out.
func (c *Client) List(all bool) ([]CachedFile, error) {
	dirs, err := os.ReadDir(c.CacheDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hub: cache: %w", err)
	}
	var out []CachedFile
	for _, d := range dirs {
		name, ok := strings.CutPrefix(d.Name(), "models--")
		if !ok || !d.IsDir() {
			continue
		}
		repo := strings.Replace(name, "--", "/", 1)
		repoDir := filepath.Join(c.CacheDir, d.Name())
		refs := map[string][]string{}
		refRoot := filepath.Join(repoDir, "refs")
		filepath.WalkDir(refRoot, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil {
				rel, _ := filepath.Rel(refRoot, p)
				commit := strings.TrimSpace(string(b))
				refs[commit] = append(refs[commit], filepath.ToSlash(rel))
			}
			return nil
		})
		snaps, _ := os.ReadDir(filepath.Join(repoDir, "snapshots"))
		for _, s := range snaps {
			snap := filepath.Join(repoDir, "snapshots", s.Name())
			filepath.WalkDir(snap, func(p string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() || strings.HasPrefix(e.Name(), ".tmp-") || (!all && !isGGUF(e.Name())) {
					return nil
				}
				st, err := os.Stat(p)
				if err != nil || !st.Mode().IsRegular() {
					return nil
				}
				rel, _ := filepath.Rel(snap, p)
				r := refs[s.Name()]
				slices.Sort(r)
				out = append(out, CachedFile{Repo: repo, Path: filepath.ToSlash(rel), Size: st.Size(),
					Commit: s.Name(), Refs: r, Local: p})
				return nil
			})
		}
	}
	slices.SortFunc(out, func(a, b CachedFile) int {
		return strings.Compare(a.Repo+"\x00"+a.Path+"\x00"+a.Commit, b.Repo+"\x00"+b.Path+"\x00"+b.Commit)
	})
	return out, nil
}
