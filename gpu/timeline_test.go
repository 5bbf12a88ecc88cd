//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/gpu"
	"bitnet/gpu/internal/vkrt"
	"bitnet/internal/testdata"
)

// TestTimelineStep times the decode step of tinybitnet-stories with the
// timed kernels, ordered by barriers and chained: the generation is the
// CPU's; the timeline has every layer's timed kernels (the same labels
// layer after layer), every workgroup's clock readings in order, and a
// span within the host's time of the step (give or take the clock rate's
// error); behind barriers no dispatch
// starts before the one before it has ended.
func TestTimelineStep(t *testing.T) {
	for _, chain := range []bool{false, true} {
		name := "barriers"
		if chain {
			name = "chained"
		}
		t.Run(name, func(t *testing.T) {
			var be *gpu.Backend
			if chain {
				be = openChained(t, gpu.Options{Timeline: true})
			} else {
				be = openTestWith(t, gpu.Options{Device: -1, Timeline: true})
			}
			if !strings.Contains(be.Kernels(), "timeline") {
				t.Fatalf("Timeline ignored (kernels %q)", be.Kernels())
			}
			storiesLikeCPU(t, be, 24, 1)

			path := filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
			m, st := smallState(t, path, be)
			greedy := engine.Selection{K: 1, Penalty: 1}
			cands, err := st.Next([]int32{1, 403, 52}, greedy, nil)
			if err != nil {
				t.Fatal(err)
			}
			var el time.Duration
			for range 3 { // the step is captured, then replayed
				t0 := time.Now()
				if cands, err = st.Next([]int32{cands[0].ID}, greedy, nil); err != nil {
					t.Fatal(err)
				}
				el = time.Since(t0)
			}
			tl, err := be.Timeline()
			if err != nil {
				t.Fatal(err)
			}
			if tl == nil {
				t.Fatal("no timeline after a step")
			}
			layers := m.Config.NLayer
			n := len(tl.Dispatches)
			if n == 0 || n%layers != 0 {
				t.Fatalf("%d timed dispatches for %d layers", n, layers)
			}
			per := n / layers
			labels := map[string]bool{}
			for i, d := range tl.Dispatches {
				t.Logf("%2d %-60s wg %4d start %8v gap %8v wait %8v prologue %8v body %8v ramp %8v span %8v",
					i, d.Label, d.Workgroups, d.Start, d.Gap, d.Wait, d.Prologue, d.Body, d.Ramp, d.Span)
				if want := tl.Dispatches[i%per].Label; d.Label != want {
					t.Errorf("dispatch %d (layer %d) is %q, layer 0's is %q", i, i/per, d.Label, want)
				}
				if d.Workgroups < 1 || d.Timed != min(d.Workgroups, vkrt.ProbeWorkgroups) {
					t.Errorf("dispatch %d: %d of %d workgroups timed", i, d.Timed, d.Workgroups)
				}
				if d.Span <= 0 || d.Start < 0 || d.Start+d.Span > tl.Span || d.Ramp < 0 || d.Ramp > d.Span {
					t.Errorf("dispatch %d: start %v, ramp %v, span %v outside the timeline's %v", i, d.Start, d.Ramp, d.Span, tl.Span)
				}
				if !chain && i > 0 && d.Gap < 0 {
					t.Errorf("dispatch %d started %v before the one before it ended, behind a barrier", i, -d.Gap)
				}
				kind := "other"
				if strings.Contains(d.Label, "matvec_i2s") {
					kind = "matvec"
				} else if strings.HasPrefix(d.Label, "attn_") {
					kind = "attention"
				}
				labels[kind] = true
			}
			if !labels["matvec"] || !labels["attention"] || labels["other"] {
				t.Errorf("timed kinds %v: want the I2_S matvecs and attention", labels)
			}
			t.Logf("timeline %v, step %v on the host", tl.Span, el)
			// (With some room for the measured clock rate's error.)
			if tl.Span > el*5/4 || tl.Span < el/100 {
				t.Errorf("the timeline spans %v of a step the host timed at %v", tl.Span, el)
			}
		})
	}
}

// TestBuildTimeline builds a timeline from made-up clock readings: two
// dispatches (the second overlapping the first by 50 ns, as a chain may,
// across the wrap of the clock's low word) give their starts, gap, median
// phases, ramps and spans, in nanoseconds at one tick per ns and ten at
// 0.1; a clock going back is an error naming the dispatch.
func TestBuildTimeline(t *testing.T) {
	base := uint32(1<<32 - 1000) // the low word wraps during the step
	at := func(ns int) uint32 { return base + uint32(ns) }
	recs := []vkrt.ProbeRecord{
		{ProbeDispatch: vkrt.ProbeDispatch{Label: "a", Workgroups: 3}, Clock: [][vkrt.ProbePoints]uint32{
			{at(0), at(10), at(110), at(410)},
			{at(5), at(25), at(125), at(600)},
			{at(20), at(50), at(180), at(500)},
		}},
		{ProbeDispatch: vkrt.ProbeDispatch{Label: "b", Workgroups: 300}, Clock: [][vkrt.ProbePoints]uint32{
			{at(550), at(1700), at(1700), at(2000)},
		}},
	}
	tl, err := gpu.BuildTimeline(recs, 1)
	require.NoError(t, err)
	require.Equal(t, 2000*time.Nanosecond, tl.Span)
	a, b := tl.Dispatches[0], tl.Dispatches[1]
	require.Equal(t, compute.TimedDispatch{Label: "a", Workgroups: 3, Timed: 3, Wait: 20, Prologue: 100, Body: 320, Ramp: 20, Span: 600}, a)
	require.Equal(t, compute.TimedDispatch{Label: "b", Workgroups: 300, Timed: 1, Start: 550, Gap: -50, Wait: 1150, Body: 300, Span: 1450}, b)

	// A clock of 100 MHz: ten times the nanoseconds.
	tl, err = gpu.BuildTimeline(recs, 0.1)
	require.NoError(t, err)
	require.Equal(t, 20000*time.Nanosecond, tl.Span)
	require.Equal(t, 5500*time.Nanosecond, tl.Dispatches[1].Start)
	require.Equal(t, -500*time.Nanosecond, tl.Dispatches[1].Gap)

	recs[1].Clock[0][2] = at(1699)
	_, err = gpu.BuildTimeline(recs, 1)
	require.ErrorContains(t, err, "b workgroup 0: the clock went back from point 1 to 2")
}
