//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vk

import (
	"math"
	"unsafe"

	"github.com/ebitengine/purego"
)

// VK_KHR_pipeline_executable_properties: what a driver compiled a pipeline
// into, and its statistics (registers, instructions, spills: each driver
// names its own). Written by hand as the cooperative matrix structs are;
// a test checks their C layout.

// PipelineExecutablePropertiesExtension is the device extension's name.
const PipelineExecutablePropertiesExtension = "VK_KHR_pipeline_executable_properties"

const (
	StructureTypePhysicalDevicePipelineExecutablePropertiesFeaturesKHR = 1000269000
	StructureTypePipelineInfoKHR                                       = 1000269001
	StructureTypePipelineExecutablePropertiesKHR                       = 1000269002
	StructureTypePipelineExecutableInfoKHR                             = 1000269003
	StructureTypePipelineExecutableStatisticKHR                        = 1000269004
)

// PipelineCreateCaptureStatisticsBitKHR asks the driver to keep a
// pipeline's statistics (VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR).
const PipelineCreateCaptureStatisticsBitKHR = 0x40

// The formats of a statistic's value (VkPipelineExecutableStatisticFormatKHR).
const (
	StatisticFormatBool32  = 0
	StatisticFormatInt64   = 1
	StatisticFormatUint64  = 2
	StatisticFormatFloat64 = 3
)

// PhysicalDevicePipelineExecutablePropertiesFeaturesKHR is
// VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR.
type PhysicalDevicePipelineExecutablePropertiesFeaturesKHR struct {
	SType                  uint32
	PNext                  unsafe.Pointer
	PipelineExecutableInfo uint32
}

func (s *PhysicalDevicePipelineExecutablePropertiesFeaturesKHR) header() *BaseOutStructure {
	return (*BaseOutStructure)(unsafe.Pointer(s))
}

// PipelineInfoKHR is VkPipelineInfoKHR.
type PipelineInfoKHR struct {
	SType    uint32
	PNext    unsafe.Pointer
	Pipeline Pipeline
}

// PipelineExecutablePropertiesKHR is VkPipelineExecutablePropertiesKHR:
// one executable of a pipeline (a compute pipeline usually has one).
type PipelineExecutablePropertiesKHR struct {
	SType        uint32
	PNext        unsafe.Pointer
	Stages       uint32
	Name         [256]int8
	Description  [256]int8
	SubgroupSize uint32
}

// PipelineExecutableInfoKHR is VkPipelineExecutableInfoKHR.
type PipelineExecutableInfoKHR struct {
	SType           uint32
	PNext           unsafe.Pointer
	Pipeline        Pipeline
	ExecutableIndex uint32
}

// PipelineExecutableStatisticKHR is VkPipelineExecutableStatisticKHR; Value
// holds the union's 8 bytes, read according to Format.
type PipelineExecutableStatisticKHR struct {
	SType       uint32
	PNext       unsafe.Pointer
	Name        [256]int8
	Description [256]int8
	Format      uint32
	Value       uint64
}

// Float returns the statistic's value as a float64 (a Bool32 as 0 or 1).
func (s *PipelineExecutableStatisticKHR) Float() float64 {
	switch s.Format {
	case StatisticFormatBool32:
		if uint32(s.Value) != 0 {
			return 1
		}
		return 0
	case StatisticFormatInt64:
		return float64(int64(s.Value))
	case StatisticFormatFloat64:
		return math.Float64frombits(s.Value)
	}
	return float64(s.Value)
}

// HasPipelineStatistics reports whether the device's entry points for
// pipeline statistics were found (the extension enabled).
func (d *Device) HasPipelineStatistics() bool {
	return d.fn.GetPipelineExecutablePropertiesKHR != 0 && d.fn.GetPipelineExecutableStatisticsKHR != 0
}

// PipelineExecutableProperties lists the executables of a pipeline created
// with PipelineCreateCaptureStatisticsBitKHR.
func (d *Device) PipelineExecutableProperties(p Pipeline) ([]PipelineExecutablePropertiesKHR, error) {
	const op = "vkGetPipelineExecutablePropertiesKHR"
	if !d.HasPipelineStatistics() {
		return nil, &Error{Op: op, Result: ErrorExtensionNotPresent}
	}
	info := PipelineInfoKHR{SType: StructureTypePipelineInfoKHR, Pipeline: p}
	return enumerate(op, func(e *PipelineExecutablePropertiesKHR) { e.SType = StructureTypePipelineExecutablePropertiesKHR },
		func(n *uint32, out *PipelineExecutablePropertiesKHR) uintptr {
			r, _, _ := purego.SyscallN(d.fn.GetPipelineExecutablePropertiesKHR, d.h, uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(n)), uintptr(unsafe.Pointer(out)))
			return r
		})
}

// PipelineExecutableStatistics lists the statistics of executable index of
// a pipeline created with PipelineCreateCaptureStatisticsBitKHR.
func (d *Device) PipelineExecutableStatistics(p Pipeline, index uint32) ([]PipelineExecutableStatisticKHR, error) {
	const op = "vkGetPipelineExecutableStatisticsKHR"
	if !d.HasPipelineStatistics() {
		return nil, &Error{Op: op, Result: ErrorExtensionNotPresent}
	}
	info := PipelineExecutableInfoKHR{SType: StructureTypePipelineExecutableInfoKHR, Pipeline: p, ExecutableIndex: index}
	return enumerate(op, func(s *PipelineExecutableStatisticKHR) { s.SType = StructureTypePipelineExecutableStatisticKHR },
		func(n *uint32, out *PipelineExecutableStatisticKHR) uintptr {
			r, _, _ := purego.SyscallN(d.fn.GetPipelineExecutableStatisticsKHR, d.h, uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(n)), uintptr(unsafe.Pointer(out)))
			return r
		})
}
