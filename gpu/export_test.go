//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"encoding/binary"

	"bitnet/gpu/internal/vkrt"
)

// FailNextRecording makes the next recording of queued ops fail as a lost
// device or a failed allocation would.
func (b *Backend) FailNextRecording() { b.failNext = true }

// ShortRuns is the number of replays of captured steps' short-cache
// variants.
func (b *Backend) ShortRuns() int { return b.shortRuns }

// TinyRuns is the number of replays of captured steps' variants with the
// attention inside the output projection.
func (b *Backend) TinyRuns() int { return b.tinyRuns }

// SetPartialsBudget bounds the attention partials of one pass to n bytes,
// so that small cases take several passes.
func (b *Backend) SetPartialsBudget(n uint64) { b.partials = n }

// SetChainFlags replaces the flags chained kernels raise.
func (b *Backend) SetChainFlags(f uint32) error { return b.dev.SetChainFlags(f) }

// BuildTimeline is buildTimeline.
var BuildTimeline = buildTimeline

// PrefetchXOR runs the prefetch kernel over buffers holding data (each a
// multiple of 4 bytes) and returns the XOR of the words its workgroups
// report.
func (b *Backend) PrefetchXOR(data [][]byte) (uint32, error) {
	var bind []vkrt.Binding
	var words []uint32
	var total uint64
	for _, d := range data {
		buf, err := b.dev.NewBuffer(uint64(len(d)), vkrt.DeviceLocal)
		if err != nil {
			return 0, err
		}
		defer buf.Destroy()
		if err := b.dev.Upload(buf, 0, d); err != nil {
			return 0, err
		}
		bind = append(bind, buf.In(0, uint64(len(d))))
		words = append(words, uint32(len(d)/4))
		total += uint64(len(d))
	}
	groups := b.recPrefetch(bind, words, total)
	if err := b.Flush(); err != nil {
		return 0, err
	}
	out := make([]byte, 4*groups)
	if err := b.dev.Download(b.scratch["prefetch"], 0, out); err != nil {
		return 0, err
	}
	var x uint32
	for i := 0; i < len(out); i += 4 {
		x ^= binary.LittleEndian.Uint32(out[i:])
	}
	return x, nil
}

// TraceRecording has the backend's recorder list its dispatches and
// barriers in *list from now on (see vkrt's SetTrace); nil stops it.
func (b *Backend) TraceRecording(list *[]string) { b.rec.SetTrace(list) }
