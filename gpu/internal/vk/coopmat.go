//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vk

import (
	"unsafe"

	"github.com/ebitengine/purego"
)

// VK_KHR_cooperative_matrix (Vulkan headers 1.3.255 and later). The
// structs are written by hand because the headers ztypes.go is generated
// from may predate the extension; their layout is the C layout on every
// 64-bit target (a test checks sizes and offsets).

// CooperativeMatrixExtension is the device extension's name.
const CooperativeMatrixExtension = "VK_KHR_cooperative_matrix"

const (
	StructureTypePhysicalDeviceCooperativeMatrixFeaturesKHR   = 1000506000
	StructureTypeCooperativeMatrixPropertiesKHR               = 1000506001
	StructureTypePhysicalDeviceCooperativeMatrixPropertiesKHR = 1000506002
)

// ComponentTypeKHR values (VkComponentTypeKHR) the runtime looks at.
const (
	ComponentTypeFloat16KHR = 0
	ComponentTypeSint8KHR   = 3
	ComponentTypeSint32KHR  = 5
)

// ScopeSubgroupKHR is VK_SCOPE_SUBGROUP_KHR.
const ScopeSubgroupKHR = 3

// PhysicalDeviceCooperativeMatrixFeaturesKHR is
// VkPhysicalDeviceCooperativeMatrixFeaturesKHR.
type PhysicalDeviceCooperativeMatrixFeaturesKHR struct {
	SType                               uint32
	PNext                               unsafe.Pointer
	CooperativeMatrix                   uint32
	CooperativeMatrixRobustBufferAccess uint32
}

func (s *PhysicalDeviceCooperativeMatrixFeaturesKHR) header() *BaseOutStructure {
	return (*BaseOutStructure)(unsafe.Pointer(s))
}

// CooperativeMatrixPropertiesKHR is VkCooperativeMatrixPropertiesKHR: one
// supported MxNxK shape with its component types (ComponentType*KHR).
type CooperativeMatrixPropertiesKHR struct {
	SType                  uint32
	PNext                  unsafe.Pointer
	MSize, NSize, KSize    uint32
	AType, BType           uint32
	CType, ResultType      uint32
	SaturatingAccumulation uint32
	Scope                  uint32
}

// CooperativeMatrixProperties lists the cooperative matrix shapes pd
// supports (nil when the instance lacks the entry point).
func (in *Instance) CooperativeMatrixProperties(pd PhysicalDevice) ([]CooperativeMatrixPropertiesKHR, error) {
	fn := in.fn.GetPhysicalDeviceCooperativeMatrixPropertiesKHR
	if fn == 0 {
		return nil, nil
	}
	return enumerate("vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR",
		func(p *CooperativeMatrixPropertiesKHR) { p.SType = StructureTypeCooperativeMatrixPropertiesKHR },
		func(n *uint32, out *CooperativeMatrixPropertiesKHR) uintptr {
			r, _, _ := purego.SyscallN(fn, uintptr(pd), uintptr(unsafe.Pointer(n)), uintptr(unsafe.Pointer(out)))
			return r
		})
}
