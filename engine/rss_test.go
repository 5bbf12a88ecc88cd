//go:build linux

package engine_test

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/gguf"
	"bitnet/internal/modelgen"
)

// rss reads the anonymous and the file-backed resident memory of this
// process (RssAnon, RssFile).
func rss(t *testing.T) (anon, file int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for key, v := range map[string]*int64{"RssAnon:": &anon, "RssFile:": &file} {
			if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
				kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				*v = kb << 10
				found++
			}
		}
	}
	if found != 2 {
		t.Skip("RssAnon and RssFile not in /proc/self/status (kernel before 4.5)")
	}
	return anon, file
}

// TestLoadDoesNotCopyWeights: the model stays memory-mapped. After loading
// and evaluating a prompt, the anonymous resident memory grows by at most
// the KV cache and 64 MB (a copy of the weights would add the file's size),
// while the file-backed resident memory grows by most of the file (the
// weights are read where the mapping holds them).
func TestLoadDoesNotCopyWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 250 MB model")
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	p := modelgen.Params{Embd: 2048, Layers: 8, Heads: 16, HeadsKV: 4, FF: 5632, Vocab: 32000, Ctx: 512}
	if err := modelgen.GenerateFile(path, modelgen.Options{Params: &p, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	runtime.GC()
	debug.FreeOSMemory()
	anon0, file0 := rss(t)

	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	be := cpu.New(cpu.Options{Threads: 2})
	defer be.Close()
	m, err := engine.Load(f, be)
	if err != nil {
		t.Fatal(err)
	}
	const ctx = 512
	s, err := m.NewState(ctx, 64, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Forward([]int32{1, 2, 3, 4, 5, 6, 7, 8}, false); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	anon1, file1 := rss(t)
	anon, file := anon1-anon0, file1-file0
	kv := int64(2 * p.Layers * ctx * p.HeadsKV * (p.Embd / p.Heads) * 2)
	limit := kv + 64<<20
	t.Logf("file %d MB, KV %d MB: anonymous resident growth %d MB (limit %d MB), file-backed %d MB", st.Size()>>20, kv>>20, anon>>20, limit>>20, file>>20)
	if anon > limit {
		t.Errorf("anonymous resident memory grew by %d bytes, more than the KV cache + 64 MB = %d: the weights were copied?", anon, limit)
	}
	if file < st.Size()/2 {
		t.Errorf("file-backed resident memory grew by %d bytes for a %d-byte model: the weights are not read from the mapping", file, st.Size())
	}
}
