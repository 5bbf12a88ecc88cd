//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"fmt"

	"bitnet/gpu/internal/vk"
)

// LayerShape is one matvec of a layer in a PhaseChain: Rows outputs, each
// the dot product of a row of Cols 2-bit weights (Cols a multiple of 64)
// with the first Cols outputs of the matvec before.
type LayerShape struct{ Rows, Cols int }

// Bytes is the size of the matvec's weights.
func (s LayerShape) Bytes() int { return s.Rows * s.Cols / 4 }

// PhaseChain is a calibration of dependent phases (the kernel of
// shaders/include/phases.glsl): Layers layers of four ternary matvecs,
// each reading the outputs of the one before, as the matvecs of a decode
// step do. Run times them as one dispatch per phase behind pipeline
// barriers, as a decode step runs, or inside one persistent dispatch whose
// workgroups take the phases' blocks of rows in order and wait on
// counters: what a phase boundary costs either way, weight streaming
// included.
type PhaseChain struct {
	d       *Device
	pipe    *Pipeline
	shapes  [4]LayerShape
	layers  int
	rows    int    // rows per block (a workgroup's)
	half    uint64 // 32-bit words per half of a
	w, a, c *Buffer
}

// NewPhaseChain prepares a chain of layers x 4 phases of the given shapes,
// run by workgroups of wgs invocations (a multiple of the device's
// subgroup size); with dot, packed int8 dot products (the device must
// have them). weights holds the phases' matrices in order (each row
// Cols/4 bytes, laid out as phases.glsl says).
func (d *Device) NewPhaseChain(shapes [4]LayerShape, layers, wgs int, dot bool, weights []byte) (*PhaseChain, error) {
	sg := int(d.Info.SubgroupSize)
	if layers < 1 || sg < 1 || wgs < sg || wgs%sg != 0 || wgs > int(d.Info.Limits.MaxComputeWorkGroupInvocations) {
		return nil, fmt.Errorf("vulkan: phase chain: %d layers, workgroups of %d (subgroups of %d)", layers, wgs, sg)
	}
	if dot && !d.Info.Features.IntegerDotProduct {
		return nil, fmt.Errorf("vulkan: phase chain: %s has no integer dot products", d.Info.Name)
	}
	kmax, maxRows, layerBytes := 0, 0, 0
	for i, s := range shapes {
		prev := shapes[(i+3)%4].Rows
		if i == 0 && layers == 1 {
			prev = s.Cols // the input
		}
		if s.Rows < 1 || s.Cols < 64 || s.Cols%64 != 0 || s.Cols > prev {
			return nil, fmt.Errorf("vulkan: phase chain: matvec %d: %d rows of %d elements after %d outputs (a multiple of 64, at most those)", i, s.Rows, s.Cols, prev)
		}
		kmax, maxRows = max(kmax, s.Cols), max(maxRows, s.Rows)
		layerBytes += s.Bytes()
	}
	if uint64(kmax)+4 > uint64(d.Info.Limits.MaxComputeSharedMemorySize) {
		return nil, fmt.Errorf("vulkan: phase chain: rows of %d elements need %d bytes of shared memory", kmax, kmax+4)
	}
	wbytes := uint64(layers) * uint64(layerBytes)
	if uint64(len(weights)) != wbytes {
		return nil, fmt.Errorf("vulkan: phase chain: %d bytes of weights, want %d", len(weights), wbytes)
	}
	if wbytes > d.Info.Limits.MaxStorageBufferRange || wbytes > d.Info.Limits.MaxMemoryAllocationSize {
		return nil, fmt.Errorf("vulkan: phase chain: %d bytes of weights exceed the device's buffer limits", wbytes)
	}
	name := "phases"
	if dot {
		name = "phases_dot"
	}
	nl := (kmax/64 + sg - 1) / sg
	// A wait's counter reads before it gives up: a GPU's take about a
	// microsecond each, a CPU driver's a few nanoseconds, and its
	// workgroups, threads that share the host's cores, may be descheduled
	// for milliseconds.
	spins := uint32(1 << 18)
	if d.Info.Type == TypeCPU {
		spins = 1 << 22
	}
	pipe, err := d.Pipeline(PipelineConfig{Name: name, Buffers: 3, PushSize: 4 * 12, Spec: []uint32{uint32(wgs), uint32(sg), uint32(nl), uint32(kmax), spins}})
	if err != nil {
		return nil, err
	}
	pc := &PhaseChain{d: d, pipe: pipe, shapes: shapes, layers: layers, rows: wgs / sg, half: uint64(max(maxRows, kmax)+3) &^ 3}
	fail := func(err error) (*PhaseChain, error) {
		pc.Destroy()
		return nil, fmt.Errorf("vulkan: phase chain: %w", err)
	}
	if pc.w, err = d.NewBuffer(wbytes, DeviceLocal); err != nil {
		return fail(err)
	}
	if pc.a, err = d.NewBuffer(8*pc.half, DeviceLocal); err != nil {
		return fail(err)
	}
	if pc.c, err = d.NewBuffer(4*uint64(2+4*layers), DeviceLocal); err != nil {
		return fail(err)
	}
	if err := d.Upload(pc.w, 0, weights); err != nil {
		return fail(err)
	}
	return pc, nil
}

// Destroy frees the chain's pipeline and buffers.
func (pc *PhaseChain) Destroy() {
	for _, b := range []*Buffer{pc.w, pc.a, pc.c} {
		if b != nil {
			b.Destroy()
		}
	}
	pc.pipe.Destroy()
}

// Phases is the number of phases: four per layer.
func (pc *PhaseChain) Phases() int { return 4 * pc.layers }

// Blocks is the number of blocks of rows (a workgroup's each) of phase p.
func (pc *PhaseChain) Blocks(p int) int {
	return (pc.shapes[p%4].Rows + pc.rows - 1) / pc.rows
}

// Run runs the chain on the input x (shapes[0].Cols words; the activation
// of element e is x[e]'s low 7 bits) and returns the nanoseconds between
// timestamps around it: a dispatch per phase behind barriers when
// workgroups is 0, else one persistent dispatch of that many workgroups.
// It fails if a wait of the persistent dispatch gave up or a counter
// passed its count.
func (pc *PhaseChain) Run(x []uint32, workgroups int) (float64, error) {
	d := pc.d
	if len(x) != pc.shapes[0].Cols || workgroups < 0 || uint32(workgroups) > d.Info.Limits.MaxComputeWorkGroupCount[0] {
		return 0, fmt.Errorf("vulkan: phase chain: %d inputs (want %d), %d workgroups", len(x), pc.shapes[0].Cols, workgroups)
	}
	if err := d.Upload(pc.a, 0, vk.Bytes(x)); err != nil {
		return 0, err
	}
	push := func(p0, persist int) []uint32 {
		var w [12]uint32
		for i, s := range pc.shapes {
			w[i], w[4+i] = uint32(s.Rows), uint32(s.Cols)
		}
		w[8], w[9], w[10], w[11] = uint32(pc.Phases()), uint32(p0), uint32(persist), uint32(pc.half)
		return w[:]
	}
	bind := []Binding{pc.w.In(0, 0), pc.a.Out(0, 0), pc.c.Out(0, 0)}
	before := func(r *Recorder) {
		r.Fill(pc.c.Out(0, 0), 0)
		r.Barrier()
	}
	ns, err := d.timeCommands(before, func(r *Recorder) {
		if workgroups == 0 {
			for p := range pc.Phases() {
				r.Dispatch(pc.pipe, [3]uint32{uint32(pc.Blocks(p)), 1, 1}, bind, push(p, 0)...)
			}
		} else {
			r.Dispatch(pc.pipe, [3]uint32{uint32(workgroups), 1, 1}, bind, push(0, 1)...)
		}
	})
	if err != nil {
		return 0, err
	}
	flags := make([]uint32, 1)
	if err := d.Download(pc.c, 0, vk.Bytes(flags)); err != nil {
		return 0, err
	}
	if f := flags[0]; f&(ChainTimedOut|ChainOvercount) != 0 {
		return 0, fmt.Errorf("vulkan: phase chain: the persistent dispatch raised flags %#x", f)
	}
	return ns, nil
}

// Output returns the last phase's outputs of the last Run.
func (pc *PhaseChain) Output() ([]uint32, error) {
	out := make([]uint32, pc.shapes[3].Rows)
	// Phase p writes half (p+1) % 2: the last (4 layers - 1) half 0.
	if err := pc.d.Download(pc.a, 0, vk.Bytes(out)); err != nil {
		return nil, err
	}
	return out, nil
}
