//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

// FailNextRecording makes the next recording of queued ops fail as a lost
// device or a failed allocation would.
func (b *Backend) FailNextRecording() { b.failNext = true }

// ShortRuns is the number of replays of captured steps' short-cache
// variants.
func (b *Backend) ShortRuns() int { return b.shortRuns }

// SetPartialsBudget bounds the attention partials of one pass to n bytes,
// so that small cases take several passes.
func (b *Backend) SetPartialsBudget(n uint64) { b.partials = n }

// SetMatvecManyGroups sets the most workgroups of one row per subgroup a
// decode matvec runs before it takes Options.MatvecRows rows per subgroup,
// so that small subgroups (lavapipe's 8) take them where a large GPU's
// would; set it before the first op.
func (b *Backend) SetMatvecManyGroups(n uint32) { b.mvMany = n }

// SetChainFlags replaces the flags chained kernels raise.
func (b *Backend) SetChainFlags(f uint32) error { return b.dev.SetChainFlags(f) }

// BuildTimeline is buildTimeline.
var BuildTimeline = buildTimeline

// PretendSubgroupSize makes the backend build its kernels for subgroups of
// n without requiring any size, as on a device whose compiler picks
// another width than the one the kernels are built for (a pipeline whose
// workgroup is too large to require one, or BITNET_VK_SUBGROUP_SIZE=0 on
// Intel's and AMD's GPUs); call it before the first op.
func (b *Backend) PretendSubgroupSize(n uint32) {
	b.dev.Info.SubgroupSize = n
	b.dev.Info.Features.SubgroupSizeControl = false
}
