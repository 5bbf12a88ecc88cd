//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// phaseRef is the phase chain's arithmetic on the CPU (see phases.glsl):
// each phase's outputs from the one before's, the last phase's returned.
func phaseRef(shapes [4]LayerShape, layers int, w []byte, x []uint32) []uint32 {
	in, off := x, 0
	for p := range 4 * layers {
		s := shapes[p%4]
		rb := s.Cols / 4
		out := make([]uint32, s.Rows)
		for r := range out {
			row := w[off+r*rb : off+(r+1)*rb]
			var acc int32
			for e := range s.Cols {
				i, g, c, b := e/64, e/16%4, e/4%4, e%4
				code := int32(row[16*i+4*c+b] >> (2 * g) & 3)
				acc += (code - 1) * int32(in[e]&0x7f)
			}
			out[r] = uint32(acc)
		}
		off += s.Rows * rb
		in = out
	}
	return in
}

// TestPhaseChain: the phase calibration computes what the CPU does, both
// as a dispatch per phase (one dispatch each, barriers between them) and
// as one persistent dispatch of any number of workgroups (fewer than a
// phase's blocks, as many, many more), with both dot-product kernels,
// rows that do not fill the last block and row lengths that differ
// from phase to phase; shapes that do not chain are refused.
func TestPhaseChain(t *testing.T) {
	d := openTest(t)
	shapes := [4]LayerShape{{200, 128}, {130, 192}, {333, 128}, {129, 320}}
	const layers = 3
	rng := rand.New(rand.NewPCG(7, 11))
	nw := 0
	for _, s := range shapes {
		nw += s.Bytes()
	}
	w := make([]byte, layers*nw)
	for i := range w {
		w[i] = byte(rng.Uint32())
	}
	x := make([]uint32, shapes[0].Cols)
	for i := range x {
		x[i] = rng.Uint32()
	}
	want := phaseRef(shapes, layers, w, x)
	sg := int(d.Info.SubgroupSize)
	dots := []bool{false}
	if d.Info.Features.IntegerDotProduct {
		dots = append(dots, true)
	}
	for _, dot := range dots {
		for _, wgs := range []int{sg, 4 * sg} {
			pc, err := d.NewPhaseChain(shapes, layers, wgs, dot, w)
			require.NoError(t, err)
			defer pc.Destroy()
			assert.Equal(t, 4*layers, pc.Phases())
			blocks := pc.Blocks(0)
			assert.Equal(t, (200+wgs/sg-1)/(wgs/sg), blocks)
			for _, wg := range []int{0, 1, 3, blocks, 4 * blocks} {
				before := d.Stats().Dispatches
				ns, err := pc.Run(x, wg)
				require.NoError(t, err, "dot %v, workgroups of %d, %d workgroups", dot, wgs, wg)
				assert.Greater(t, ns, 0.0)
				dispatches := uint64(1)
				if wg == 0 {
					dispatches = uint64(pc.Phases())
				}
				assert.Equal(t, dispatches, d.Stats().Dispatches-before, "dispatches with %d workgroups", wg)
				got, err := pc.Output()
				require.NoError(t, err)
				assert.Equal(t, want, got, "dot %v, workgroups of %d, %d workgroups", dot, wgs, wg)
			}
		}
	}
	bad := shapes
	bad[1].Cols = 256 // longer than phase 0's 200 rows
	_, err := d.NewPhaseChain(bad, layers, sg, false, w)
	assert.ErrorContains(t, err, "matvec 1")
	bad = shapes
	bad[2].Cols = 100 // not a multiple of 64
	_, err = d.NewPhaseChain(bad, layers, sg, false, w)
	assert.ErrorContains(t, err, "matvec 2")
	_, err = d.NewPhaseChain(shapes, layers, sg, false, w[1:])
	assert.ErrorContains(t, err, "bytes of weights")
}
