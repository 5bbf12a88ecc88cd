//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vk

import (
	"bitnet/internal/testdata"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoaderNotFound(t *testing.T) {
	_, _, err := openFirst([]string{"libvulkan-missing.so.1", "libvulkan-missing.so"})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrLoaderNotFound)
	assert.True(t, strings.HasPrefix(err.Error(), "vulkan: libvulkan-missing.so.1 not found"), err.Error())
	t.Log(err)
}

func TestLoad(t *testing.T) {
	err := Load()
	if errors.Is(err, ErrLoaderNotFound) {
		testdata.SkipUnlessCI(t, "no Vulkan loader: %v", err)
	}
	require.NoError(t, err)
	v, err := InstanceVersion()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, v, uint32(APIVersion1_0))
	t.Logf("%s: Vulkan %s", LibraryName(), VersionString(v))
	layers, err := InstanceLayers()
	require.NoError(t, err)
	for _, l := range layers {
		t.Logf("layer %s", FixedString(l.LayerName[:]))
	}
}

func TestErrors(t *testing.T) {
	err := fmt.Errorf("allocating: %w", &Error{Op: "vkAllocateMemory", Result: ErrorOutOfDeviceMemory})
	assert.ErrorIs(t, err, ErrOutOfDeviceMemory)
	assert.NotErrorIs(t, err, ErrDeviceLost)
	assert.Equal(t, "allocating: vulkan: vkAllocateMemory: out of device memory (VK_ERROR_OUT_OF_DEVICE_MEMORY)", err.Error())
	assert.Equal(t, "VkResult(-12345)", Result(-12345).String())
	// The upper half of the return register is garbage: only int32(r1) counts.
	assert.NoError(t, check("x", 0xdeadbeef_00000000))
	assert.ErrorIs(t, check("x", 0x12345678_fffffffe), ErrOutOfDeviceMemory)
}

func TestStringsAndChain(t *testing.T) {
	assert.Equal(t, "abc", GoString(CString("abc")))
	assert.Equal(t, "", GoString(nil))
	var a [8]int8
	copy(a[:], []int8{'h', 'i', 0, 'x'})
	assert.Equal(t, "hi", FixedString(a[:]))
	assert.Equal(t, "1.3.230", VersionString(APIVersion(1, 3, 230)))

	f2 := &PhysicalDeviceFeatures2{SType: StructureTypePhysicalDeviceFeatures2}
	v11 := &PhysicalDeviceVulkan11Features{SType: StructureTypePhysicalDeviceVulkan11Features}
	v12 := &PhysicalDeviceVulkan12Features{SType: StructureTypePhysicalDeviceVulkan12Features}
	Chain(f2, v11, v12)
	require.Equal(t, v11.header(), f2.header().PNext)
	require.Equal(t, v12.header(), v11.header().PNext)
	require.Nil(t, v12.PNext)
}

// The hand-written VK_KHR_pipeline_executable_properties structs have the
// C layout too (the statistic's value a union of 8 bytes, 8-aligned).
func TestPipelineStatisticsLayout(t *testing.T) {
	var f PhysicalDevicePipelineExecutablePropertiesFeaturesKHR
	assert.Equal(t, uintptr(24), unsafe.Sizeof(f))
	assert.Equal(t, uintptr(16), unsafe.Offsetof(f.PipelineExecutableInfo))
	var pi PipelineInfoKHR
	assert.Equal(t, uintptr(24), unsafe.Sizeof(pi))
	assert.Equal(t, uintptr(16), unsafe.Offsetof(pi.Pipeline))
	var p PipelineExecutablePropertiesKHR
	assert.Equal(t, uintptr(536), unsafe.Sizeof(p))
	assert.Equal(t, uintptr(20), unsafe.Offsetof(p.Name))
	assert.Equal(t, uintptr(276), unsafe.Offsetof(p.Description))
	assert.Equal(t, uintptr(532), unsafe.Offsetof(p.SubgroupSize))
	var ei PipelineExecutableInfoKHR
	assert.Equal(t, uintptr(32), unsafe.Sizeof(ei))
	assert.Equal(t, uintptr(24), unsafe.Offsetof(ei.ExecutableIndex))
	var s PipelineExecutableStatisticKHR
	assert.Equal(t, uintptr(544), unsafe.Sizeof(s))
	assert.Equal(t, uintptr(16), unsafe.Offsetof(s.Name))
	assert.Equal(t, uintptr(528), unsafe.Offsetof(s.Format))
	assert.Equal(t, uintptr(536), unsafe.Offsetof(s.Value))
	for _, c := range []struct {
		format uint32
		value  uint64
		want   float64
	}{{StatisticFormatBool32, 1, 1}, {StatisticFormatInt64, uint64(1<<64 - 3), -3}, {StatisticFormatUint64, 40, 40}, {StatisticFormatFloat64, math.Float64bits(2.5), 2.5}} {
		s.Format, s.Value = c.format, c.value
		assert.Equal(t, c.want, s.Float(), "format %d", c.format)
	}
}

// The hand-written VK_KHR_cooperative_matrix structs have the C layout of
// the Vulkan headers (64-bit: pointer-aligned pNext, then packed uint32s).
func TestCooperativeMatrixLayout(t *testing.T) {
	var f PhysicalDeviceCooperativeMatrixFeaturesKHR
	assert.Equal(t, uintptr(24), unsafe.Sizeof(f))
	assert.Equal(t, uintptr(8), unsafe.Offsetof(f.PNext))
	assert.Equal(t, uintptr(16), unsafe.Offsetof(f.CooperativeMatrix))
	assert.Equal(t, uintptr(20), unsafe.Offsetof(f.CooperativeMatrixRobustBufferAccess))
	var p CooperativeMatrixPropertiesKHR
	assert.Equal(t, uintptr(56), unsafe.Sizeof(p))
	assert.Equal(t, uintptr(16), unsafe.Offsetof(p.MSize))
	assert.Equal(t, uintptr(28), unsafe.Offsetof(p.AType))
	assert.Equal(t, uintptr(44), unsafe.Offsetof(p.SaturatingAccumulation))
	assert.Equal(t, uintptr(48), unsafe.Offsetof(p.Scope))
}
