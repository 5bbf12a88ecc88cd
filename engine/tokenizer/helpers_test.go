package tokenizer

import (
	"bitnet/internal/testdata"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"bitnet/gguf"
)

// sharedModels is the reference model directory (repository root/../shared).
var sharedModels = filepath.Join("..", "..", "..", "shared", "models")

var (
	loadMu sync.Mutex
	loaded = map[string]*Tokenizer{}
)

// loadVocab loads a tokenizer from ../shared/models/<name>.gguf, skipping the
// test when the reference models are not available.
func loadVocab(t testing.TB, name string) *Tokenizer {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	if tk, ok := loaded[name]; ok {
		return tk
	}
	path := filepath.Join(sharedModels, name+".gguf")
	if _, err := os.Stat(path); err != nil {
		testdata.SkipUnlessCI(t, "reference vocabulary %s not available (%v): needs ../shared next to the repository", path, err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tk, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	loaded[name] = tk
	return tk
}

func llama3(t testing.TB) *Tokenizer { return loadVocab(t, "ggml-vocab-llama-bpe") }
func llama2(t testing.TB) *Tokenizer { return loadVocab(t, "ggml-vocab-llama-spm") }
