//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"bitnet/internal/testdata"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"bitnet/engine/compute/computetest"
	"bitnet/gpu"
	"bitnet/gpu/internal/vkrt"
)

// openTest opens the first Vulkan device (lavapipe in CI) with the
// validation layer when it is installed, and fails the test on any
// validation message.
func openTest(t testing.TB) *gpu.Backend { return openTestWith(t, gpu.Options{Device: -1}) }

// vulkanSeen says a device was opened earlier in this process.
var vulkanSeen atomic.Bool

// openTestWith opens a backend for a test with options o and the
// validation layer where it is installed, and checks at the end that the
// layer said nothing. The conformance tests run in parallel (go test runs
// as many at once as there are cores: on lavapipe each builds its
// pipelines on one); the layer's messages are counted for the whole
// process, so one fails every test that was running.
func openTestWith(t testing.TB, o gpu.Options) *gpu.Backend {
	t.Helper()
	if _, err := vkrt.Devices(); err != nil {
		if vulkanSeen.Load() {
			// Not a machine without Vulkan: a driver that stopped
			// creating instances after the ones before.
			t.Fatalf("Vulkan worked earlier in this process and now fails: %v", err)
		}
		testdata.SkipUnlessCI(t, "no Vulkan: %v", err)
	}
	vulkanSeen.Store(true)
	before := vkrt.MessageCount()
	o.Validate = vkrt.ValidationAvailable()
	if o.Validate && o.CoopMat == gpu.DotOn && !vkrt.ValidationKnowsCoopMat() {
		// Its reports about the extension's structs would be false alarms.
		t.Logf("the validation layer predates VK_KHR_cooperative_matrix: running without it")
		o.Validate = false
	}
	// Its synchronization checks too, but for chained kernels (ordered by
	// counters, which those checks cannot see).
	o.SyncValidate = o.Validate && !o.Chain
	be, err := gpu.Open(o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if n := vkrt.MessageCount() - before; n != 0 {
			t.Errorf("%d validation messages (see the log)", n)
		}
	})
	t.Logf("device: %s (validation layer: %v, synchronization checks: %v)", be.Device(), o.Validate, o.SyncValidate)
	return be
}

func TestConformance(t *testing.T) {
	t.Parallel()
	be := openTest(t)
	if !be.Subgroups() {
		t.Log("the device has no subgroup arithmetic: the shared-memory kernels run")
	}
	computetest.Run(t, be, computetest.Cases())
}

// TestConformanceOtherSubgroupSize runs the whole suite with the kernels
// built for subgroups four times as wide as the device's, and half as
// wide, with no size required: the paths a GPU takes where its compiler
// picks a width other than the one the kernels were built for (Intel's
// and AMD's may, for a pipeline whose workgroup is too large to require
// one, or with BITNET_VK_SUBGROUP_SIZE=0).
func TestConformanceOtherSubgroupSize(t *testing.T) {
	t.Parallel()
	for _, f := range []struct{ num, den uint32 }{{4, 1}, {1, 2}} {
		t.Run(fmt.Sprintf("x%d/%d", f.num, f.den), func(t *testing.T) {
			be := openTest(t)
			if !be.Subgroups() {
				t.Skipf("%s: no subgroup arithmetic, no subgroup kernels", be.Device())
			}
			sg := be.Info().SubgroupSize * f.num / f.den
			t.Logf("kernels built for subgroups of %d, run in %d", sg, be.Info().SubgroupSize)
			be.PretendSubgroupSize(sg)
			computetest.Run(t, be, computetest.Cases())
		})
	}
}

// TestConformanceWithoutSubgroups runs the shared-memory matvec kernels that
// devices without subgroup arithmetic use.
func TestConformanceWithoutSubgroups(t *testing.T) {
	t.Parallel()
	be := openTestWith(t, gpu.Options{Device: -1, NoSubgroups: true})
	if be.Subgroups() {
		t.Fatal("NoSubgroups ignored")
	}
	computetest.Run(t, be, computetest.Cases())
}

// TestConformanceDot runs the ternary kernels with packed int8 dot products
// (lavapipe has them without acceleration, so the default there is the
// plain path).
func TestConformanceDot(t *testing.T) {
	t.Parallel()
	be := openTestWith(t, gpu.Options{Device: -1, Dot: gpu.DotOn})
	if !be.Dot() {
		testdata.SkipUnlessCI(t, "the device has no integer dot product")
	}
	computetest.Run(t, be, computetest.Cases())
}

// TestConformanceUnfused runs every op as its own dispatch.
// TestConformanceCoopMat runs the suite with the prompt GEMM on
// cooperative matrices where the device has them (lavapipe from Mesa 26.1:
// make test-coopmat; NVIDIA GPUs). BITNET_EXPECT_COOPMAT=1, which make
// test-coopmat sets, makes a device without them a failure.
func TestConformanceCoopMat(t *testing.T) {
	be := openTestWith(t, gpu.Options{Device: -1, CoopMat: gpu.DotOn})
	if !be.CoopMat() {
		if os.Getenv("BITNET_EXPECT_COOPMAT") == "1" {
			t.Fatalf("%s: no int8 cooperative matrices the GEMM can use", be.Device())
		}
		t.Skipf("%s has no int8 cooperative matrices the GEMM can use", be.Device())
	}
	computetest.Run(t, be, computetest.Cases())
	// The other tiles (the default is 128 x 128 where the device holds
	// it, which the whole suite ran above), on the prompt matmuls.
	var mm []computetest.Case
	for _, c := range computetest.Cases() {
		if strings.HasPrefix(c.Name, "matmul_i2s/") || strings.HasPrefix(c.Name, "fused/matmul_i2s+add/") {
			mm = append(mm, c)
		}
	}
	for _, tile := range [][2]int{{64, 64}, {128, 64}, {64, 128}, {128, 128}} {
		name := fmt.Sprintf("%dx%d", tile[0], tile[1])
		if strings.Contains(be.Kernels(), "coopmat-gemm-"+name) {
			continue
		}
		t.Run("tile="+name, func(t *testing.T) {
			be := openTestWith(t, gpu.Options{Device: -1, CoopMat: gpu.DotOn, CoopMatTile: tile})
			if !strings.Contains(be.Kernels(), "coopmat-gemm-"+name) {
				t.Skipf("%s cannot hold a %s tile (kernels %q)", be.Device(), name, be.Kernels())
			}
			computetest.Run(t, be, mm)
		})
	}
}

// TestCoopMatAuto: by default the prompt GEMM runs on cooperative
// matrices wherever a GPU has them the GEMM can use, and not on a CPU
// implementation of Vulkan (lavapipe from Mesa 26.1 has them: make
// test-coopmat) unless BITNET_VK_COOPMAT=1; BITNET_VK_COOPMAT=0 turns it
// off.
func TestCoopMatAuto(t *testing.T) {
	usable := openTestWith(t, gpu.Options{Device: -1, CoopMat: gpu.DotOn}).CoopMat()
	auto := openTestWith(t, gpu.Options{Device: -1})
	want := usable && auto.Info().Type != vkrt.TypeCPU
	switch os.Getenv("BITNET_VK_COOPMAT") {
	case "1":
		want = usable
	case "0":
		want = false
	}
	if auto.CoopMat() != want {
		t.Errorf("%s (%s): cooperative-matrix GEMM %v by default, want %v (usable: %v)", auto.Device(), auto.Info().Type, auto.CoopMat(), want, usable)
	}
	if usable && want && !strings.Contains(auto.Kernels(), "coopmat-gemm-") {
		t.Errorf("kernels %q name no cooperative-matrix GEMM", auto.Kernels())
	}
}

// TestConformanceAttnOtherReductions runs the attention cases (every
// length, merged in the kernel or combined after it, fused or not) with
// the attention reductions the device does not take by default
// (Options.AttnSubgroups): within subgroups on a CPU implementation such
// as lavapipe (a GPU's default), in shared memory alone on a GPU.
func TestConformanceAttnOtherReductions(t *testing.T) {
	t.Parallel()
	def := openTestWith(t, gpu.Options{Device: -1})
	if !def.Subgroups() {
		t.Skipf("%s: no subgroup arithmetic, one way to reduce", def.Device())
	}
	mode := gpu.DotOff
	if strings.Contains(def.Kernels(), "attn-no-subgroups") {
		mode = gpu.DotOn
	}
	runAttention(t, gpu.Options{AttnSubgroups: mode})
}

// TestConformanceAttnDecodeChunk runs the attention cases with decode
// attention over a short cache in chunks of 64 and 32 positions (up to 16
// and 32 of them merged in the kernel) instead of 256.
func TestConformanceAttnDecodeChunk(t *testing.T) {
	t.Parallel()
	for _, n := range []int{64, 32} {
		t.Run(fmt.Sprintf("chunk=%d", n), func(t *testing.T) { runAttention(t, gpu.Options{AttnDecodeChunk: n}) })
	}
}

// openMatvecVariant opens the first device with the options o (a matvec
// variant and o.Dot) and checks that the backend took them: kernel in its
// Kernels, packed dot products where asked for (a device without them is
// skipped, but in CI), subgroup arithmetic (without it there is no
// subgroup matvec to test: skipped).
func openMatvecVariant(t *testing.T, o gpu.Options, kernel string) *gpu.Backend {
	t.Helper()
	o.Device = -1
	be := openTestWith(t, o)
	if !be.Subgroups() {
		t.Skipf("%s: no subgroup arithmetic, no subgroup matvec", be.Device())
	}
	if o.Dot == gpu.DotOn && !be.Dot() {
		testdata.SkipUnlessCI(t, "the device has no integer dot product")
	}
	if k := be.Kernels(); !strings.Contains(k, kernel) {
		t.Fatalf("%s not taken (kernels %q)", kernel, k)
	}
	return be
}

// TestConformanceAttnRows runs the attention cases with one query row of a
// prompt per attention workgroup (the default takes 8), with 3 (tiles
// that do not divide the rows) and the reductions in shared memory, and
// with 4 and the reductions within subgroups; then with 3 and the partials
// of a pass bounded to 1 MiB, so that the longer prompts take several
// passes (the 512 rows of 2B-4T width, 20 a pass: tiles that do not divide
// a pass either).
func TestConformanceAttnRows(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n  int
		sg bool
	}{{1, false}, {3, false}, {4, true}} {
		t.Run(fmt.Sprintf("rows=%d/subgroups=%v", c.n, c.sg), func(t *testing.T) { runAttention(t, gpu.Options{AttnRows: c.n, AttnSubgroups: onOff(c.sg)}) })
	}
	t.Run("rows=3/passes", func(t *testing.T) {
		be := openTestWith(t, gpu.Options{Device: -1, AttnRows: 3})
		be.SetPartialsBudget(1 << 20)
		computetest.Run(t, be, attentionCases(t))
	})
}

// TestConformanceAttnHeads runs the attention cases with two and with four
// query heads per attention workgroup over every cache (by default one
// over a short cache, two in a decode step over a long one, all those of
// a KV head in a prompt): the cases' groups of 2 and 4 split in two over
// long caches, and whole over short ones (groups of another size take the
// default), with the reductions within subgroups everywhere, and in
// shared memory everywhere (decode steps included).
func TestConformanceAttnHeads(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n  int
		sg bool
	}{{2, true}, {4, false}} {
		t.Run(fmt.Sprintf("heads=%d/subgroups=%v", c.n, c.sg), func(t *testing.T) {
			runAttention(t, gpu.Options{AttnHeads: c.n, AttnSubgroups: onOff(c.sg)})
		})
	}
}

// TestConformanceAttnValueLoads runs the attention cases with 32 value
// rows loaded at once per attention invocation instead of 8: all of an
// invocation's positions in one round (with a short cache's merged
// kernel, preloaded before the row's position is known, rows past it
// among them). The default's 8 covers the rounds of a loop.
func TestConformanceAttnValueLoads(t *testing.T) {
	t.Parallel()
	runAttention(t, gpu.Options{AttnValueLoads: 32})
}

// TestConformanceAttnStageKeys runs the attention cases with the key rows
// of a decode attention over a short F16 cache staged in shared memory
// (the default) and loaded into registers (Options.AttnKeysInRegisters):
// the outputs are the same bits (the scores are the same sums in the same
// order; TestConformance holds the default to the CPU). The F16 cases
// take one pass of staged rows or several (a pass holds as many rows as
// the device's shared memory leaves room for: 128 of the 2B-4T shapes on
// an H200, 64 on lavapipe).
func TestConformanceAttnStageKeys(t *testing.T) {
	t.Parallel()
	staged := openTestWith(t, gpu.Options{Device: -1})
	regs := openTestWith(t, gpu.Options{Device: -1, AttnKeysInRegisters: true})
	if k := regs.Kernels(); !strings.Contains(k, "attn-keys-in-registers") {
		t.Fatalf("AttnKeysInRegisters ignored (kernels %q)", k)
	}
	computetest.RunIdentical(t, staged, regs, attentionCases(t))
}

// runAttention runs the attention cases with the attention options of o
// on the first device, after checking that the backend took each of them
// (a device without subgroup arithmetic runs the reductions in shared
// memory whatever o says).
func runAttention(t *testing.T, o gpu.Options) {
	o.Device = -1
	be := openTestWith(t, o)
	k := be.Kernels()
	for _, want := range []struct {
		on   bool
		name string
	}{{o.AttnSubgroups == gpu.DotOff && be.Subgroups(), "attn-no-subgroups"}, {o.AttnDecodeChunk != 0, fmt.Sprintf("attn-decode-chunk-%d", o.AttnDecodeChunk)}, {o.AttnRows != 0, fmt.Sprintf("attn-rows-%d", o.AttnRows)},
		{o.AttnValueLoads != 0, fmt.Sprintf("attn-value-loads-%d", o.AttnValueLoads)}, {o.AttnHeads != 0, fmt.Sprintf("attn-heads-%d", o.AttnHeads)}} {
		if want.on && !strings.Contains(k, want.name) {
			t.Fatalf("%s ignored (kernels %q)", want.name, k)
		}
	}
	computetest.Run(t, be, attentionCases(t))
}

// attentionCases returns the suite's attention cases: every length, merged
// in the kernel or combined after it, fused or not.
func attentionCases(t *testing.T) []computetest.Case {
	var cases []computetest.Case
	for _, c := range computetest.Cases() {
		if strings.Contains(c.Name, "attention") {
			cases = append(cases, c)
		}
	}
	if len(cases) < 10 {
		t.Fatalf("only %d attention cases", len(cases))
	}
	return cases
}

// TestConformanceMatvecRows runs the decode matvec cases (plain, several
// weights, and fused with the norm, residual, activation and RoPE) with two
// rows per subgroup in matrices of many rows: with 64-invocation
// workgroups, so that the 2B-4T shapes take them on any subgroup size, and
// with the default workgroups.
func TestConformanceMatvecRows(t *testing.T) {
	t.Parallel()
	cases := ternaryMatvecCases()
	for _, wgs := range []int{64, 0} {
		t.Run(fmt.Sprintf("wgs=%d", wgs), func(t *testing.T) {
			be := openTestWith(t, gpu.Options{Device: -1, MatvecRows: 2, MatvecWGS: wgs})
			if !be.Subgroups() {
				t.Skipf("%s: no subgroup arithmetic, no subgroup matvec", be.Device())
			}
			if k := be.Kernels(); strings.Contains(k, "matvec-rows-1") {
				t.Fatalf("MatvecRows ignored (kernels %q)", k)
			}
			computetest.Run(t, be, cases)
		})
	}
}

// TestConformanceMatvecNoRowSum runs the decode matvec cases with the
// codes shifted down and the activations' sum subtracted in every dot
// product (Options.NoMatvecRowSum; their sums, and so the CPU's results,
// are the default's).
func TestConformanceMatvecNoRowSum(t *testing.T) {
	runMatvecVariant(t, gpu.Options{NoMatvecRowSum: true}, "matvec-no-rowsum")
}

// TestConformanceMatvecOtherFlags runs the decode matvec cases, with
// packed dot products (a GPU's path), with the flags of each fusion the
// other way than the device takes them by default
// (Options.MatvecSpecFlags): specialization constants of a pipeline per
// fusion on a CPU implementation such as lavapipe (a GPU's default), push
// constants of one pipeline for all on a GPU.
func TestConformanceMatvecOtherFlags(t *testing.T) {
	t.Parallel()
	def := openTestWith(t, gpu.Options{Device: -1})
	push := strings.Contains(def.Kernels(), "matvec-push-flags")
	be := openMatvecVariant(t, gpu.Options{MatvecSpecFlags: onOff(push), Dot: gpu.DotOn}, "")
	if k := be.Kernels(); strings.Contains(k, "matvec-push-flags") == push {
		t.Fatalf("MatvecSpecFlags ignored (kernels %q)", k)
	}
	computetest.Run(t, be, ternaryMatvecCases())
}

// onOff returns DotOn for true, DotOff for false.
func onOff(on bool) gpu.DotMode {
	if on {
		return gpu.DotOn
	}
	return gpu.DotOff
}

// runMatvecVariant runs the decode matvec cases on a backend opened with
// o, with and without packed int8 dot products, after checking that the
// backend names kernel among its choices.
func runMatvecVariant(t *testing.T, o gpu.Options, kernel string) {
	t.Parallel()
	for _, dot := range []gpu.DotMode{gpu.DotOff, gpu.DotOn} {
		t.Run(fmt.Sprintf("dot=%v", dot == gpu.DotOn), func(t *testing.T) {
			od := o
			od.Dot = dot
			computetest.Run(t, openMatvecVariant(t, od, kernel), ternaryMatvecCases())
		})
	}
}

// ternaryMatvecCases are the conformance cases of the I2_S decode matvec
// and its fusions (attention aside) for one and four tokens: the kernel's
// fewest and most, each token count a pipeline of its own to build (the
// cost of a case on lavapipe).
func ternaryMatvecCases() []computetest.Case {
	var cases []computetest.Case
	for _, c := range computetest.Cases() {
		ternary := strings.HasPrefix(c.Name, "matmul_i2s/") || strings.HasPrefix(c.Name, "matmuls_i2s/") || strings.HasPrefix(c.Name, "fused/") && !strings.Contains(c.Name, "attention")
		if ternary && (strings.Contains(c.Name, "/t=1") || strings.Contains(c.Name, "/t=4")) {
			cases = append(cases, c)
		}
	}
	return cases
}

func TestConformanceUnfused(t *testing.T) {
	t.Parallel()
	be := openTestWith(t, gpu.Options{Device: -1, NoFusion: true})
	computetest.Run(t, be, computetest.Cases())
}
