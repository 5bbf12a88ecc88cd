package main

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"bitnet/gpu"
	"bitnet/internal/testdata"
)

// TestRunVulkanMatchesCPU generates with --backend vulkan --device 0 (lavapipe
// in CI) and with the CPU, greedy, and requires the same text.
func TestRunVulkanMatchesCPU(t *testing.T) {
	if _, err := gpu.Devices(); err != nil {
		testdata.SkipUnlessCI(t, "no Vulkan: %v", err)
	}
	if gpu.ValidationAvailable() {
		t.Setenv("BITNET_VK_VALIDATE", "1")
		before := gpu.ValidationMessages()
		t.Cleanup(func() {
			if n := gpu.ValidationMessages() - before; n != 0 {
				t.Errorf("%d Vulkan validation messages", n)
			}
		})
	}
	root := testdata.RepoRoot(t)
	cases := []struct {
		name, model string
		tokens      string
	}{
		{"tinybitnet-stories", filepath.Join(root, "testdata", "tinybitnet-stories.gguf"), "120"},
		{"stories260K", testdata.Path(t, "models/stories260K.gguf"), "200"},
		{"tiny-i2_s", testdata.Path(t, "golden/tiny-i2_s.gguf"), "24"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"run", "--model", c.model, "--prompt", "Once upon a time", "--temperature", "0", "--max-new-tokens", c.tokens}
			cpuOut, errs, code := bitnet(t, append(args, "--backend", "cpu")...)
			if code != 0 {
				t.Fatalf("cpu: exit %d: %s", code, errs)
			}
			vkOut, errs, code := bitnet(t, append(args, "--backend", "vulkan", "--device", "0")...)
			if code != 0 {
				t.Fatalf("vulkan: exit %d: %s", code, errs)
			}
			if vkOut != cpuOut {
				t.Fatalf("vulkan and cpu differ:\nvulkan: %q\ncpu:    %q", vkOut, cpuOut)
			}
			// Greedy steps chained on the device, 8 at a time.
			aheadOut, errs, code := bitnet(t, append(args, "--backend", "vulkan", "--device", "0", "--run-ahead", "8")...)
			if code != 0 || aheadOut != cpuOut {
				t.Fatalf("vulkan with --run-ahead 8 (exit %d, %s) and cpu differ:\nvulkan: %q\ncpu:    %q", code, errs, aheadOut, cpuOut)
			}
			if len(cpuOut) < 20 {
				t.Fatalf("suspiciously short output %q", cpuOut)
			}
		})
	}
}

// TestBenchVulkanCounters: bench on Vulkan reports what each generated
// token cost the host (one replay, no recording, a few bytes each way) and
// the captured step that the replays run.
func TestBenchVulkanCounters(t *testing.T) {
	if _, err := gpu.Devices(); err != nil {
		testdata.SkipUnlessCI(t, "no Vulkan: %v", err)
	}
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	rep, _ := benchJSON(t, "--model", model, "-p", "8", "-n", "8", "-r", "1", "--backend", "vulkan", "--device", "0", "--stream=false")
	if len(rep.Results) != 2 || rep.Results[1].Test != "tg8" {
		t.Fatalf("results %+v", rep.Results)
	}
	// lavapipe has subgroup arithmetic; its packed dot products are not
	// accelerated, the cooperative-matrix GEMM is opt-in on a CPU
	// implementation, and one takes the attention's shared-memory
	// reductions and one decode matvec pipeline for all fusions.
	const lavapipe = "subgroups attn-no-subgroups matvec-push-flags"
	if strings.HasPrefix(rep.Device, "llvmpipe") && os.Getenv("BITNET_VK_COOPMAT") != "1" && rep.Kernels != lavapipe {
		t.Errorf("kernels %q on lavapipe, want %q", rep.Kernels, lavapipe)
	} else if rep.Kernels == "" {
		t.Error("no kernels reported")
	}
	d := rep.Results[1].Device
	if d == nil || d.Step == nil {
		t.Fatalf("tg8 without device counters or captured step: %+v", d)
	}
	if d.Replays != 1 || d.Submits != 1 || d.Dispatches != 0 || d.BytesDown > 64 {
		t.Errorf("per generated token: %+v, want one replay, nothing recorded, a few bytes read", d)
	}
	// The replays' device time (lavapipe has timestamps), within the
	// token's time on the host's clock.
	if d.ReplayUs <= 0 || d.ReplayUs > d.TokenUs {
		t.Errorf("per generated token %.1f µs on the device, %.1f µs on the host's clock: want some, within the host's", d.ReplayUs, d.TokenUs)
	}
	// 5 layers: at most 5 dispatches each, and a few outside them.
	if s := d.Step; s.Dispatches < 5*5 || s.Dispatches > 5*5+8 || s.Barriers >= s.Dispatches+2 {
		t.Errorf("captured step %+v, want 25 to 33 dispatches", *s)
	}
}

// TestBenchVulkanRunAhead: bench --run-ahead 8 generates greedily with the
// steps chained on the device: the prompt's step and one burst of 8 for
// tg9, two submissions for nine tokens, and the captured program holds 8
// steps.
func TestBenchVulkanRunAhead(t *testing.T) {
	if _, err := gpu.Devices(); err != nil {
		testdata.SkipUnlessCI(t, "no Vulkan: %v", err)
	}
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	rep, _ := benchJSON(t, "--model", model, "-p", "0", "-n", "9", "-r", "1", "--backend", "vulkan", "--device", "0", "--stream=false", "--run-ahead", "8")
	if len(rep.Results) != 1 || rep.Results[0].Test != "tg9" || rep.RunAhead != 8 {
		t.Fatalf("run-ahead %d, results %+v", rep.RunAhead, rep.Results)
	}
	d := rep.Results[0].Device
	if d == nil || d.Step == nil {
		t.Fatalf("tg9 without device counters or captured program: %+v", d)
	}
	if math.Round(d.Submits*9) != 2 || math.Round(d.Replays*9) != 2 || d.Step.Steps != 8 {
		t.Errorf("per generated token %+v, captured program %+v: want 2/9 submissions, all replays, and a program of 8 steps", d, *d.Step)
	}
}

// TestBenchVulkanPromptKernelTimes: with a prompt and no generation,
// --op-times on Vulkan times each kernel of one prompt pass, the tiled
// ternary GEMM among them, and measures the device's yardsticks: the copy
// bandwidth, the cost of a dependent dispatch, behind a barrier and
// chained, and a layer's matvecs as dependent phases, behind barriers and
// in one persistent dispatch.
func TestBenchVulkanPromptKernelTimes(t *testing.T) {
	if _, err := gpu.Devices(); err != nil {
		testdata.SkipUnlessCI(t, "no Vulkan: %v", err)
	}
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	rep, errs := benchJSON(t, "--model", model, "-p", "16", "-n", "0", "-r", "1", "--backend", "vulkan", "--device", "0", "--stream=false", "--op-times")
	if len(rep.Results) != 1 || rep.Results[0].Test != "pp16" {
		t.Fatalf("results %+v", rep.Results)
	}
	for _, s := range []string{"kernel times over 16 prompt tokens (one pass)", "device copy bandwidth:", "\n  dependent dispatch:", "chained dependent dispatch:", "a layer's matvecs as dependent phases (2B-4T widths, 17.4 MB of weights, 1 layer,", "in one persistent dispatch: ", "matmul_i2s_tiled", "attn_split", "device total"} {
		if !strings.Contains(errs, s) {
			t.Errorf("stderr lacks %q:\n%s", s, errs)
		}
	}
}

// TestBenchVulkanTimeline: with BITNET_VK_TIMELINE=1, bench on Vulkan
// prints the last step's timeline from the device clock: tinybitnet-stories'
// four layers each time their q/k/v, attention, output projection,
// gate/up and down kernels, and the kernels line says "timeline".
func TestBenchVulkanTimeline(t *testing.T) {
	if _, err := gpu.Devices(); err != nil {
		testdata.SkipUnlessCI(t, "no Vulkan: %v", err)
	}
	t.Setenv("BITNET_VK_TIMELINE", "1")
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	rep, errs := benchJSON(t, "--model", model, "-p", "0", "-n", "8", "-r", "1", "--backend", "vulkan", "--device", "0", "--stream=false")
	if !strings.Contains(rep.Kernels, "timeline") {
		t.Errorf("kernels %q lack the timeline", rep.Kernels)
	}
	if !regexp.MustCompile(`timeline of the last step \(device clock at [0-9.]+ ticks per ns, BITNET_VK_TIMELINE\): 20 timed dispatches`).MatchString(errs) {
		t.Errorf("stderr lacks the timeline of 20 dispatches:\n%s", errs)
	}
	// Each kernel's line: four calls, one per layer.
	for _, k := range []string{`norm\+matvec_i2s k=128 128 64 64`, `attn_split\S* ctx=\d+ rows=1(?: staged=\d+)?`, `norm\+matvec_i2s k=128 128 \+resid`,
		`norm\+matvec_i2s k=128 gate\+up 384x2`, `norm\+matvec_i2s k=384 128 \+resid`} {
		if !regexp.MustCompile(`\n  ` + k + ` +4 `).MatchString(errs) {
			t.Errorf("the timeline lacks four calls of %s:\n%s", k, errs)
		}
	}
}

// TestAutoRefusesNamedSettings: --backend auto falls back to the CPU only
// where no GPU is chosen for it; a device or setting the user named that
// cannot be honoured (BITNET_VK_DEVICE out of range, a subgroup width the
// device does not run, --device out of range) is an error that names it,
// with nothing on stdout.
func TestAutoRefusesNamedSettings(t *testing.T) {
	infos, err := gpu.Devices()
	if err != nil {
		testdata.SkipUnlessCI(t, "no Vulkan: %v", err)
	}
	model := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
	args := []string{"run", "--model", model, "--prompt", "Once", "--max-new-tokens", "4", "--backend", "auto"}
	far := strconv.Itoa(len(infos) + 3)
	wide := strconv.Itoa(int(2 * max(infos[0].SubgroupSize, infos[0].SubgroupSizes[1])))
	for _, c := range []struct {
		name string
		env  [][2]string
		args []string
		want string
	}{
		{"device variable", [][2]string{{"BITNET_VK_DEVICE", far}}, nil, "BITNET_VK_DEVICE=" + far + ": "},
		{"subgroup width", [][2]string{{"BITNET_VK_DEVICE", "0"}, {"BITNET_VK_SUBGROUP_SIZE", wide}}, nil, "BITNET_VK_SUBGROUP_SIZE=" + wide + ": "},
		{"device flag", nil, []string{"--device", far}, "device index " + far + " out of range (" + strconv.Itoa(len(infos)) + " devices) (`bitnet devices` lists the devices and their indices)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, e := range c.env {
				t.Setenv(e[0], e[1])
			}
			out, errs, code := bitnet(t, append(args, c.args...)...)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errs)
			}
			if !strings.Contains(errs, c.want) {
				t.Errorf("stderr lacks %q: %s", c.want, errs)
			}
		})
	}
}
