//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"bitnet/gpu/internal/vk"
)

// Binding is a storage-buffer binding: Size bytes of Buffer at Offset
// (Size 0: to the end of the buffer). Write marks ranges the shader writes;
// the Recorder places barriers from them. When AccessSize is not 0, the
// command touches only bytes [AccessOffset, AccessOffset+AccessSize) of the
// buffer (a view inside a whole-buffer binding), and barriers are placed
// from that range.
type Binding struct {
	Buffer       *Buffer
	Offset       uint64
	Size         uint64
	Write        bool
	AccessOffset uint64
	AccessSize   uint64
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

	// capture holds the command buffer of a capture in progress (see
	// BeginCapture); main is the recorder's own while it lasts.
	capturing bool
	main      vk.CommandBuffer

	wstages uint32 // pipeline stages that wrote since the last barrier
	rstages uint32 // and that read

	prof   *profile               // timestamps after every dispatch, when profiling
	ptimes map[string]ProfileStat // what the timestamps measured

	// The chain of the command buffer (see Dispatch): whether its counters
	// were zeroed, the slots taken, and the dispatch a chained one waits
	// for (slot, workgroups; slot -1: none, a barrier orders it).
	chainReady bool
	chainSlots int
	chainPrev  int
	chainNeed  uint32
	noWaits    bool // SetChainWaits(false): barriers order chained dispatches
	// The ranges touched since the last barrier before the current chain
	// began: r.writes[:segW] and r.reads[:segR].
	segW, segR int

	label  string          // the next dispatch's, for profiles and probes (DispatchLabel)
	probes []ProbeDispatch // the probed dispatches recorded since begin

	capPool vk.QueryPool // a capture's two timestamps, its first and last command (0: none)
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
	usage := uint32(vk.CommandBufferUsageOneTimeSubmitBit)
	if r.capturing {
		usage = 0
	}
	if err := r.d.vk.BeginCommandBuffer(r.cb, usage); err != nil {
		r.err = err
		return false
	}
	r.open = true
	r.wstages, r.rstages = 0, 0
	r.chainReady, r.chainSlots, r.chainPrev = false, 0, -1
	r.probes = r.probes[:0]
	r.d.sets.hold()
	// Order this submission after the previous ones' writes.
	fullBarrier(r.d.vk, r.cb)
	if r.prof != nil && !r.capturing {
		r.prof.begin(r.d.vk, r.cb)
	}
	if r.capturing && r.d.Info.Timestamps() {
		// A captured step's device time (Stats.ReplayTime); without the
		// pool, replays go untimed.
		pool, err := r.d.vk.CreateQueryPool(&vk.QueryPoolCreateInfo{SType: vk.StructureTypeQueryPoolCreateInfo, QueryType: vk.QueryTypeTimestamp, QueryCount: 2})
		if err == nil {
			r.capPool = pool
			r.d.vk.CmdResetQueryPool(r.cb, pool, 0, 2)
			r.d.vk.CmdWriteTimestamp(r.cb, vk.PipelineStageTopOfPipeBit, pool, 0)
		}
	}
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
	r.barrierFor(vk.PipelineStageComputeShaderBit | vk.PipelineStageTransferBit)
}

// barrierFor orders the commands recorded since the last barrier before the
// next command, which runs in stage next: only the stages that wrote wait.
func (r *Recorder) barrierFor(next uint32) {
	src := r.wstages | r.rstages // writers, and readers a write must not overtake
	if src == 0 {
		src = vk.PipelineStageComputeShaderBit
	}
	var srcAccess, dstAccess uint32
	if r.wstages&vk.PipelineStageComputeShaderBit != 0 {
		srcAccess |= vk.AccessShaderWriteBit
	}
	if r.wstages&vk.PipelineStageTransferBit != 0 {
		srcAccess |= vk.AccessTransferWriteBit
	}
	if next&vk.PipelineStageComputeShaderBit != 0 {
		dstAccess |= vk.AccessShaderReadBit | vk.AccessShaderWriteBit
	}
	if next&vk.PipelineStageTransferBit != 0 {
		dstAccess |= vk.AccessTransferReadBit | vk.AccessTransferWriteBit
	}
	r.d.vk.CmdPipelineBarrier(r.cb, src, next, 0, []vk.MemoryBarrier{{
		SType:         vk.StructureTypeMemoryBarrier,
		SrcAccessMask: srcAccess,
		DstAccessMask: dstAccess,
	}}, nil)
	r.wstages, r.rstages = 0, 0
	r.chainPrev = -1
	r.barriers++
	r.d.stats.Barriers++
	r.reads = r.reads[:0]
	r.writes = r.writes[:0]
	r.segW, r.segR = 0, 0
}

// track places a barrier if a span of the next command (in stage) conflicts
// with the ranges touched since the last barrier, then adds its spans.
func (r *Recorder) track(spans []span, writes []bool, stage uint32) {
	r.chainPrev = -1
	if r.hazard(spans, writes) {
		r.barrierFor(stage)
	}
	r.add(spans, writes, stage)
}

// hazard reports whether a command touching spans (writes[i]: span i is
// written) conflicts with the ranges touched since the last barrier.
func (r *Recorder) hazard(spans []span, writes []bool) bool {
	return r.hazardIn(r.writes, r.reads, spans, writes)
}

// hazardIn reports whether a command touching spans conflicts with the
// given written and read ranges.
func (r *Recorder) hazardIn(ws, rs []span, spans []span, writes []bool) bool {
	for i, s := range spans {
		if overlaps(ws, s) || writes[i] && overlaps(rs, s) {
			return true
		}
	}
	return false
}

// add notes the spans of a command in stage as touched.
func (r *Recorder) add(spans []span, writes []bool, stage uint32) {
	for i, s := range spans {
		if writes[i] {
			r.wstages |= stage
			r.writes = append(r.writes, s)
		} else {
			r.rstages |= stage
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

// access is the range a binding's command touches.
func (b Binding) access(s span) span {
	if b.AccessSize == 0 {
		return s
	}
	if b.AccessOffset < s.off || b.AccessOffset+b.AccessSize > s.end {
		panic(fmt.Sprintf("vkrt: access range [%d, +%d) outside its binding [%d, %d)", b.AccessOffset, b.AccessSize, s.off, s.end))
	}
	return span{id: s.id, off: b.AccessOffset, end: b.AccessOffset + b.AccessSize}
}

// Dispatch records pipeline p over groups workgroups with bindings
// (len(bindings) == p.Buffers(), binding i at layout binding i) and push
// constants (at most p.PushSize() bytes; fewer leaves the rest undefined).
// Bound ranges must start at a multiple of MinStorageBufferOffsetAlignment
// and span at most MaxStorageBufferRange bytes.
//
// A chained pipeline (PipelineConfig.Chained) takes one binding and
// ChainPushWords push words fewer: the Recorder binds the device's chain
// counters last and fills the chain's words after the kernel's own
// (padded with zeros). Consecutive chained dispatches form a chain: the
// first follows a barrier where it needs one, and each of the others waits
// in its shaders for the one before it to finish instead of behind a
// pipeline barrier. The chain is
// totally ordered, so a chained dispatch is ordered after every command
// before it that it conflicts with. Any other command ends the chain; one
// that conflicts with a chained dispatch is ordered by a barrier as usual.
func (r *Recorder) Dispatch(p *Pipeline, groups [3]uint32, bindings []Binding, push ...uint32) {
	nb, own := p.buffers, p.pushSize
	if p.chained {
		nb, own = nb-1, own-4*ChainPushWords
	}
	if len(bindings) != nb {
		panic(fmt.Sprintf("vkrt: %s: %d bindings, the pipeline has %d", p.name, len(bindings), nb))
	}
	if uint32(len(push))*4 > own {
		panic(fmt.Sprintf("vkrt: %s: %d bytes of push constants, the pipeline has %d", p.name, len(push)*4, own))
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
	key.n = uint8(p.buffers)
	for i, b := range bindings {
		s := r.checkBinding(p.name, i, b)
		if a := lim.MinStorageBufferOffsetAlignment; a > 1 && b.Offset%a != 0 {
			panic(fmt.Sprintf("vkrt: %s: binding %d: offset %d is not a multiple of %d", p.name, i, b.Offset, a))
		}
		if n := s.end - s.off; n > lim.MaxStorageBufferRange {
			panic(fmt.Sprintf("vkrt: %s: binding %d: %d bytes exceed the device's storage buffer range of %d; split the tensor",
				p.name, i, n, lim.MaxStorageBufferRange))
		}
		spans[i], writes[i] = b.access(s), b.Write
		key.b[i] = setBinding{id: s.id, buf: b.Buffer.buf, off: s.off, size: s.end - s.off}
	}
	if !r.begin() {
		return
	}
	var counters *Buffer
	if p.chained {
		var err error
		if counters, err = r.d.chainCounters(); err != nil {
			r.err = err
			return
		}
		key.b[nb] = setBinding{id: counters.id, buf: counters.buf, off: 0, size: counters.size}
	}
	set, err := r.d.sets.get(p.setL, &key)
	if err != nil {
		r.err = err
		return
	}
	var chain [ChainPushWords]uint32
	label := r.label // for profiles and probes
	r.label = ""
	if label == "" {
		label = p.name
	}
	if p.chained {
		chain = r.chainStep(counters, spans[:nb], writes[:nb], groups)
		r.noteProbe(p, chain[2], groups, label)
	} else {
		r.track(spans[:nb], writes[:nb], vk.PipelineStageComputeShaderBit)
	}
	dv := r.d.vk
	if r.bound != p {
		dv.CmdBindComputePipeline(r.cb, p.pipe)
		r.bound = p
	}
	dv.CmdBindComputeDescriptorSet(r.cb, p.layout, 0, set)
	r.push = append(r.push[:0], push...)
	if p.chained {
		for len(r.push) < int(own/4) {
			r.push = append(r.push, 0)
		}
		r.push = append(r.push, chain[:]...)
	}
	if len(r.push) > 0 {
		dv.CmdPushConstants(r.cb, p.layout, vk.ShaderStageComputeBit, 0, vk.Bytes(r.push))
	}
	dv.CmdDispatch(r.cb, groups[0], groups[1], groups[2])
	r.commands++
	r.d.stats.Dispatches++
	if r.prof != nil && !r.capturing {
		r.prof.mark(dv, r.cb, label)
	}
}

// ChainSlots is the most chained dispatches of one command buffer that
// wait on counters; later ones are ordered by barriers.
const ChainSlots = 4092

// chainStep orders a chained dispatch touching spans (see Dispatch) and
// returns its chain push words. The command buffer's first chained
// dispatch zeroes the counters first.
func (r *Recorder) chainStep(counters *Buffer, spans []span, writes []bool, groups [3]uint32) [ChainPushWords]uint32 {
	const compute = vk.PipelineStageComputeShaderBit
	if !r.chainReady {
		// Nothing before in this command buffer uses the counters, and
		// the barrier that begins it orders earlier submissions' uses; the
		// fill is done before the chain starts. Word 0, the flags, stays.
		r.d.vk.CmdFillBuffer(r.cb, counters.buf, 16, 4*ChainSlots, 0)
		r.wstages |= vk.PipelineStageTransferBit
		r.barrierFor(compute)
		r.chainReady = true
	}
	var c [ChainPushWords]uint32
	need := r.hazard(spans, writes)
	if r.chainSlots >= ChainSlots {
		if need {
			r.barrierFor(compute)
		}
		r.add(spans, writes, compute)
		return c
	}
	// A wait orders the dispatch after its chain only: a conflict with a
	// command before the chain began (since the last barrier) takes a
	// barrier, which begins a new chain.
	wait := r.chainPrev >= 0 && !r.noWaits
	if wait && r.hazardIn(r.writes[:r.segW], r.reads[:r.segR], spans, writes) {
		wait = false
	}
	if wait {
		c[0], c[1] = uint32(r.chainPrev)+1, r.chainNeed
	} else {
		if need {
			r.barrierFor(compute)
		}
		r.segW, r.segR = len(r.writes), len(r.reads)
	}
	r.add(spans, writes, compute)
	c[2] = uint32(r.chainSlots) + 1
	r.chainPrev, r.chainNeed = r.chainSlots, groups[0]*groups[1]*groups[2]
	r.chainSlots++
	return c
}

// DispatchLabel is Dispatch with a profiling label (the kernel name when
// empty) for Profile's per-label times.
func (r *Recorder) DispatchLabel(label string, p *Pipeline, groups [3]uint32, bindings []Binding, push ...uint32) {
	r.label = label
	r.Dispatch(p, groups, bindings, push...)
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
	r.track([]span{ds, ss}, []bool{true, false}, vk.PipelineStageTransferBit)
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
	r.track([]span{s}, []bool{true}, vk.PipelineStageTransferBit)
	r.d.vk.CmdFillBuffer(r.cb, dst.Buffer.buf, s.off, s.end-s.off, v)
	r.commands++
}

// Fail makes the work recorded since the last Submit fail: the next Submit
// (or EndCapture) drops it and returns err.
func (r *Recorder) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Submit ends the recording, submits it, waits for it to complete and
// readies the recorder for the next step. Results in HostVisible buffers
// are readable when it returns. An error of a recorded command (descriptor
// allocation) is returned here, and the recording is dropped.
func (r *Recorder) Submit() error {
	if r.capturing {
		panic("vkrt: Submit during a capture")
	}
	err := r.err
	if r.open {
		if err == nil {
			hostBarrier(r.d.vk, r.cb)
		}
		if e := r.d.vk.EndCommandBuffer(r.cb); err == nil {
			err = e
		}
		if err == nil && r.commands > 0 {
			if len(r.probes) > 0 {
				r.d.setProbes(r.takeProbes())
			}
			err = r.d.submit(r.cb, r.fence)
			if err == nil && r.prof != nil {
				if r.ptimes == nil {
					r.ptimes = map[string]ProfileStat{}
				}
				err = r.prof.collect(r.d, r.ptimes)
			}
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
	r.segW, r.segR = 0, 0
	r.bound = nil
	if err != nil {
		return fmt.Errorf("vulkan: submit: %w", err)
	}
	return nil
}

// BeginCapture starts recording into a new reusable command buffer instead
// of the recorder's own: the commands recorded until EndCapture are not
// submitted by Submit but returned as a Graph to run any number of times.
// Work recorded before must have been submitted.
func (r *Recorder) BeginCapture() error {
	if r.open || r.capturing {
		return fmt.Errorf("vkrt: BeginCapture with unsubmitted work or a capture in progress")
	}
	cb, err := r.d.vk.AllocateCommandBuffer(r.pool)
	if err != nil {
		return err
	}
	r.main, r.cb, r.capturing = r.cb, cb, true
	return nil
}

// EndCapture ends the capture and returns its commands as a Graph (nil
// when nothing was recorded).
func (r *Recorder) EndCapture() (*Graph, error) {
	if !r.capturing {
		return nil, fmt.Errorf("vkrt: EndCapture without BeginCapture")
	}
	cb := r.cb
	r.cb, r.capturing = r.main, false
	err := r.err
	g := &Graph{d: r.d, pool: r.pool, cb: cb, commands: r.commands, probes: r.takeProbes(), timer: r.capPool}
	r.capPool = 0
	if r.open {
		if err == nil {
			if g.timer != 0 {
				r.d.vk.CmdWriteTimestamp(cb, vk.PipelineStageBottomOfPipeBit, g.timer, 1)
			}
			hostBarrier(r.d.vk, cb)
		}
		if e := r.d.vk.EndCommandBuffer(cb); err == nil {
			err = e
		}
		g.holds = true // the sets the commands use stay cached until Release
	}
	r.open, r.err = false, nil
	r.commands, r.barriers = 0, 0
	r.reads, r.writes = r.reads[:0], r.writes[:0]
	r.segW, r.segR = 0, 0
	r.bound = nil
	if err == nil && g.commands > 0 {
		g.fence, err = r.d.vk.CreateFence(false)
	}
	if err != nil || g.commands == 0 {
		g.Release()
		if err != nil {
			return nil, fmt.Errorf("vulkan: capture: %w", err)
		}
		return nil, nil
	}
	return g, nil
}

// Graph is a captured, reusable command buffer.
type Graph struct {
	d        *Device
	pool     vk.CommandPool
	cb       vk.CommandBuffer
	fence    vk.Fence
	holds    bool
	commands int
	probes   []ProbeDispatch
	timer    vk.QueryPool // timestamps at its start and end (0: none)
}

// Run submits the graph and waits for it; the host may then read its
// results in host-visible memory.
func (g *Graph) Run() error {
	if g.cb == 0 {
		return fmt.Errorf("vkrt: Run of a released graph")
	}
	g.d.stats.Replays++
	if len(g.probes) > 0 {
		g.d.setProbes(g.probes)
	}
	if err := g.d.submit(g.cb, g.fence); err != nil {
		return fmt.Errorf("vulkan: submit: %w", err)
	}
	if g.timer != 0 {
		var ts [2]uint64
		if err := g.d.vk.QueryResults64(g.timer, 0, ts[:]); err != nil {
			return fmt.Errorf("vulkan: a replay's timestamps: %w", err)
		}
		g.d.stats.ReplayTime += time.Duration(math.Round(g.d.elapsedNs(ts[0], ts[1])))
	}
	return nil
}

// Release frees the graph; it must not be running.
func (g *Graph) Release() {
	if g.cb == 0 {
		return
	}
	g.d.vk.FreeCommandBuffer(g.pool, g.cb)
	g.d.vk.DestroyFence(g.fence)
	if g.timer != 0 {
		g.d.vk.DestroyQueryPool(g.timer)
	}
	if g.holds {
		g.d.sets.release()
	}
	g.cb = 0
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

// profile writes a timestamp after every dispatch of a submission and adds
// the time since the previous timestamp to the dispatch's label: the GPU
// time of each kernel, barriers included (dependent dispatches run one
// after another; independent ones may overlap, and then share their time).
type profile struct {
	pool   vk.QueryPool
	max    uint32
	n      uint32
	labels []string
}

// ProfileStat is the accumulated GPU time of one label.
type ProfileStat struct {
	Calls int
	Nanos float64
}

const profileQueries = 8192

// Profile turns per-dispatch GPU timestamps on (or off with false) for the
// recorder's own submissions; ProfileTimes returns what they measured. The
// device needs timestamps on its compute queue.
func (r *Recorder) Profile(on bool) error {
	if !on {
		if r.prof != nil {
			r.d.vk.DestroyQueryPool(r.prof.pool)
			r.prof = nil
		}
		return nil
	}
	if r.prof != nil {
		return nil
	}
	if !r.d.Info.Timestamps() {
		return fmt.Errorf("vulkan: %s has no timestamps on its compute queue", r.d.Info.Name)
	}
	pool, err := r.d.vk.CreateQueryPool(&vk.QueryPoolCreateInfo{
		SType: vk.StructureTypeQueryPoolCreateInfo, QueryType: vk.QueryTypeTimestamp, QueryCount: profileQueries,
	})
	if err != nil {
		return err
	}
	r.prof = &profile{pool: pool, max: profileQueries}
	return nil
}

// ProfileTimes returns the GPU time per label measured since the last call
// and clears it.
func (r *Recorder) ProfileTimes() map[string]ProfileStat {
	t := r.ptimes
	r.ptimes = nil
	return t
}

func (p *profile) begin(d *vk.Device, cb vk.CommandBuffer) {
	d.CmdResetQueryPool(cb, p.pool, 0, p.max)
	p.n, p.labels = 0, p.labels[:0]
	d.CmdWriteTimestamp(cb, vk.PipelineStageComputeShaderBit, p.pool, 0)
	p.n = 1
	p.labels = append(p.labels, "")
}

func (p *profile) mark(d *vk.Device, cb vk.CommandBuffer, label string) {
	if p.n >= p.max {
		return
	}
	d.CmdWriteTimestamp(cb, vk.PipelineStageComputeShaderBit, p.pool, p.n)
	p.n++
	p.labels = append(p.labels, label)
}

func (p *profile) collect(d *Device, times map[string]ProfileStat) error {
	if p.n < 2 {
		return nil
	}
	ts := make([]uint64, p.n)
	if err := d.vk.QueryResults64(p.pool, 0, ts); err != nil {
		return err
	}
	for i := 1; i < int(p.n); i++ {
		s := times[p.labels[i]]
		s.Calls++
		s.Nanos += d.elapsedNs(ts[i-1], ts[i])
		times[p.labels[i]] = s
	}
	return nil
}

// CopyBandwidth measures the device's memory bandwidth as a compute shader
// sees it: reps dispatches of the copy kernel (16-byte loads and stores)
// over n bytes between two device-local buffers, timed with timestamps
// around them. It returns the bytes moved (read plus written) per second.
// (The transfer engine's vkCmdCopyBuffer is no yardstick for kernels: 851
// GB/s on an H200 whose kernels read 3.9 TB/s.)
func (d *Device) CopyBandwidth(n uint64, reps int) (float64, error) {
	n = min(n, d.Info.Limits.MaxStorageBufferRange) &^ 15
	if n == 0 || n/16 > 1<<32-1 {
		return 0, fmt.Errorf("vulkan: copy of %d bytes", n)
	}
	words := uint32(n / 16)
	// About four steps per invocation.
	groups := Groups((words+3)/4, 256)
	groups[0] = min(groups[0], d.Info.Limits.MaxComputeWorkGroupCount[0])
	ns, err := d.timeCopies(n, words, groups, reps, false)
	if err != nil {
		return 0, err
	}
	return 2 * float64(n) * float64(reps) / (ns * 1e-9), nil
}

// DispatchLatency measures what a dependent dispatch costs on the compute
// queue: a chain of reps one-workgroup dispatches of the copy kernel, each
// behind a full barrier, that copy words 16-byte words (0: the dispatch
// touches no memory; 1: one load and one store after the barrier). It
// returns the mean seconds per dispatch: the floor under the time of
// every kernel that waits for the one before it.
func (d *Device) DispatchLatency(reps int, words uint32) (float64, error) {
	if reps < 1 {
		return 0, fmt.Errorf("vulkan: a chain of %d dispatches", reps)
	}
	ns, err := d.timeCopies(16*uint64(max(words, 1)), words, [3]uint32{1, 1, 1}, reps, false)
	if err != nil {
		return 0, err
	}
	return ns * 1e-9 / float64(reps), nil
}

// ChainLatency is DispatchLatency for chained dispatches (see
// Recorder.Dispatch): each one-workgroup copy waits on the counter of the
// one before it instead of behind a barrier. It returns the mean seconds
// per dispatch, and an error if a wait gave up.
func (d *Device) ChainLatency(reps int, words uint32) (float64, error) {
	if reps < 1 || reps >= ChainSlots {
		return 0, fmt.Errorf("vulkan: a chain of %d dispatches", reps)
	}
	before, err := d.ChainFlags()
	if err != nil {
		return 0, err
	}
	ns, err := d.timeCopies(16*uint64(max(words, 1)), words, [3]uint32{1, 1, 1}, reps, true)
	if err != nil {
		return 0, err
	}
	f, err := d.ChainFlags()
	if err != nil {
		return 0, err
	}
	if bad := f &^ before & (ChainTimedOut | ChainOvercount); bad != 0 {
		return 0, fmt.Errorf("vulkan: chained copies raised flags %#x", bad)
	}
	return ns * 1e-9 / float64(reps), nil
}

// timeCopies times reps dispatches of the copy kernel of the given grid,
// each copying words 16-byte words between two device-local buffers of n
// bytes with a full barrier after it, and returns the nanoseconds between
// the timestamps around them.
func (d *Device) timeCopies(n uint64, words uint32, groups [3]uint32, reps int, chained bool) (float64, error) {
	cfg := PipelineConfig{Name: "copy", Buffers: 2, PushSize: 4}
	if chained {
		cfg = PipelineConfig{Name: "copy_chain", Buffers: 3, PushSize: 4 * (1 + ChainPushWords), Chained: true}
	}
	p, err := d.Pipeline(cfg)
	if err != nil {
		return 0, err
	}
	defer p.Destroy()
	src, err := d.NewBuffer(n, DeviceLocal)
	if err != nil {
		return 0, err
	}
	defer src.Destroy()
	dst, err := d.NewBuffer(n, DeviceLocal)
	if err != nil {
		return 0, err
	}
	defer dst.Destroy()
	fill, err := d.NewRecorder()
	if err != nil {
		return 0, err
	}
	fill.Fill(src.Out(0, 0), 0x3f800000)
	err = fill.Submit()
	fill.Destroy()
	if err != nil {
		return 0, err
	}
	before := func(r *Recorder) {
		if chained {
			// The chain starts (its counters zeroed, behind a barrier)
			// before the clock does.
			r.Dispatch(p, groups, []Binding{src.In(0, 0), dst.Out(0, 0)}, words)
		}
	}
	return d.timeCommands(before, func(r *Recorder) {
		for range reps {
			r.Dispatch(p, groups, []Binding{src.In(0, 0), dst.Out(0, 0)}, words)
			if !chained {
				r.barrier()
			}
		}
	})
}

// timeCommands records the commands of before, then those of timed
// between two timestamps, submits them and returns the nanoseconds
// between the timestamps.
func (d *Device) timeCommands(before, timed func(r *Recorder)) (float64, error) {
	pool, r, err := d.newTimer(2)
	if err != nil {
		return 0, err
	}
	defer d.vk.DestroyQueryPool(pool)
	defer r.Destroy()
	if !r.begin() {
		return 0, r.err
	}
	d.vk.CmdResetQueryPool(r.cb, pool, 0, 2)
	before(r)
	d.vk.CmdWriteTimestamp(r.cb, vk.PipelineStageComputeShaderBit, pool, 0)
	timed(r)
	d.vk.CmdWriteTimestamp(r.cb, vk.PipelineStageComputeShaderBit, pool, 1)
	if err := r.Submit(); err != nil {
		return 0, err
	}
	ts := make([]uint64, 2)
	if err := d.vk.QueryResults64(pool, 0, ts); err != nil {
		return 0, err
	}
	ns := d.elapsedNs(ts[0], ts[1])
	if ns <= 0 {
		return 0, fmt.Errorf("vulkan: timestamps did not advance")
	}
	return ns, nil
}

// newTimer returns a query pool of n timestamps and a recorder for the
// commands they time; the device must have timestamps on its compute
// queue.
func (d *Device) newTimer(n uint32) (vk.QueryPool, *Recorder, error) {
	if !d.Info.Timestamps() {
		return 0, nil, fmt.Errorf("vulkan: %s has no timestamps on its compute queue", d.Info.Name)
	}
	pool, err := d.vk.CreateQueryPool(&vk.QueryPoolCreateInfo{SType: vk.StructureTypeQueryPoolCreateInfo, QueryType: vk.QueryTypeTimestamp, QueryCount: n})
	if err != nil {
		return 0, nil, err
	}
	r, err := d.NewRecorder()
	if err != nil {
		d.vk.DestroyQueryPool(pool)
		return 0, nil, err
	}
	return pool, r, nil
}

// elapsedNs returns the nanoseconds from timestamp a to timestamp b.
func (d *Device) elapsedNs(a, b uint64) float64 {
	mask := ^uint64(0)
	if bits := d.Info.tsBits; bits < 64 {
		mask = 1<<bits - 1
	}
	return float64((b-a)&mask) * float64(d.Info.Limits.TimestampPeriod)
}
