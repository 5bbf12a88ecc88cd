//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"bitnet/gpu/internal/vk"
)

// Options configure Open.
type Options struct {
	// Device selects the physical device: "auto" picks the best GPU
	// (discrete > integrated > virtual) and never a CPU implementation;
	// "any" also allows CPU implementations such as lavapipe (last); a
	// decimal string is an index from Devices; "" is "auto". Where it
	// leaves the choice open, BITNET_VK_DEVICE selects when set (see
	// SelectEnv).
	Device string
	// Validate enables the Khronos validation layer; its messages go to
	// log/slog and are counted by MessageCount. BITNET_VK_VALIDATE=1 enables
	// it too.
	Validate bool
	// SyncValidate adds the layer's synchronization validation to Validate:
	// it reports commands that touch the same memory with no barrier
	// ordering them (BITNET_VK_VALIDATE=sync enables both). Chained
	// dispatches, ordered by counters instead, are such commands by design.
	SyncValidate bool
	// CooperativeMatrix enables VK_KHR_cooperative_matrix, with the
	// Vulkan memory model, where the device has int8 matrices (only then:
	// a validation layer older than the extension reports its structs).
	// Without it the opened device's Info says it has neither.
	CooperativeMatrix bool
	// PipelineStatistics enables VK_KHR_pipeline_executable_properties
	// where the device has it, and builds every pipeline with its
	// statistics kept (see Pipeline.Statistics; only when asked: drivers
	// may compile differently or skip their caches for it). Without it the
	// opened device's Info says it has none.
	PipelineStatistics bool
}

// Device is an open logical device with one compute queue.
type Device struct {
	Info DeviceInfo

	pd     vk.PhysicalDevice
	vk     *vk.Device
	queue  vk.Queue
	mem    *vk.PhysicalDeviceMemoryProperties
	queueM sync.Mutex // serializes queue submissions

	bufferSeq uint64
	idM       sync.Mutex

	layoutM sync.Mutex
	layouts map[int]vk.DescriptorSetLayout // by number of storage buffers

	sets *setCache

	xfer     *transfer
	xferM    sync.Mutex
	closed   bool
	closeErr error

	chain  *Buffer // the counters of chained dispatches (see Recorder.Dispatch)
	chainM sync.Mutex
	probes []ProbeDispatch // of the last submission with probes (see Probes)

	stats Stats
}

// Stats are a device's running totals of the work the host gave it, for
// instruments (bench, tests of a step's structure).
type Stats struct {
	Dispatches uint64 // dispatches recorded
	Barriers   uint64 // pipeline barriers recorded between commands
	Submits    uint64 // queue submissions (each waited for)
	Replays    uint64 // submissions of captured command buffers
	BytesUp    uint64 // bytes the host wrote: uploads and mapped writes
	BytesDown  uint64 // bytes the host read: downloads and mapped reads
	// ReplayTime is the device time of the replays of captured command
	// buffers, from a timestamp before each one's first command to one
	// after its last (replays on a device without timestamps add nothing).
	ReplayTime time.Duration
}

// Stats returns the running totals.
func (d *Device) Stats() Stats { return d.stats }

// CountHostWrite and CountHostRead add bytes the host moved through mapped
// memory to the totals.
func (d *Device) CountHostWrite(n int) { d.stats.BytesUp += uint64(n) }

// CountHostRead: see CountHostWrite.
func (d *Device) CountHostRead(n int) { d.stats.BytesDown += uint64(n) }

// Open creates a device according to opts.
func Open(opts Options) (*Device, error) {
	kind := plainInstance
	switch {
	case opts.SyncValidate || vk.SyncValidationRequested():
		kind = syncValidatedInstance
	case opts.Validate || vk.ValidationRequested():
		kind = validatedInstance
	}
	in, err := sharedInstance(kind)
	if err != nil {
		return nil, err
	}
	infos, pds, err := in.devices()
	if err != nil {
		return nil, err
	}
	idx, err := SelectEnv(infos, opts.Device)
	if err != nil {
		return nil, err
	}
	info := infos[idx]
	if !opts.CooperativeMatrix {
		info.Features.CooperativeMatrixInt8 = false
		info.Features.VulkanMemoryModel = false
	}
	if !opts.PipelineStatistics {
		info.Features.PipelineStatistics = false
	}
	if err := SubgroupEnv(&info); err != nil {
		return nil, err
	}
	d, err := openDevice(in, info, pds[idx])
	if err != nil {
		return nil, err
	}
	slog.Debug("vulkan: device open", "device", d.Info.String(), "index", idx, "validation", kind != plainInstance, "sync-validation", kind == syncValidatedInstance)
	return d, nil
}

func openDevice(in *instance, info DeviceInfo, pd vk.PhysicalDevice) (*Device, error) {
	// Enable every feature of interest the device has: the kernels read
	// int8 and fp16 storage buffers.
	fe := info.Features
	f := newDeviceFeatures(fe.IntegerDotProduct, fe.CooperativeMatrixInt8, fe.ShaderDeviceClock, fe.SubgroupSizeControl, fe.PipelineStatistics)
	f.f2.Features.ShaderInt16 = vk.Bool32(fe.ShaderInt16)
	f.f2.Features.ShaderInt64 = vk.Bool32(fe.ShaderInt64)
	f.v11.StorageBuffer16BitAccess = vk.Bool32(fe.StorageBuffer16BitAccess)
	f.v12.StorageBuffer8BitAccess = vk.Bool32(fe.StorageBuffer8BitAccess)
	f.v12.ShaderInt8 = vk.Bool32(fe.ShaderInt8)
	f.v12.ShaderFloat16 = vk.Bool32(fe.ShaderFloat16)
	f.v12.VulkanMemoryModel = vk.Bool32(fe.VulkanMemoryModel && fe.CooperativeMatrixInt8)
	f.v12.VulkanMemoryModelDeviceScope = vk.Bool32(fe.VulkanMemoryModel && fe.CooperativeMatrixInt8)
	f.dot.ShaderIntegerDotProduct = vk.Bool32(fe.IntegerDotProduct)
	f.coop.CooperativeMatrix = vk.Bool32(fe.CooperativeMatrixInt8)
	f.clk.ShaderDeviceClock = vk.Bool32(fe.ShaderDeviceClock)
	f.ssc.SubgroupSizeControl = vk.Bool32(fe.SubgroupSizeControl)
	f.pex.PipelineExecutableInfo = vk.Bool32(fe.PipelineStatistics)

	prio := float32(1)
	qinfo := &vk.DeviceQueueCreateInfo{
		SType:            vk.StructureTypeDeviceQueueCreateInfo,
		QueueFamilyIndex: info.queueFamily,
		QueueCount:       1,
		PQueuePriorities: &prio,
	}
	dinfo := &vk.DeviceCreateInfo{
		SType:                vk.StructureTypeDeviceCreateInfo,
		QueueCreateInfoCount: 1,
		PQueueCreateInfos:    qinfo,
	}
	f.chain(dinfo, fe.IntegerDotProduct, fe.CooperativeMatrixInt8, fe.ShaderDeviceClock, fe.SubgroupSizeControl, fe.PipelineStatistics)
	var exts []string
	if info.hasDotExt && fe.IntegerDotProduct {
		exts = append(exts, dotExtension)
	}
	if fe.CooperativeMatrixInt8 {
		exts = append(exts, vk.CooperativeMatrixExtension)
	}
	if fe.ShaderDeviceClock {
		exts = append(exts, clockExtension)
	}
	if fe.SubgroupSizeControl {
		exts = append(exts, sscExtension)
	}
	if fe.PipelineStatistics {
		exts = append(exts, vk.PipelineExecutablePropertiesExtension)
	}
	if len(exts) > 0 {
		dinfo.EnabledExtensionCount = uint32(len(exts))
		dinfo.PpEnabledExtensionNames = vk.CStrings(exts)
	}
	dev, err := in.vk.CreateDevice(pd, dinfo)
	if err != nil {
		return nil, fmt.Errorf("vulkan: creating a device on %s: %w", info.Name, err)
	}
	d := &Device{
		Info:    info,
		pd:      pd,
		vk:      dev,
		queue:   dev.Queue(info.queueFamily, 0),
		mem:     in.vk.MemoryProperties(pd),
		layouts: map[int]vk.DescriptorSetLayout{},
	}
	d.sets = newSetCache(d)
	return d, nil
}

// Close waits for the device to be idle and destroys everything created
// from it: buffers and pipelines not destroyed yet are the caller's leak
// (the validation layer reports them).
func (d *Device) Close() error {
	if d.closed {
		return d.closeErr
	}
	d.closed = true
	d.closeErr = d.vk.WaitIdle()
	if d.chain != nil {
		d.chain.Destroy()
	}
	if d.xfer != nil {
		d.xfer.destroy()
	}
	d.sets.destroy()
	for _, l := range d.layouts {
		d.vk.DestroyDescriptorSetLayout(l)
	}
	d.vk.Destroy() // the instance stays (see instances)
	return d.closeErr
}

// chainCounters returns the counters of chained dispatches (made on first
// use): word 0 the flags the kernels raise, from word 4 ChainSlots
// counters, then the probes (see Probes).
func (d *Device) chainCounters() (*Buffer, error) {
	d.chainM.Lock()
	defer d.chainM.Unlock()
	if d.chain != nil {
		return d.chain, nil
	}
	b, err := d.NewBuffer(chainBufferBytes, DeviceLocal)
	if err != nil {
		return nil, fmt.Errorf("vulkan: chain counters: %w", err)
	}
	if err := d.Upload(b, 0, make([]byte, b.size)); err != nil {
		b.Destroy()
		return nil, fmt.Errorf("vulkan: chain counters: %w", err)
	}
	d.chain = b
	return b, nil
}

// Chain flags, raised by chained kernels (see shaders/include/chain.glsl).
const (
	ChainWaited    = 1 // a workgroup found its predecessor unfinished and waited
	ChainTimedOut  = 2 // a wait gave up: the results are wrong
	ChainOvercount = 4 // a counter passed its workgroup count: the chain is miscounted
)

// ChainFlags returns the flags chained kernels raised since the device was
// opened (0 if none ran), after the work submitted so far.
func (d *Device) ChainFlags() (uint32, error) {
	d.chainM.Lock()
	b := d.chain
	d.chainM.Unlock()
	if b == nil {
		return 0, nil
	}
	var w [4]byte
	if err := d.Download(b, 0, w[:]); err != nil {
		return 0, err
	}
	return uint32(w[0]) | uint32(w[1])<<8 | uint32(w[2])<<16 | uint32(w[3])<<24, nil
}

// SetChainFlags replaces the chain flags (tests of what reads them).
func (d *Device) SetChainFlags(f uint32) error {
	b, err := d.chainCounters()
	if err != nil {
		return err
	}
	return d.Upload(b, 0, []byte{byte(f), byte(f >> 8), byte(f >> 16), byte(f >> 24)})
}

// WaitIdle waits until the device has finished all submitted work.
func (d *Device) WaitIdle() error {
	d.queueM.Lock()
	defer d.queueM.Unlock()
	return d.vk.WaitIdle()
}

// spinWait is how long a submission's fence is polled before the thread
// blocks on it.
const spinWait = 3 * time.Millisecond

func (d *Device) submit(cb vk.CommandBuffer, fence vk.Fence) error {
	cbs := cb
	si := []vk.SubmitInfo{{
		SType:              vk.StructureTypeSubmitInfo,
		CommandBufferCount: 1,
		PCommandBuffers:    &cbs,
	}}
	d.queueM.Lock()
	err := d.vk.QueueSubmit(d.queue, si, fence)
	d.stats.Submits++
	d.queueM.Unlock()
	if err != nil {
		return err
	}
	// A decode step takes about a millisecond on a fast GPU, where waking
	// up from a blocking wait costs a good part of that: poll first.
	t0 := time.Now()
	for time.Since(t0) < spinWait {
		done, err := d.vk.FenceSignaled(fence)
		if err != nil {
			return err
		}
		if done {
			return d.vk.ResetFence(fence)
		}
	}
	// A forward step may take long on slow devices; wait without a limit
	// but in slices so that a lost device surfaces as an error.
	for {
		err := d.vk.WaitForFence(fence, 10_000_000_000)
		if errors.Is(err, vk.ErrTimeout) {
			slog.Debug("vulkan: still waiting for the queue")
			continue
		}
		if err != nil {
			return err
		}
		return d.vk.ResetFence(fence)
	}
}

func (d *Device) nextBufferID() uint64 {
	d.idM.Lock()
	defer d.idM.Unlock()
	d.bufferSeq++
	return d.bufferSeq
}

// setLayout returns the descriptor set layout of n storage buffers at
// bindings 0..n-1.
func (d *Device) setLayout(n int) (vk.DescriptorSetLayout, error) {
	d.layoutM.Lock()
	defer d.layoutM.Unlock()
	if l, ok := d.layouts[n]; ok {
		return l, nil
	}
	b := make([]vk.DescriptorSetLayoutBinding, n)
	for i := range b {
		b[i] = vk.DescriptorSetLayoutBinding{
			Binding:         uint32(i),
			DescriptorType:  vk.DescriptorTypeStorageBuffer,
			DescriptorCount: 1,
			StageFlags:      vk.ShaderStageComputeBit,
		}
	}
	info := &vk.DescriptorSetLayoutCreateInfo{
		SType:        vk.StructureTypeDescriptorSetLayoutCreateInfo,
		BindingCount: uint32(n),
	}
	if n > 0 {
		info.PBindings = &b[0]
	}
	l, err := d.vk.CreateDescriptorSetLayout(info)
	if err != nil {
		return 0, err
	}
	d.layouts[n] = l
	return l, nil
}
