//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"fmt"

	"bitnet/gpu/internal/vk"
)

// Arena places device-local buffers in a few large memory allocations
// (blocks) instead of one allocation each. A model's hundreds of weight
// tensors (2B-4T: about 330, most of 0.4-4.4 MB) then take a handful of
// allocations, which a driver may map with its largest pages (2 MiB on
// NVIDIA GPUs), so that the weights a token streams through need fewer
// address-translation entries. Space is handed out in order and never
// reused; a block is freed when the last buffer in it is destroyed. It is
// meant for buffers that live as long as the model, and like the Device
// it is not safe for concurrent use.
type Arena struct {
	d      *Device
	max    uint64    // the largest block (a larger buffer gets a block of its own)
	cur    *memBlock // the block being filled
	total  uint64    // bytes of the blocks allocated so far
	blocks int       // blocks live
}

// memBlock is one allocation of an Arena.
type memBlock struct {
	a          *Arena
	mem        vk.DeviceMemory
	ti         uint32 // memory type index
	size, used uint64
	live       int // buffers in it not yet destroyed
}

// arenaPage is the granularity of block sizes: the large page of the GPUs
// we know.
const arenaPage = 2 << 20

// NewArena returns an arena whose blocks grow with what it holds (each
// the size of all those before it, from 2 MiB) up to maxBlock bytes
// (rounded up to 2 MiB).
func (d *Device) NewArena(maxBlock uint64) *Arena {
	return &Arena{d: d, max: max(roundUp(maxBlock, arenaPage), arenaPage)}
}

// Blocks returns the number of memory allocations the arena holds.
func (a *Arena) Blocks() int { return a.blocks }

func roundUp(n, to uint64) uint64 { return (n + to - 1) / to * to }

// NewBuffer returns a device-local buffer of size bytes (rounded up to 4)
// in one of the arena's blocks, as Device.NewBuffer would make it.
func (a *Arena) NewBuffer(size uint64) (*Buffer, error) {
	d := a.d
	buf, size, req, ti, err := d.createBuffer(size, DeviceLocal)
	if err != nil {
		return nil, err
	}
	align := max(req.Alignment, 256)
	blk := a.cur
	var off uint64
	if blk != nil {
		off = roundUp(blk.used, align)
	}
	if blk == nil || blk.ti != ti || off+req.Size > blk.size {
		if blk, err = a.newBlock(req.Size, ti); err != nil {
			d.vk.DestroyBuffer(buf)
			return nil, err
		}
		off = 0
	}
	if err := d.vk.BindBufferMemory(buf, blk.mem, off); err != nil {
		d.vk.DestroyBuffer(buf)
		return nil, err
	}
	blk.used = off + req.Size
	blk.live++
	return &Buffer{d: d, id: d.nextBufferID(), buf: buf, block: blk, size: size, kind: DeviceLocal}, nil
}

// newBlock allocates a block of memory type ti that holds at least need
// bytes and makes it the one being filled.
func (a *Arena) newBlock(need uint64, ti uint32) (*memBlock, error) {
	d := a.d
	size := min(max(roundUp(a.total, arenaPage), arenaPage), a.max)
	if need > size {
		size = roundUp(need, arenaPage)
	}
	if m := d.Info.Limits.MaxMemoryAllocationSize; m != 0 && size > m {
		size = max(need, m)
	}
	alloc := func(n uint64) (vk.DeviceMemory, error) {
		return d.vk.AllocateMemory(&vk.MemoryAllocateInfo{
			SType:           vk.StructureTypeMemoryAllocateInfo,
			AllocationSize:  n,
			MemoryTypeIndex: ti,
		})
	}
	mem, err := alloc(size)
	if err != nil && size > need {
		// Near the end of the device's memory: only what this buffer needs.
		size = need
		mem, err = alloc(size)
	}
	if err != nil {
		heap := d.mem.MemoryHeaps[d.mem.MemoryTypes[ti].HeapIndex].Size
		return nil, fmt.Errorf("vulkan: allocating %s of device-local memory (heap of %s): %w",
			FormatBytes(size), FormatBytes(heap), err)
	}
	blk := &memBlock{a: a, mem: mem, ti: ti, size: size}
	a.cur = blk
	a.total += size
	a.blocks++
	return blk, nil
}

// release drops a destroyed buffer from its block, freeing the block with
// its last buffer.
func (blk *memBlock) release() {
	blk.live--
	if blk.live > 0 {
		return
	}
	a := blk.a
	a.d.vk.FreeMemory(blk.mem)
	blk.mem = 0
	a.blocks--
	if a.cur == blk {
		a.cur = nil
	}
}
