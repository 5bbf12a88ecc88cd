//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"fmt"
	"math"
	"slices"
	"time"

	"bitnet/engine/compute"
	"bitnet/gpu/internal/vkrt"
)

// Timeline returns the timeline of the last submitted step (nil without
// Options.Timeline or when no timed kernel ran), or an error when the
// clock readings are out of order. The timed kernels are the decode
// matvecs and the attention kernels; other
// dispatches (the embedding, the LM head, a RoPE that is not fused) show
// as gaps. The device clock's rate is measured when the backend opens
// (vkrt's ClockRate).
func (b *Backend) Timeline() (*compute.Timeline, error) {
	if !b.timeline {
		return nil, nil
	}
	if err := b.Flush(); err != nil {
		return nil, err
	}
	recs, err := b.dev.Probes()
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return buildTimeline(recs, b.clockRate)
}

// buildTimeline turns probe records into a Timeline, with rate clock
// ticks per nanosecond. Clock words are compared as differences from the
// first record's first start (the low 32 bits of a 1 GHz clock wrap every
// 4.3 s; a step is far shorter).
func buildTimeline(recs []vkrt.ProbeRecord, rate float64) (*compute.Timeline, error) {
	for _, r := range recs {
		if len(r.Clock) == 0 {
			return nil, fmt.Errorf("vulkan: timeline: %s: a timed dispatch without workgroups", r.Label)
		}
	}
	ref := recs[0].Clock[0][0]
	at := func(v uint32) time.Duration { return time.Duration(math.Round(float64(int32(v-ref)) / rate)) }
	tl := &compute.Timeline{ClockRate: rate}
	var prevEnd, first, last time.Duration
	for i, r := range recs {
		d := compute.TimedDispatch{Label: r.Label, Workgroups: r.Workgroups, Timed: len(r.Clock)}
		start, end, lastStart := at(r.Clock[0][0]), at(r.Clock[0][3]), at(r.Clock[0][0])
		var wait, pro, body []time.Duration
		for w, c := range r.Clock {
			for k := 1; k < vkrt.ProbePoints; k++ {
				if at(c[k]) < at(c[k-1]) {
					return nil, fmt.Errorf("vulkan: timeline: %s workgroup %d: the clock went back from point %d to %d (%d to %d)", r.Label, w, k-1, k, c[k-1], c[k])
				}
			}
			start, end, lastStart = min(start, at(c[0])), max(end, at(c[3])), max(lastStart, at(c[0]))
			wait = append(wait, at(c[1])-at(c[0]))
			pro = append(pro, at(c[2])-at(c[1]))
			body = append(body, at(c[3])-at(c[2]))
		}
		d.Start, d.Ramp, d.Span = start, lastStart-start, end-start
		d.Wait, d.Prologue, d.Body = median(wait), median(pro), median(body)
		if i > 0 {
			d.Gap = start - prevEnd
		}
		if i == 0 || start < first {
			first = start
		}
		last = max(last, end)
		prevEnd = end
		tl.Dispatches = append(tl.Dispatches, d)
	}
	for i := range tl.Dispatches {
		tl.Dispatches[i].Start -= first
	}
	tl.Span = last - first
	return tl, nil
}

func median(v []time.Duration) time.Duration {
	slices.Sort(v)
	return v[len(v)/2]
}
