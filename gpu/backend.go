//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

// Package gpu is the Vulkan compute backend. Ops are queued as the engine
// issues them and turned into dispatches when their results are needed
// (Flush, Read): then ops that can share a kernel are fused (an RMSNorm
// with the int8 quantization of the ternary matmul that reads it, q/k/v in
// one matvec, a matmul with the residual add after it, gate/up with the
// activation, RoPE with the KV-cache store, attention with the sub-norm),
// and a whole forward step is recorded into one command buffer with
// barriers only between dependent dispatches. A decode step can be
// captured once and replayed for every token (compute.Replayer): the host
// then writes a few bytes (token id, position) and reads back the sampling
// candidates.
package gpu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/gpu/internal/vkrt"
)

// Options configures Open.
type Options struct {
	// Device is a device index (see Devices), or -1 to choose: then
	// BITNET_VK_DEVICE, when set, selects (an index; "auto", the best GPU;
	// or "any", the best device, CPU implementations last), and otherwise
	// Auto says how.
	Device int
	// Auto chooses only GPUs (discrete > integrated > virtual), never a CPU
	// implementation such as lavapipe; without it a CPU device may be used
	// when it is the only one.
	Auto bool
	// Validate enables the Khronos validation layer (also BITNET_VK_VALIDATE=1).
	Validate bool
	// SyncValidate adds the layer's synchronization validation, which
	// reports commands touching the same memory with no barrier between
	// them (also BITNET_VK_VALIDATE=sync). Not with Chain, whose kernels
	// order themselves by counters, which that validation cannot see.
	SyncValidate bool
	// NoSubgroups keeps the matmuls on the shared-memory kernels that
	// devices without subgroup arithmetic run (for comparisons and tests).
	NoSubgroups bool
	// Dot selects the ternary kernels' integer arithmetic: DotAuto uses
	// packed int8 dot products where the device accelerates them, DotOn
	// wherever it has them, DotOff never.
	Dot DotMode
	// CoopMat selects the cooperative-matrix GEMM for the I2_S matmuls of
	// prompts (VK_KHR_cooperative_matrix, int8 x int8 -> int32): DotOn uses
	// it wherever the device has it, DotOff never, and DotAuto on GPUs
	// that have it unless BITNET_VK_COOPMAT=0 (a CPU implementation only
	// with BITNET_VK_COOPMAT=1). Its results equal the tiled kernel's; on
	// an H200 it takes pp512 from 10,600 to 16,800 tokens/s (CoopMatTile).
	CoopMat DotMode
	// CoopMatTile is the cooperative-matrix GEMM's workgroup tile, weight
	// rows x tokens, each 64 or 128 (also BITNET_VK_COOPMAT_TILE=RxT);
	// zero takes 128 x 128 where the device holds it (17,000 tokens/s
	// at pp512 on an H200). A tile the device cannot hold takes 64 x 64.
	CoopMatTile [2]int
	// AttnSubgroups has the attention kernels reduce the scores within
	// subgroups first, where the device has subgroup arithmetic (two
	// barriers instead of sixteen; on an H200 tg128 553 against 549
	// tokens/s, pp512 17,650 against 17,060), or in shared memory alone
	// (DotOff). DotAuto takes subgroups on a GPU and shared memory on a
	// CPU implementation, where it is faster (lavapipe); also
	// BITNET_VK_ATTN_SG=1 or 0.
	AttnSubgroups DotMode
	// ScreenHead has the engine's automatic mode screen large LM heads on
	// this backend (compute.Screener; also BITNET_VK_SCREEN=1). Off by
	// default until measured on a GPU; --head-screen on screens anyway.
	ScreenHead bool
	// AttnDecodeChunk is the number of cache positions one attention
	// workgroup takes in a decode step over a cache of up to 1,024
	// positions (merged in the attention kernel): a power of two from 32
	// to 1024; 0 takes 256 (also BITNET_VK_ATTN_DECODE_CHUNK). Smaller
	// chunks load fewer idle positions at a shallow depth and merge more
	// chunks deeper.
	AttnDecodeChunk int
	// AttnRows is how many query rows of a prompt one attention workgroup
	// takes, one after the other over the key rows it loads once: 1 to 16;
	// 0 takes 8 (also BITNET_VK_ATTN_ROWS).
	AttnRows int
	// AttnHeads is how many query heads one attention workgroup takes, a
	// divisor of the query heads per KV head (also BITNET_VK_ATTN_HEADS);
	// 0 (or another count) takes one in a decode step over a short cache
	// (merged in the attention kernel), two in a decode step over a longer
	// cache (where they divide those of a KV head) and all those of a KV
	// head in prompts. Fewer spread the attention over more workgroups,
	// each with a shorter score loop, which load the same keys and values.
	AttnHeads int
	// AttnValueLoads is how many value rows an attention invocation loads
	// at once in its weighted sum (each invocation sums every KG-th
	// position of its chunk, 32 of them with the default chunks): 4, 8, 16
	// or 32; 0 takes 8, and 16 in a decode step over a cache longer than
	// the merged kernel's (also BITNET_VK_ATTN_VALUE_LOADS). More takes
	// fewer round trips to memory and more registers. (At depth 4096 on an
	// H200, 16 value loads, two heads per workgroup and the subgroup
	// reductions together: 441.5 against 434.1 tokens/s; each alone
	// 434-436.)
	AttnValueLoads int
	// AttnKeysInRegisters has each invocation of a decode attention over a
	// short F16 cache load its position's key row into registers (also
	// BITNET_VK_ATTN_STAGE=0), a subgroup's load touching a row per
	// invocation, instead of the workgroup staging its chunk's key rows
	// in shared memory, whole rows per subgroup load (the default: 1.1 µs
	// less per attention block on an H200). The results are the same
	// bits.
	AttnKeysInRegisters bool
	// Chain orders the decode kernels one after the other by counters in
	// device memory instead of pipeline barriers (also BITNET_VK_CHAIN=1):
	// a matvec or attention dispatch may start while the one before it
	// runs, issue its weight loads, and wait in its shaders for its
	// input. The results are the same. It relies on the device starting
	// every workgroup of a dispatch before any of the next one (true of the
	// GPUs we know; Vulkan does not promise it), and is off while kernels
	// are timed one by one (--op-times).
	Chain bool
	// Timeline has the chained kernels time themselves on the device clock
	// (also BITNET_VK_TIMELINE=1; needs VK_KHR_shader_clock's device
	// clock): Timeline then returns where the last step's time went, from
	// each kernel's start to its end, workgroup by workgroup. Without Chain
	// the timed kernels are ordered by barriers, as by default.
	Timeline bool
	// NoFusion runs every op as its own dispatch (tests, diagnostics).
	NoFusion bool
	// NormWGS is the workgroup size of rmsnorm (one workgroup per row): a
	// power of two from 32; 0 takes 1024 where the device allows it (also
	// BITNET_VK_NORM_WGS).
	NormWGS int
	// MatvecWGS is the workgroup size of the I2_S decode matvec (one row
	// per subgroup): a power of two from 64; 0 takes 1024 where the device
	// allows it (also BITNET_VK_MATVEC_WGS). Fewer, larger workgroups
	// repeat the norm they run first fewer times: 403 tokens/s against 363
	// with 256 on an H200.
	MatvecWGS int
	// MatvecRows is how many rows a subgroup of the I2_S decode matvec
	// takes in a matrix of many rows (more workgroups at one row each than
	// the device has compute units, or than matvecManyGroups where it does
	// not say: gate/up on a GPU of about 130 compute units): 1 or 2, the
	// loads of all of them issued at once; 0 takes 2 (also
	// BITNET_VK_MATVEC_ROWS). Such a matrix then runs in one wave of
	// workgroups instead of two: with the flags as specialization
	// constants (see MatvecSpecFlags), 2B-4T's gate/up takes 12.1 µs
	// instead of 16.3 on an H200.
	MatvecRows int
	// NoMatvecRowSum has the I2_S decode matvec shift each group's codes
	// down in the byte and subtract the activations' sum in every lane's
	// every dot product (also BITNET_VK_MATVEC_ROWSUM=0) instead of keeping
	// the codes in place, masked, and subtracting the token's code sum once
	// per row (the default: half the packed dot products of its inner loop,
	// 2.2% less time per decode step on an H200). The integer sums, and so
	// the results, are the same.
	NoMatvecRowSum bool
	// MatvecSpecFlags builds an I2_S decode matvec pipeline per fusion,
	// its flags (norm, residual, gate/up pair, RoPE) a specialization
	// constant, each compiled without the paths it never takes (DotOn), or
	// one pipeline for every fusion that reads them from the push
	// constants (DotOff): on an H200 the one pipeline takes 53 registers
	// at 1,024 invocations (64 for a row of 6,912), the fusions' own 37-51
	// (55). DotAuto takes a pipeline per fusion on a GPU and one for all
	// on a CPU implementation (where each costs compile time and registers
	// do not matter); also BITNET_VK_MATVEC_SPEC=1 or 0. The same
	// arithmetic and results.
	MatvecSpecFlags DotMode
	// WeightBlocks places the model's weights in a few large memory
	// allocations (blocks of up to 64 MiB; a larger tensor gets one of its
	// own) instead of one allocation per tensor (also
	// BITNET_VK_WEIGHT_BLOCKS=1): drivers map large allocations with their
	// large pages, so the weights a token streams through take fewer
	// address-translation entries.
	WeightBlocks bool
	// HeadRows is how many weight rows a subgroup of the Q8_0 and Q6_K
	// decode matvecs runs together, each activation load serving them all:
	// 1 to 4, 0 takes 2 (also BITNET_VK_HEAD_ROWS).
	HeadRows int
	// PipelineStatistics keeps what the driver reports about each kernel
	// it compiles (VK_KHR_pipeline_executable_properties, where the device
	// has it: NVIDIA's register counts, for one), for PipelineStatistics
	// (also BITNET_VK_PIPELINE_STATS=1; bench prints them).
	PipelineStatistics bool
	// NoNormFusion gives every RMSNorm a dispatch of its own instead of
	// running it inside the decode matvec that reads it (also
	// BITNET_VK_NORM_FUSION=0).
	NoNormFusion bool
}

// DotMode selects packed int8 dot products (see Options.Dot).
type DotMode int

// DotMode values.
const (
	DotAuto DotMode = iota
	DotOn
	DotOff
)

// gpuDefault resolves a setting that is on by default on a GPU and off on
// a CPU implementation: m where DotOn or DotOff, else the environment
// variable env where "1" or "0", else whether the device is no CPU
// implementation (cpu false).
func gpuDefault(m DotMode, env string, cpu bool) bool {
	switch m {
	case DotOn:
		return true
	case DotOff:
		return false
	}
	switch os.Getenv(env) {
	case "1":
		return true
	case "0":
		return false
	}
	return !cpu
}

// Backend implements compute.Backend on a Vulkan device.
type Backend struct {
	dev      *vkrt.Device
	rec      *vkrt.Recorder
	pipes    map[pipeKey]*vkrt.Pipeline
	align    uint64 // MinStorageBufferOffsetAlignment (at least 4)
	maxRange uint64 // the largest range one storage-buffer binding may span

	chain           bool    // the decode kernels run chained (Options.Chain)
	timeline        bool    // and time themselves (Options.Timeline)
	clockRate       float64 // the device clock's ticks per ns, with a timeline
	subgroups       bool    // the subgroup matvec kernels run
	screenAuto      bool    // the automatic mode screens large LM heads (Options.ScreenHead)
	dot             bool    // the ternary kernels use packed int8 dot products
	coopmat         bool    // the I2_S prompt GEMM runs on cooperative matrices
	coopTile        [2]uint32
	attnSG          bool // the attention kernels reduce within subgroups
	attnStage       bool // decode attention over a short F16 cache stages its key rows in shared memory (see Options.AttnKeysInRegisters)
	fuse            bool
	normWGS         uint32                // workgroup size of rmsnorm
	mvWGS           uint32                // and of the I2_S decode matvec
	mvRows          uint32                // its rows per subgroup in matrices of many rows
	mvMany          uint32                // of more workgroups than this (matvecManyGroups)
	mvRowSum        uint32                // 1: and it subtracts the code sum once per row (not Options.NoMatvecRowSum)
	mvSpecFlags     bool                  // its flags are a specialization constant (Options.MatvecSpecFlags)
	weightArena     *vkrt.Arena           // the weights' memory blocks (Options.WeightBlocks), or nil
	weightChunks    int                   // buffers holding weights
	attnChunk       uint32                // cache positions per attn_split workgroup (prompts)
	attnChunkDecode uint32                // and for a few rows (decode)
	attnMergeMax    uint32                // the most chunks attn_split_merge merges
	attnMerge       bool                  // a few rows' attention merges its chunks in attn_split_merge
	normFuse        bool                  // RMSNorms run inside the decode matvecs
	headRows        uint32                // rows per subgroup of the Q8_0 and Q6_K decode matvecs
	combWGS         uint32                // and of attn_combine (a multiple of the head dimension is used)
	step            compute.StepStructure // of the last capture
	attnLimit       int                   // recording a step's short variant: attention reads this many cache positions
	longAttn        []*tensor             // the position tensors of a recorded step's attention over a long cache
	longSpan        int                   // how many Advance ops (each a position further) came before the last of those
	advanced        int                   // Advance ops recorded so far in this capture
	attnRows        uint32                // query rows of a prompt per attn_split workgroup
	attnHeads       uint32                // query heads per attn_split workgroup (0: by the cache, see recAttention)
	attnVU          uint32                // value rows an attention invocation loads at once
	attnVULong      uint32                // and in a decode step over a long cache
	partials        uint64                // bytes of attention partials per pass (partialsBudget)
	shortRuns       int                   // replays of short variants (tests)

	pending []op // queued ops, turned into dispatches by emit
	q8For   view // the tensor whose int8 quantization the "q8" scratch holds

	scratch    map[string]*vkrt.Buffer // reusable device buffers by role, grown on demand
	scratchGen int                     // bumped whenever a scratch buffer is replaced
	retired    []*vkrt.Buffer          // replaced scratch, freed after the next submit
	dummy      *vkrt.Buffer            // bound where a kernel's binding is unused (see unused)
	dummySlot  uint64                  // bytes of one of its slots
	nextDummy  int                     // the slot unused hands out next

	weightBytes uint64
	owned       map[*vkrt.Buffer]bool // tensor buffers, freed by Free or Close

	capturing  bool
	captureErr error
	progs      map[*program]bool // live captured programs, released by Close
	profiling  bool
	failNext   bool             // tests: the next recording fails as a lost device would
	labelBytes map[string]int64 // weight bytes one dispatch of a profile label reads
	prepare    time.Duration    // host time turning ops into commands
}

var (
	_ compute.Backend              = (*Backend)(nil)
	_ compute.MultiMatMuler        = (*Backend)(nil)
	_ compute.Replayer             = (*Backend)(nil)
	_ compute.Advancer             = (*Backend)(nil)
	_ compute.Counting             = (*Backend)(nil)
	_ compute.KernelProfiler       = (*Backend)(nil)
	_ compute.PipelineStatistician = (*Backend)(nil)
)

// Open opens a device and prepares the backend; pipelines are built when a
// kernel is first used.
func Open(o Options) (*Backend, error) {
	sel := "any"
	switch {
	case o.Device >= 0:
		sel = strconv.Itoa(o.Device)
	case o.Auto:
		sel = "auto"
	}
	coopEnv := os.Getenv("BITNET_VK_COOPMAT")
	wantCoop := o.CoopMat == DotOn || (o.CoopMat == DotAuto && coopEnv != "0")
	stats := o.PipelineStatistics || os.Getenv("BITNET_VK_PIPELINE_STATS") == "1"
	dev, err := vkrt.Open(vkrt.Options{Device: sel, Validate: o.Validate, SyncValidate: o.SyncValidate, CooperativeMatrix: wantCoop, PipelineStatistics: stats})
	if err != nil {
		return nil, err
	}
	b := &Backend{dev: dev, pipes: map[pipeKey]*vkrt.Pipeline{}, scratch: map[string]*vkrt.Buffer{}, owned: map[*vkrt.Buffer]bool{},
		progs: map[*program]bool{}, labelBytes: map[string]int64{}}
	lim := dev.Info.Limits
	b.align = max(lim.MinStorageBufferOffsetAlignment, 4)
	b.maxRange = min(lim.MaxStorageBufferRange, 1<<31) &^ (b.align - 1)
	fail := func(err error) (*Backend, error) {
		b.Close()
		return nil, err
	}
	if b.rec, err = dev.NewRecorder(); err != nil {
		return fail(err)
	}
	f := dev.Info.Features
	cpu := dev.Info.Type == vkrt.TypeCPU // a CPU implementation (lavapipe): see gpuDefault
	b.subgroups = dev.Info.SubgroupArithmetic && dev.Info.SubgroupShuffle && !o.NoSubgroups
	switch o.Dot {
	case DotAuto:
		b.dot = f.IntegerDotProductFast
	case DotOn:
		b.dot = f.IntegerDotProduct
	}
	// The device enables cooperative matrices only when they were asked
	// for (see vkrt.Options).
	b.coopmat = coopMatUsable(dev.Info, [2]uint32{64, 64}) && gpuDefault(o.CoopMat, "BITNET_VK_COOPMAT", cpu)
	if o.CoopMatTile == ([2]int{}) {
		fmt.Sscanf(os.Getenv("BITNET_VK_COOPMAT_TILE"), "%dx%d", &o.CoopMatTile[0], &o.CoopMatTile[1])
	}
	if o.CoopMatTile == ([2]int{}) {
		o.CoopMatTile = [2]int{128, 128}
	}
	b.coopTile = [2]uint32{64, 64}
	if t := [2]uint32{uint32(o.CoopMatTile[0]), uint32(o.CoopMatTile[1])}; (t[0] == 64 || t[0] == 128) && (t[1] == 64 || t[1] == 128) && coopMatUsable(dev.Info, t) {
		b.coopTile = t
	}
	b.fuse = !o.NoFusion
	if o.NormWGS == 0 {
		o.NormWGS, _ = strconv.Atoi(os.Getenv("BITNET_VK_NORM_WGS"))
	}
	if o.NormWGS == 0 {
		o.NormWGS = 1024 // 8.8 against 10.2 µs per norm on an H200
	}
	b.normWGS = 256
	if n := uint32(o.NormWGS); n >= 32 && n&(n-1) == 0 && n <= lim.MaxComputeWorkGroupInvocations && n <= lim.MaxComputeWorkGroupSize[0] {
		b.normWGS = n
	}
	b.normFuse = !o.NoNormFusion && os.Getenv("BITNET_VK_NORM_FUSION") != "0"
	if o.MatvecWGS == 0 {
		o.MatvecWGS, _ = strconv.Atoi(os.Getenv("BITNET_VK_MATVEC_WGS"))
	}
	if o.MatvecWGS == 0 {
		o.MatvecWGS = 1024
	}
	b.mvWGS = 256
	if n := uint32(o.MatvecWGS); n >= 64 && n&(n-1) == 0 {
		for n > 64 && (n > lim.MaxComputeWorkGroupInvocations || n > lim.MaxComputeWorkGroupSize[0]) {
			n /= 2
		}
		b.mvWGS = n
	}
	if o.MatvecRows == 0 {
		o.MatvecRows, _ = strconv.Atoi(os.Getenv("BITNET_VK_MATVEC_ROWS"))
	}
	b.mvRows, b.mvMany = 2, matvecManyGroups
	if o.MatvecRows == 1 {
		b.mvRows = 1
	}
	if dev.Info.ComputeUnits > 0 {
		b.mvMany = dev.Info.ComputeUnits
	}
	if !o.NoMatvecRowSum && os.Getenv("BITNET_VK_MATVEC_ROWSUM") != "0" {
		b.mvRowSum = 1
	}
	b.mvSpecFlags = gpuDefault(o.MatvecSpecFlags, "BITNET_VK_MATVEC_SPEC", cpu)
	if o.WeightBlocks || os.Getenv("BITNET_VK_WEIGHT_BLOCKS") == "1" {
		b.weightArena = dev.NewArena(weightBlock)
	}
	if o.HeadRows == 0 {
		o.HeadRows, _ = strconv.Atoi(os.Getenv("BITNET_VK_HEAD_ROWS"))
	}
	b.headRows = 2
	if o.HeadRows >= 1 && o.HeadRows <= 4 {
		b.headRows = uint32(o.HeadRows)
	}
	// Attention over a few rows of a short cache merges its chunks in the
	// attention kernel (unfused: in a dispatch of its own).
	b.attnMerge = b.fuse && os.Getenv("BITNET_VK_ATTN_MERGE") != "0"
	// The attention kernels' reductions within subgroups (2 barriers
	// instead of 16).
	b.attnSG = b.subgroups && gpuDefault(o.AttnSubgroups, "BITNET_VK_ATTN_SG", cpu)
	b.screenAuto = o.ScreenHead || os.Getenv("BITNET_VK_SCREEN") == "1"
	b.attnStage = !o.AttnKeysInRegisters && os.Getenv("BITNET_VK_ATTN_STAGE") != "0"
	b.attnChunk, b.attnChunkDecode, b.attnMergeMax = attnChunk, attnChunkDecode, attnMergeChunks
	if n, _ := strconv.Atoi(os.Getenv("BITNET_VK_ATTN_CHUNK")); n >= 32 && n <= 1024 && n&(n-1) == 0 {
		b.attnChunk, b.attnChunkDecode = uint32(n), uint32(n)
	}
	if o.AttnDecodeChunk == 0 {
		o.AttnDecodeChunk, _ = strconv.Atoi(os.Getenv("BITNET_VK_ATTN_DECODE_CHUNK"))
	}
	if n := o.AttnDecodeChunk; n >= 32 && n <= 1024 && n&(n-1) == 0 {
		// The same short cache in chunks of n positions.
		b.attnChunkDecode, b.attnMergeMax = uint32(n), uint32(max(attnMergeChunks*attnChunkDecode/n, 1))
	}
	b.partials = partialsBudget
	if o.AttnRows == 0 {
		o.AttnRows, _ = strconv.Atoi(os.Getenv("BITNET_VK_ATTN_ROWS"))
	}
	b.attnRows = attnRows
	if o.AttnRows >= 1 && o.AttnRows <= 16 {
		b.attnRows = uint32(o.AttnRows)
	}
	if o.AttnHeads == 0 {
		o.AttnHeads, _ = strconv.Atoi(os.Getenv("BITNET_VK_ATTN_HEADS"))
	}
	if o.AttnHeads > 0 && o.AttnHeads <= 64 {
		b.attnHeads = uint32(o.AttnHeads)
	}
	if o.AttnValueLoads == 0 {
		o.AttnValueLoads, _ = strconv.Atoi(os.Getenv("BITNET_VK_ATTN_VALUE_LOADS"))
	}
	b.attnVU, b.attnVULong = attnValueLoads, attnValueLoadsLong
	if n := o.AttnValueLoads; n >= 4 && n <= 32 && n&(n-1) == 0 {
		b.attnVU, b.attnVULong = uint32(n), uint32(n)
	}
	b.chain = o.Chain || os.Getenv("BITNET_VK_CHAIN") == "1"
	if o.Timeline || os.Getenv("BITNET_VK_TIMELINE") == "1" {
		if b.clockRate, err = dev.ClockRate(); err != nil {
			return fail(fmt.Errorf("vulkan: a timeline (BITNET_VK_TIMELINE): %w", err))
		}
		b.timeline = true
		b.rec.SetChainWaits(b.chain)
	}
	// attn_combine keeps 16 KiB of factors and 4 bytes per invocation in
	// shared memory.
	b.combWGS = min(lim.MaxComputeWorkGroupInvocations, lim.MaxComputeWorkGroupSize[0], 1024)
	for b.combWGS > 128 && 16<<10+4*b.combWGS+64 > lim.MaxComputeSharedMemorySize {
		b.combWGS /= 2
	}
	b.dummySlot = max(b.align, 16)
	if b.dummy, err = dev.NewBuffer(dummySlots*b.dummySlot, vkrt.DeviceLocal); err != nil {
		return fail(err)
	}
	slog.Debug("vulkan: kernels", "kernels", b.Kernels())
	return b, nil
}

// Name returns "vulkan".
func (b *Backend) Name() string { return "vulkan" }

// Device describes the device in use.
func (b *Backend) Device() string { return b.dev.Info.String() }

// CoopMat reports whether the I2_S matmuls of prompts run on cooperative
// matrices.
func (b *Backend) CoopMat() bool { return b.coopmat }

// Kernels names the kernel choices that depend on the device: "subgroups"
// (the subgroup matvecs, else the shared-memory ones), "int8-dot" (packed
// int8 dot products in the ternary kernels), "coopmat-gemm-RxT" (the I2_S
// prompt GEMM on cooperative matrices, R x T tiles, else the tiled one),
// "attn-no-subgroups" (Options.AttnSubgroups off),
// "attn-keys-in-registers" (Options.AttnKeysInRegisters),
// "attn-decode-chunk-N" (decode attention over a short cache in chunks of
// N positions, where not 256), "attn-rows-N" (N query rows of a prompt per
// attention workgroup), "attn-value-loads-N" (N value rows loaded at once
// per attention invocation, where not 8), "matvec-rows-1" (one row per
// subgroup of the I2_S decode matvec in matrices of many rows too),
// "matvec-no-rowsum" (Options.NoMatvecRowSum), "matvec-push-flags"
// (Options.MatvecSpecFlags off), "weight-blocks" (Options.WeightBlocks),
// "chain" (Options.Chain) and "timeline" (Options.Timeline), space
// separated; "generic" when none applies.
func (b *Backend) Kernels() string {
	var k []string
	if b.subgroups {
		k = append(k, "subgroups")
	}
	if b.dot {
		k = append(k, "int8-dot")
	}
	if b.coopmat {
		k = append(k, fmt.Sprintf("coopmat-gemm-%dx%d", b.coopTile[0], b.coopTile[1]))
	}
	if b.subgroups && !b.attnSG {
		k = append(k, "attn-no-subgroups")
	}
	if !b.attnStage {
		k = append(k, "attn-keys-in-registers")
	}
	if b.attnChunkDecode != attnChunkDecode {
		k = append(k, fmt.Sprintf("attn-decode-chunk-%d", b.attnChunkDecode))
	}
	if b.attnRows != attnRows {
		k = append(k, fmt.Sprintf("attn-rows-%d", b.attnRows))
	}
	if b.attnHeads > 0 {
		k = append(k, fmt.Sprintf("attn-heads-%d", b.attnHeads))
	}
	if b.attnVU != attnValueLoads || b.attnVULong != attnValueLoadsLong {
		k = append(k, fmt.Sprintf("attn-value-loads-%d", b.attnVU))
	}
	if b.subgroups && b.mvRows == 1 {
		k = append(k, "matvec-rows-1")
	}
	if b.fastTernary() && b.mvRowSum == 0 {
		k = append(k, "matvec-no-rowsum")
	}
	if b.fastTernary() && !b.mvSpecFlags {
		k = append(k, "matvec-push-flags")
	}
	if b.weightArena != nil {
		k = append(k, "weight-blocks")
	}
	if b.chain {
		k = append(k, "chain")
	}
	if b.timeline {
		k = append(k, "timeline")
	}
	if len(k) == 0 {
		return "generic"
	}
	return strings.Join(k, " ")
}

// coopMatUsable reports whether the cooperative-matrix GEMM with a tile
// of rows x tokens can run on the device: int8 cooperative matrices in a
// shape it takes, room for its workgroup (a subgroup per 32 x 32) and
// shared memory (144 bytes per staged row or token), and a subgroup size
// the compute shader is sure to run with (NVIDIA's 32, lavapipe's fixed
// width; devices that choose it per pipeline keep the tiled kernel).
func coopMatUsable(d vkrt.DeviceInfo, tile [2]uint32) bool {
	if !d.Features.CooperativeMatrixInt8 || (d.VendorID != 0x10de && d.Type != vkrt.TypeCPU) {
		return false
	}
	l := d.Limits
	wgs := tile[0] / 32 * tile[1] / 32 * d.SubgroupSize
	return wgs > 0 && wgs <= l.MaxComputeWorkGroupInvocations && wgs <= l.MaxComputeWorkGroupSize[0] &&
		l.MaxComputeSharedMemorySize >= (tile[0]+tile[1])*144
}

// Subgroups reports whether the matvec kernels reduce with subgroup
// arithmetic.
func (b *Backend) Subgroups() bool { return b.subgroups }

// Dot reports whether the ternary kernels use packed int8 dot products.
func (b *Backend) Dot() bool { return b.dot }

// Info returns the device's properties.
func (b *Backend) Info() vkrt.DeviceInfo { return b.dev.Info }

// Close releases every device object.
func (b *Backend) Close() error {
	if b.dev == nil {
		return nil
	}
	var errs []error
	for p := range b.progs {
		p.Release()
	}
	if b.rec != nil {
		b.pending = nil
		errs = append(errs, b.rec.Submit())
		b.rec.Profile(false)
		b.rec.Destroy()
	}
	for _, p := range b.pipes {
		p.Destroy()
	}
	for _, s := range b.scratch {
		s.Destroy()
	}
	for _, s := range b.retired {
		s.Destroy()
	}
	for s := range b.owned {
		s.Destroy()
	}
	if b.dummy != nil {
		b.dummy.Destroy()
	}
	errs = append(errs, b.dev.Close())
	b.dev = nil
	return errors.Join(errs...)
}

// tensor is a device tensor: an activation, cache or index buffer (or a
// view of its rows), or a weight split in chunks of whole rows that each
// fit in one storage-buffer binding.
type tensor struct {
	dt    gguf.DType
	shape []int
	buf   *vkrt.Buffer
	off   uint64 // byte offset of a view
	bytes uint64 // bytes of the view

	chunks   []chunk
	rowBytes uint64  // bytes of a row on the device (see deviceRowBytes)
	fileRow  uint64  // and in the file
	scale    float32 // I2_S
	host     []byte  // raw file bytes of the types embedded on the host (embedType < 0)
}

type chunk struct {
	buf        *vkrt.Buffer
	row0, rows int
}

func (t *tensor) DType() gguf.DType { return t.dt }
func (t *tensor) Shape() []int      { return t.shape }

// view identifies the bytes a tensor view covers.
type view struct {
	buf      *vkrt.Buffer
	off, end uint64
}

func (t *tensor) view() view { return view{t.buf, t.off, t.off + t.bytes} }

func (v view) overlaps(o view) bool {
	return v.buf != nil && v.buf == o.buf && v.off < o.end && o.off < v.end
}

func asT(op string, x compute.Tensor) *tensor {
	t, ok := x.(*tensor)
	if !ok {
		panic(fmt.Sprintf("gpu.%s: tensor of type %T does not belong to the vulkan backend", op, x))
	}
	return t
}

func elemSize(dt gguf.DType) uint64 {
	if dt == gguf.F16 {
		return 2
	}
	return 4
}

// Alloc returns a zeroed F32, F16 or I32 tensor. F32 and F16 live in
// device memory; I32 tensors (token ids, positions, results) in memory the
// host maps, so writing and reading them costs no transfer.
func (b *Backend) Alloc(dt gguf.DType, shape ...int) (compute.Tensor, error) {
	if dt != gguf.F32 && dt != gguf.F16 && dt != gguf.I32 {
		panic(fmt.Sprintf("gpu.Alloc: type %s is not an activation, cache or index type", dt))
	}
	n := uint64(compute.Elements(shape)) * elemSize(dt)
	size := max((n+3)&^3, 16)
	kind := vkrt.DeviceLocal
	if dt == gguf.I32 {
		kind = vkrt.Shared
	}
	buf, err := b.dev.NewBuffer(size, kind)
	if err != nil {
		return nil, fmt.Errorf("vulkan: %s tensor %v (%s): %w", dt, shape, vkrt.FormatBytes(size), err)
	}
	b.owned[buf] = true
	if kind == vkrt.DeviceLocal {
		b.rec.Fill(buf.Out(0, 0), 0)
	} else {
		clear(buf.Mapped())
	}
	return &tensor{dt: dt, shape: append([]int(nil), shape...), buf: buf, bytes: n}, nil
}

// Free releases a tensor made by Alloc (after the queued work that uses it).
func (b *Backend) Free(x compute.Tensor) {
	t := asT("Free", x)
	if t.buf == nil || !b.owned[t.buf] {
		return
	}
	if err := b.Flush(); err != nil {
		// The device is lost; its memory goes with it.
		return
	}
	delete(b.owned, t.buf)
	t.buf.Destroy()
	t.buf = nil
}

// Rows returns a view of rows [row0, row0+n).
func (b *Backend) Rows(x compute.Tensor, row0, n int) compute.Tensor {
	t := asT("Rows", x)
	if t.buf == nil {
		panic("gpu.Rows: views of weights are not supported")
	}
	k, r := compute.RowsOf(t)
	if row0 < 0 || n < 0 || row0+n > r {
		panic(fmt.Sprintf("gpu.Rows: rows [%d, %d) of a tensor with %d rows", row0, row0+n, r))
	}
	es := elemSize(t.dt)
	return &tensor{dt: t.dt, shape: []int{k, n}, buf: t.buf, off: t.off + uint64(row0*k)*es, bytes: uint64(n*k) * es}
}

// weightBlock is the largest memory block of Options.WeightBlocks.
const weightBlock = 64 << 20

// WeightAllocations returns the number of device memory allocations that
// hold the weights loaded so far.
func (b *Backend) WeightAllocations() int {
	if b.weightArena != nil {
		return b.weightArena.Blocks()
	}
	return b.weightChunks
}

// Weights uploads a model tensor to device memory in chunks of whole rows.
// Q8_0 and Q6_K rows are rewritten into the device layouts of layout.go.
// I2_S weights holding the never-written code 3 get code 1 there instead
// (both mean 0), so the kernels may compute with code-1.
func (b *Backend) Weights(info gguf.TensorInfo, raw []byte) (compute.Tensor, error) {
	shape := make([]int, len(info.Shape))
	for i, d := range info.Shape {
		shape[i] = int(d)
	}
	k := shape[0]
	rows := compute.Elements(shape) / k
	t := &tensor{dt: info.Type, shape: shape}
	if embedType(info.Type) < 0 {
		// Kept for the host-side embedding lookup; the other types are
		// read on the device, and a weight made at load (a quantized LM
		// head) is not held twice.
		t.host = raw
	}
	switch info.Type {
	case gguf.F32:
		t.rowBytes = uint64(k) * 4
	case gguf.F16, gguf.BF16:
		t.rowBytes = uint64(k) * 2
	case gguf.Q8_0:
		if k%32 != 0 {
			return nil, fmt.Errorf("vulkan: tensor %q: Q8_0 row length %d is not a multiple of 32", info.Name, k)
		}
		t.rowBytes = uint64(k/32) * 34
	case gguf.Q6_K:
		if k%256 != 0 {
			return nil, fmt.Errorf("vulkan: tensor %q: Q6_K row length %d is not a multiple of 256", info.Name, k)
		}
		t.rowBytes = uint64(k/256) * gguf.Q6_KBytes
	case gguf.TQ2_0:
		t.rowBytes = uint64(k/256) * 66
	case gguf.TQ1_0:
		t.rowBytes = uint64(k/256) * 54
	case gguf.I2_S:
		if k%128 != 0 {
			return nil, fmt.Errorf("vulkan: tensor %q: I2_S row length %d is not a multiple of 128", info.Name, k)
		}
		t.rowBytes = uint64(k) / 4
		s, err := gguf.I2SScale(raw, info.Elements())
		if err != nil {
			return nil, fmt.Errorf("vulkan: tensor %q: %w", info.Name, err)
		}
		t.scale = s
	default:
		return nil, fmt.Errorf("vulkan: tensor %q: type %s is not supported", info.Name, info.Type)
	}
	t.fileRow = t.rowBytes
	payload := t.rowBytes * uint64(rows)
	if uint64(len(raw)) < payload {
		return nil, fmt.Errorf("vulkan: tensor %q: %d bytes, want %d", info.Name, len(raw), payload)
	}
	repack := deviceRowBytes(info.Type, k) != 0
	if repack {
		t.rowBytes = deviceRowBytes(info.Type, k)
	}
	if t.rowBytes > b.maxRange {
		return nil, fmt.Errorf("vulkan: tensor %q: a row of %d bytes exceeds the device's storage buffer range", info.Name, t.rowBytes)
	}
	data := raw[:payload]
	if info.Type == gguf.I2_S && gguf.I2SHasCode3(data) {
		data = gguf.I2SWithoutCode3(data)
	}
	perChunk := int(min(b.maxRange/t.rowBytes, 65535)) // the generic kernels take one workgroup per row
	for r0 := 0; r0 < rows; r0 += perChunk {
		n := min(perChunk, rows-r0)
		size := (t.rowBytes*uint64(n) + 15) &^ 15
		var buf *vkrt.Buffer
		var err error
		if b.weightArena != nil {
			buf, err = b.weightArena.NewBuffer(size)
		} else {
			buf, err = b.dev.NewBuffer(size, vkrt.DeviceLocal)
		}
		if err != nil {
			heap := b.dev.Info.DeviceLocalMemory()
			return nil, fmt.Errorf("vulkan: tensor %q: the model does not fit in device memory (%s of weights loaded, the device has %s): %w",
				info.Name, vkrt.FormatBytes(b.weightBytes), vkrt.FormatBytes(heap), err)
		}
		var src []byte
		if repack {
			src = make([]byte, size)
			for r := range n {
				fr := data[uint64(r0+r)*t.fileRow : uint64(r0+r+1)*t.fileRow]
				repackRow(info.Type, k, src[uint64(r)*t.rowBytes:uint64(r+1)*t.rowBytes], fr)
			}
		} else {
			src = data[uint64(r0)*t.rowBytes : uint64(r0+n)*t.rowBytes]
		}
		if uint64(len(src)) < size {
			src = append(append([]byte(nil), src...), make([]byte, size-uint64(len(src)))...)
		}
		if err := b.dev.Upload(buf, 0, src); err != nil {
			buf.Destroy()
			return nil, fmt.Errorf("vulkan: tensor %q: upload: %w", info.Name, err)
		}
		b.weightBytes += size
		b.weightChunks++
		b.owned[buf] = true
		t.chunks = append(t.chunks, chunk{buf: buf, row0: r0, rows: n})
	}
	return t, nil
}

// Flush turns the queued ops into commands, submits them and waits.
func (b *Backend) Flush() error {
	if b.capturing {
		b.captureErr = errors.Join(b.captureErr, fmt.Errorf("vulkan: Flush, Read or Write inside a capture: %w", compute.ErrNotCapturable))
		return b.captureErr
	}
	b.emit()
	err := b.rec.Submit()
	for _, s := range b.retired {
		s.Destroy()
	}
	b.retired = b.retired[:0]
	return err
}

// Write copies float32 values into an F32 tensor (after the work queued so
// far).
func (b *Backend) Write(dst compute.Tensor, src []float32) error {
	t := asT("Write", dst)
	if t.dt != gguf.F32 || t.buf == nil || uint64(len(src))*4 != t.bytes {
		return fmt.Errorf("gpu.Write: %d values into a %s tensor of shape %v", len(src), t.dt, t.shape)
	}
	if err := b.Flush(); err != nil {
		return err
	}
	raw := make([]byte, 4*len(src))
	for i, v := range src {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return b.dev.Upload(t.buf, t.off, raw)
}

// WriteInts copies int32 values into an I32 tensor, through its mapping.
func (b *Backend) WriteInts(dst compute.Tensor, src []int32) error {
	t := asT("WriteInts", dst)
	if t.dt != gguf.I32 || t.buf == nil || uint64(len(src))*4 != t.bytes {
		return fmt.Errorf("gpu.WriteInts: %d values into a %s tensor of shape %v", len(src), t.dt, t.shape)
	}
	if err := b.Flush(); err != nil {
		return err
	}
	m := t.buf.Mapped()[t.off:]
	for i, v := range src {
		binary.LittleEndian.PutUint32(m[4*i:], uint32(v))
	}
	b.dev.CountHostWrite(4 * len(src))
	return nil
}

// Read submits the queued work and copies an F32 or F16 tensor out.
func (b *Backend) Read(src compute.Tensor, dst []float32) error {
	t := asT("Read", src)
	n := compute.Elements(t.shape)
	if t.buf == nil || len(dst) != n || t.dt == gguf.I32 {
		return fmt.Errorf("gpu.Read: %d values from a %s tensor of shape %v", len(dst), t.dt, t.shape)
	}
	if err := b.Flush(); err != nil {
		return err
	}
	raw := make([]byte, t.bytes)
	if err := b.dev.Download(t.buf, t.off, raw); err != nil {
		return err
	}
	if t.dt == gguf.F16 {
		for i := range dst {
			dst[i] = gguf.F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return nil
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return nil
}

// ReadInts submits the queued work and copies an I32 tensor out of its
// mapping.
func (b *Backend) ReadInts(src compute.Tensor, dst []int32) error {
	t := asT("ReadInts", src)
	if t.buf == nil || t.dt != gguf.I32 || uint64(len(dst))*4 != t.bytes {
		return fmt.Errorf("gpu.ReadInts: %d values from a %s tensor of shape %v", len(dst), t.dt, t.shape)
	}
	if err := b.Flush(); err != nil {
		return err
	}
	m := t.buf.Mapped()[t.off:]
	for i := range dst {
		dst[i] = int32(binary.LittleEndian.Uint32(m[4*i:]))
	}
	b.dev.CountHostRead(4 * len(dst))
	return nil
}

// arg binds a tensor view for a kernel: the whole buffer when the view
// covers it, else an aligned window around the view (so that kernels on
// different rows of one buffer, which need no barrier between them, are
// seen to touch different ranges), and the view's offset in 4-byte words
// from the binding's start. Barriers are placed from the view's own bytes.
func (b *Backend) arg(t *tensor, write bool) (vkrt.Binding, uint32) {
	if t.buf == nil {
		panic(fmt.Sprintf("gpu: a %s tensor %v without device memory (freed?)", t.dt, t.shape))
	}
	start, size := uint64(0), t.buf.Size()
	if t.off != 0 || t.bytes < size || size > b.maxRange {
		start = t.off &^ (b.align - 1)
		size = min((t.off+t.bytes-start+3)&^3, t.buf.Size()-start)
		if size > b.maxRange {
			panic(fmt.Sprintf("gpu: a binding of %d bytes exceeds the device's storage buffer range %d", size, b.maxRange))
		}
	}
	bd := vkrt.Binding{Buffer: t.buf, Offset: start, Size: size, Write: write, AccessOffset: t.off, AccessSize: max(t.bytes, 4)}
	if t.off+bd.AccessSize > start+size {
		bd.AccessSize = start + size - t.off
	}
	return bd, uint32((t.off - start) / 4)
}

func (b *Backend) in(t *tensor) (vkrt.Binding, uint32)  { return b.arg(t, false) }
func (b *Backend) out(t *tensor) (vkrt.Binding, uint32) { return b.arg(t, true) }

// dummySlots is the number of slots of the dummy buffer (see unused).
const dummySlots = 256

// unused binds a slot of the dummy buffer where a kernel's binding is not
// used. A kernel that writes through a binding when a flag says so
// declares it writable, and the validation layer's synchronization checks
// take every writable binding as written: slots handed out in turn (from
// the first again at each recording, so that a step recorded again binds
// the same ones and finds its descriptor sets cached) keep the dispatches
// between two barriers from sharing one.
func (b *Backend) unused() vkrt.Binding {
	i := uint64(b.nextDummy % dummySlots)
	b.nextDummy++
	return b.dummy.In(i*b.dummySlot, 16)
}

// zeroScratch is scratchBuf for a buffer that must hold zeros when it is
// made (kernels that use it leave it zeroed).
func (b *Backend) zeroScratch(role string, n uint64) *vkrt.Buffer {
	s := b.scratch[role]
	buf := b.scratchBuf(role, n)
	if buf != s {
		if err := b.dev.Upload(buf, 0, make([]byte, buf.Size())); err != nil {
			b.deviceFailed(fmt.Errorf("vulkan: zeroing scratch %s: %w", role, err))
		}
	}
	return buf
}

// scratchBuf returns a device buffer of at least n bytes for role; a
// replaced buffer stays alive until the recorded work using it is
// submitted, and programs captured with it are captured again.
func (b *Backend) scratchBuf(role string, n uint64) *vkrt.Buffer {
	n = max((n+15)&^15, 16)
	if s := b.scratch[role]; s != nil && s.Size() >= n {
		return s
	}
	if old := b.scratch[role]; old != nil {
		b.retired = append(b.retired, old)
	}
	s, err := b.dev.NewBuffer(max(n, 1<<16), vkrt.DeviceLocal)
	if err != nil {
		b.deviceFailed(fmt.Errorf("vulkan: scratch %s of %d bytes: %w", role, n, err))
	}
	b.scratch[role] = s
	b.scratchGen++
	return s
}

// alignUp rounds n up to the device's storage buffer offset alignment.
func (b *Backend) alignUp(n uint64) uint64 { return (n + b.align - 1) &^ (b.align - 1) }

func f32bits(f float32) uint32 { return math.Float32bits(f) }

func groups1D(n int) [3]uint32 {
	g := (n + 63) / 64
	return [3]uint32{uint32(min(max(g, 1), 65535)), 1, 1}
}
