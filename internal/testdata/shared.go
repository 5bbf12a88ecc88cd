// Package testdata locates the reference data that tests read from the
// shared folder beside the repository (../shared: golden logits from
// bitnet.cpp, real models and vocabularies). That data belongs to other
// projects and is never copied into the repository.
package testdata

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns the shared folder, or skips the test with a message
// saying where it was looked for. BITNET_SHARED overrides the location.
func SharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("BITNET_SHARED"); d != "" {
		return d
	}
	root := RepoRoot(t)
	d := filepath.Join(root, "..", "shared")
	if st, err := os.Stat(filepath.Join(d, "golden")); err != nil || !st.IsDir() {
		SkipUnlessCI(t, "reference data not found: %s/golden is absent (set BITNET_SHARED to its location)", d)
	}
	return d
}

// Path returns a file inside the shared folder, skipping if it is absent.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(SharedDir(t), rel)
	if _, err := os.Stat(p); err != nil {
		SkipUnlessCI(t, "reference file %s is absent", p)
	}
	return p
}

// RepoRoot returns the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			t.Fatal("go.mod not found above the test's directory")
		}
		d = p
	}
}

// Golden is the description of a golden run (golden/<name>.json).
type Golden struct {
	Model        string    `json:"model"`
	NVocab       int       `json:"n_vocab"`
	Tokens       []int32   `json:"tokens"`
	GreedyNext16 []int32   `json:"greedy_next16"`
	StartsWith   string    `json:"greedy_from_bos_starts_with"`
	Logits       []float32 `json:"-"` // [len(Tokens)][NVocab]
	ModelPath    string    `json:"-"`
}

// LoadGolden reads golden/<name>.json and its logits.
func LoadGolden(t testing.TB, name string) Golden {
	t.Helper()
	dir := filepath.Join(SharedDir(t), "golden")
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g Golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, name+".logits.f32"))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 4*len(g.Tokens)*g.NVocab {
		t.Fatalf("%s.logits.f32: %d bytes, want %d", name, len(raw), 4*len(g.Tokens)*g.NVocab)
	}
	g.Logits = make([]float32, len(raw)/4)
	for i := range g.Logits {
		g.Logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	g.ModelPath = filepath.Join(dir, g.Model)
	return g
}

// SkipUnlessCI skips the test with the message, except in CI (CI set to a
// non-empty value other than "false"), where the environment is required to
// provide what is missing (lavapipe, ../shared) and the test fails instead.
func SkipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatalf("required in CI: "+format, args...)
	}
	t.Skipf(format, args...)
}
