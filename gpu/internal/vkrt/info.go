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
	f2  vk.PhysicalDeviceFeatures2
	v11 vk.PhysicalDeviceVulkan11Features
	v12 vk.PhysicalDeviceVulkan12Features
	dot vk.PhysicalDeviceShaderIntegerDotProductFeatures
}

// newDeviceFeatures returns the chain; withDot adds the integer dot product
// features (a device without Vulkan 1.3 or the extension must not see them).
func newDeviceFeatures(withDot bool) *deviceFeatures {
	f := &deviceFeatures{
		f2:  vk.PhysicalDeviceFeatures2{SType: vk.StructureTypePhysicalDeviceFeatures2},
		v11: vk.PhysicalDeviceVulkan11Features{SType: vk.StructureTypePhysicalDeviceVulkan11Features},
		v12: vk.PhysicalDeviceVulkan12Features{SType: vk.StructureTypePhysicalDeviceVulkan12Features},
		dot: vk.PhysicalDeviceShaderIntegerDotProductFeatures{SType: vk.StructureTypePhysicalDeviceShaderIntegerDotProductFeatures},
	}
	vk.Chain(&f.f2, &f.v11, &f.v12)
	if withDot {
		vk.Chain(&f.v12, &f.dot)
	}
	return f
}

// dotExtension is the device extension of integer dot products.
const dotExtension = "VK_KHR_shader_integer_dot_product"

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
	for _, h := range mem.MemoryHeaps[:mem.MemoryHeapCount] {
		info.Heaps = append(info.Heaps, Heap{Size: h.Size, DeviceLocal: h.Flags&vk.MemoryHeapDeviceLocalBit != 0})
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
	sub := &vk.PhysicalDeviceSubgroupProperties{SType: vk.StructureTypePhysicalDeviceSubgroupProperties}
	drv := &vk.PhysicalDeviceDriverProperties{SType: vk.StructureTypePhysicalDeviceDriverProperties}
	m3 := &vk.PhysicalDeviceMaintenance3Properties{SType: vk.StructureTypePhysicalDeviceMaintenance3Properties}
	dotp := &vk.PhysicalDeviceShaderIntegerDotProductProperties{SType: vk.StructureTypePhysicalDeviceShaderIntegerDotProductProperties}
	p2 := &vk.PhysicalDeviceProperties2{}
	vk.Chain(p2, sub, drv, m3)
	if withDot {
		vk.Chain(m3, dotp)
	}
	in.vk.Properties2(pd, p2)
	info.SubgroupSize = sub.SubgroupSize
	info.SubgroupShuffle = sub.SupportedStages&vk.ShaderStageComputeBit != 0 &&
		sub.SupportedOperations&vk.SubgroupFeatureShuffleBit != 0
	info.SubgroupArithmetic = sub.SupportedStages&vk.ShaderStageComputeBit != 0 &&
		sub.SupportedOperations&vk.SubgroupFeatureArithmeticBit != 0
	info.DriverName = vk.FixedString(drv.DriverName[:])
	info.DriverInfo = vk.FixedString(drv.DriverInfo[:])
	info.Limits.MaxMemoryAllocationSize = m3.MaxMemoryAllocationSize

	f := newDeviceFeatures(withDot)
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
	}
	if info.queueFamily == ^uint32(0) {
		info.Reason = "no compute queue"
		return info
	}
	info.Usable = true
	return info
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
