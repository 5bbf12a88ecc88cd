//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/engine/compute/computetest"
	"bitnet/gguf"
	"bitnet/internal/testdata"
)

// TestScreen runs the shared checks of the screened matmul (the LM head
// of greedy and top-k decoding) on the device, with the validation layer
// where it is installed.
func TestScreen(t *testing.T) {
	computetest.RunScreen(t, openTest(t))
}

// loadScreened loads path on be with head screening mode and returns a
// state of 256 positions.
func loadScreened(t *testing.T, path string, be compute.Backend, mode engine.ScreenMode) *engine.State {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := engine.LoadWith(f, be, engine.LoadOptions{ScreenHead: mode})
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.NewState(256, 32, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// TestScreenedHeadOnDevice: with the LM head screened on the device, the
// 40 best candidates of every step of a forced sequence are those of the
// full head on the device, bit for bit, and greedy (one step at a time
// and in bursts of 8) and sampled generation, with a repetition penalty
// too, give the CPU's tokens, on
// tinybitnet-stories (F16 head) and stories260K (F32 head).
func TestScreenedHeadOnDevice(t *testing.T) {
	for _, path := range []string{filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf"), testdata.Path(t, "models/stories260K.gguf")} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			be := openTest(t)
			ref := cpu.New(cpu.Options{})
			defer ref.Close()
			full, scr := loadScreened(t, path, be, engine.ScreenOff), loadScreened(t, path, be, engine.ScreenOn)
			sel := engine.Selection{K: 40, Penalty: 1}
			for i := range 40 {
				id := []int32{int32((i*7919 + 13) % 512)}
				want, err := full.Next(id, sel, nil)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want[:0:0], want...)
				got, err := scr.Next(id, sel, nil)
				if err != nil {
					t.Fatal(err)
				}
				for j := range want {
					if got[j].ID != want[j].ID || math.Float32bits(got[j].Logit) != math.Float32bits(want[j].Logit) {
						t.Fatalf("step %d candidate %d: %+v, want %+v", i, j, got[j], want[j])
					}
				}
			}
			cpuSt := loadScreened(t, path, ref, engine.ScreenOff)
			greedy := engine.SamplerParams{}
			sampled := engine.SamplerParams{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 42}
			penalized := engine.SamplerParams{Temperature: 0.8, TopK: 40, RepeatPenalty: 1.3, RepeatLastN: 32, Seed: 12}
			for _, c := range []struct {
				p        engine.SamplerParams
				runAhead int
			}{{greedy, 0}, {greedy, 8}, {sampled, 0}, {penalized, 0}} {
				cpuSt.Reset()
				scr.Reset()
				o := func() engine.GenerateOptions {
					return engine.GenerateOptions{MaxNewTokens: 80, RunAhead: c.runAhead, Sampler: engine.NewSampler(c.p)}
				}
				want := generate(t, cpuSt, storyPrompt, o())
				if got := generate(t, scr, storyPrompt, o()); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%+v:\nvulkan, screened %v\ncpu              %v", c, got, want)
				}
			}
		})
	}
}
