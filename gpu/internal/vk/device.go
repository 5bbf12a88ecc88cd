//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vk

import (
	"unsafe"

	"github.com/ebitengine/purego"
)

// Device is a VkDevice with its device-level entry points. Command recording
// wrappers (Cmd*) take the command buffer explicitly.
type Device struct {
	h  uintptr
	fn deviceFuncs
}

type deviceFuncs struct {
	DestroyDevice                uintptr
	GetDeviceQueue               uintptr
	DeviceWaitIdle               uintptr
	QueueSubmit                  uintptr
	QueueWaitIdle                uintptr
	CreateBuffer                 uintptr
	DestroyBuffer                uintptr
	GetBufferMemoryRequirements  uintptr
	AllocateMemory               uintptr
	FreeMemory                   uintptr
	BindBufferMemory             uintptr
	MapMemory                    uintptr
	UnmapMemory                  uintptr
	FlushMappedMemoryRanges      uintptr
	InvalidateMappedMemoryRanges uintptr
	CreateShaderModule           uintptr
	DestroyShaderModule          uintptr
	CreateDescriptorSetLayout    uintptr
	DestroyDescriptorSetLayout   uintptr
	CreatePipelineLayout         uintptr
	DestroyPipelineLayout        uintptr
	CreateComputePipelines       uintptr
	DestroyPipeline              uintptr
	CreateDescriptorPool         uintptr
	DestroyDescriptorPool        uintptr
	ResetDescriptorPool          uintptr
	AllocateDescriptorSets       uintptr
	FreeDescriptorSets           uintptr
	UpdateDescriptorSets         uintptr
	CreateCommandPool            uintptr
	DestroyCommandPool           uintptr
	ResetCommandPool             uintptr
	AllocateCommandBuffers       uintptr
	FreeCommandBuffers           uintptr
	BeginCommandBuffer           uintptr
	EndCommandBuffer             uintptr
	ResetCommandBuffer           uintptr
	CmdBindPipeline              uintptr
	CmdBindDescriptorSets        uintptr
	CmdPushConstants             uintptr
	CmdDispatch                  uintptr
	CmdPipelineBarrier           uintptr
	CmdCopyBuffer                uintptr
	CmdFillBuffer                uintptr
	CmdResetQueryPool            uintptr
	CmdWriteTimestamp            uintptr
	CreateFence                  uintptr
	DestroyFence                 uintptr
	ResetFences                  uintptr
	WaitForFences                uintptr
	GetFenceStatus               uintptr
	CreateQueryPool              uintptr
	DestroyQueryPool             uintptr
	GetQueryPoolResults          uintptr
	// VK_KHR_pipeline_executable_properties, where enabled.
	GetPipelineExecutablePropertiesKHR uintptr `vk:"optional"`
	GetPipelineExecutableStatisticsKHR uintptr `vk:"optional"`
}

// Handle is the VkDevice.
func (d *Device) Handle() uintptr { return d.h }

// Destroy destroys the device. Every object created from it must be
// destroyed first.
func (d *Device) Destroy() {
	if d.h != 0 {
		purego.SyscallN(d.fn.DestroyDevice, d.h, 0)
		d.h = 0
	}
}

// WaitIdle waits until the device has finished all submitted work.
func (d *Device) WaitIdle() error {
	r, _, _ := purego.SyscallN(d.fn.DeviceWaitIdle, d.h)
	return check("vkDeviceWaitIdle", r)
}

// Queue returns queue index of family.
func (d *Device) Queue(family, index uint32) Queue {
	var q Queue
	purego.SyscallN(d.fn.GetDeviceQueue, d.h, uintptr(family), uintptr(index), uintptr(unsafe.Pointer(&q)))
	return q
}

// QueueSubmit submits command buffers; fence (may be 0) is signaled when
// they complete.
func (d *Device) QueueSubmit(q Queue, submits []SubmitInfo, fence Fence) error {
	var p *SubmitInfo
	if len(submits) > 0 {
		p = &submits[0]
	}
	r, _, _ := purego.SyscallN(d.fn.QueueSubmit, uintptr(q), uintptr(len(submits)), uintptr(unsafe.Pointer(p)), uintptr(fence))
	return check("vkQueueSubmit", r)
}

// QueueWaitIdle waits until q is idle.
func (d *Device) QueueWaitIdle(q Queue) error {
	r, _, _ := purego.SyscallN(d.fn.QueueWaitIdle, uintptr(q))
	return check("vkQueueWaitIdle", r)
}

// Buffers and memory.

func (d *Device) CreateBuffer(info *BufferCreateInfo) (Buffer, error) {
	var b Buffer
	r, _, _ := purego.SyscallN(d.fn.CreateBuffer, d.h, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&b)))
	return b, check("vkCreateBuffer", r)
}

func (d *Device) DestroyBuffer(b Buffer) {
	if b != 0 {
		purego.SyscallN(d.fn.DestroyBuffer, d.h, uintptr(b), 0)
	}
}

func (d *Device) BufferMemoryRequirements(b Buffer) MemoryRequirements {
	var m MemoryRequirements
	purego.SyscallN(d.fn.GetBufferMemoryRequirements, d.h, uintptr(b), uintptr(unsafe.Pointer(&m)))
	return m
}

func (d *Device) AllocateMemory(info *MemoryAllocateInfo) (DeviceMemory, error) {
	var m DeviceMemory
	r, _, _ := purego.SyscallN(d.fn.AllocateMemory, d.h, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&m)))
	return m, check("vkAllocateMemory", r)
}

func (d *Device) FreeMemory(m DeviceMemory) {
	if m != 0 {
		purego.SyscallN(d.fn.FreeMemory, d.h, uintptr(m), 0)
	}
}

func (d *Device) BindBufferMemory(b Buffer, m DeviceMemory, offset uint64) error {
	r, _, _ := purego.SyscallN(d.fn.BindBufferMemory, d.h, uintptr(b), uintptr(m), uintptr(offset))
	return check("vkBindBufferMemory", r)
}

// MapMemory maps size bytes of m at offset and returns them as a slice
// (valid until UnmapMemory).
func (d *Device) MapMemory(m DeviceMemory, offset, size uint64) ([]byte, error) {
	var p unsafe.Pointer
	r, _, _ := purego.SyscallN(d.fn.MapMemory, d.h, uintptr(m), uintptr(offset), uintptr(size), 0, uintptr(unsafe.Pointer(&p)))
	if err := check("vkMapMemory", r); err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), size), nil
}

func (d *Device) UnmapMemory(m DeviceMemory) {
	purego.SyscallN(d.fn.UnmapMemory, d.h, uintptr(m))
}

// FlushMappedMemoryRanges makes host writes to non-coherent memory visible.
func (d *Device) FlushMappedMemoryRanges(ranges []MappedMemoryRange) error {
	if len(ranges) == 0 {
		return nil
	}
	r, _, _ := purego.SyscallN(d.fn.FlushMappedMemoryRanges, d.h, uintptr(len(ranges)), uintptr(unsafe.Pointer(&ranges[0])))
	return check("vkFlushMappedMemoryRanges", r)
}

// InvalidateMappedMemoryRanges makes device writes to non-coherent memory
// visible to the host.
func (d *Device) InvalidateMappedMemoryRanges(ranges []MappedMemoryRange) error {
	if len(ranges) == 0 {
		return nil
	}
	r, _, _ := purego.SyscallN(d.fn.InvalidateMappedMemoryRanges, d.h, uintptr(len(ranges)), uintptr(unsafe.Pointer(&ranges[0])))
	return check("vkInvalidateMappedMemoryRanges", r)
}

// Shaders and pipelines.

// CreateShaderModule creates a module from SPIR-V words.
func (d *Device) CreateShaderModule(code []uint32) (ShaderModule, error) {
	if len(code) == 0 {
		return 0, &Error{Op: "vkCreateShaderModule", Result: ErrorInitializationFailed}
	}
	info := ShaderModuleCreateInfo{
		SType:    StructureTypeShaderModuleCreateInfo,
		CodeSize: uint64(len(code) * 4),
		PCode:    &code[0],
	}
	var m ShaderModule
	r, _, _ := purego.SyscallN(d.fn.CreateShaderModule, d.h, uintptr(unsafe.Pointer(&info)), 0, uintptr(unsafe.Pointer(&m)))
	return m, check("vkCreateShaderModule", r)
}

func (d *Device) DestroyShaderModule(m ShaderModule) {
	if m != 0 {
		purego.SyscallN(d.fn.DestroyShaderModule, d.h, uintptr(m), 0)
	}
}

func (d *Device) CreateDescriptorSetLayout(info *DescriptorSetLayoutCreateInfo) (DescriptorSetLayout, error) {
	var l DescriptorSetLayout
	r, _, _ := purego.SyscallN(d.fn.CreateDescriptorSetLayout, d.h, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&l)))
	return l, check("vkCreateDescriptorSetLayout", r)
}

func (d *Device) DestroyDescriptorSetLayout(l DescriptorSetLayout) {
	if l != 0 {
		purego.SyscallN(d.fn.DestroyDescriptorSetLayout, d.h, uintptr(l), 0)
	}
}

func (d *Device) CreatePipelineLayout(info *PipelineLayoutCreateInfo) (PipelineLayout, error) {
	var l PipelineLayout
	r, _, _ := purego.SyscallN(d.fn.CreatePipelineLayout, d.h, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&l)))
	return l, check("vkCreatePipelineLayout", r)
}

func (d *Device) DestroyPipelineLayout(l PipelineLayout) {
	if l != 0 {
		purego.SyscallN(d.fn.DestroyPipelineLayout, d.h, uintptr(l), 0)
	}
}

// CreateComputePipeline creates one compute pipeline (no pipeline cache).
func (d *Device) CreateComputePipeline(info *ComputePipelineCreateInfo) (Pipeline, error) {
	var p Pipeline
	r, _, _ := purego.SyscallN(d.fn.CreateComputePipelines, d.h, 0, 1, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&p)))
	return p, check("vkCreateComputePipelines", r)
}

func (d *Device) DestroyPipeline(p Pipeline) {
	if p != 0 {
		purego.SyscallN(d.fn.DestroyPipeline, d.h, uintptr(p), 0)
	}
}

// Descriptors.

func (d *Device) CreateDescriptorPool(info *DescriptorPoolCreateInfo) (DescriptorPool, error) {
	var p DescriptorPool
	r, _, _ := purego.SyscallN(d.fn.CreateDescriptorPool, d.h, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&p)))
	return p, check("vkCreateDescriptorPool", r)
}

func (d *Device) DestroyDescriptorPool(p DescriptorPool) {
	if p != 0 {
		purego.SyscallN(d.fn.DestroyDescriptorPool, d.h, uintptr(p), 0)
	}
}

// ResetDescriptorPool frees every set allocated from p.
func (d *Device) ResetDescriptorPool(p DescriptorPool) error {
	r, _, _ := purego.SyscallN(d.fn.ResetDescriptorPool, d.h, uintptr(p), 0)
	return check("vkResetDescriptorPool", r)
}

// AllocateDescriptorSet allocates one set of layout l from pool p. The
// result is ErrorOutOfPoolMemory or ErrorFragmentedPool when p is full.
func (d *Device) AllocateDescriptorSet(p DescriptorPool, l DescriptorSetLayout) (DescriptorSet, error) {
	info := DescriptorSetAllocateInfo{
		SType:              StructureTypeDescriptorSetAllocateInfo,
		DescriptorPool:     uint64(p),
		DescriptorSetCount: 1,
		PSetLayouts:        (*uint64)(&l),
	}
	var s DescriptorSet
	r, _, _ := purego.SyscallN(d.fn.AllocateDescriptorSets, d.h, uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&s)))
	return s, check("vkAllocateDescriptorSets", r)
}

// FreeDescriptorSets returns sets to p (created with the free bit).
func (d *Device) FreeDescriptorSets(p DescriptorPool, sets []DescriptorSet) error {
	if len(sets) == 0 {
		return nil
	}
	r, _, _ := purego.SyscallN(d.fn.FreeDescriptorSets, d.h, uintptr(p), uintptr(len(sets)), uintptr(unsafe.Pointer(&sets[0])))
	return check("vkFreeDescriptorSets", r)
}

func (d *Device) UpdateDescriptorSets(writes []WriteDescriptorSet) {
	if len(writes) == 0 {
		return
	}
	purego.SyscallN(d.fn.UpdateDescriptorSets, d.h, uintptr(len(writes)), uintptr(unsafe.Pointer(&writes[0])), 0, 0)
}

// Command pools and buffers.

func (d *Device) CreateCommandPool(info *CommandPoolCreateInfo) (CommandPool, error) {
	var p CommandPool
	r, _, _ := purego.SyscallN(d.fn.CreateCommandPool, d.h, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&p)))
	return p, check("vkCreateCommandPool", r)
}

func (d *Device) DestroyCommandPool(p CommandPool) {
	if p != 0 {
		purego.SyscallN(d.fn.DestroyCommandPool, d.h, uintptr(p), 0)
	}
}

func (d *Device) ResetCommandPool(p CommandPool) error {
	r, _, _ := purego.SyscallN(d.fn.ResetCommandPool, d.h, uintptr(p), 0)
	return check("vkResetCommandPool", r)
}

// AllocateCommandBuffer allocates one primary command buffer from p.
func (d *Device) AllocateCommandBuffer(p CommandPool) (CommandBuffer, error) {
	info := CommandBufferAllocateInfo{
		SType:              StructureTypeCommandBufferAllocateInfo,
		CommandPool:        uint64(p),
		Level:              CommandBufferLevelPrimary,
		CommandBufferCount: 1,
	}
	var cb CommandBuffer
	r, _, _ := purego.SyscallN(d.fn.AllocateCommandBuffers, d.h, uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&cb)))
	return cb, check("vkAllocateCommandBuffers", r)
}

func (d *Device) FreeCommandBuffer(p CommandPool, cb CommandBuffer) {
	if cb != 0 {
		purego.SyscallN(d.fn.FreeCommandBuffers, d.h, uintptr(p), 1, uintptr(unsafe.Pointer(&cb)))
	}
}

// BeginCommandBuffer starts recording; flags as CommandBufferUsage*.
func (d *Device) BeginCommandBuffer(cb CommandBuffer, flags uint32) error {
	info := CommandBufferBeginInfo{SType: StructureTypeCommandBufferBeginInfo, Flags: flags}
	r, _, _ := purego.SyscallN(d.fn.BeginCommandBuffer, uintptr(cb), uintptr(unsafe.Pointer(&info)))
	return check("vkBeginCommandBuffer", r)
}

func (d *Device) EndCommandBuffer(cb CommandBuffer) error {
	r, _, _ := purego.SyscallN(d.fn.EndCommandBuffer, uintptr(cb))
	return check("vkEndCommandBuffer", r)
}

func (d *Device) ResetCommandBuffer(cb CommandBuffer) error {
	r, _, _ := purego.SyscallN(d.fn.ResetCommandBuffer, uintptr(cb), 0)
	return check("vkResetCommandBuffer", r)
}

// Commands.

func (d *Device) CmdBindComputePipeline(cb CommandBuffer, p Pipeline) {
	purego.SyscallN(d.fn.CmdBindPipeline, uintptr(cb), PipelineBindPointCompute, uintptr(p))
}

// CmdBindComputeDescriptorSet binds one set at index first (no dynamic offsets).
func (d *Device) CmdBindComputeDescriptorSet(cb CommandBuffer, layout PipelineLayout, first uint32, set DescriptorSet) {
	purego.SyscallN(d.fn.CmdBindDescriptorSets, uintptr(cb), PipelineBindPointCompute, uintptr(layout),
		uintptr(first), 1, uintptr(unsafe.Pointer(&set)), 0, 0)
}

// CmdPushConstants writes data at offset of the push-constant block.
func (d *Device) CmdPushConstants(cb CommandBuffer, layout PipelineLayout, stages, offset uint32, data []byte) {
	if len(data) == 0 {
		return
	}
	purego.SyscallN(d.fn.CmdPushConstants, uintptr(cb), uintptr(layout), uintptr(stages), uintptr(offset),
		uintptr(len(data)), uintptr(unsafe.Pointer(&data[0])))
}

func (d *Device) CmdDispatch(cb CommandBuffer, x, y, z uint32) {
	purego.SyscallN(d.fn.CmdDispatch, uintptr(cb), uintptr(x), uintptr(y), uintptr(z))
}

// CmdPipelineBarrier records a pipeline barrier with global memory barriers
// and buffer barriers.
func (d *Device) CmdPipelineBarrier(cb CommandBuffer, srcStages, dstStages, deps uint32, mem []MemoryBarrier, buf []BufferMemoryBarrier) {
	var pm *MemoryBarrier
	if len(mem) > 0 {
		pm = &mem[0]
	}
	var pb *BufferMemoryBarrier
	if len(buf) > 0 {
		pb = &buf[0]
	}
	purego.SyscallN(d.fn.CmdPipelineBarrier, uintptr(cb), uintptr(srcStages), uintptr(dstStages), uintptr(deps),
		uintptr(len(mem)), uintptr(unsafe.Pointer(pm)), uintptr(len(buf)), uintptr(unsafe.Pointer(pb)), 0, 0)
}

func (d *Device) CmdCopyBuffer(cb CommandBuffer, src, dst Buffer, regions []BufferCopy) {
	if len(regions) == 0 {
		return
	}
	purego.SyscallN(d.fn.CmdCopyBuffer, uintptr(cb), uintptr(src), uintptr(dst), uintptr(len(regions)), uintptr(unsafe.Pointer(&regions[0])))
}

// CmdFillBuffer fills size bytes (a multiple of 4, or WholeSize) at offset
// (a multiple of 4) with the 32-bit word data.
func (d *Device) CmdFillBuffer(cb CommandBuffer, b Buffer, offset, size uint64, data uint32) {
	purego.SyscallN(d.fn.CmdFillBuffer, uintptr(cb), uintptr(b), uintptr(offset), uintptr(size), uintptr(data))
}

func (d *Device) CmdResetQueryPool(cb CommandBuffer, p QueryPool, first, count uint32) {
	purego.SyscallN(d.fn.CmdResetQueryPool, uintptr(cb), uintptr(p), uintptr(first), uintptr(count))
}

func (d *Device) CmdWriteTimestamp(cb CommandBuffer, stage uint32, p QueryPool, query uint32) {
	purego.SyscallN(d.fn.CmdWriteTimestamp, uintptr(cb), uintptr(stage), uintptr(p), uintptr(query))
}

// Synchronization and queries.

func (d *Device) CreateFence(signaled bool) (Fence, error) {
	info := FenceCreateInfo{SType: StructureTypeFenceCreateInfo}
	if signaled {
		info.Flags = FenceCreateSignaledBit
	}
	var f Fence
	r, _, _ := purego.SyscallN(d.fn.CreateFence, d.h, uintptr(unsafe.Pointer(&info)), 0, uintptr(unsafe.Pointer(&f)))
	return f, check("vkCreateFence", r)
}

func (d *Device) DestroyFence(f Fence) {
	if f != 0 {
		purego.SyscallN(d.fn.DestroyFence, d.h, uintptr(f), 0)
	}
}

func (d *Device) ResetFence(f Fence) error {
	r, _, _ := purego.SyscallN(d.fn.ResetFences, d.h, 1, uintptr(unsafe.Pointer(&f)))
	return check("vkResetFences", r)
}

// WaitForFence waits up to timeout nanoseconds; the error matches
// ErrTimeout when it expires.
func (d *Device) WaitForFence(f Fence, timeout uint64) error {
	r, _, _ := purego.SyscallN(d.fn.WaitForFences, d.h, 1, uintptr(unsafe.Pointer(&f)), 1, uintptr(timeout))
	return check("vkWaitForFences", r)
}

// FenceSignaled reports whether f is signaled.
func (d *Device) FenceSignaled(f Fence) (bool, error) {
	r, _, _ := purego.SyscallN(d.fn.GetFenceStatus, d.h, uintptr(f))
	switch Result(int32(r)) {
	case Success:
		return true, nil
	case NotReady:
		return false, nil
	}
	return false, check("vkGetFenceStatus", r)
}

func (d *Device) CreateQueryPool(info *QueryPoolCreateInfo) (QueryPool, error) {
	var p QueryPool
	r, _, _ := purego.SyscallN(d.fn.CreateQueryPool, d.h, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&p)))
	return p, check("vkCreateQueryPool", r)
}

func (d *Device) DestroyQueryPool(p QueryPool) {
	if p != 0 {
		purego.SyscallN(d.fn.DestroyQueryPool, d.h, uintptr(p), 0)
	}
}

// QueryResults64 reads len(dst) 64-bit results starting at first, waiting
// for them.
func (d *Device) QueryResults64(p QueryPool, first uint32, dst []uint64) error {
	if len(dst) == 0 {
		return nil
	}
	r, _, _ := purego.SyscallN(d.fn.GetQueryPoolResults, d.h, uintptr(p), uintptr(first), uintptr(len(dst)),
		uintptr(len(dst)*8), uintptr(unsafe.Pointer(&dst[0])), 8, QueryResult64Bit|QueryResultWaitBit)
	return check("vkGetQueryPoolResults", r)
}
