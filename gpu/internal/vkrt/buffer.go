//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"fmt"

	"bitnet/gpu/internal/vk"
)

// Memory is where a buffer lives.
type Memory int

const (
	// DeviceLocal memory is fastest for the device (weights, activations,
	// KV cache); the host reaches it through Upload and Download.
	DeviceLocal Memory = iota
	// HostVisible memory is mapped (Buffer.Mapped) and coherent, preferring
	// host-cached types: staging and downloads.
	HostVisible
	// Shared memory is mapped and coherent, preferring device-local types
	// (resizable BAR): small per-step inputs the host writes and kernels
	// read (token ids, positions) and small results the host reads.
	Shared
)

func (m Memory) String() string {
	switch m {
	case HostVisible:
		return "host-visible"
	case Shared:
		return "shared"
	}
	return "device-local"
}

// Buffer is a VkBuffer with its own memory allocation (or a place in an
// Arena's), usable as a storage buffer and as a transfer source and
// destination.
type Buffer struct {
	d      *Device
	id     uint64 // unique for the device's lifetime (descriptor cache key)
	buf    vk.Buffer
	mem    vk.DeviceMemory // its own allocation, or 0 in an arena's block
	block  *memBlock       // the arena block holding it, or nil
	size   uint64
	kind   Memory
	mapped []byte
}

// Size is the buffer size in bytes.
func (b *Buffer) Size() uint64 { return b.size }

// Memory is where the buffer lives.
func (b *Buffer) Memory() Memory { return b.kind }

// Mapped is the host view of a HostVisible buffer (nil for DeviceLocal).
// Host writes are seen by work submitted afterwards; device writes are seen
// after the Submit that made them returns.
func (b *Buffer) Mapped() []byte { return b.mapped }

// In binds size bytes at offset for reading (size 0: to the end).
func (b *Buffer) In(offset, size uint64) Binding {
	return Binding{Buffer: b, Offset: offset, Size: size}
}

// Out binds size bytes at offset for writing (and reading).
func (b *Buffer) Out(offset, size uint64) Binding {
	return Binding{Buffer: b, Offset: offset, Size: size, Write: true}
}

// Destroy frees the buffer. Work using it must have completed (every
// Submit waits for its work, so only unsubmitted recordings may still refer
// to it).
func (b *Buffer) Destroy() {
	if b.buf == 0 {
		return
	}
	if b.mapped != nil {
		b.d.vk.UnmapMemory(b.mem)
		b.mapped = nil
	}
	b.d.vk.DestroyBuffer(b.buf)
	if b.block != nil {
		b.block.release()
		b.block = nil
	} else {
		b.d.vk.FreeMemory(b.mem)
	}
	b.buf, b.mem = 0, 0
}

// memoryType picks a memory type allowed by bits with all of the required
// properties, preferring the one with the most preferred properties, then
// the lowest index.
func (d *Device) memoryType(bits, required, preferred uint32) (uint32, bool) {
	best, bestScore := uint32(0), -1
	for i := uint32(0); i < d.mem.MemoryTypeCount; i++ {
		if bits&(1<<i) == 0 {
			continue
		}
		flags := d.mem.MemoryTypes[i].PropertyFlags
		if flags&required != required {
			continue
		}
		score := 0
		for p := preferred; p != 0; p &= p - 1 {
			if flags&(p&-p) != 0 {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	return best, bestScore >= 0
}

// createBuffer makes a VkBuffer of size bytes (rounded up to 4, at least
// 4), usable as a storage buffer and for transfers, and picks the memory
// type of the given kind that it may live in: it returns the buffer, its
// size, its memory requirements and that type's index.
func (d *Device) createBuffer(size uint64, kind Memory) (vk.Buffer, uint64, vk.MemoryRequirements, uint32, error) {
	var req vk.MemoryRequirements
	size = max((size+3)&^3, 4)
	if m := d.Info.Limits.MaxMemoryAllocationSize; m != 0 && size > m {
		return 0, 0, req, 0, fmt.Errorf("%w: a buffer of %s exceeds the device's maximum allocation of %s",
			ErrOutOfDeviceMemory, FormatBytes(size), FormatBytes(m))
	}
	buf, err := d.vk.CreateBuffer(&vk.BufferCreateInfo{
		SType: vk.StructureTypeBufferCreateInfo,
		Size:  size,
		Usage: vk.BufferUsageStorageBufferBit | vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit,
	})
	if err != nil {
		return 0, 0, req, 0, fmt.Errorf("vulkan: creating a buffer of %s: %w", FormatBytes(size), err)
	}
	req = d.vk.BufferMemoryRequirements(buf)
	var required, preferred uint32
	switch kind {
	case HostVisible:
		required = vk.MemoryPropertyHostVisibleBit | vk.MemoryPropertyHostCoherentBit
		preferred = vk.MemoryPropertyHostCachedBit
	case Shared:
		required = vk.MemoryPropertyHostVisibleBit | vk.MemoryPropertyHostCoherentBit
		preferred = vk.MemoryPropertyDeviceLocalBit
	default:
		required = vk.MemoryPropertyDeviceLocalBit
	}
	ti, ok := d.memoryType(req.MemoryTypeBits, required, preferred)
	if !ok && kind == DeviceLocal {
		// Devices without a device-local type for buffers: take any.
		ti, ok = d.memoryType(req.MemoryTypeBits, 0, 0)
	}
	if !ok {
		d.vk.DestroyBuffer(buf)
		return 0, 0, req, 0, fmt.Errorf("vulkan: no %s memory type for buffers on %s", kind, d.Info.Name)
	}
	return buf, size, req, ti, nil
}

// NewBuffer allocates size bytes (rounded up to 4) of the given memory.
// The error matches ErrOutOfDeviceMemory when the device is out of memory.
func (d *Device) NewBuffer(size uint64, kind Memory) (*Buffer, error) {
	buf, size, req, ti, err := d.createBuffer(size, kind)
	if err != nil {
		return nil, err
	}
	mem, err := d.vk.AllocateMemory(&vk.MemoryAllocateInfo{
		SType:           vk.StructureTypeMemoryAllocateInfo,
		AllocationSize:  req.Size,
		MemoryTypeIndex: ti,
	})
	if err != nil {
		d.vk.DestroyBuffer(buf)
		heap := d.mem.MemoryHeaps[d.mem.MemoryTypes[ti].HeapIndex].Size
		return nil, fmt.Errorf("vulkan: allocating %s of %s memory (heap of %s): %w",
			FormatBytes(req.Size), kind, FormatBytes(heap), err)
	}
	if err := d.vk.BindBufferMemory(buf, mem, 0); err != nil {
		d.vk.FreeMemory(mem)
		d.vk.DestroyBuffer(buf)
		return nil, err
	}
	b := &Buffer{d: d, id: d.nextBufferID(), buf: buf, mem: mem, size: size, kind: kind}
	if kind != DeviceLocal {
		m, err := d.vk.MapMemory(mem, 0, size)
		if err != nil {
			b.Destroy()
			return nil, err
		}
		b.mapped = m
	}
	return b, nil
}

// stagingChunk bounds the staging buffer of Upload and Download.
const stagingChunk = 64 << 20

// transfer is the device's staging buffer and command buffer for Upload
// and Download.
type transfer struct {
	d       *Device
	pool    vk.CommandPool
	cb      vk.CommandBuffer
	fence   vk.Fence
	staging *Buffer
}

func (d *Device) transfer() (*transfer, error) {
	if d.xfer != nil {
		return d.xfer, nil
	}
	t := &transfer{d: d}
	var err error
	if t.pool, t.cb, t.fence, err = d.newCommandBuffer(); err != nil {
		return nil, err
	}
	d.xfer = t
	return t, nil
}

func (t *transfer) destroy() {
	if t.staging != nil {
		t.staging.Destroy()
	}
	t.d.vk.DestroyFence(t.fence)
	t.d.vk.DestroyCommandPool(t.pool)
}

func (t *transfer) stage(n uint64) (*Buffer, error) {
	if t.staging != nil && t.staging.size >= n {
		return t.staging, nil
	}
	if t.staging != nil {
		t.staging.Destroy()
		t.staging = nil
	}
	s, err := t.d.NewBuffer(n, HostVisible)
	if err != nil {
		return nil, err
	}
	t.staging = s
	return s, nil
}

// copy records and runs one buffer copy with barriers against previous and
// following work.
func (t *transfer) copy(src, dst *Buffer, srcOff, dstOff, n uint64) error {
	d := t.d
	if err := d.vk.BeginCommandBuffer(t.cb, vk.CommandBufferUsageOneTimeSubmitBit); err != nil {
		return err
	}
	fullBarrier(d.vk, t.cb)
	d.vk.CmdCopyBuffer(t.cb, src.buf, dst.buf, []vk.BufferCopy{{SrcOffset: srcOff, DstOffset: dstOff, Size: n}})
	hostBarrier(d.vk, t.cb)
	if err := d.vk.EndCommandBuffer(t.cb); err != nil {
		return err
	}
	return d.submit(t.cb, t.fence)
}

// Upload copies src into dst at offset: directly for HostVisible buffers,
// through a staging buffer (at most 64 MiB at a time) otherwise. It runs
// synchronously, after all work submitted before it; work recorded but not
// yet submitted runs after it.
func (d *Device) Upload(dst *Buffer, offset uint64, src []byte) error {
	n := uint64(len(src))
	if offset > dst.size || n > dst.size-offset {
		panic(fmt.Sprintf("vkrt: Upload of %d bytes at %d into a buffer of %d", n, offset, dst.size))
	}
	if n == 0 {
		return nil
	}
	d.stats.BytesUp += n
	if dst.mapped != nil {
		if err := d.WaitIdle(); err != nil {
			return err
		}
		copy(dst.mapped[offset:], src)
		return nil
	}
	d.xferM.Lock()
	defer d.xferM.Unlock()
	t, err := d.transfer()
	if err != nil {
		return err
	}
	st, err := t.stage(min(n, stagingChunk))
	if err != nil {
		return err
	}
	for done := uint64(0); done < n; {
		c := min(n-done, st.size)
		copy(st.mapped, src[done:done+c])
		if err := t.copy(st, dst, 0, offset+done, c); err != nil {
			return err
		}
		done += c
	}
	return nil
}

// Download copies len(dst) bytes of src at offset into dst, after all work
// submitted before it.
func (d *Device) Download(src *Buffer, offset uint64, dst []byte) error {
	n := uint64(len(dst))
	if offset > src.size || n > src.size-offset {
		panic(fmt.Sprintf("vkrt: Download of %d bytes at %d from a buffer of %d", n, offset, src.size))
	}
	if n == 0 {
		return nil
	}
	d.stats.BytesDown += n
	if src.mapped != nil {
		if err := d.WaitIdle(); err != nil {
			return err
		}
		copy(dst, src.mapped[offset:])
		return nil
	}
	d.xferM.Lock()
	defer d.xferM.Unlock()
	t, err := d.transfer()
	if err != nil {
		return err
	}
	st, err := t.stage(min(n, stagingChunk))
	if err != nil {
		return err
	}
	for done := uint64(0); done < n; {
		c := min(n-done, st.size)
		if err := t.copy(src, st, offset+done, 0, c); err != nil {
			return err
		}
		copy(dst[done:done+c], st.mapped[:c])
		done += c
	}
	return nil
}
