package vkrt

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
)

// ErrNoDevice is matched by the errors of Open and Devices when the loader
// works but no usable Vulkan device exists (or none that the selection
// allows).
var ErrNoDevice = errors.New("vulkan: no usable device")

// DeviceType is the kind of a physical device.
type DeviceType string

// Device types, as VkPhysicalDeviceType.
const (
	TypeDiscrete   DeviceType = "discrete"
	TypeIntegrated DeviceType = "integrated"
	TypeVirtual    DeviceType = "virtual"
	TypeCPU        DeviceType = "cpu"
	TypeOther      DeviceType = "other"
)

// DeviceEnv names the environment variable that selects the device where
// the selection leaves the choice open (see SelectEnv).
const DeviceEnv = "BITNET_VK_DEVICE"

// SubgroupSizeEnv names the environment variable that sets the subgroup
// width the kernels are built for and their pipelines require (see
// SubgroupEnv): 0 leaves every pipeline's subgroup size to the compiler.
const SubgroupSizeEnv = "BITNET_VK_SUBGROUP_SIZE"

// DeviceInfo describes a physical device.
type DeviceInfo struct {
	Index         int        `json:"index"`
	Name          string     `json:"name"`
	Type          DeviceType `json:"type"`
	VendorID      uint32     `json:"vendor_id"`
	DeviceID      uint32     `json:"device_id"`
	APIVersion    string     `json:"api_version"`
	DriverName    string     `json:"driver_name"`
	DriverInfo    string     `json:"driver_info"`
	DriverVersion uint32     `json:"driver_version"` // vendor-specific encoding
	// DriverVersionText decodes DriverVersion as the vendor does.
	DriverVersionText string `json:"driver_version_text"`
	Heaps             []Heap `json:"memory_heaps"`
	// SubgroupSize is the default subgroup width (8 on lavapipe, 32 on
	// NVIDIA, 32 or 64 on AMD); SubgroupArithmetic says whether subgroupAdd
	// and friends work in compute shaders.
	SubgroupSize uint32 `json:"subgroup_size"`
	// SubgroupSizes is the narrowest and widest subgroup a compute shader
	// may run in (VK_EXT_subgroup_size_control; zero where the device
	// does not say): a compiler may pick any of them unless the pipeline
	// requires one (see Features.SubgroupSizeControl).
	SubgroupSizes      [2]uint32 `json:"subgroup_sizes"`
	SubgroupArithmetic bool      `json:"subgroup_arithmetic"`
	SubgroupShuffle    bool      `json:"subgroup_shuffle"` // subgroupShuffleXor in compute shaders
	// ComputeUnits is the number of compute units (NVIDIA's SMs, AMD's
	// CUs) where the driver reports it (VK_NV_shader_sm_builtins,
	// VK_AMD_shader_core_properties), else 0; WarpsPerUnit is how many
	// subgroups one of them keeps resident at most (NVIDIA only, else 0).
	ComputeUnits uint32   `json:"compute_units"`
	WarpsPerUnit uint32   `json:"warps_per_unit"`
	Limits       Limits   `json:"limits"`
	Features     Features `json:"features"`
	// Usable is false when the runtime cannot run on the device (Reason
	// says why: no compute queue, Vulkan older than 1.2).
	Usable bool   `json:"usable"`
	Reason string `json:"reason,omitempty"`

	apiVersion uint32
	// CoopMatShape is the M x N x K of the int8 cooperative matrices the
	// GEMM kernel uses, when Features.CooperativeMatrixInt8.
	CoopMatShape [3]uint32 `json:"cooperative_matrix_shape"`

	hasDotExt   bool // VK_KHR_shader_integer_dot_product must be enabled by name
	hasCoopExt  bool // VK_KHR_cooperative_matrix is offered
	hasClockExt bool // VK_KHR_shader_clock is offered
	hasPexExt   bool // VK_KHR_pipeline_executable_properties is offered
	hasSMExt    bool // VK_NV_shader_sm_builtins is offered
	hasCoreExt  bool // VK_AMD_shader_core_properties is offered
	hasSSCExt   bool // VK_EXT_subgroup_size_control is offered
	// maxSubgroups is the most subgroups a workgroup of a pipeline that
	// requires a subgroup size may have (VK_EXT_subgroup_size_control).
	maxSubgroups uint32
	queueFamily  uint32
	tsBits       uint32
}

// Timestamps reports whether the device's compute queue writes timestamps
// (profiles, replays' device time).
func (i DeviceInfo) Timestamps() bool { return i.tsBits != 0 && i.Limits.TimestampPeriod != 0 }

// Heap is a memory heap.
type Heap struct {
	Size        uint64 `json:"size"`
	DeviceLocal bool   `json:"device_local"`
	// HostMapped says that a memory type of the heap is host-visible and
	// coherent: on a device-local heap (resizable BAR), the per-step inputs
	// the host writes (token ids, positions) live in device memory;
	// without one, kernels read them from host memory over the bus.
	HostMapped bool `json:"host_mapped"`
}

// Limits are the device limits a compute backend must respect.
type Limits struct {
	MaxStorageBufferRange           uint64    `json:"max_storage_buffer_range"`
	MinStorageBufferOffsetAlignment uint64    `json:"min_storage_buffer_offset_alignment"`
	MaxMemoryAllocationSize         uint64    `json:"max_memory_allocation_size"`
	MaxComputeSharedMemorySize      uint32    `json:"max_compute_shared_memory_size"`
	MaxPushConstantsSize            uint32    `json:"max_push_constants_size"`
	MaxComputeWorkGroupCount        [3]uint32 `json:"max_compute_work_group_count"`
	MaxComputeWorkGroupSize         [3]uint32 `json:"max_compute_work_group_size"`
	MaxComputeWorkGroupInvocations  uint32    `json:"max_compute_work_group_invocations"`
	MaxPerStageStorageBuffers       uint32    `json:"max_per_stage_storage_buffers"`
	NonCoherentAtomSize             uint64    `json:"non_coherent_atom_size"`
	TimestampPeriod                 float32   `json:"timestamp_period_ns"`
}

// Features are the shader features relevant to the kernels. Open enables
// each one the device has.
type Features struct {
	ShaderInt8               bool `json:"shader_int8"`
	ShaderInt16              bool `json:"shader_int16"`
	ShaderInt64              bool `json:"shader_int64"`
	ShaderFloat16            bool `json:"shader_float16"`
	StorageBuffer8BitAccess  bool `json:"storage_buffer_8bit_access"`
	StorageBuffer16BitAccess bool `json:"storage_buffer_16bit_access"`
	// IntegerDotProduct: SPIR-V packed int8 dot products (OpSDot,
	// VK_KHR_shader_integer_dot_product); IntegerDotProductFast says
	// the device accelerates the signed 4x8-bit packed form.
	IntegerDotProduct     bool `json:"integer_dot_product"`
	IntegerDotProductFast bool `json:"integer_dot_product_accelerated"`
	// VulkanMemoryModel: the Vulkan memory model in shaders, with device
	// scope (the other kernels' atomics use it), needed by the cooperative
	// matrix kernel.
	VulkanMemoryModel bool `json:"vulkan_memory_model"`
	// CooperativeMatrixInt8: VK_KHR_cooperative_matrix with int8 x int8
	// -> int32 matrices of subgroup scope in a shape the GEMM kernel
	// takes (DeviceInfo.CoopMatShape).
	CooperativeMatrixInt8 bool `json:"cooperative_matrix_int8"`
	// ShaderDeviceClock: VK_KHR_shader_clock's device clock in shaders
	// (the kernels' probes read it).
	ShaderDeviceClock bool `json:"shader_device_clock"`
	// SubgroupSizeControl: VK_EXT_subgroup_size_control lets a compute
	// pipeline require SubgroupSize; every pipeline whose workgroup the
	// device allows at that size then does, so that kernels specialized
	// for that width run at it instead of at one the compiler picks
	// (Intel's and AMD's compilers choose among several).
	SubgroupSizeControl bool `json:"subgroup_size_control"`
	// PipelineStatistics: VK_KHR_pipeline_executable_properties reports
	// what the driver compiled each pipeline into (registers, instructions:
	// each driver names its own statistics; see Pipeline.Statistics).
	PipelineStatistics bool `json:"pipeline_statistics"`
}

// String is a short summary: "llvmpipe (cpu, Vulkan 1.3.230, llvmpipe)".
func (d DeviceInfo) String() string {
	return fmt.Sprintf("%s (%s, Vulkan %s, %s)", d.Name, d.Type, d.APIVersion, d.DriverName)
}

// driverVersionText decodes a driverVersion: NVIDIA packs 10.8.8.6 bits,
// Intel's Windows driver 18.14 bits, the others use the Vulkan encoding.
func driverVersionText(vendor, v uint32) string {
	switch vendor {
	case 0x10de:
		return fmt.Sprintf("%d.%d.%d.%d", v>>22, v>>14&0xff, v>>6&0xff, v&0x3f)
	case 0x8086:
		if runtime.GOOS == "windows" {
			return fmt.Sprintf("%d.%d", v>>14, v&0x3fff)
		}
	}
	return fmt.Sprintf("%d.%d.%d", v>>22, v>>12&0x3ff, v&0xfff)
}

// DeviceLocalMemory is the total size of the device-local heaps.
func (d DeviceInfo) DeviceLocalMemory() uint64 {
	var n uint64
	for _, h := range d.Heaps {
		if h.DeviceLocal {
			n += h.Size
		}
	}
	return n
}

// typeRank orders device types for automatic selection.
func typeRank(t DeviceType) int {
	switch t {
	case TypeDiscrete:
		return 0
	case TypeIntegrated:
		return 1
	case TypeVirtual:
		return 2
	case TypeCPU:
		return 4
	}
	return 3
}

// SelectEnv is Select, except that where sel leaves the choice open ("",
// "auto" or "any") and BITNET_VK_DEVICE is set, the variable's value
// selects instead; its errors are then *SettingError.
func SelectEnv(infos []DeviceInfo, sel string) (int, error) {
	env := os.Getenv(DeviceEnv)
	if env == "" || (sel != "" && sel != "auto" && sel != "any") {
		return Select(infos, sel)
	}
	i, err := Select(infos, env)
	if err != nil {
		return 0, &SettingError{Var: DeviceEnv, Value: env, Err: err}
	}
	return i, nil
}

// SettingError is a value of one of the environment variables that
// select a device or how it runs (BITNET_VK_DEVICE,
// BITNET_VK_SUBGROUP_SIZE) that cannot be honoured. It names the variable
// and its value; Err says why.
type SettingError struct {
	Var, Value string
	Err        error
}

func (e *SettingError) Error() string { return fmt.Sprintf("%s=%s: %v", e.Var, e.Value, e.Err) }

// Unwrap returns Err.
func (e *SettingError) Unwrap() error { return e.Err }

// SubgroupEnv applies BITNET_VK_SUBGROUP_SIZE to the description of the
// device about to be opened. Unset, the kernels are built for the
// device's default subgroup width (info.SubgroupSize), which pipelines
// require where the device lets them (Features.SubgroupSizeControl); 0
// requires none, so each pipeline runs at the width its compiler picks; a
// power of two within the device's range (info.SubgroupSizes) becomes the
// width the kernels are built for and require, where the device lets
// pipelines require one. Any other value is a *SettingError.
func SubgroupEnv(info *DeviceInfo) error {
	env := os.Getenv(SubgroupSizeEnv)
	switch env {
	case "":
		return nil
	case "0":
		info.Features.SubgroupSizeControl = false
		return nil
	}
	n, err := strconv.ParseUint(env, 10, 32)
	if err != nil || n == 0 || n&(n-1) != 0 {
		return &SettingError{Var: SubgroupSizeEnv, Value: env, Err: errors.New("want 0 or a power of two")}
	}
	sg := uint32(n)
	if sg == info.SubgroupSize {
		return nil
	}
	lo, hi := info.SubgroupSizes[0], info.SubgroupSizes[1]
	if !info.Features.SubgroupSizeControl {
		return &SettingError{Var: SubgroupSizeEnv, Value: env, Err: fmt.Errorf("%s cannot require a subgroup size (its compute shaders run in subgroups of %d)", info.Name, info.SubgroupSize)}
	}
	if sg < lo || sg > hi {
		return &SettingError{Var: SubgroupSizeEnv, Value: env, Err: fmt.Errorf("%s runs compute shaders in subgroups of %d to %d", info.Name, lo, hi)}
	}
	info.SubgroupSize = sg
	return nil
}

// Select picks a device from infos: sel is "" or "auto" (the best non-CPU
// device: discrete > integrated > virtual), "any" (the same order, CPU
// implementations such as lavapipe last), or a decimal index.
func Select(infos []DeviceInfo, sel string) (int, error) {
	switch sel {
	case "", "auto", "any":
		order := make([]int, 0, len(infos))
		for i := range infos {
			if infos[i].Usable {
				order = append(order, i)
			}
		}
		slices.SortStableFunc(order, func(a, b int) int { return typeRank(infos[a].Type) - typeRank(infos[b].Type) })
		for _, i := range order {
			if infos[i].Type == TypeCPU && sel != "any" {
				continue
			}
			return i, nil
		}
		if len(order) > 0 {
			return 0, fmt.Errorf("%w: only CPU Vulkan implementations (%s) were found; select one by index or with \"any\" to use it", ErrNoDevice, infos[order[0]].Name)
		}
		reasons := ""
		for _, d := range infos {
			reasons += fmt.Sprintf("; %d %s: %s", d.Index, d.Name, d.Reason)
		}
		return 0, fmt.Errorf("%w%s", ErrNoDevice, reasons)
	}
	var idx int
	if _, err := fmt.Sscanf(sel, "%d", &idx); err != nil || fmt.Sprint(idx) != sel {
		return 0, fmt.Errorf("vulkan: bad device selection %q (want auto, any or an index)", sel)
	}
	if idx < 0 || idx >= len(infos) {
		return 0, fmt.Errorf("%w: device index %d out of range (%d devices)", ErrNoDevice, idx, len(infos))
	}
	if !infos[idx].Usable {
		return 0, fmt.Errorf("%w: device %d (%s): %s", ErrNoDevice, idx, infos[idx].Name, infos[idx].Reason)
	}
	return idx, nil
}
