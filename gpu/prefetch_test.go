//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"bitnet/gpu"
)

// TestPrefetch runs the prefetch kernel over buffers of random words and
// checks that it read exactly the first word of every 32-byte sector of
// each: the XOR its workgroups report equals the XOR of those words.
// Sizes: smaller than a sector, one sector and a word, not a multiple of a
// workgroup's 64 KiB, several workgroups, and the most buffers one
// dispatch takes.
func TestPrefetch(t *testing.T) {
	be := openTest(t)
	if !be.Subgroups() {
		t.Skipf("%s: no subgroup arithmetic (the prefetch runs only beside the subgroup matvecs)", be.Device())
	}
	rng := rand.New(rand.NewPCG(3, 5))
	buffer := func(n int) []byte {
		d := make([]byte, n)
		for i := 0; i < n; i += 4 {
			binary.LittleEndian.PutUint32(d[i:], rng.Uint32())
		}
		return d
	}
	cases := [][]int{
		{16},
		{36},
		{65536 + 4000},
		{300000, 4, 1 << 17},
		{100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 70000, 1500},
	}
	for _, sizes := range cases {
		var data [][]byte
		var want uint32
		for _, n := range sizes {
			d := buffer(n)
			data = append(data, d)
			for i := 0; i < n; i += 32 {
				want ^= binary.LittleEndian.Uint32(d[i:])
			}
		}
		got, err := be.PrefetchXOR(data)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("buffers of %v bytes: the workgroups report %#08x, the sectors' first words XOR to %#08x", sizes, got, want)
		}
	}
}

// TestPrefetchStep: with the weights read beside each decode attention
// (Options.Prefetch), tinybitnet-stories generates the CPU's tokens, and
// a decode step on the 2B-4T widths has one dispatch per layer more than
// the default and not one barrier more: each prefetch is recorded right
// after an attention kernel, with no barrier between them, and a barrier
// follows it (before the output projection).
func TestPrefetchStep(t *testing.T) {
	be := openTestWith(t, gpu.Options{Device: -1, Prefetch: 32})
	if !strings.Contains(be.Kernels(), "prefetch-32") {
		t.Skipf("%s: no prefetch (kernels %q)", be.Device(), be.Kernels())
	}
	storiesLikeCPU(t, be, 120, 60)
	be = openTestWith(t, gpu.Options{Device: -1, Prefetch: 32})
	var trace []string
	be.TraceRecording(&trace)
	pre := decodeStepStructure(t, be, 6)
	be.TraceRecording(nil)
	n := 0
	for i, d := range trace {
		if d != "prefetch" {
			continue
		}
		n++
		if i == 0 || !strings.HasPrefix(trace[i-1], "attn_split") || i+1 < len(trace) && trace[i+1] != "|" {
			t.Errorf("a prefetch recorded in %v: want it right after an attention kernel, then a barrier", trace[max(i-3, 0):min(i+3, len(trace))])
		}
	}
	if n == 0 {
		t.Errorf("no prefetch recorded: %v", trace)
	}
	plain := decodeStepStructure(t, openTest(t), 5)
	t.Logf("captured step: %d dispatches and %d barriers with the prefetch, %d and %d by default", pre.Dispatches, pre.Barriers, plain.Dispatches, plain.Barriers)
	if pre.Dispatches != plain.Dispatches+structureLayers || pre.Barriers != plain.Barriers {
		t.Errorf("with the prefetch %d dispatches and %d barriers, by default %d and %d: want %d more dispatches, the same barriers",
			pre.Dispatches, pre.Barriers, plain.Dispatches, plain.Barriers, structureLayers)
	}
}
