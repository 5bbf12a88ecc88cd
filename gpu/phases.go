//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"bitnet/engine/compute"
	"bitnet/gpu/internal/vkrt"
)

// layer2B4T is a BitNet b1.58 2B-4T decode layer's matvecs as the phase
// calibration runs them: q, k and v together (3,840 rows), the output
// projection, gate and up together (13,824 rows), down (6,912 inputs).
var layer2B4T = [4]vkrt.LayerShape{{Rows: 3840, Cols: 2560}, {Rows: 2560, Cols: 2560}, {Rows: 13824, Cols: 2560}, {Rows: 2560, Cols: 6912}}

// phaseLayers is the number of layers LayerPhases times (fewer where the
// device's buffers are smaller, one on a CPU driver): 139 MB of weights,
// more than a GPU's last-level cache, so that every phase reads its
// weights from memory as a decode step does.
const phaseLayers = 8

// LayerPhases times the matvecs of up to phaseLayers decode layers of the
// 2B-4T widths (17.4 MB of weights each) as dependent phases (see
// vkrt.PhaseChain), with this backend's decode matvec workgroup size and
// dot products: as a dispatch per matvec behind barriers, and as one
// persistent dispatch of 1, 2 and 4 times as many workgroups as the
// output projection has blocks of rows. Each figure is the mean of three
// runs after a first one. The weights and input are pseudo-random, and
// every persistent dispatch must compute the results of the dispatches
// behind barriers.
func (b *Backend) LayerPhases() (compute.PhaseTimes, error) {
	var pt compute.PhaseTimes
	if err := b.Flush(); err != nil {
		return pt, err
	}
	wgs := int(b.matvecWGS(layer2B4T[1].Cols, 1))
	for _, s := range layer2B4T {
		pt.LayerBytes += int64(s.Bytes())
	}
	lim := &b.dev.Info.Limits
	layers := int(min(phaseLayers, lim.MaxStorageBufferRange/uint64(pt.LayerBytes), lim.MaxMemoryAllocationSize/uint64(pt.LayerBytes)))
	if b.dev.Info.Type == vkrt.TypeCPU {
		layers, wgs = 1, 64 // a CPU's figures are no guide to a GPU's: time them quickly
	}
	// Weights and input of pseudo-random bits, so that a persistent
	// dispatch that read an output before it was written would compute
	// other results than the dispatches behind barriers.
	rng := rand.New(rand.NewPCG(1, 2))
	n := layers * int(pt.LayerBytes)
	w := make([]byte, (n+7)&^7)
	for i := 0; i < len(w); i += 8 {
		binary.LittleEndian.PutUint64(w[i:], rng.Uint64())
	}
	w = w[:n]
	pc, err := b.dev.NewPhaseChain(layer2B4T, layers, wgs, b.dot, w)
	if err != nil {
		return pt, err
	}
	defer pc.Destroy()
	x := make([]uint32, layer2B4T[0].Cols)
	for i := range x {
		x[i] = rng.Uint32()
	}
	var want []uint32
	perLayer := func(workgroups int) (time.Duration, error) {
		var sum float64
		for i := range 4 {
			ns, err := pc.Run(x, workgroups)
			if err != nil {
				return 0, err
			}
			if i > 0 {
				sum += ns
			}
		}
		got, err := pc.Output()
		if err != nil {
			return 0, err
		}
		if want == nil {
			want = got
		} else if !slices.Equal(got, want) {
			return 0, fmt.Errorf("vulkan: phase chain: the persistent dispatch of %d workgroups computed other results than the dispatches behind barriers", workgroups)
		}
		return time.Duration(sum / 3 / float64(layers)), nil
	}
	pt.Layers, pt.Workgroup = layers, wgs
	if pt.Dispatched, err = perLayer(0); err != nil {
		return pt, err
	}
	for _, m := range []int{1, 2, 4} {
		w := m * pc.Blocks(1)
		t, err := perLayer(w)
		if err != nil {
			return pt, err
		}
		pt.Persistent = append(pt.Persistent, compute.PersistentTime{Workgroups: w, PerLayer: t})
	}
	return pt, nil
}
