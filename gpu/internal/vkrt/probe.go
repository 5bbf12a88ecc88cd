//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"encoding/binary"
	"fmt"
	"slices"
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
	ProbePoints     = 4   // start, wait over, inputs ready, counted done
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
	if label == "" {
		label = p.name
	}
	r.probes = append(r.probes, ProbeDispatch{Label: label, Slot: int(c2) - 1, Workgroups: int(groups[0] * groups[1] * groups[2])})
}

// takeProbes returns the probed dispatches recorded and forgets them.
func (r *Recorder) takeProbes() []ProbeDispatch {
	l := slices.Clone(r.probes)
	r.probes = r.probes[:0]
	return l
}
