//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"fmt"
	"slices"
	"strings"

	"bitnet/engine/compute"
	"bitnet/gpu/internal/vkrt"
)

// kernels lists every kernel: its storage buffers and push-constant words.
// Pipelines are built on first use, one per set of specialization
// constants.
var kernels = map[string]struct {
	buffers int
	push    uint32
}{
	"rmsnorm":                {4, 6},
	"rmsnorm_sg":             {4, 6},
	"matvec_i2s":             {matvecBuffers, 19},
	"matvec_i2s_dot":         {matvecBuffers, 19},
	"matmul_i2s_tiled":       {5, 11},
	"matmul_i2s_tiled_dot":   {5, 11},
	"matmul_i2s_coopmat":     {5, 11},
	"matvec_f32":             {5, 8},
	"matvec_f16":             {5, 8},
	"matvec_bf16":            {5, 8},
	"matvec_q8_0":            {3, 6},
	"matvec_q6_k":            {3, 6},
	"matvec_tq2_0":           {4, 5},
	"matmul_tq2_0_tiled":     {4, 7},
	"matmul_tq2_0_tiled_dot": {4, 7},
	"matmul_tq1_0_tiled":     {4, 7},
	"matmul_tq1_0_tiled_dot": {4, 7},
	"matvec_tq1_0":           {4, 5},
	"attn_split":             {5, 8},
	"attn_split_merge":       {7, 9},
	"attn_split_sg":          {5, 8},
	"attn_split_merge_sg":    {7, 9},
	"attn_combine":           {3, 5},
	"rope_store":             {9, 12},
	"embed":                  {3, 10},
	"penalize":               {2, 5},
	"topk":                   {6, 6},
	"screen_bounds":          {5, 7},
	"screen_keep":            {3, 5},
	"advance":                {4, 5},

	// The generic kernels: devices without subgroup arithmetic, weight
	// types without a matvec kernel, and ops that are not fused.
	"quantize_i8":          {3, 2},
	"quantize_q8k":         {3, 2},
	"matmul_i2s":           {4, 7},
	"matmul_i2s_subgroup":  {4, 8},
	"matmul_tq2_0":         {4, 7},
	"matmul_tq1_0":         {4, 7},
	"matmul_f32":           {3, 7},
	"matmul_f16":           {3, 7},
	"matmul_f16_subgroup":  {3, 8},
	"matmul_bf16":          {3, 7},
	"matmul_q8_0":          {3, 7},
	"matmul_q8_0_subgroup": {3, 8},
	"matmul_q6_k":          {3, 7},
	"matmul_q6_k_subgroup": {3, 8},
	"act_mul":              {3, 5},
	"add":                  {3, 4},
	"scale":                {2, 4},
	"round_f16":            {2, 3},
}

// pipeKey names a pipeline: a kernel and its specialization constants.
type pipeKey struct {
	name string
	spec [12]uint32
	n    int
}

// pipe returns the pipeline of kernel name with the given specialization
// constants (constant_id i is spec[i]), building it on first use.
func (b *Backend) pipe(name string, spec ...uint32) *vkrt.Pipeline {
	k := pipeKey{name: name, n: len(spec)}
	copy(k.spec[:], spec)
	if p := b.pipes[k]; p != nil {
		return p
	}
	base, chained := strings.CutSuffix(name, "_chain")
	base, probed := strings.CutSuffix(base, "_probe")
	chained = chained || probed
	if !chained || !chainable[base] {
		base, chained, probed = name, false, false
	}
	info, ok := kernels[base]
	if !ok {
		panic(fmt.Sprintf("gpu: no kernel %q", name))
	}
	cfg := vkrt.PipelineConfig{Name: name, Buffers: info.buffers, PushSize: 4 * info.push, Spec: spec}
	if chained {
		// The chain's counters and push words come after the kernel's.
		cfg.Buffers++
		cfg.PushSize += 4 * vkrt.ChainPushWords
		cfg.Chained, cfg.Probed = true, probed
	}
	p, err := b.dev.Pipeline(cfg)
	if err != nil {
		b.deviceFailed(fmt.Errorf("vulkan: pipeline %s %v: %w", name, spec, err))
	}
	b.pipes[k] = p
	return p
}

// kernel returns name, or its chained variant where the backend chains the
// decode kernels and one exists (not while kernels are timed one by one),
// or its timed one (<name>_probe) where the backend records a timeline.
func (b *Backend) kernel(name string) string {
	switch {
	case b.profiling || !chainable[name]:
		return name
	case b.timeline:
		return name + "_probe"
	case b.chain:
		return name + "_chain"
	}
	return name
}

// labels reports whether dispatches are labeled (for profiles and
// timelines).
func (b *Backend) labels() bool { return b.profiling || b.timeline }

// chainable lists the kernels with a chained variant, <name>_chain (see
// shaders/include/chain.glsl), and a timed one, <name>_probe (see
// Options.Timeline): the kernel's buffers and push words, then the chain's
// counters and push words.
var chainable = map[string]bool{
	"matvec_i2s": true, "matvec_i2s_dot": true,
	"attn_split": true, "attn_split_sg": true, "attn_split_merge": true, "attn_split_merge_sg": true,
	"attn_combine": true,
}

// dispatch records one dispatch labeled for profiles (label is built only
// while profiling; "" is the kernel's name).
func (b *Backend) dispatch(label string, p *vkrt.Pipeline, groups [3]uint32, bindings []vkrt.Binding, push ...uint32) {
	b.dispatchBytes(label, 0, p, groups, bindings, push...)
}

// dispatchBytes is dispatch for a kernel that reads the given weight bytes
// (profiles report its bandwidth).
func (b *Backend) dispatchBytes(label string, bytes int64, p *vkrt.Pipeline, groups [3]uint32, bindings []vkrt.Binding, push ...uint32) {
	if b.profiling {
		b.labelBytes[label] = bytes
	}
	if b.labels() {
		b.rec.DispatchLabel(label, p, groups, bindings, push...)
		return
	}
	b.rec.Dispatch(p, groups, bindings, push...)
}

// PipelineStatistics returns what the driver reported about each pipeline
// built so far (Options.PipelineStatistics), sorted by kernel; nil when
// the device keeps no statistics.
func (b *Backend) PipelineStatistics() ([]compute.PipelineStats, error) {
	if !b.dev.Info.Features.PipelineStatistics {
		return nil, nil
	}
	var out []compute.PipelineStats
	for k, p := range b.pipes {
		stats, err := p.Statistics()
		if err != nil {
			return nil, err
		}
		ps := compute.PipelineStats{Kernel: fmt.Sprintf("%s %v", k.name, k.spec[:k.n])}
		for _, s := range stats {
			ps.Stats = append(ps.Stats, compute.Stat{Name: s.Name, Value: s.Value})
		}
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b compute.PipelineStats) int { return strings.Compare(a.Kernel, b.Kernel) })
	return out, nil
}
