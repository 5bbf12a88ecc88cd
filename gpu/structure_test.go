//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/gpu"
	"bitnet/internal/modelgen"
)

// TestDecodeStepStructure checks the shape of a decode step on the 2B-4T
// widths (two layers, a smaller vocabulary): it is captured once, then
// every token is one submission of the captured commands, nothing is
// recorded again, the host writes and reads back a few bytes, and a layer
// takes at most 5 dispatches (the norms run inside the matvecs that read
// them, RoPE and the KV store inside the q/k/v matvec, the merge of the
// attention chunks inside the attention kernel).
func TestDecodeStepStructure(t *testing.T) {
	plainStructure(t)
}

// plain is the default's decode step, as decodeStepStructure recorded it
// for the first test that asked (plainStructure).
var plain struct {
	once sync.Once
	step compute.DeviceCounters
}

// plainStructure checks the default's decode step (decodeStepStructure,
// 5 dispatches per layer) once, and returns what its capture recorded.
func plainStructure(t *testing.T) compute.DeviceCounters {
	plain.once.Do(func() { plain.step = decodeStepStructure(t, openTest(t), 5) })
	if plain.step.Dispatches == 0 {
		t.Fatal("the default's decode step failed its checks in an earlier test")
	}
	return plain.step
}

// TestDecodeStepStructureChain: with the decode kernels chained, the step
// has the default's dispatches, and the layers' kernels wait for each
// other in their shaders: of their barriers only the one that starts the
// chain (after the fill that zeroes its counters) is left, so the step
// has five barriers per layer, less one, fewer than the default. The timed
// kernels keep the order they are given.
func TestDecodeStepStructureChain(t *testing.T) {
	chained := decodeStepStructure(t, openChained(t, gpu.Options{}), 5)
	plain := plainStructure(t)
	t.Logf("barriers of the captured step: %d chained, %d by default", chained.Barriers, plain.Barriers)
	if chained.Dispatches != plain.Dispatches {
		t.Errorf("the chained step takes %d dispatches, the default %d: want the same", chained.Dispatches, plain.Dispatches)
	}
	if want := 5*structureLayers - 1; chained.Barriers+uint64(want) != plain.Barriers {
		t.Errorf("the chained step has %d barriers, the default %d: want %d fewer", chained.Barriers, plain.Barriers, want)
	}
	// The timed kernels (Options.Timeline) keep either order: behind
	// barriers, the default's (the barrier after the fill of the counters
	// is one the first timed kernel needs anyway), chained, the chain's.
	timed := decodeStepStructure(t, openTestWith(t, gpu.Options{Device: -1, Timeline: true}), 5)
	timedChain := decodeStepStructure(t, openChained(t, gpu.Options{Timeline: true}), 5)
	if timed.Dispatches != plain.Dispatches || timed.Barriers != plain.Barriers {
		t.Errorf("timed behind barriers: %d dispatches and %d barriers, want %d and %d", timed.Dispatches, timed.Barriers, plain.Dispatches, plain.Barriers)
	}
	if timedChain.Dispatches != plain.Dispatches || timedChain.Barriers != chained.Barriers {
		t.Errorf("timed and chained: %d dispatches and %d barriers, want %d and %d", timedChain.Dispatches, timedChain.Barriers, plain.Dispatches, chained.Barriers)
	}
}

// structureLayers is the layer count of decodeStepStructure's model.
const structureLayers = 2

// structureModel writes the model of decodeStepStructure: the 2B-4T
// widths, structureLayers layers, a smaller vocabulary.
func structureModel(t *testing.T) string {
	p := modelgen.Params{Embd: 2560, Layers: structureLayers, Heads: 20, HeadsKV: 5, FF: 6912, Vocab: 8192, Ctx: 256}
	path := filepath.Join(t.TempDir(), "2b4t-widths.gguf")
	if err := modelgen.GenerateFile(path, modelgen.Options{Arch: "bitnet-b1.58", Params: &p, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	return path
}

// decodeStepStructure checks the decode step's structure on be, with at
// most perLayer dispatches per layer, and returns what the capture of the
// step recorded.
func decodeStepStructure(t *testing.T, be *gpu.Backend, perLayer int) compute.DeviceCounters {
	const layers = structureLayers
	_, st := smallState(t, structureModel(t), be)
	greedy := engine.Selection{K: 1, Penalty: 1}
	c0 := be.Counters()
	cands, err := st.Next([]int32{1, 17, 42, 99}, greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	prompt := be.Counters().Sub(c0)
	t.Logf("prompt of 4 tokens: %+v", prompt)

	// The first decode step is captured: its dispatches are the step's.
	c0 = be.Counters()
	cands, err = st.Next([]int32{cands[0].ID}, greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := be.Counters().Sub(c0)
	// Outside the layers: the embedding, the final norm, the LM head and
	// the top-k passes.
	const outside = 8
	t.Logf("first decode step (captured): %d dispatches, %d barriers, %d submits", first.Dispatches, first.Barriers, first.Submits)
	if max := uint64(perLayer*layers + outside); first.Dispatches > max {
		t.Errorf("a decode step records %d dispatches, want at most %d (%d per layer)", first.Dispatches, max, perLayer)
	}
	if first.Dispatches < uint64(perLayer*layers) {
		t.Errorf("a decode step records %d dispatches: fewer than the layers need (counters broken?)", first.Dispatches)
	}

	const n = 8
	c0 = be.Counters()
	t0 := time.Now()
	for range n {
		if cands, err = st.Next([]int32{cands[0].ID}, greedy, nil); err != nil {
			t.Fatal(err)
		}
	}
	wall := time.Since(t0)
	d := be.Counters().Sub(c0)
	t.Logf("%d replayed decode steps: %+v", n, d)
	// Their device time, from timestamps around each replay: some, and
	// less than the host waited for them.
	if be.Info().Timestamps() && (d.ReplayTime <= 0 || d.ReplayTime > wall) {
		t.Errorf("the replays took %v on the device and %v on the host's clock: want some device time, within the host's", d.ReplayTime, wall)
	}
	if d.Submits != n || d.Replays != n {
		t.Errorf("%d tokens took %d submissions (%d replays), want one replay each", n, d.Submits, d.Replays)
	}
	if d.Dispatches != 0 || d.Barriers != 0 {
		t.Errorf("replayed tokens recorded %d dispatches and %d barriers, want none", d.Dispatches, d.Barriers)
	}
	if d.Step.Dispatches != int(first.Dispatches) || d.Step.Barriers != int(first.Barriers) {
		t.Errorf("the counters give the captured step as %+v, but its capture recorded %d dispatches and %d barriers",
			d.Step, first.Dispatches, first.Barriers)
	}
	if per := d.BytesDown / n; per > 4096 {
		t.Errorf("%d bytes read back per greedy token, want at most 4096", per)
	}
	if per := d.BytesUp / n; per > 64 {
		t.Errorf("%d bytes written per token, want a few", per)
	}
	if d.Prepare != 0 {
		t.Errorf("replayed tokens spent %v turning ops into commands", d.Prepare)
	}

	// Sampled decoding replays too (its own captured step, top-40 after a
	// repetition penalty) and reads back only the candidates.
	smp := engine.Selection{K: 40, Penalty: 1.1, Window: 64}
	history := []int32{1, 17, 42, 99, 5, 5, 6}
	if _, err := st.Next([]int32{7}, smp, history); err != nil {
		t.Fatal(err)
	}
	c0 = be.Counters()
	var got []compute.Candidate
	for i := range 4 {
		if got, err = st.Next([]int32{int32(10 + i)}, smp, history); err != nil {
			t.Fatal(err)
		}
	}
	d = be.Counters().Sub(c0)
	if d.Replays != 4 || d.Dispatches != 0 {
		t.Errorf("sampled steps: %d replays, %d dispatches recorded, want 4 and 0", d.Replays, d.Dispatches)
	}
	if per := d.BytesDown / 4; per > 4096 {
		t.Errorf("%d bytes read back per sampled token, want at most 4096", per)
	}
	if len(got) != 40 {
		t.Fatalf("%d candidates, want 40", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Less(got[i-1]) {
			t.Fatalf("candidates out of order at %d: %+v", i, got[i-1:i+1])
		}
	}
	return first
}
