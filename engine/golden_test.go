package engine_test

import (
	"bitnet/reference"
	"fmt"
	"math"
	"testing"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/internal/testdata"
)

// goldenTolerance is the largest logit difference accepted against
// bitnet.cpp's batch logits (logit standard deviation is about 3).
const goldenTolerance = 1e-3

func cpuBackends() map[string]func() compute.Backend {
	return map[string]func() compute.Backend{
		"reference": func() compute.Backend { return reference.New() },
		"threads2":  func() compute.Backend { return cpu.New(cpu.Options{Threads: 2}) },
	}
}

func loadModel(t testing.TB, path string, be compute.Backend) *engine.Model {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := engine.Load(f, be)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func maxAbsDiff(a, b []float32) (float64, int) {
	var md float64
	at := -1
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > md || math.IsNaN(d) {
			md, at = d, i
			if math.IsNaN(d) {
				return math.Inf(1), i
			}
		}
	}
	return md, at
}

// TestGoldenLogits compares the batch path, the token-by-token path and
// greedy decoding with bitnet.cpp's outputs for the golden models.
func TestGoldenLogits(t *testing.T) {
	for _, name := range []string{"tiny-i2_s", "tiny-f32", "tinybitnet-stories"} {
		for bname, newBE := range cpuBackends() {
			for _, kv := range []gguf.DType{gguf.F16} {
				t.Run(fmt.Sprintf("%s/%s/kv=%s", name, bname, kv), func(t *testing.T) {
					g := testdata.LoadGolden(t, name)
					be := newBE()
					defer be.Close()
					m := loadModel(t, g.ModelPath, be)
					nv := m.Config.NVocab
					if nv != g.NVocab {
						t.Fatalf("n_vocab %d, golden %d", nv, g.NVocab)
					}
					st, err := m.NewState(64, 64, kv)
					if err != nil {
						t.Fatal(err)
					}
					batch, err := st.Forward(g.Tokens, true)
					if err != nil {
						t.Fatal(err)
					}
					if md, at := maxAbsDiff(batch, g.Logits); md > goldenTolerance {
						t.Fatalf("batch logits: max abs diff %.3g at position %d token %d (want <= %g)", md, at/nv, at%nv, goldenTolerance)
					} else {
						t.Logf("batch logits: max abs diff %.3g", md)
					}

					tbt, err := m.NewState(64, 64, kv)
					if err != nil {
						t.Fatal(err)
					}
					for i, id := range g.Tokens {
						lg, err := tbt.Forward([]int32{id}, false)
						if err != nil {
							t.Fatal(err)
						}
						if md, at := maxAbsDiff(lg, g.Logits[i*nv:(i+1)*nv]); md > goldenTolerance {
							t.Fatalf("token-by-token position %d: max abs diff %.3g at token %d", i, md, at)
						}
					}

					// Greedy continuation after the batch prompt.
					next := engine.Argmax(batch[len(batch)-nv:])
					got := []int32{next}
					for len(got) < len(g.GreedyNext16) {
						lg, err := st.Forward([]int32{got[len(got)-1]}, false)
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, engine.Argmax(lg))
					}
					for i := range got {
						if got[i] != g.GreedyNext16[i] {
							t.Fatalf("greedy tokens %v, bitnet.cpp %v", got, g.GreedyNext16)
						}
					}
				})
			}
		}
	}
}

// TestF32CacheIsAnOption checks that an F32 KV cache runs and stays close to
// (but is not required to match) bitnet.cpp.
func TestF32CacheIsAnOption(t *testing.T) {
	g := testdata.LoadGolden(t, "tiny-i2_s")
	be := reference.New()
	defer be.Close()
	m := loadModel(t, g.ModelPath, be)
	st, err := m.NewState(16, 16, gguf.F32)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := st.Forward(g.Tokens, true)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := maxAbsDiff(lg, g.Logits)
	if md > 1 || md == 0 {
		t.Fatalf("f32 cache: max abs diff %g from the f16-cache reference, want in (0, 1]", md)
	}
}

// TestBatchChunking evaluates a prompt in chunks smaller than the prompt and
// checks the logits equal the single-batch ones.
func TestBatchChunking(t *testing.T) {
	g := testdata.LoadGolden(t, "tinybitnet-stories")
	be := reference.New()
	defer be.Close()
	m := loadModel(t, g.ModelPath, be)
	st, err := m.NewState(64, 3, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := st.Forward(g.Tokens, true)
	if err != nil {
		t.Fatal(err)
	}
	if md, at := maxAbsDiff(lg, g.Logits); md > goldenTolerance {
		t.Fatalf("chunked batch: max abs diff %g at %d", md, at)
	}
}
