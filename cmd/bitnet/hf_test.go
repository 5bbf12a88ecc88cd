package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bitnet/internal/hub/hubtest"
	"bitnet/internal/testdata"
)

const tinyRepo = "bitnet-test/tinybitnet-stories-gguf"

// fakeHub serves the bundled story model as an LFS file of tinyRepo and
// points the environment at it with an empty cache.
func fakeHub(t *testing.T) (*hubtest.Server, *hubtest.Repo, []byte) {
	t.Helper()
	model, err := os.ReadFile(filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	s := hubtest.New(t)
	r := s.Add(tinyRepo, &hubtest.Repo{Files: []hubtest.File{
		{Path: ".gitattributes", Data: []byte("*.gguf filter=lfs diff=lfs merge=lfs -text\n")},
		{Path: "README.md", Data: []byte("# tinybitnet-stories\n")},
		{Path: "tinybitnet-stories.gguf", Data: model, LFS: true},
	}})
	home := t.TempDir()
	t.Setenv("HF_ENDPOINT", s.URL)
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", filepath.Join(home, "hub"))
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "HUGGINGFACE_HUB_CACHE"} {
		t.Setenv(k, "")
	}
	return s, r, model
}

func TestPullCommand(t *testing.T) {
	s, r, model := fakeHub(t)
	out, errs, code := bitnet(t, "pull", tinyRepo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := filepath.Join(os.Getenv("HF_HUB_CACHE"), "models--bitnet-test--tinybitnet-stories-gguf", "snapshots", r.Commit, "tinybitnet-stories.gguf")
	if out != want+"\n" {
		t.Fatalf("stdout %q, want the path %q", out, want)
	}
	if got, err := os.ReadFile(want); err != nil || string(got) != string(model) {
		t.Fatalf("pulled file differs from the served one (%v)", err)
	}
	if !strings.Contains(errs, "downloading tinybitnet-stories.gguf (355.6 kB)") || !strings.Contains(errs, "downloaded tinybitnet-stories.gguf: 355.6 kB in") {
		t.Errorf("progress on stderr:\n%s", errs)
	}
	// Again: nothing is downloaded, the same path is printed.
	gets := s.ContentGets()
	out2, errs, code := bitnet(t, "pull", tinyRepo+":tinybitnet-stories.gguf", "--revision", r.Commit)
	if code != 0 || out2 != out || s.ContentGets() != gets || !strings.Contains(errs, "model in the cache") {
		t.Fatalf("second pull: exit %d, stdout %q, %d new content GETs, stderr %s", code, out2, s.ContentGets()-gets, errs)
	}

	out, errs, code = bitnet(t, "models")
	if code != 0 {
		t.Fatalf("models: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "REPO FILE SIZE REVISION" ||
		strings.Join(strings.Fields(lines[1]), " ") != tinyRepo+" tinybitnet-stories.gguf 355.6 kB main ("+r.Commit[:12]+")" {
		t.Fatalf("models:\n%s", out)
	}
	out, _, _ = bitnet(t, "models", "--json")
	if !strings.Contains(out, `"path": "`+want+`"`) || !strings.Contains(out, `"size": 355648`) {
		t.Fatalf("models --json:\n%s", out)
	}
}

// TestRunHF: --hf pulls on first use and runs the model as --model does.
func TestRunHF(t *testing.T) {
	s, _, _ := fakeHub(t)
	args := []string{"--prompt", "Once upon a time", "--temperature", "0", "--max-new-tokens", "24", "--backend", "cpu"}
	local := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	want, errs, code := bitnet(t, append([]string{"run", "--model", local}, args...)...)
	if code != 0 || len(want) < 20 {
		t.Fatalf("run --model: exit %d, %q: %s", code, want, errs)
	}
	got, errs, code := bitnet(t, append([]string{"run", "--hf", tinyRepo}, args...)...)
	if code != 0 {
		t.Fatalf("run --hf: exit %d: %s", code, errs)
	}
	if got != want {
		t.Fatalf("run --hf printed %q, run --model %q", got, want)
	}
	if s.ContentGets() != 1 || !strings.Contains(errs, "downloaded tinybitnet-stories.gguf") {
		t.Fatalf("%d content GETs, stderr: %s", s.ContentGets(), errs)
	}
	// Offline, from the cache.
	t.Setenv("HF_HUB_OFFLINE", "1")
	n := len(s.Requests())
	got, errs, code = bitnet(t, append([]string{"run", "--hf", tinyRepo + ":tinybitnet"}, args...)...)
	if code != 0 || got != want || len(s.Requests()) != n {
		t.Fatalf("offline run --hf: exit %d, %d requests, %q: %s", code, len(s.Requests())-n, got, errs)
	}
}

func TestPullErrors(t *testing.T) {
	s, r, _ := fakeHub(t)
	cases := []struct {
		name  string
		setup func(t *testing.T)
		args  []string
		code  int
		msg   []string
	}{
		{"no repository", nil, []string{"pull"}, 2, []string{"want one REPO[:FILE]"}},
		{"bad repository", nil, []string{"pull", "../etc"}, 2, []string{`repository "../etc"`}},
		{"hf and model", nil, []string{"run", "--hf", tinyRepo, "--model", "x.gguf", "--prompt", "x"}, 2, []string{"--hf and --model are alternatives"}},
		{"bad hf", nil, []string{"chat", "--hf", "a/b/c"}, 2, []string{"--hf", "too many '/'"}},
		{"unknown repository", nil, []string{"pull", "nobody/nothing"}, 1, []string{"bitnet pull: hub: nobody/nothing: repository not found", "404"}},
		{"gated", func(t *testing.T) { r.Token = "hf_x"; s.Add(tinyRepo, r) }, []string{"run", "--hf", tinyRepo, "--prompt", "x"}, 1, []string{"401", "set HF_TOKEN"}},
		{"no gguf", func(t *testing.T) { r.Files = r.Files[:2]; s.Add(tinyRepo, r) }, []string{"pull", tinyRepo}, 1, []string{"no GGUF file", "README.md"}},
		{"missing file", nil, []string{"pull", tinyRepo + ":other.gguf"}, 1, []string{`"other.gguf": not found`, "tinybitnet-stories.gguf (355.6 kB)"}},
		{"checksum", func(t *testing.T) { s.Corrupt = true }, []string{"pull", tinyRepo}, 1, []string{"checksum mismatch", "the data was removed"}},
		{"offline", func(t *testing.T) { t.Setenv("HF_HUB_OFFLINE", "1") }, []string{"bench", "--hf", tinyRepo}, 1, []string{"not in the cache", "offline"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := r.Files
			defer func() {
				r.Token, r.Files, s.Corrupt = "", files, false
				s.Add(tinyRepo, r)
			}()
			if c.setup != nil {
				c.setup(t)
			}
			out, errs, code := bitnet(t, c.args...)
			t.Logf("stderr:\n%s", errs)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, errs)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			for _, m := range c.msg {
				if !strings.Contains(errs, m) {
					t.Errorf("stderr does not say %q:\n%s", m, errs)
				}
			}
			if list, _, _ := bitnet(t, "models", "--all"); list != "" {
				t.Errorf("the cache holds files after the error:\n%s", list)
			}
		})
	}
}
