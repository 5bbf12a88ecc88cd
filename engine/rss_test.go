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

// rssBytes reads the resident set size of this process.
func rssBytes(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("VmRSS not found")
	return 0
}

// TestLoadDoesNotCopyWeights: the model stays memory-mapped, so after loading
// and evaluating a prompt the resident set grows by at most the file size,
// the KV cache and 64 MB.
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
	before := rssBytes(t)

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
	grown := rssBytes(t) - before
	kv := int64(2 * p.Layers * ctx * p.HeadsKV * (p.Embd / p.Heads) * 2)
	limit := st.Size() + kv + 64<<20
	t.Logf("file %d MB, KV %d MB, resident growth %d MB (limit %d MB)", st.Size()>>20, kv>>20, grown>>20, limit>>20)
	if grown > limit {
		t.Fatalf("resident set grew by %d bytes, more than file + KV cache + 64 MB = %d", grown, limit)
	}
}
