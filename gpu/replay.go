//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"bitnet/engine/compute"
	"bitnet/gpu/internal/vkrt"
)

// Capture calls fn, which issues ops, and records them into a command
// buffer of their own instead of running them: a program that Run submits
// as it is, so replaying a decode step costs one submission and no
// recording. Work queued before is submitted first.
func (b *Backend) Capture(fn func()) (compute.Program, error) {
	if b.profiling {
		return nil, errors.New("vulkan: no capture while profiling")
	}
	if err := b.Flush(); err != nil {
		return nil, err
	}
	p := &program{b: b, fn: fn}
	if err := p.capture(); err != nil {
		return nil, err
	}
	b.progs[p] = true
	return p, nil
}

// program is a captured step. A program whose scratch buffers were
// replaced since (a larger step needed them) captures its ops again before
// it runs.
//
// A step whose attention runs over a long cache has a second graph, short,
// that attends over the cache's first shortCache positions only: its
// attention merges its chunks in one dispatch (see recAttention). Run
// picks it while every row's position (read from the host-mapped position
// tensors, pos) is below that, less span: a program of several steps
// chained by Advance attends at most span positions further on.
type program struct {
	b     *Backend
	fn    func()
	g     *vkrt.Graph
	short *vkrt.Graph
	pos   []*tensor
	span  int
	gen   int
}

// capture records the program's ops into a new graph. Scratch buffers are
// made or grown while commands are recorded; a buffer replaced during the
// recording would leave the graph pointing at a retired one, so then the
// ops are recorded again (with every buffer sized by the first pass).
func (p *program) capture() error {
	for range 2 {
		gen := p.b.scratchGen
		g, err := p.record(0)
		if err != nil {
			return err
		}
		p.releaseGraphs()
		p.g = g
		if long, span := p.b.longAttn, p.b.longSpan; long != nil {
			short, err := p.record(p.b.shortCache())
			if err != nil {
				return err
			}
			p.short, p.pos, p.span = short, long, span
		}
		p.gen = p.b.scratchGen
		if p.gen == gen {
			return nil
		}
	}
	return nil
}

// releaseGraphs frees the program's graphs.
func (p *program) releaseGraphs() {
	for _, g := range []*vkrt.Graph{p.g, p.short} {
		if g != nil {
			g.Release()
		}
	}
	p.g, p.short, p.pos = nil, nil, nil
}

// shortEnough says whether every row's position, in the host-mapped
// position tensors pos, is below n.
func shortEnough(pos []*tensor, n int) bool {
	for _, t := range pos {
		m := t.buf.Mapped()
		if m == nil || t.off+t.bytes > uint64(len(m)) {
			return false
		}
		for i := t.off; i+4 <= t.off+t.bytes; i += 4 {
			if v := int32(binary.LittleEndian.Uint32(m[i:])); v < 0 || int(v) >= n {
				return false
			}
		}
	}
	return true
}

// record captures the program's ops; with attnLimit > 0, its attention
// over a few rows reads only the cache's first attnLimit positions.
func (p *program) record(attnLimit int) (*vkrt.Graph, error) {
	b := p.b
	b.attnLimit, b.longAttn, b.longSpan, b.advanced = attnLimit, nil, 0, 0
	defer func() { b.attnLimit = 0 }()
	b.capturing, b.captureErr = true, nil
	b.q8For = view{}
	func() {
		defer func() {
			if r := recover(); r != nil {
				b.captureErr = errors.Join(b.captureErr, fmt.Errorf("vulkan: capture: %v", r))
			}
		}()
		p.fn()
	}()
	b.capturing = false
	if b.captureErr != nil {
		b.pending = nil
		return nil, b.captureErr
	}
	if err := b.rec.BeginCapture(); err != nil {
		b.pending = nil
		return nil, err
	}
	b.capturing = true // ops that need the host fail the capture
	s0 := b.dev.Stats()
	b.emit()
	b.capturing = false
	g, err := b.rec.EndCapture()
	if attnLimit == 0 { // the full step (a short variant is the same but for its attention)
		s1 := b.dev.Stats()
		b.step = compute.StepStructure{Steps: max(b.advanced, 1), Dispatches: int(s1.Dispatches - s0.Dispatches), Barriers: int(s1.Barriers - s0.Barriers)}
	}
	b.q8For = view{}
	if err == nil && b.captureErr != nil {
		err = b.captureErr
	}
	if err != nil {
		if g != nil {
			g.Release()
		}
		return nil, err
	}
	return g, nil
}

// Run submits the captured commands and waits for them.
func (p *program) Run() error {
	b := p.b
	if err := b.Flush(); err != nil {
		return err
	}
	if b.profiling {
		// Timed kernel by kernel: issue the ops again.
		p.fn()
		return b.Flush()
	}
	if p.gen != b.scratchGen {
		if err := p.capture(); err != nil {
			return err
		}
	}
	b.q8For = view{}
	if p.g == nil {
		return nil
	}
	if p.short != nil && shortEnough(p.pos, b.shortCache()-p.span) {
		b.shortRuns++
		return p.short.Run()
	}
	return p.g.Run()
}

// Release frees the captured command buffer.
func (p *program) Release() {
	p.releaseGraphs()
	delete(p.b.progs, p)
}

// Counters returns the running totals of the work given to the device.
func (b *Backend) Counters() compute.DeviceCounters {
	s := b.dev.Stats()
	return compute.DeviceCounters{Dispatches: s.Dispatches, Barriers: s.Barriers, Submits: s.Submits, Replays: s.Replays,
		BytesUp: s.BytesUp, BytesDown: s.BytesDown, Prepare: b.prepare, ReplayTime: s.ReplayTime, Step: b.step}
}

// ChainFlags returns the flags the chained kernels raised on the device
// (see Options.Chain and vkrt's Chain* flags) after the work so far: a
// wait that gave up or a miscounted chain means wrong results.
func (b *Backend) ChainFlags() (uint32, error) {
	if err := b.Flush(); err != nil {
		return 0, err
	}
	return b.dev.ChainFlags()
}

// ChainCheck returns an error when a chained kernel gave up a wait or found
// a miscounted chain (the results since are wrong), nil otherwise.
func (b *Backend) ChainCheck() error {
	f, err := b.ChainFlags()
	if err != nil {
		return err
	}
	if f&(vkrt.ChainTimedOut|vkrt.ChainOvercount) != 0 {
		return fmt.Errorf("vulkan: chained kernels (BITNET_VK_CHAIN) gave up waiting on the dispatch before them or found it miscounted (flags %#x): results are wrong; run without the chain and report the device", f)
	}
	return nil
}

// ProfileKernels turns GPU timestamps after every dispatch on or off.
// While on, steps are not captured (each is recorded and timed), and
// KernelTimes returns the time of each kernel label.
func (b *Backend) ProfileKernels(on bool) error {
	if err := b.Flush(); err != nil {
		return err
	}
	if err := b.rec.Profile(on); err != nil {
		return err
	}
	b.profiling = on
	return nil
}

// KernelTimes returns the GPU time per kernel label since the last call,
// most expensive first, with the weight bytes the calls read.
func (b *Backend) KernelTimes() []compute.KernelTime {
	var out []compute.KernelTime
	for l, s := range b.rec.ProfileTimes() {
		out = append(out, compute.KernelTime{Label: l, Calls: s.Calls, Time: time.Duration(s.Nanos), Bytes: b.labelBytes[l] * int64(s.Calls)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	return out
}

// DispatchLatency returns the GPU time of a dependent dispatch (one behind
// a full barrier, as every kernel of a decode step is) that touches no
// memory, and of one that loads and stores 16 bytes, in seconds: the mean
// over a chain of 256 of each, after a warm-up chain. Every kernel time of
// --op-times includes the first.
func (b *Backend) DispatchLatency() (empty, load float64, err error) {
	if err := b.Flush(); err != nil {
		return 0, 0, err
	}
	if _, err := b.dev.DispatchLatency(256, 1); err != nil { // warm-up
		return 0, 0, err
	}
	if empty, err = b.dev.DispatchLatency(256, 0); err != nil {
		return 0, 0, err
	}
	load, err = b.dev.DispatchLatency(256, 1)
	return empty, load, err
}

// ChainLatency returns the GPU time of a chained dependent dispatch (one
// that waits on the counter of the one before it, as the decode kernels do
// with Options.Chain) that loads and stores 16 bytes, in seconds: the mean
// over a chain of 256, after a warm-up chain. Compare DispatchLatency's
// second figure.
func (b *Backend) ChainLatency() (float64, error) {
	if err := b.Flush(); err != nil {
		return 0, err
	}
	if _, err := b.dev.ChainLatency(256, 1); err != nil { // warm-up
		return 0, err
	}
	return b.dev.ChainLatency(256, 1)
}

// CopyBandwidth is the device's buffer copy speed in bytes (read plus
// written) per second, measured now over copies of up to 1 GiB (less on
// devices with little memory): the yardstick for the kernels' bandwidth.
func (b *Backend) CopyBandwidth() (float64, error) {
	if err := b.Flush(); err != nil {
		return 0, err
	}
	n := min(uint64(1<<30), b.dev.Info.DeviceLocalMemory()/16, b.dev.Info.Limits.MaxMemoryAllocationSize)
	if n == 0 {
		n = 64 << 20
	}
	if _, err := b.dev.CopyBandwidth(n, 1); err != nil { // warm-up
		return 0, err
	}
	return b.dev.CopyBandwidth(n, 8)
}
