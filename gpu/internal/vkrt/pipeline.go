//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"fmt"
	"runtime"
	"unsafe"

	"bitnet/gpu/internal/vk"
	"bitnet/shaders"
)

// MaxBindings is the most storage buffers a pipeline may bind.
const MaxBindings = 17

// PipelineConfig describes a compute pipeline.
type PipelineConfig struct {
	// Name is the kernel name (the shader file without .comp); it names the
	// pipeline in errors and logs.
	Name string
	// SPIRV is the shader code; nil loads the embedded shaders.SPIRV(Name).
	SPIRV []uint32
	// Buffers is the number of storage buffers, at bindings 0..Buffers-1 of
	// set 0 (layout(set = 0, binding = i) buffer ...).
	Buffers int
	// PushSize is the size in bytes of the push-constant block (a multiple
	// of 4, at most Limits.MaxPushConstantsSize).
	PushSize uint32
	// Spec are specialization constants: Spec[i] is constant_id i (32-bit:
	// uint, int, float bits or bool 0/1), e.g. the workgroup size via
	// layout(local_size_x_id = 0) in;
	Spec []uint32
	// Entry is the entry point; "" is "main".
	Entry string
	// Chained marks a kernel that takes part in chains (see
	// Recorder.Dispatch): its last binding is the chain's counters and its
	// last ChainPushWords push-constant words are the chain's, both
	// supplied by the Recorder (Buffers and PushSize count them).
	Chained bool
	// Probed marks a chained kernel that times itself with the device
	// clock (see Device.Probes).
	Probed bool
}

// ChainPushWords is the number of push-constant words of a chained kernel
// that the Recorder fills: the slot waited for plus one (0: none), its
// workgroup count, and the dispatch's own slot plus one.
const ChainPushWords = 3

// Pipeline is a compute pipeline with its layout.
type Pipeline struct {
	d        *Device
	name     string
	buffers  int
	pushSize uint32
	chained  bool
	probed   bool
	subgroup uint32 // the subgroup size it requires (0: the compiler's choice)
	setL     vk.DescriptorSetLayout
	layout   vk.PipelineLayout
	pipe     vk.Pipeline
}

// Name is the kernel name.
func (p *Pipeline) Name() string { return p.name }

// Buffers is the number of storage-buffer bindings.
func (p *Pipeline) Buffers() int { return p.buffers }

// PushSize is the size of the push-constant block in bytes.
func (p *Pipeline) PushSize() uint32 { return p.pushSize }

// RequiredSubgroupSize is the subgroup size the pipeline was built to run
// at (DeviceInfo.SubgroupSize where Features.SubgroupSizeControl), or 0
// where the compiler picks one.
func (p *Pipeline) RequiredSubgroupSize() uint32 { return p.subgroup }

// Pipeline builds a compute pipeline.
func (d *Device) Pipeline(cfg PipelineConfig) (*Pipeline, error) {
	if cfg.Buffers < 0 || cfg.Buffers > MaxBindings {
		return nil, fmt.Errorf("vulkan: pipeline %s: %d buffers (at most %d)", cfg.Name, cfg.Buffers, MaxBindings)
	}
	if lim := d.Info.Limits.MaxPerStageStorageBuffers; uint32(cfg.Buffers) > lim {
		return nil, fmt.Errorf("vulkan: pipeline %s: %d buffers, the device allows %d", cfg.Name, cfg.Buffers, lim)
	}
	if cfg.PushSize%4 != 0 || cfg.PushSize > d.Info.Limits.MaxPushConstantsSize {
		return nil, fmt.Errorf("vulkan: pipeline %s: push constants of %d bytes (multiple of 4, at most %d)",
			cfg.Name, cfg.PushSize, d.Info.Limits.MaxPushConstantsSize)
	}
	if cfg.Probed && (!cfg.Chained || !d.Info.Features.ShaderDeviceClock) {
		return nil, fmt.Errorf("vulkan: pipeline %s: a probed kernel must be chained and needs the device clock (VK_KHR_shader_clock)", cfg.Name)
	}
	if cfg.Chained && (cfg.Buffers < 1 || cfg.PushSize < 4*ChainPushWords) {
		return nil, fmt.Errorf("vulkan: pipeline %s: a chained kernel needs its counters' binding and %d push words", cfg.Name, ChainPushWords)
	}
	code := cfg.SPIRV
	if code == nil {
		var err error
		if code, err = shaders.SPIRV(cfg.Name); err != nil {
			return nil, err
		}
	}
	setL, err := d.setLayout(cfg.Buffers)
	if err != nil {
		return nil, err
	}
	mod, err := d.vk.CreateShaderModule(code)
	if err != nil {
		return nil, fmt.Errorf("vulkan: pipeline %s: %w", cfg.Name, err)
	}
	defer d.vk.DestroyShaderModule(mod)

	sl := uint64(setL)
	linfo := &vk.PipelineLayoutCreateInfo{
		SType:          vk.StructureTypePipelineLayoutCreateInfo,
		SetLayoutCount: 1,
		PSetLayouts:    &sl,
	}
	if cfg.PushSize > 0 {
		linfo.PushConstantRangeCount = 1
		linfo.PPushConstantRanges = &vk.PushConstantRange{StageFlags: vk.ShaderStageComputeBit, Size: cfg.PushSize}
	}
	layout, err := d.vk.CreatePipelineLayout(linfo)
	if err != nil {
		return nil, fmt.Errorf("vulkan: pipeline %s: %w", cfg.Name, err)
	}
	entry := cfg.Entry
	if entry == "" {
		entry = "main"
	}
	stage := vk.PipelineShaderStageCreateInfo{
		SType:  vk.StructureTypePipelineShaderStageCreateInfo,
		Stage:  vk.ShaderStageComputeBit,
		Module: uint64(mod),
		PName:  vk.CString(entry),
	}
	if len(cfg.Spec) > 0 {
		entries := make([]vk.SpecializationMapEntry, len(cfg.Spec))
		for i := range entries {
			entries[i] = vk.SpecializationMapEntry{ConstantID: uint32(i), Offset: uint32(4 * i), Size: 4}
		}
		data := append([]uint32(nil), cfg.Spec...)
		stage.PSpecializationInfo = &vk.SpecializationInfo{
			MapEntryCount: uint32(len(entries)),
			PMapEntries:   &entries[0],
			DataSize:      uint64(4 * len(data)),
			PData:         vk.SlicePointer(data),
		}
	}
	// Kernels are specialized for the device's subgroup size: where the
	// device lets it, require that size rather than one the compiler picks.
	var sg uint32
	var req *vk.PipelineShaderStageRequiredSubgroupSizeCreateInfo
	if d.requiresSubgroupSize(shaders.WorkgroupInvocations(code, cfg.Spec)) {
		sg = d.Info.SubgroupSize
		req = &vk.PipelineShaderStageRequiredSubgroupSizeCreateInfo{SType: vk.StructureTypePipelineShaderStageRequiredSubgroupSizeCreateInfo, RequiredSubgroupSize: sg}
		stage.PNext = unsafe.Pointer(req)
	}
	var flags uint32
	if d.Info.Features.PipelineStatistics {
		flags = vk.PipelineCreateCaptureStatisticsBitKHR
	}
	pipe, err := d.vk.CreateComputePipeline(&vk.ComputePipelineCreateInfo{
		SType:  vk.StructureTypeComputePipelineCreateInfo,
		Flags:  flags,
		Stage:  stage,
		Layout: uint64(layout),
	})
	runtime.KeepAlive(req)
	if err != nil {
		d.vk.DestroyPipelineLayout(layout)
		return nil, fmt.Errorf("vulkan: pipeline %s: %w", cfg.Name, err)
	}
	return &Pipeline{d: d, name: cfg.Name, buffers: cfg.Buffers, pushSize: cfg.PushSize, chained: cfg.Chained, probed: cfg.Probed, subgroup: sg, setL: setL, layout: layout, pipe: pipe}, nil
}

// requiresSubgroupSize reports whether a pipeline whose workgroups have inv
// invocations (0: unknown) can require the device's subgroup size: the
// device lets pipelines require it and allows workgroups of that many
// subgroups.
func (d *Device) requiresSubgroupSize(inv uint32) bool {
	sg := uint64(d.Info.SubgroupSize)
	return d.Info.Features.SubgroupSizeControl && inv > 0 && uint64(inv) <= uint64(d.Info.maxSubgroups)*sg
}

// Statistic is one figure a driver reports about a compiled pipeline
// (VK_KHR_pipeline_executable_properties): NVIDIA's include its register
// count, Mesa's GPU drivers their instructions and spills.
type Statistic struct {
	Executable  string  // the executable's name, as the driver names it (a compute pipeline has one)
	Name        string  // e.g. "Register Count"
	Description string  // the driver's words on it
	Value       float64 // the value (a boolean as 0 or 1)
}

// Statistics returns what the driver reports about the compiled pipeline,
// on a device opened with Options.PipelineStatistics.
func (p *Pipeline) Statistics() ([]Statistic, error) {
	if !p.d.Info.Features.PipelineStatistics {
		return nil, fmt.Errorf("vulkan: pipeline %s: no statistics (the device was opened without them, or %s lacks VK_KHR_pipeline_executable_properties)", p.name, p.d.Info.Name)
	}
	exes, err := p.d.vk.PipelineExecutableProperties(p.pipe)
	if err != nil {
		return nil, fmt.Errorf("vulkan: pipeline %s: %w", p.name, err)
	}
	var out []Statistic
	for i, e := range exes {
		stats, err := p.d.vk.PipelineExecutableStatistics(p.pipe, uint32(i))
		if err != nil {
			return nil, fmt.Errorf("vulkan: pipeline %s: executable %d: %w", p.name, i, err)
		}
		for _, s := range stats {
			out = append(out, Statistic{Executable: vk.FixedString(e.Name[:]), Name: vk.FixedString(s.Name[:]), Description: vk.FixedString(s.Description[:]), Value: s.Float()})
		}
	}
	return out, nil
}

// Destroy destroys the pipeline (its work must have completed).
func (p *Pipeline) Destroy() {
	if p.pipe == 0 {
		return
	}
	p.d.vk.DestroyPipeline(p.pipe)
	p.d.vk.DestroyPipelineLayout(p.layout)
	p.pipe, p.layout = 0, 0
}
