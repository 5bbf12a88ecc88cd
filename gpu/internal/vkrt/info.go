//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"fmt"

	"bitnet/gpu/internal/vk"
)

func deviceType(t uint32) DeviceType {
	switch t {
	case vk.PhysicalDeviceTypeDiscreteGPU:
		return TypeDiscrete
	case vk.PhysicalDeviceTypeIntegratedGPU:
		return TypeIntegrated
	case vk.PhysicalDeviceTypeVirtualGPU:
		return TypeVirtual
	case vk.PhysicalDeviceTypeCPU:
		return TypeCPU
	}
	return TypeOther
}

// deviceFeatures is the Features2 chain used both to query and to enable.
type deviceFeatures struct {
	f2   vk.PhysicalDeviceFeatures2
	v11  vk.PhysicalDeviceVulkan11Features
	v12  vk.PhysicalDeviceVulkan12Features
	dot  vk.PhysicalDeviceShaderIntegerDotProductFeatures
	coop vk.PhysicalDeviceCooperativeMatrixFeaturesKHR
	clk  vk.PhysicalDeviceShaderClockFeaturesKHR
	ssc  vk.PhysicalDeviceSubgroupSizeControlFeatures
	pex  vk.PhysicalDevicePipelineExecutablePropertiesFeaturesKHR
}

// newDeviceFeatures returns the chain; withDot adds the integer dot product
// features, withCoop the cooperative matrix ones, withClock the shader
// clock ones, withSSC the subgroup size control ones and withPex the
// pipeline executable properties' (a device without the extension must
// not see them).
func newDeviceFeatures(withDot, withCoop, withClock, withSSC, withPex bool) *deviceFeatures {
	f := &deviceFeatures{
		f2:   vk.PhysicalDeviceFeatures2{SType: vk.StructureTypePhysicalDeviceFeatures2},
		v11:  vk.PhysicalDeviceVulkan11Features{SType: vk.StructureTypePhysicalDeviceVulkan11Features},
		v12:  vk.PhysicalDeviceVulkan12Features{SType: vk.StructureTypePhysicalDeviceVulkan12Features},
		dot:  vk.PhysicalDeviceShaderIntegerDotProductFeatures{SType: vk.StructureTypePhysicalDeviceShaderIntegerDotProductFeatures},
		coop: vk.PhysicalDeviceCooperativeMatrixFeaturesKHR{SType: vk.StructureTypePhysicalDeviceCooperativeMatrixFeaturesKHR},
		clk:  vk.PhysicalDeviceShaderClockFeaturesKHR{SType: vk.StructureTypePhysicalDeviceShaderClockFeaturesKHR},
		ssc:  vk.PhysicalDeviceSubgroupSizeControlFeatures{SType: vk.StructureTypePhysicalDeviceSubgroupSizeControlFeatures},
		pex:  vk.PhysicalDevicePipelineExecutablePropertiesFeaturesKHR{SType: vk.StructureTypePhysicalDevicePipelineExecutablePropertiesFeaturesKHR},
	}
	f.chain(&f.f2, withDot, withCoop, withClock, withSSC, withPex)
	return f
}

// chain links head, then the Vulkan 1.1 and 1.2 features and the optional
// structs, ending the chain (head is f2 to query, or a DeviceCreateInfo).
func (f *deviceFeatures) chain(head vk.Chainable, withDot, withCoop, withClock, withSSC, withPex bool) {
	next := []vk.Chainable{}
	if head != vk.Chainable(&f.f2) {
		next = append(next, &f.f2)
	}
	next = append(next, &f.v11, &f.v12)
	if withDot {
		next = append(next, &f.dot)
	}
	if withCoop {
		next = append(next, &f.coop)
	}
	if withClock {
		next = append(next, &f.clk)
	}
	if withSSC {
		next = append(next, &f.ssc)
	}
	if withPex {
		next = append(next, &f.pex)
	}
	vk.Chain(head, next...)
}

// dotExtension is the device extension of integer dot products.
const dotExtension = "VK_KHR_shader_integer_dot_product"

// clockExtension is the device extension of shader clocks (the probes of
// kernels read the device clock).
const clockExtension = "VK_KHR_shader_clock"

// sscExtension is the device extension by which a pipeline requires a
// subgroup size (core in Vulkan 1.3, but the instance asks for 1.2).
const sscExtension = "VK_EXT_subgroup_size_control"

// The device extensions that report compute units.
const (
	smExtension   = "VK_NV_shader_sm_builtins"
	coreExtension = "VK_AMD_shader_core_properties"
)

// coopShape picks the cooperative matrix shape the int8 GEMM kernel uses:
// int8 x int8 with int32 accumulation and result, subgroup scope, no
// saturation, M and N of 8, 16 or 32 and K dividing 128, the most products
// per operation first; ok is false when the device offers none.
func coopShape(props []vk.CooperativeMatrixPropertiesKHR) (shape [3]uint32, ok bool) {
	for _, p := range props {
		if p.AType != vk.ComponentTypeSint8KHR || p.BType != vk.ComponentTypeSint8KHR ||
			p.CType != vk.ComponentTypeSint32KHR || p.ResultType != vk.ComponentTypeSint32KHR ||
			p.Scope != vk.ScopeSubgroupKHR || p.SaturatingAccumulation != 0 {
			continue
		}
		if !coopDim(p.MSize, 32) || !coopDim(p.NSize, 32) || !coopDim(p.KSize, 128) {
			continue
		}
		if !ok || p.MSize*p.NSize*p.KSize > shape[0]*shape[1]*shape[2] {
			shape, ok = [3]uint32{p.MSize, p.NSize, p.KSize}, true
		}
	}
	return shape, ok
}

// coopDim reports whether d is a power of two from 8 that divides n.
func coopDim(d, n uint32) bool { return d >= 8 && d&(d-1) == 0 && n%d == 0 }

func (in *instance) query(index int, pd vk.PhysicalDevice) DeviceInfo {
	p := in.vk.Properties(pd)
	info := DeviceInfo{
		Index:             index,
		Name:              vk.FixedString(p.DeviceName[:]),
		Type:              deviceType(p.DeviceType),
		VendorID:          p.VendorID,
		DeviceID:          p.DeviceID,
		APIVersion:        vk.VersionString(p.ApiVersion),
		DriverVersion:     p.DriverVersion,
		DriverVersionText: driverVersionText(p.VendorID, p.DriverVersion),
		apiVersion:        p.ApiVersion,
	}
	l := &p.Limits
	info.Limits = Limits{
		MaxStorageBufferRange:           uint64(l.MaxStorageBufferRange),
		MinStorageBufferOffsetAlignment: l.MinStorageBufferOffsetAlignment,
		MaxComputeSharedMemorySize:      l.MaxComputeSharedMemorySize,
		MaxPushConstantsSize:            l.MaxPushConstantsSize,
		MaxComputeWorkGroupCount:        l.MaxComputeWorkGroupCount,
		MaxComputeWorkGroupSize:         l.MaxComputeWorkGroupSize,
		MaxComputeWorkGroupInvocations:  l.MaxComputeWorkGroupInvocations,
		MaxPerStageStorageBuffers:       l.MaxPerStageDescriptorStorageBuffers,
		NonCoherentAtomSize:             l.NonCoherentAtomSize,
		TimestampPeriod:                 l.TimestampPeriod,
	}
	mem := in.vk.MemoryProperties(pd)
	const mapped = vk.MemoryPropertyHostVisibleBit | vk.MemoryPropertyHostCoherentBit
	for i, h := range mem.MemoryHeaps[:mem.MemoryHeapCount] {
		hp := Heap{Size: h.Size, DeviceLocal: h.Flags&vk.MemoryHeapDeviceLocalBit != 0}
		for _, t := range mem.MemoryTypes[:mem.MemoryTypeCount] {
			hp.HostMapped = hp.HostMapped || int(t.HeapIndex) == i && t.PropertyFlags&mapped == mapped
		}
		info.Heaps = append(info.Heaps, hp)
	}

	info.queueFamily = ^uint32(0)
	for i, q := range in.vk.QueueFamilies(pd) {
		if q.QueueFlags&vk.QueueComputeBit != 0 && q.QueueCount > 0 {
			info.queueFamily = uint32(i)
			info.tsBits = q.TimestampValidBits
			break
		}
	}

	if p.ApiVersion < apiVersion || !in.vk.HasProperties2() {
		info.Reason = fmt.Sprintf("Vulkan 1.2 needed, the device has %s", info.APIVersion)
		core := in.vk.Features(pd)
		info.Features.ShaderInt16 = core.ShaderInt16 != 0
		info.Features.ShaderInt64 = core.ShaderInt64 != 0
		return info
	}
	// The instance asks for Vulkan 1.2, so the extension is needed by name
	// even where the device has 1.3.
	info.hasDotExt = in.hasDeviceExtension(pd, dotExtension)
	withDot := info.hasDotExt
	info.hasCoopExt = in.hasDeviceExtension(pd, vk.CooperativeMatrixExtension)
	info.hasClockExt = in.hasDeviceExtension(pd, clockExtension)
	info.hasSMExt = in.hasDeviceExtension(pd, smExtension)
	info.hasCoreExt = in.hasDeviceExtension(pd, coreExtension)
	info.hasSSCExt = in.hasDeviceExtension(pd, sscExtension)
	info.hasPexExt = in.hasDeviceExtension(pd, vk.PipelineExecutablePropertiesExtension)
	sub := &vk.PhysicalDeviceSubgroupProperties{SType: vk.StructureTypePhysicalDeviceSubgroupProperties}
	drv := &vk.PhysicalDeviceDriverProperties{SType: vk.StructureTypePhysicalDeviceDriverProperties}
	m3 := &vk.PhysicalDeviceMaintenance3Properties{SType: vk.StructureTypePhysicalDeviceMaintenance3Properties}
	dotp := &vk.PhysicalDeviceShaderIntegerDotProductProperties{SType: vk.StructureTypePhysicalDeviceShaderIntegerDotProductProperties}
	sm := &vk.PhysicalDeviceShaderSMBuiltinsPropertiesNV{SType: vk.StructureTypePhysicalDeviceShaderSMBuiltinsPropertiesNV}
	core := &vk.PhysicalDeviceShaderCorePropertiesAMD{SType: vk.StructureTypePhysicalDeviceShaderCorePropertiesAMD}
	ssc := &vk.PhysicalDeviceSubgroupSizeControlProperties{SType: vk.StructureTypePhysicalDeviceSubgroupSizeControlProperties}
	p2 := &vk.PhysicalDeviceProperties2{}
	// Only the structs of the extensions the device offers join the chain.
	chain := []vk.Chainable{sub, drv, m3}
	if withDot {
		chain = append(chain, dotp)
	}
	if info.hasSMExt {
		chain = append(chain, sm)
	}
	if info.hasCoreExt {
		chain = append(chain, core)
	}
	if info.hasSSCExt {
		chain = append(chain, ssc)
	}
	vk.Chain(p2, chain...)
	in.vk.Properties2(pd, p2)
	info.ComputeUnits, info.WarpsPerUnit = computeUnits(sm, core, info.hasSMExt, info.hasCoreExt)
	info.SubgroupSize = sub.SubgroupSize
	info.SubgroupShuffle = sub.SupportedStages&vk.ShaderStageComputeBit != 0 &&
		sub.SupportedOperations&vk.SubgroupFeatureShuffleBit != 0
	info.SubgroupArithmetic = sub.SupportedStages&vk.ShaderStageComputeBit != 0 &&
		sub.SupportedOperations&vk.SubgroupFeatureArithmeticBit != 0
	info.DriverName = vk.FixedString(drv.DriverName[:])
	info.DriverInfo = vk.FixedString(drv.DriverInfo[:])
	info.Limits.MaxMemoryAllocationSize = m3.MaxMemoryAllocationSize

	f := newDeviceFeatures(withDot, info.hasCoopExt, info.hasClockExt, info.hasSSCExt, info.hasPexExt)
	in.vk.Features2(pd, &f.f2)
	info.Features = Features{
		ShaderInt8:               f.v12.ShaderInt8 != 0,
		ShaderInt16:              f.f2.Features.ShaderInt16 != 0,
		ShaderInt64:              f.f2.Features.ShaderInt64 != 0,
		ShaderFloat16:            f.v12.ShaderFloat16 != 0,
		StorageBuffer8BitAccess:  f.v12.StorageBuffer8BitAccess != 0,
		StorageBuffer16BitAccess: f.v11.StorageBuffer16BitAccess != 0,
		IntegerDotProduct:        withDot && f.dot.ShaderIntegerDotProduct != 0,
		IntegerDotProductFast:    withDot && f.dot.ShaderIntegerDotProduct != 0 && dotp.IntegerDotProduct4x8BitPackedSignedAccelerated != 0,
		VulkanMemoryModel:        f.v12.VulkanMemoryModel != 0 && f.v12.VulkanMemoryModelDeviceScope != 0,
		ShaderDeviceClock:        info.hasClockExt && f.clk.ShaderDeviceClock != 0,
		PipelineStatistics:       info.hasPexExt && f.pex.PipelineExecutableInfo != 0,
	}
	if info.hasSSCExt {
		info.SubgroupSizes = [2]uint32{ssc.MinSubgroupSize, ssc.MaxSubgroupSize}
		info.Features.SubgroupSizeControl = sizeControl(f.ssc.SubgroupSizeControl != 0, ssc, info.SubgroupSize)
		info.maxSubgroups = ssc.MaxComputeWorkgroupSubgroups
	}
	if info.hasCoopExt && f.coop.CooperativeMatrix != 0 && f.v12.ShaderInt8 != 0 && info.Features.VulkanMemoryModel {
		props, err := in.vk.CooperativeMatrixProperties(pd)
		if err == nil {
			info.CoopMatShape, info.Features.CooperativeMatrixInt8 = coopShape(props)
		}
	}
	if info.queueFamily == ^uint32(0) {
		info.Reason = "no compute queue"
		return info
	}
	info.Usable = true
	return info
}

// sizeControl reports whether compute pipelines may require subgroups of
// size sg: the feature is on (enabled), compute shaders take a required
// size, and sg is within the device's range.
func sizeControl(enabled bool, p *vk.PhysicalDeviceSubgroupSizeControlProperties, sg uint32) bool {
	return enabled && p.RequiredSubgroupSizeStages&vk.ShaderStageComputeBit != 0 &&
		sg >= p.MinSubgroupSize && sg <= p.MaxSubgroupSize && sg&(sg-1) == 0
}

// computeUnits returns the compute units and the resident subgroups per
// unit that the NVIDIA or AMD properties report (0 where neither does).
func computeUnits(sm *vk.PhysicalDeviceShaderSMBuiltinsPropertiesNV, core *vk.PhysicalDeviceShaderCorePropertiesAMD, hasSM, hasCore bool) (units, warps uint32) {
	switch {
	case hasSM && sm.ShaderSMCount > 0:
		return sm.ShaderSMCount, sm.ShaderWarpsPerSM
	case hasCore:
		n := uint64(core.ShaderEngineCount) * uint64(core.ShaderArraysPerEngineCount) * uint64(core.ComputeUnitsPerShaderArray)
		if n > 0 && n < 1<<20 {
			return uint32(n), 0
		}
	}
	return 0, 0
}

func (in *instance) hasDeviceExtension(pd vk.PhysicalDevice, name string) bool {
	exts, err := in.vk.DeviceExtensions(pd)
	if err != nil {
		return false
	}
	for _, e := range exts {
		if vk.FixedString(e.ExtensionName[:]) == name {
			return true
		}
	}
	return false
}
