//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"errors"
	"fmt"
	"sync"

	"bitnet/gpu/internal/vk"
)

// Binding is a storage-buffer binding: Size bytes of Buffer at Offset
// (Size 0: to the end of the buffer). Write marks ranges the shader writes;
// the Recorder places barriers from them.
type Binding struct {
	Buffer *Buffer
	Offset uint64
	Size   uint64
	Write  bool
}

func (b Binding) size() uint64 {
	if b.Size == 0 {
		return b.Buffer.size - b.Offset
	}
	return b.Size
}

// Groups is the number of workgroups of size local that cover n items.
func Groups(n, local uint32) [3]uint32 {
	return [3]uint32{(n + local - 1) / local, 1, 1}
}

// span is a byte range of a buffer touched since the last barrier.
type span struct {
	id       uint64
	off, end uint64
}

func overlaps(list []span, s span) bool {
	for _, x := range list {
		if x.id == s.id && x.off < s.end && s.off < x.end {
			return true
		}
	}
	return false
}

// Recorder records dispatches, copies and fills into one command buffer and
// submits them at once. A memory barrier is placed before a command that
// reads or writes a range written since the last barrier, or writes a
// range read since then, so independent dispatches may overlap on the GPU
// and dependent ones are ordered. A Recorder is used by one goroutine at a
// time.
type Recorder struct {
	d     *Device
	pool  vk.CommandPool
	cb    vk.CommandBuffer
	fence vk.Fence

	open     bool
	err      error
	commands int
	barriers int
	reads    []span
	writes   []span
	bound    *Pipeline
	push     []uint32
}

func (d *Device) newCommandBuffer() (vk.CommandPool, vk.CommandBuffer, vk.Fence, error) {
	pool, err := d.vk.CreateCommandPool(&vk.CommandPoolCreateInfo{
		SType:            vk.StructureTypeCommandPoolCreateInfo,
		Flags:            vk.CommandPoolCreateResetCommandBufferBit,
		QueueFamilyIndex: d.Info.queueFamily,
	})
	if err != nil {
		return 0, 0, 0, err
	}
	cb, err := d.vk.AllocateCommandBuffer(pool)
	if err != nil {
		d.vk.DestroyCommandPool(pool)
		return 0, 0, 0, err
	}
	fence, err := d.vk.CreateFence(false)
	if err != nil {
		d.vk.DestroyCommandPool(pool)
		return 0, 0, 0, err
	}
	return pool, cb, fence, nil
}

// NewRecorder returns a recorder with its own command buffer and fence.
func (d *Device) NewRecorder() (*Recorder, error) {
	pool, cb, fence, err := d.newCommandBuffer()
	if err != nil {
		return nil, err
	}
	return &Recorder{d: d, pool: pool, cb: cb, fence: fence}, nil
}

// Destroy frees the recorder; recorded work not submitted is dropped.
func (r *Recorder) Destroy() {
	if r.pool == 0 {
		return
	}
	if r.open {
		r.d.vk.EndCommandBuffer(r.cb)
		r.open = false
		r.d.sets.release()
	}
	r.d.vk.DestroyFence(r.fence)
	r.d.vk.DestroyCommandPool(r.pool)
	r.pool = 0
}

// Pending is the number of commands (dispatches, copies, fills) recorded
// since the last Submit.
func (r *Recorder) Pending() int { return r.commands }

// Barriers is the number of barriers recorded since the last Submit.
func (r *Recorder) Barriers() int { return r.barriers }

func (r *Recorder) begin() bool {
	if r.err != nil {
		return false
	}
	if r.open {
		return true
	}
	if err := r.d.vk.BeginCommandBuffer(r.cb, vk.CommandBufferUsageOneTimeSubmitBit); err != nil {
		r.err = err
		return false
	}
	r.open = true
	r.d.sets.hold()
	// Order this submission after the previous ones' writes.
	fullBarrier(r.d.vk, r.cb)
	return true
}

// fullBarrier makes compute and transfer writes before it visible to
// compute and transfer commands after it.
func fullBarrier(d *vk.Device, cb vk.CommandBuffer) {
	stages := uint32(vk.PipelineStageComputeShaderBit | vk.PipelineStageTransferBit)
	d.CmdPipelineBarrier(cb, stages, stages, 0, []vk.MemoryBarrier{{
		SType:         vk.StructureTypeMemoryBarrier,
		SrcAccessMask: vk.AccessShaderWriteBit | vk.AccessTransferWriteBit,
		DstAccessMask: vk.AccessShaderReadBit | vk.AccessShaderWriteBit | vk.AccessTransferReadBit | vk.AccessTransferWriteBit,
	}}, nil)
}

// hostBarrier makes compute and transfer writes visible to host reads.
func hostBarrier(d *vk.Device, cb vk.CommandBuffer) {
	d.CmdPipelineBarrier(cb, vk.PipelineStageComputeShaderBit|vk.PipelineStageTransferBit, vk.PipelineStageHostBit, 0,
		[]vk.MemoryBarrier{{
			SType:         vk.StructureTypeMemoryBarrier,
			SrcAccessMask: vk.AccessShaderWriteBit | vk.AccessTransferWriteBit,
			DstAccessMask: vk.AccessHostReadBit,
		}}, nil)
}

// Barrier records a full compute/transfer memory barrier now, whatever the
// tracked ranges say.
func (r *Recorder) Barrier() {
	if !r.begin() {
		return
	}
	r.barrier()
}

func (r *Recorder) barrier() {
	fullBarrier(r.d.vk, r.cb)
	r.barriers++
	r.reads = r.reads[:0]
	r.writes = r.writes[:0]
}

// track places a barrier if s conflicts with the pending ranges, then adds
// it. It returns whether a barrier was placed.
func (r *Recorder) track(spans []span, writes []bool) {
	need := false
	for i, s := range spans {
		if overlaps(r.writes, s) || writes[i] && overlaps(r.reads, s) {
			need = true
			break
		}
	}
	if need {
		r.barrier()
	}
	for i, s := range spans {
		if writes[i] {
			r.writes = append(r.writes, s)
		} else {
			r.reads = append(r.reads, s)
		}
	}
}

func (r *Recorder) checkBinding(where string, i int, b Binding) span {
	if b.Buffer == nil || b.Buffer.buf == 0 {
		panic(fmt.Sprintf("vkrt: %s: binding %d: nil or destroyed buffer", where, i))
	}
	if b.Offset >= b.Buffer.size || b.Size > b.Buffer.size-b.Offset {
		panic(fmt.Sprintf("vkrt: %s: binding %d: range [%d, +%d) outside a buffer of %d bytes", where, i, b.Offset, b.Size, b.Buffer.size))
	}
	if b.Buffer.d != r.d {
		panic(fmt.Sprintf("vkrt: %s: binding %d: buffer of another device", where, i))
	}
	return span{id: b.Buffer.id, off: b.Offset, end: b.Offset + b.size()}
}

// Dispatch records pipeline p over groups workgroups with bindings
// (len(bindings) == p.Buffers(), binding i at layout binding i) and push
// constants (at most p.PushSize() bytes; fewer leaves the rest undefined).
// Bound ranges must start at a multiple of MinStorageBufferOffsetAlignment
// and span at most MaxStorageBufferRange bytes.
func (r *Recorder) Dispatch(p *Pipeline, groups [3]uint32, bindings []Binding, push ...uint32) {
	if len(bindings) != p.buffers {
		panic(fmt.Sprintf("vkrt: %s: %d bindings, the pipeline has %d", p.name, len(bindings), p.buffers))
	}
	if uint32(len(push))*4 > p.pushSize {
		panic(fmt.Sprintf("vkrt: %s: %d bytes of push constants, the pipeline has %d", p.name, len(push)*4, p.pushSize))
	}
	lim := &r.d.Info.Limits
	for i := range 3 {
		if groups[i] == 0 || groups[i] > lim.MaxComputeWorkGroupCount[i] {
			panic(fmt.Sprintf("vkrt: %s: %v workgroups (device limit %v)", p.name, groups, lim.MaxComputeWorkGroupCount))
		}
	}
	var spans [MaxBindings]span
	var writes [MaxBindings]bool
	var key setKey
	key.n = uint8(len(bindings))
	for i, b := range bindings {
		s := r.checkBinding(p.name, i, b)
		if a := lim.MinStorageBufferOffsetAlignment; a > 1 && b.Offset%a != 0 {
			panic(fmt.Sprintf("vkrt: %s: binding %d: offset %d is not a multiple of %d", p.name, i, b.Offset, a))
		}
		if n := s.end - s.off; n > lim.MaxStorageBufferRange {
			panic(fmt.Sprintf("vkrt: %s: binding %d: %d bytes exceed the device's storage buffer range of %d; split the tensor",
				p.name, i, n, lim.MaxStorageBufferRange))
		}
		spans[i], writes[i] = s, b.Write
		key.b[i] = setBinding{id: s.id, buf: b.Buffer.buf, off: s.off, size: s.end - s.off}
	}
	if !r.begin() {
		return
	}
	set, err := r.d.sets.get(p.setL, &key)
	if err != nil {
		r.err = err
		return
	}
	r.track(spans[:len(bindings)], writes[:len(bindings)])
	dv := r.d.vk
	if r.bound != p {
		dv.CmdBindComputePipeline(r.cb, p.pipe)
		r.bound = p
	}
	dv.CmdBindComputeDescriptorSet(r.cb, p.layout, 0, set)
	if len(push) > 0 {
		r.push = append(r.push[:0], push...)
		dv.CmdPushConstants(r.cb, p.layout, vk.ShaderStageComputeBit, 0, vk.Bytes(r.push))
	}
	dv.CmdDispatch(r.cb, groups[0], groups[1], groups[2])
	r.commands++
}

// Copy records a copy of src into dst; the sizes must match (Size 0 in
// either takes the other's, or the rest of the buffer).
func (r *Recorder) Copy(dst, src Binding) {
	var n uint64
	switch {
	case src.Size == 0 && dst.Size == 0:
		n = min(src.size(), dst.size())
	case src.Size == 0:
		n = dst.Size
	case dst.Size == 0, src.Size == dst.Size:
		n = src.Size
	default:
		panic(fmt.Sprintf("vkrt: Copy: %d bytes into %d", src.Size, dst.Size))
	}
	dst.Size, src.Size = n, n
	ds := r.checkBinding("Copy", 0, dst)
	ss := r.checkBinding("Copy", 1, src)
	if !r.begin() {
		return
	}
	r.track([]span{ds, ss}, []bool{true, false})
	r.d.vk.CmdCopyBuffer(r.cb, src.Buffer.buf, dst.Buffer.buf, []vk.BufferCopy{{SrcOffset: src.Offset, DstOffset: dst.Offset, Size: n}})
	r.commands++
}

// Fill records filling dst (offset and size multiples of 4) with the
// 32-bit word v, e.g. math.Float32bits(float32(math.NaN())) to poison.
func (r *Recorder) Fill(dst Binding, v uint32) {
	s := r.checkBinding("Fill", 0, dst)
	if dst.Offset%4 != 0 || (s.end-s.off)%4 != 0 {
		panic(fmt.Sprintf("vkrt: Fill: range [%d, %d) is not 4-byte aligned", s.off, s.end))
	}
	if !r.begin() {
		return
	}
	r.track([]span{s}, []bool{true})
	r.d.vk.CmdFillBuffer(r.cb, dst.Buffer.buf, s.off, s.end-s.off, v)
	r.commands++
}

// Submit ends the recording, submits it, waits for it to complete and
// readies the recorder for the next step. Results in HostVisible buffers
// are readable when it returns. An error of a recorded command (descriptor
// allocation) is returned here, and the recording is dropped.
func (r *Recorder) Submit() error {
	err := r.err
	if r.open {
		if err == nil {
			hostBarrier(r.d.vk, r.cb)
		}
		if e := r.d.vk.EndCommandBuffer(r.cb); err == nil {
			err = e
		}
		if err == nil && r.commands > 0 {
			err = r.d.submit(r.cb, r.fence)
		}
		if e := r.d.vk.ResetCommandBuffer(r.cb); err == nil {
			err = e
		}
		r.d.sets.release()
	}
	r.open = false
	r.err = nil
	r.commands, r.barriers = 0, 0
	r.reads, r.writes = r.reads[:0], r.writes[:0]
	r.bound = nil
	if err != nil {
		return fmt.Errorf("vulkan: submit: %w", err)
	}
	return nil
}

// setBinding is one binding of a descriptor set key.
type setBinding struct {
	id        uint64 // buffer id: never reused, so stale entries never match
	buf       vk.Buffer
	off, size uint64
}

type setKey struct {
	n uint8
	b [MaxBindings]setBinding
}

// setCache holds descriptor sets by their bindings. Sets are never updated
// after their first write, so a cached set may be bound by any number of
// recordings. The cache is emptied (pools reset) after a Submit when it has
// grown past setCacheLimit; a forward step that binds the same ranges every
// time allocates nothing after the first one.
type setCache struct {
	mu    sync.Mutex
	open  int // recordings that may hold sets
	d     *Device
	sets  map[setKey]vk.DescriptorSet
	pools []vk.DescriptorPool
	cur   int // pool being allocated from
}

const (
	setsPerPool   = 1024
	setCacheLimit = 16384
)

func newSetCache(d *Device) *setCache {
	return &setCache{d: d, sets: map[setKey]vk.DescriptorSet{}}
}

func (c *setCache) get(layout vk.DescriptorSetLayout, key *setKey) (vk.DescriptorSet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sets[*key]; ok {
		return s, nil
	}
	s, err := c.alloc(layout)
	if err != nil {
		return 0, err
	}
	var infos [MaxBindings]vk.DescriptorBufferInfo
	var writes [MaxBindings]vk.WriteDescriptorSet
	n := int(key.n)
	for i := range n {
		b := &key.b[i]
		infos[i] = vk.DescriptorBufferInfo{Buffer: uint64(b.buf), Offset: b.off, Range: b.size}
		writes[i] = vk.WriteDescriptorSet{
			SType:           vk.StructureTypeWriteDescriptorSet,
			DstSet:          uint64(s),
			DstBinding:      uint32(i),
			DescriptorCount: 1,
			DescriptorType:  vk.DescriptorTypeStorageBuffer,
			PBufferInfo:     &infos[i],
		}
	}
	c.d.vk.UpdateDescriptorSets(writes[:n])
	c.sets[*key] = s
	return s, nil
}

func (c *setCache) alloc(layout vk.DescriptorSetLayout) (vk.DescriptorSet, error) {
	for {
		if c.cur < len(c.pools) {
			s, err := c.d.vk.AllocateDescriptorSet(c.pools[c.cur], layout)
			var ve *vk.Error
			if errors.As(err, &ve) && (ve.Result == vk.ErrorOutOfPoolMemory || ve.Result == vk.ErrorFragmentedPool) {
				c.cur++
				continue
			}
			return s, err
		}
		sizes := []vk.DescriptorPoolSize{{Type: vk.DescriptorTypeStorageBuffer, DescriptorCount: setsPerPool * 4}}
		p, err := c.d.vk.CreateDescriptorPool(&vk.DescriptorPoolCreateInfo{
			SType:         vk.StructureTypeDescriptorPoolCreateInfo,
			MaxSets:       setsPerPool,
			PoolSizeCount: uint32(len(sizes)),
			PPoolSizes:    &sizes[0],
		})
		if err != nil {
			return 0, err
		}
		c.pools = append(c.pools, p)
		c.cur = len(c.pools) - 1
	}
}

// hold and release count the recordings that may refer to cached sets.
func (c *setCache) hold() {
	c.mu.Lock()
	c.open++
	c.mu.Unlock()
}

// release ends a recording and empties the cache when it has grown too
// large and no other recording refers to it.
func (c *setCache) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	if c.open == 0 && len(c.sets) > setCacheLimit {
		c.reset()
	}
}

func (c *setCache) reset() {
	for _, p := range c.pools {
		c.d.vk.ResetDescriptorPool(p)
	}
	clear(c.sets)
	c.cur = 0
}

func (c *setCache) destroy() {
	for _, p := range c.pools {
		c.d.vk.DestroyDescriptorPool(p)
	}
	c.pools = nil
	clear(c.sets)
}
