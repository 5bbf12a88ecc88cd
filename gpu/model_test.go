//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"bitnet/reference"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/gpu"
	"bitnet/internal/modelgen"
	"bitnet/internal/testdata"
)

// whole-model agreement between the Vulkan backend and the CPU reference.
const (
	minCosine  = 0.99999
	maxAbsDiff = 1e-3
)

type run struct {
	logits []float32 // every prompt position
	greedy []int32
}

// loadModel opens path (closed when the test ends) and loads it on be.
func loadModel(t *testing.T, path string, be compute.Backend) *engine.Model {
	return loadModelHead(t, path, be, engine.HeadStored)
}

// smallState loads the model at path on be and returns it with a state of
// 64 positions (batches of 16, an F16 cache), closed when the test ends.
func smallState(t *testing.T, path string, be compute.Backend) (*engine.Model, *engine.State) {
	t.Helper()
	m := loadModel(t, path, be)
	st, err := m.NewState(64, 16, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return m, st
}

// loadModelHead is loadModel with the LM head in the given type.
func loadModelHead(t *testing.T, path string, be compute.Backend, head engine.HeadType) *engine.Model {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := engine.LoadWith(f, be, engine.LoadOptions{LMHead: head})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runModel evaluates tokens as a batch, then decodes greedily n tokens one
// at a time.
func runModel(t *testing.T, path string, be compute.Backend, tokens []int32, n int) run {
	return runModelHead(t, path, be, engine.HeadStored, tokens, n)
}

// runModelHead is runModel with the LM head in the given type.
func runModelHead(t *testing.T, path string, be compute.Backend, head engine.HeadType, tokens []int32, n int) run {
	t.Helper()
	m := loadModelHead(t, path, be, head)
	st, err := m.NewState(len(tokens)+n+1, 64, gguf.F16)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := st.Forward(tokens, true)
	if err != nil {
		t.Fatal(err)
	}
	r := run{logits: lg}
	nv := m.Config.NVocab
	next := engine.Argmax(lg[len(lg)-nv:])
	for len(r.greedy) < n {
		r.greedy = append(r.greedy, next)
		l, err := st.Forward([]int32{next}, false)
		if err != nil {
			t.Fatal(err)
		}
		next = engine.Argmax(l)
	}
	return r
}

func compareRuns(t *testing.T, got, want run, nv int, absTol float64) {
	t.Helper()
	rows := len(want.logits) / nv
	var worstCos, worstAbs float64 = 1, 0
	for i := 0; i < rows; i++ {
		cos, mx, _ := engine.CompareVectors(got.logits[i*nv:(i+1)*nv], want.logits[i*nv:(i+1)*nv])
		worstCos, worstAbs = min(worstCos, cos), max(worstAbs, mx)
		if cos < minCosine || (absTol > 0 && mx > absTol) {
			t.Errorf("position %d: cosine %.8f, max abs diff %.3g (want >= %g, <= %g)", i, cos, mx, minCosine, absTol)
		}
	}
	t.Logf("logits over %d positions: worst cosine %.9f, max abs diff %.3g", rows, worstCos, worstAbs)
	for i := range want.greedy {
		if got.greedy[i] != want.greedy[i] {
			t.Fatalf("greedy tokens differ at %d:\nvulkan %v\ncpu    %v", i, got.greedy, want.greedy)
		}
	}
}

func refRun(t *testing.T, path string, tokens []int32, n int) run {
	return refRunHead(t, path, engine.HeadStored, tokens, n)
}

func refRunHead(t *testing.T, path string, head engine.HeadType, tokens []int32, n int) run {
	be := reference.New()
	defer be.Close()
	return runModelHead(t, path, be, head, tokens, n)
}

// TestModelsMatchCPU runs real and golden models on Vulkan and the CPU.
func TestModelsMatchCPU(t *testing.T) {
	prompt := []int32{1, 17, 42, 99, 3, 250, 7, 128}
	cases := []struct {
		name   string
		path   func(t *testing.T) string
		tokens []int32
		greedy int
		absTol float64
		head   engine.HeadType
	}{
		{"tiny-i2_s", func(t *testing.T) string { return testdata.Path(t, "golden/tiny-i2_s.gguf") }, prompt, 16, maxAbsDiff, engine.HeadStored},
		{"tiny-f32", func(t *testing.T) string { return testdata.Path(t, "golden/tiny-f32.gguf") }, prompt, 16, maxAbsDiff, engine.HeadStored},
		{"tinybitnet-stories", func(t *testing.T) string {
			return filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
		}, []int32{1}, 120, maxAbsDiff, engine.HeadStored},
		{"stories260K", func(t *testing.T) string { return testdata.Path(t, "models/stories260K.gguf") }, []int32{1}, 200, 0, engine.HeadStored},
		// The quantized LM heads (--lm-head) through the whole model.
		{"tinybitnet-stories/q8_0", func(t *testing.T) string {
			return filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
		}, []int32{1}, 120, maxAbsDiff, engine.HeadQ8_0},
		{"tiny-i2_s/q6_k", func(t *testing.T) string { return testdata.Path(t, "golden/tiny-i2_s.gguf") }, prompt, 16, maxAbsDiff, engine.HeadQ6_K},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path(t)
			want := refRunHead(t, path, c.head, c.tokens, c.greedy)
			be := openTest(t)
			got := runModelHead(t, path, be, c.head, c.tokens, c.greedy)
			f, _ := gguf.Open(path)
			nv := len(want.logits) / len(c.tokens)
			f.Close()
			compareRuns(t, got, want, nv, c.absTol)
		})
	}
}

// TestGeneratedModelsMatchCPU covers the weight types the golden models do
// not: generated bitnet-b1.58 (I2_S), bitnet (TQ2_0, TQ1_0) and llama (F16,
// Q8_0-free F32) models.
func TestGeneratedModelsMatchCPU(t *testing.T) {
	for _, o := range []modelgen.Options{
		{Arch: "bitnet-b1.58", Preset: "tiny", Seed: 3},
		{Arch: "bitnet", Preset: "tiny", Seed: 4, WeightType: "tq2_0"},
		{Arch: "bitnet", Preset: "tiny", Seed: 5, WeightType: "tq1_0"},
		{Arch: "llama", Preset: "tiny", Seed: 6, WeightType: "f16"},
	} {
		t.Run(fmt.Sprintf("%s-%s", o.Arch, o.WeightType), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.gguf")
			if err := modelgen.GenerateFile(path, o); err != nil {
				t.Fatal(err)
			}
			tokens := []int32{1, 5, 9, 200, 33, 7}
			want := refRun(t, path, tokens, 8)
			be := openTest(t)
			got := runModel(t, path, be, tokens, 8)
			compareRuns(t, got, want, len(want.logits)/len(tokens), 0)
		})
	}
}

// TestDeviceEnv: with the choice left open, BITNET_VK_DEVICE selects the
// device (in Open and in AutoDevice, which `bitnet devices` shows), also
// one the automatic choice would refuse (a CPU implementation such as
// lavapipe); a value that selects nothing fails, naming the variable; an
// index in the options overrides it.
func TestDeviceEnv(t *testing.T) {
	openTest(t) // a Vulkan device is present
	infos, err := gpu.Devices()
	if err != nil {
		t.Fatal(err)
	}
	idx := -1
	for i, d := range infos {
		if d.Usable {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("no usable device among %d", len(infos))
	}
	open := func(o gpu.Options) (string, error) {
		be, err := gpu.Open(o)
		if err != nil {
			return "", err
		}
		defer be.Close()
		return be.Device(), nil
	}
	want := infos[idx].String()
	t.Setenv("BITNET_VK_DEVICE", strconv.Itoa(idx))
	if got, err := open(gpu.Options{Device: -1, Auto: true}); err != nil || got != want {
		t.Errorf("BITNET_VK_DEVICE=%d: device %q, %v; want %q", idx, got, err, want)
	}
	if i, err := gpu.AutoDevice(infos); err != nil || i != idx {
		t.Errorf("BITNET_VK_DEVICE=%d: AutoDevice gives %d, %v", idx, i, err)
	}
	t.Setenv("BITNET_VK_DEVICE", strconv.Itoa(len(infos)))
	if got, err := open(gpu.Options{Device: idx}); err != nil || got != want {
		t.Errorf("Device %d with BITNET_VK_DEVICE=%d: device %q, %v; want %q", idx, len(infos), got, err, want)
	}
	_, err = open(gpu.Options{Device: -1})
	_, autoErr := gpu.AutoDevice(infos)
	for _, err := range []error{err, autoErr} {
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("BITNET_VK_DEVICE=%d", len(infos))) || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("BITNET_VK_DEVICE=%d: %v, want an error naming the variable and the range", len(infos), err)
		}
	}
}

// TestStateTooLargeForDevice: a KV cache beyond the device's memory is an
// error naming the context size.
func TestStateTooLargeForDevice(t *testing.T) {
	be := openTest(t)
	f, err := gguf.Open(testdata.Path(t, "golden/tiny-i2_s.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := engine.Load(f, be)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.NewState(1<<26, 16, gguf.F16)
	if err == nil || !strings.Contains(err.Error(), "67108864 tokens") || !strings.Contains(err.Error(), "vulkan") {
		t.Fatalf("huge context: %v", err)
	}
}

// TestHeadDimLimit: a model whose heads exceed the attention kernel's limit
// is refused with an error naming both sizes.
func TestHeadDimLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wide.gguf")
	p := modelgen.Params{Embd: 512, Layers: 1, Heads: 1, HeadsKV: 1, FF: 256, Vocab: 512, Ctx: 64}
	if err := modelgen.GenerateFile(path, modelgen.Options{Arch: "llama", Params: &p, Seed: 1, WeightType: "f32"}); err != nil {
		t.Fatal(err)
	}
	be := openTest(t)
	m := loadModel(t, path, be)
	if _, err := m.NewState(16, 8, gguf.F16); err == nil || !strings.Contains(err.Error(), "512") || !strings.Contains(err.Error(), "256") {
		t.Fatalf("head_dim 512 on vulkan: %v", err)
	}
}

// TestGenerateMatchesCPU: greedy and sampled generation on Vulkan give the
// CPU's tokens for the same seed (candidates are selected on the device,
// then drawn on the host with the same rules).
func TestGenerateMatchesCPU(t *testing.T) {
	models := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"tinybitnet-stories", func(t *testing.T) string {
			return filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
		}},
		{"stories260K", func(t *testing.T) string { return testdata.Path(t, "models/stories260K.gguf") }},
	}
	samplers := []engine.SamplerParams{
		{Temperature: 0},
		{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 42},
		{Temperature: 1.0, TopK: 200, TopP: 0.9, RepeatPenalty: 1.15, RepeatLastN: 32, Seed: 7},
		{Temperature: 0.7, TopK: 0, MinP: 0.1, Seed: 3}, // every candidate: the full logits are read
	}
	for _, mc := range models {
		t.Run(mc.name, func(t *testing.T) {
			path := mc.path(t)
			gen := func(be compute.Backend, p engine.SamplerParams) []int32 {
				m := loadModel(t, path, be)
				st, err := m.NewState(256, 32, gguf.F16)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				out, _, err := st.Generate([]int32{1}, engine.GenerateOptions{MaxNewTokens: 60, Sampler: engine.NewSampler(p)})
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			ref := cpu.New(cpu.Options{})
			defer ref.Close()
			be := openTest(t)
			for _, p := range samplers {
				want := gen(ref, p)
				got := gen(be, p)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("sampler %+v:\nvulkan %v\ncpu    %v", p, got, want)
				}
			}
		})
	}
}

// TestDeviceFailureMidStep: a device failure while a step is recorded (for
// a prompt, and for the decode step being captured) is an error, not a
// panic, and the next generation on the same backend and state, after a
// reset, gives the CPU's tokens.
func TestDeviceFailureMidStep(t *testing.T) {
	path := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	ref := cpu.New(cpu.Options{})
	defer ref.Close()
	be := openTest(t)
	gen := func(st *engine.State, prompt []int32) ([]int32, error) {
		out, _, err := st.Generate(prompt, engine.GenerateOptions{MaxNewTokens: 24})
		return out, err
	}
	newState := func(be compute.Backend) *engine.State {
		st, err := loadModel(t, path, be).NewState(128, 16, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	cpuState := newState(ref)
	// A prompt of several tokens is recorded and submitted; a one-token
	// prompt, on a fresh state, is the decode step's capture.
	for _, prompt := range [][]int32{{1, 403, 279, 261}, {1}} {
		cpuState.Reset()
		want, err := gen(cpuState, prompt)
		if err != nil {
			t.Fatal(err)
		}
		st := newState(be)
		be.FailNextRecording()
		if _, err := gen(st, prompt); err == nil || !strings.Contains(err.Error(), "injected device failure") {
			t.Fatalf("prompt %v: generation through a failing device: %v", prompt, err)
		}
		st.Reset()
		got, err := gen(st, prompt)
		if err != nil {
			t.Fatalf("prompt %v: after the failure: %v", prompt, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("prompt %v after a failure:\nvulkan %v\ncpu    %v", prompt, got, want)
		}
	}
}

// TestShortCacheStep: a state whose cache is longer than the attention
// kernel merges in one dispatch replays the short variant of its decode
// step while its position is below that length, then the full step, and
// generates the CPU's tokens throughout. (Chunks of 32 positions make the
// short cache 128 positions long.)
func TestShortCacheStep(t *testing.T) {
	t.Setenv("BITNET_VK_ATTN_CHUNK", "32")
	be := openTest(t)
	storiesLikeCPU(t, be, 180, 150)
	// Positions 2 to 126 run the short variant; 127 on, the full step.
	if n := be.ShortRuns(); n < 100 || n > 130 {
		t.Errorf("%d replays of the short variant, want about 125", n)
	}
}

// TestChainStep: with the decode kernels chained, tinybitnet-stories
// generates the CPU's tokens (prompt, then the captured step).
func TestChainStep(t *testing.T) {
	storiesLikeCPU(t, openChained(t, gpu.Options{}), 120, 60)
}

// TestWeightBlocks: with the weights in a few memory blocks,
// tinybitnet-stories (341 KB of weights in 30 tensors) takes one
// allocation instead of one per tensor, and generates the CPU's tokens.
func TestWeightBlocks(t *testing.T) {
	t.Parallel()
	be := openTestWith(t, gpu.Options{Device: -1, WeightBlocks: true})
	if k := be.Kernels(); !strings.Contains(k, "weight-blocks") {
		t.Fatalf("WeightBlocks ignored (kernels %q)", k)
	}
	storiesLikeCPU(t, be, 120, 60)
	plain := openTest(t)
	loadModel(t, filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf"), plain)
	n, per := be.WeightAllocations(), plain.WeightAllocations()
	t.Logf("weight allocations: %d in blocks, %d without", n, per)
	if n != 1 || per < 20 {
		t.Errorf("%d weight allocations in blocks, %d without: want 1 and one per tensor", n, per)
	}
}

// storiesLikeCPU generates up to n tokens of tinybitnet-stories after
// [1, 403] in a state of 512 positions, on be and on the CPU: they must be
// equal, and the CPU must have generated at least least of them (enough
// to pass the end of the variant under test).
func storiesLikeCPU(t *testing.T, be compute.Backend, n, least int) {
	t.Helper()
	path := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	ref := cpu.New(cpu.Options{})
	defer ref.Close()
	gen := func(be compute.Backend) []int32 {
		st, err := loadModel(t, path, be).NewState(512, 16, gguf.F16)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		out, _, err := st.Generate([]int32{1, 403}, engine.GenerateOptions{MaxNewTokens: n})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := gen(ref)
	if len(want) < least {
		t.Fatalf("the CPU generated %d tokens: too few to pass the variant's end", len(want))
	}
	if got := gen(be); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("vulkan %v\ncpu    %v", got, want)
	}
}

// TestPromptCoopMat evaluates prompts of the I2_S models with the prompt
// GEMM on cooperative matrices (where the device has them; see
// TestConformanceCoopMat): the logits equal the tiled kernel's bit for
// bit, and the CPU reference's within the usual tolerance (for the long
// prompt the cosine only: there one backend's last-bit difference in
// layer 1 flips an int8 activation code, with the tiled kernel and with
// the one-token matvec alike, and logits then differ by up to 0.05).
func TestPromptCoopMat(t *testing.T) {
	stories := func(t *testing.T) string {
		return filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	}
	long := make([]int32, 70) // two token tiles of the GEMM
	for i := range long {
		long[i] = int32(1 + (i*37)%400)
	}
	cases := []struct {
		name   string
		path   func(t *testing.T) string
		tokens []int32
		absTol float64
	}{
		{"tiny-i2_s", func(t *testing.T) string { return testdata.Path(t, "golden/tiny-i2_s.gguf") }, []int32{1, 17, 42, 99, 3, 250, 7, 128}, maxAbsDiff},
		{"tinybitnet-stories", stories, long, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path(t)
			cm := openTestWith(t, gpu.Options{Device: -1, CoopMat: gpu.DotOn})
			if !cm.CoopMat() {
				if os.Getenv("BITNET_EXPECT_COOPMAT") == "1" {
					t.Fatalf("%s: no int8 cooperative matrices the GEMM can use", cm.Device())
				}
				t.Skipf("%s has no int8 cooperative matrices the GEMM can use", cm.Device())
			}
			got := runModel(t, path, cm, c.tokens, 4)
			tiled := runModel(t, path, openTestWith(t, gpu.Options{Device: -1, CoopMat: gpu.DotOff}), c.tokens, 4)
			if len(got.logits) != len(tiled.logits) {
				t.Fatalf("%d logits against %d", len(got.logits), len(tiled.logits))
			}
			for i := range got.logits {
				if got.logits[i] != tiled.logits[i] {
					t.Fatalf("logit %d: %g with cooperative matrices, %g with the tiled kernel", i, got.logits[i], tiled.logits[i])
				}
			}
			want := refRun(t, path, c.tokens, 4)
			compareRuns(t, got, want, len(want.logits)/len(c.tokens), c.absTol)
		})
	}
}

// TestPipelineStatistics: with Options.PipelineStatistics, the backend
// reports what the driver compiled each kernel a model's prompt and decode
// steps built into (on a device with VK_KHR_pipeline_executable_properties:
// NVIDIA's; lavapipe has none, and the backend then reports nothing).
func TestPipelineStatistics(t *testing.T) {
	be := openTestWith(t, gpu.Options{Device: -1, PipelineStatistics: true})
	runModel(t, filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf"), be, []int32{1, 17, 42}, 2)
	stats, err := be.PipelineStatistics()
	if err != nil {
		t.Fatal(err)
	}
	if !be.Info().Features.PipelineStatistics {
		t.Logf("%s keeps no pipeline statistics", be.Device())
		if stats != nil {
			t.Errorf("statistics without the extension: %+v", stats)
		}
		return
	}
	matvec := false
	for _, p := range stats {
		if len(p.Stats) == 0 {
			t.Errorf("%s: no statistics", p.Kernel)
		}
		matvec = matvec || strings.HasPrefix(p.Kernel, "matvec_i2s")
		t.Logf("%s: %+v", p.Kernel, p.Stats)
	}
	if !matvec {
		t.Errorf("no I2_S decode matvec among %d pipelines", len(stats))
	}
}
