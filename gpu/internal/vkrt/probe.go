//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"bitnet/gpu/internal/vk"
)

// Probes: a chained kernel built with PROBE (see shaders/include/
// chain_sync.glsl) records, for each of its first ProbeWorkgroups
// workgroups, the low 32 bits of the device clock (VK_KHR_shader_clock,
// DeviceInfo.Features.ShaderDeviceClock) at ProbePoints points, into the
// chain counters' buffer after the counters, by chain slot. The Recorder
// notes which labeled dispatch took which slot; Device.Probes reads what
// the last submitted command buffer with probes recorded.
const (
	ProbeSlots      = 256 // chain slots with probes (later dispatches are not timed)
	ProbeWorkgroups = 256 // workgroups of a dispatch with probes
	ProbePoints     = 4   // start, wait over, first phase done, counted done
	probeWord       = 4 + ChainSlots
)

// chainBufferBytes is the size of the chain counters' buffer: four header
// words, the counters, then the probes.
const chainBufferBytes = 4 * (probeWord + ProbeSlots*ProbeWorkgroups*ProbePoints)

// ProbeDispatch is a probed dispatch of a command buffer: its label (the
// kernel name when it had none), chain slot and workgroup count.
type ProbeDispatch struct {
	Label      string
	Slot       int
	Workgroups int
}

// ProbeRecord is what a probed dispatch recorded: Clock[w][i] is the
// device clock's low word when workgroup w reached point i (w below
// min(Workgroups, ProbeWorkgroups)).
type ProbeRecord struct {
	ProbeDispatch
	Clock [][ProbePoints]uint32
}

// setProbes notes the probed dispatches of a command buffer just
// submitted.
func (d *Device) setProbes(list []ProbeDispatch) {
	d.chainM.Lock()
	d.probes = list
	d.chainM.Unlock()
}

// Probes returns what the probed dispatches of the last submitted command
// buffer that had any recorded (nil if none ran), once the work submitted
// so far is done.
func (d *Device) Probes() ([]ProbeRecord, error) {
	d.chainM.Lock()
	list, b := d.probes, d.chain
	d.chainM.Unlock()
	if len(list) == 0 || b == nil {
		return nil, nil
	}
	slots := 0
	for _, p := range list {
		slots = max(slots, p.Slot+1)
	}
	raw := make([]byte, 4*slots*ProbeWorkgroups*ProbePoints)
	if err := d.Download(b, 4*probeWord, raw); err != nil {
		return nil, fmt.Errorf("vulkan: probes: %w", err)
	}
	out := make([]ProbeRecord, len(list))
	for i, p := range list {
		n := min(p.Workgroups, ProbeWorkgroups)
		out[i] = ProbeRecord{ProbeDispatch: p, Clock: make([][ProbePoints]uint32, n)}
		for w := range n {
			for k := range ProbePoints {
				o := 4 * ((p.Slot*ProbeWorkgroups+w)*ProbePoints + k)
				out[i].Clock[w][k] = binary.LittleEndian.Uint32(raw[o:])
			}
		}
	}
	return out, nil
}

// SetChainWaits chooses how the recorder orders the dispatches of a chain
// (default true): by waits on counters, or with false by pipeline barriers
// as if they were not chained (they still count themselves done, and
// probed kernels still time themselves: the same kernels timed both ways).
func (r *Recorder) SetChainWaits(on bool) { r.noWaits = !on }

// noteProbe notes a probed dispatch that took chain slot c2-1 (c2 0: none).
func (r *Recorder) noteProbe(p *Pipeline, c2 uint32, groups [3]uint32, label string) {
	if !p.probed || c2 == 0 || int(c2)-1 >= ProbeSlots {
		return
	}
	r.probes = append(r.probes, ProbeDispatch{Label: label, Slot: int(c2) - 1, Workgroups: int(groups[0] * groups[1] * groups[2])})
}

// takeProbes returns the probed dispatches recorded and forgets them.
func (r *Recorder) takeProbes() []ProbeDispatch {
	l := slices.Clone(r.probes)
	r.probes = r.probes[:0]
	return l
}

// ClockRate returns how many ticks of the device clock the probes read
// (VK_KHR_shader_clock, which gives no unit) pass per nanosecond: two
// dispatches 50 ms apart each read the clock, with a timestamp after each;
// the rate is the ticks between the readings over the time between the
// timestamps.
func (d *Device) ClockRate() (float64, error) {
	if !d.Info.Features.ShaderDeviceClock {
		return 0, fmt.Errorf("vulkan: %s has no device clock in shaders (VK_KHR_shader_clock)", d.Info.Name)
	}
	p, err := d.Pipeline(PipelineConfig{Name: "clock_rate", Buffers: 1})
	if err != nil {
		return 0, err
	}
	defer p.Destroy()
	a := max(d.Info.Limits.MinStorageBufferOffsetAlignment, 16) // a reading's place
	out, err := d.NewBuffer(3*a, DeviceLocal)
	if err != nil {
		return 0, err
	}
	defer out.Destroy()
	pool, r, err := d.newTimer(2)
	if err != nil {
		return 0, err
	}
	defer d.vk.DestroyQueryPool(pool)
	defer r.Destroy()
	// A first dispatch takes what a pipeline's first run may cost
	// (lavapipe compiles it then) out of the readings.
	r.Dispatch(p, [3]uint32{1, 1, 1}, []Binding{out.Out(2*a, 4)})
	if err := r.Submit(); err != nil {
		return 0, err
	}
	for i := range 2 {
		if i == 1 {
			time.Sleep(50 * time.Millisecond)
		}
		if !r.begin() {
			return 0, r.err
		}
		if i == 0 {
			d.vk.CmdResetQueryPool(r.cb, pool, 0, 2)
		}
		r.Dispatch(p, [3]uint32{1, 1, 1}, []Binding{out.Out(uint64(i)*a, 4)})
		d.vk.CmdWriteTimestamp(r.cb, vk.PipelineStageComputeShaderBit, pool, uint32(i))
		if err := r.Submit(); err != nil {
			return 0, err
		}
	}
	ts := make([]uint64, 2)
	if err := d.vk.QueryResults64(pool, 0, ts); err != nil {
		return 0, err
	}
	ns := d.elapsedNs(ts[0], ts[1])
	w := make([]byte, 2*a)
	if err := d.Download(out, 0, w); err != nil {
		return 0, err
	}
	ticks := binary.LittleEndian.Uint32(w[a:]) - binary.LittleEndian.Uint32(w[0:])
	if ticks == 0 || ns <= 0 {
		return 0, fmt.Errorf("vulkan: the device clock advanced %d ticks in %.0f ns between two dispatches", ticks, ns)
	}
	return float64(ticks) / ns, nil
}
