//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

// Package gpu is the Vulkan compute backend. Every op of compute.Backend is
// recorded as a dispatch of an embedded SPIR-V kernel (see shaders/); a
// forward step is submitted once, with one fence wait, when the engine reads
// a result or flushes.
package gpu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/gpu/internal/vkrt"
)

// Options configures Open.
type Options struct {
	// Device is a device index (see Devices), or -1 to choose.
	Device int
	// Auto chooses only GPUs (discrete > integrated > virtual), never a CPU
	// implementation such as lavapipe; without it a CPU device may be used
	// when it is the only one.
	Auto bool
	// Validate enables the Khronos validation layer (also BITNET_VK_VALIDATE=1).
	Validate bool
	// NoSubgroups keeps the matvec kernels on shared-memory reductions even
	// where the device has subgroup arithmetic (for comparisons and tests).
	NoSubgroups bool
}

// Backend implements compute.Backend on a Vulkan device.
type Backend struct {
	dev   *vkrt.Device
	rec   *vkrt.Recorder
	pipes map[string]*vkrt.Pipeline
	align uint64 // MinStorageBufferOffsetAlignment (at least 4)
	rng   uint64 // MaxStorageBufferRange usable by one binding

	arena     *vkrt.Buffer // host-visible per-step inputs (embeddings, RoPE tables)
	arenaUsed uint64

	scratch map[string]*vkrt.Buffer // reusable device buffers by role
	retired []*vkrt.Buffer          // replaced scratch, freed after the next submit

	weightBytes uint64
	owned       []*vkrt.Buffer // every tensor buffer, freed by Close

	subgroups bool // matvecs reduce with subgroupAdd (see matmul_*_subgroup)
}

var _ compute.Backend = (*Backend)(nil)

// kernels lists every pipeline: name, storage buffers, push-constant words.
var kernels = []struct {
	name    string
	buffers int
	push    uint32
}{
	{"rmsnorm", 3, 4},
	{"quantize_i8", 3, 2},
	{"quantize_q8k", 3, 2},
	{"matmul_i2s", 4, 7},
	{"matmul_i2s_subgroup", 4, 8},
	{"matmul_tq2_0", 4, 6},
	{"matmul_tq1_0", 4, 6},
	{"matmul_f32", 3, 7},
	{"matmul_f16", 3, 7},
	{"matmul_f16_subgroup", 3, 8},
	{"matmul_bf16", 3, 7},
	{"matmul_q8_0", 3, 7},
	{"rope", 3, 7},
	{"store_kv", 2, 5},
	{"attention", 5, 9},
	{"act_mul", 3, 5},
	{"add", 3, 4},
	{"scale", 2, 4},
}

const arenaSize = 16 << 20

// Open opens a device and builds the pipelines.
func Open(o Options) (*Backend, error) {
	sel := "any"
	switch {
	case o.Device >= 0:
		sel = strconv.Itoa(o.Device)
	case o.Auto:
		sel = "auto"
	}
	dev, err := vkrt.Open(vkrt.Options{Device: sel, Validate: o.Validate})
	if err != nil {
		return nil, err
	}
	b := &Backend{dev: dev, pipes: map[string]*vkrt.Pipeline{}, scratch: map[string]*vkrt.Buffer{}}
	lim := dev.Info.Limits
	b.align = max(lim.MinStorageBufferOffsetAlignment, 4)
	b.rng = min(lim.MaxStorageBufferRange, 1<<31) &^ (b.align - 1)
	fail := func(err error) (*Backend, error) {
		b.Close()
		return nil, err
	}
	if b.rec, err = dev.NewRecorder(); err != nil {
		return fail(err)
	}
	b.subgroups = dev.Info.SubgroupArithmetic && !o.NoSubgroups
	for _, k := range kernels {
		if strings.HasSuffix(k.name, "_subgroup") && !b.subgroups {
			continue
		}
		p, err := dev.Pipeline(vkrt.PipelineConfig{Name: k.name, Buffers: k.buffers, PushSize: 4 * k.push})
		if err != nil {
			return fail(fmt.Errorf("vulkan: pipeline %s: %w", k.name, err))
		}
		b.pipes[k.name] = p
	}
	if b.arena, err = dev.NewBuffer(arenaSize, vkrt.HostVisible); err != nil {
		return fail(err)
	}
	return b, nil
}

// Name returns "vulkan".
func (b *Backend) Name() string { return "vulkan" }

// Device describes the device in use.
func (b *Backend) Device() string { return b.dev.Info.String() }

// Subgroups reports whether the matvec kernels reduce with subgroup
// arithmetic.
func (b *Backend) Subgroups() bool { return b.subgroups }

// Info returns the device's properties.
func (b *Backend) Info() vkrt.DeviceInfo { return b.dev.Info }

// Close releases every device object.
func (b *Backend) Close() error {
	if b.dev == nil {
		return nil
	}
	var errs []error
	if b.rec != nil {
		errs = append(errs, b.rec.Submit())
		b.rec.Destroy()
	}
	for _, p := range b.pipes {
		p.Destroy()
	}
	for _, s := range b.scratch {
		s.Destroy()
	}
	for _, s := range b.retired {
		s.Destroy()
	}
	for _, s := range b.owned {
		s.Destroy()
	}
	if b.arena != nil {
		b.arena.Destroy()
	}
	errs = append(errs, b.dev.Close())
	b.dev = nil
	return errors.Join(errs...)
}

// tensor is a device tensor: an activation or cache buffer (or a view of its
// rows), or a weight split in chunks of whole rows that each fit in one
// storage-buffer binding.
type tensor struct {
	dt    gguf.DType
	shape []int
	buf   *vkrt.Buffer
	off   uint64 // byte offset of a view
	bytes uint64 // bytes of the view

	chunks   []chunk
	rowBytes uint64
	scale    float32 // I2_S
	host     []byte  // raw file bytes, for host-side embedding lookups
}

type chunk struct {
	buf        *vkrt.Buffer
	row0, rows int
}

func (t *tensor) DType() gguf.DType { return t.dt }
func (t *tensor) Shape() []int      { return t.shape }

func asT(op string, x compute.Tensor) *tensor {
	t, ok := x.(*tensor)
	if !ok {
		panic(fmt.Sprintf("gpu.%s: tensor of type %T does not belong to the vulkan backend", op, x))
	}
	return t
}

func elemSize(dt gguf.DType) uint64 {
	if dt == gguf.F16 {
		return 2
	}
	return 4
}

// Alloc returns a zeroed F32 or F16 tensor in device memory.
func (b *Backend) Alloc(dt gguf.DType, shape ...int) (compute.Tensor, error) {
	if dt != gguf.F32 && dt != gguf.F16 {
		panic(fmt.Sprintf("gpu.Alloc: type %s is not an activation or cache type", dt))
	}
	n := uint64(compute.Elements(shape)) * elemSize(dt)
	size := max((n+3)&^3, 16)
	buf, err := b.dev.NewBuffer(size, vkrt.DeviceLocal)
	if err != nil {
		return nil, fmt.Errorf("vulkan: %s tensor %v (%s): %w", dt, shape, vkrt.FormatBytes(size), err)
	}
	b.owned = append(b.owned, buf)
	b.rec.Fill(buf.Out(0, 0), 0)
	return &tensor{dt: dt, shape: append([]int(nil), shape...), buf: buf, bytes: n}, nil
}

// Rows returns a view of rows [row0, row0+n).
func (b *Backend) Rows(x compute.Tensor, row0, n int) compute.Tensor {
	t := asT("Rows", x)
	if t.buf == nil {
		panic("gpu.Rows: views of weights are not supported")
	}
	k, r := compute.RowsOf(t)
	if row0 < 0 || n < 0 || row0+n > r {
		panic(fmt.Sprintf("gpu.Rows: rows [%d, %d) of a tensor with %d rows", row0, row0+n, r))
	}
	es := elemSize(t.dt)
	return &tensor{dt: t.dt, shape: []int{k, n}, buf: t.buf, off: t.off + uint64(row0*k)*es, bytes: uint64(n*k) * es}
}

// Weights uploads a model tensor to device memory in chunks of whole rows.
func (b *Backend) Weights(info gguf.TensorInfo, raw []byte) (compute.Tensor, error) {
	shape := make([]int, len(info.Shape))
	for i, d := range info.Shape {
		shape[i] = int(d)
	}
	k := shape[0]
	rows := compute.Elements(shape) / k
	t := &tensor{dt: info.Type, shape: shape, host: raw}
	var payload uint64
	switch info.Type {
	case gguf.F32:
		t.rowBytes = uint64(k) * 4
	case gguf.F16, gguf.BF16:
		t.rowBytes = uint64(k) * 2
	case gguf.Q8_0:
		t.rowBytes = uint64(k/32) * 34
	case gguf.TQ2_0:
		t.rowBytes = uint64(k/256) * 66
	case gguf.TQ1_0:
		t.rowBytes = uint64(k/256) * 54
	case gguf.I2_S:
		if k%128 != 0 {
			return nil, fmt.Errorf("vulkan: tensor %q: I2_S row length %d is not a multiple of 128", info.Name, k)
		}
		t.rowBytes = uint64(k) / 4
		s, err := gguf.I2SScale(raw, info.Elements())
		if err != nil {
			return nil, fmt.Errorf("vulkan: tensor %q: %w", info.Name, err)
		}
		t.scale = s
	default:
		return nil, fmt.Errorf("vulkan: tensor %q: type %s is not supported", info.Name, info.Type)
	}
	payload = t.rowBytes * uint64(rows)
	if uint64(len(raw)) < payload {
		return nil, fmt.Errorf("vulkan: tensor %q: %d bytes, want %d", info.Name, len(raw), payload)
	}
	if t.rowBytes > b.rng {
		return nil, fmt.Errorf("vulkan: tensor %q: a row of %d bytes exceeds the device's storage buffer range", info.Name, t.rowBytes)
	}
	perChunk := int(min(b.rng/t.rowBytes, 65535))
	for r0 := 0; r0 < rows; r0 += perChunk {
		n := min(perChunk, rows-r0)
		size := (t.rowBytes*uint64(n) + 3) &^ 3
		buf, err := b.dev.NewBuffer(size, vkrt.DeviceLocal)
		if err != nil {
			heap := b.dev.Info.DeviceLocalMemory()
			return nil, fmt.Errorf("vulkan: tensor %q: the model does not fit in device memory (%s of weights loaded, the device has %s): %w",
				info.Name, vkrt.FormatBytes(b.weightBytes), vkrt.FormatBytes(heap), err)
		}
		src := raw[uint64(r0)*t.rowBytes : uint64(r0+n)*t.rowBytes]
		if uint64(len(src)) < size {
			src = append(append([]byte(nil), src...), make([]byte, size-uint64(len(src)))...)
		}
		if err := b.dev.Upload(buf, 0, src); err != nil {
			buf.Destroy()
			return nil, fmt.Errorf("vulkan: tensor %q: upload: %w", info.Name, err)
		}
		b.weightBytes += size
		b.owned = append(b.owned, buf)
		t.chunks = append(t.chunks, chunk{buf: buf, row0: r0, rows: n})
	}
	return t, nil
}

// Flush submits the recorded work and waits for it.
func (b *Backend) Flush() error {
	err := b.rec.Submit()
	b.arenaUsed = 0
	for _, s := range b.retired {
		s.Destroy()
	}
	b.retired = b.retired[:0]
	return err
}

// Write copies float32 values into an F32 tensor (after the work recorded
// so far).
func (b *Backend) Write(dst compute.Tensor, src []float32) error {
	t := asT("Write", dst)
	if t.dt != gguf.F32 || t.buf == nil || uint64(len(src))*4 != t.bytes {
		return fmt.Errorf("gpu.Write: %d values into a %s tensor of shape %v", len(src), t.dt, t.shape)
	}
	if err := b.Flush(); err != nil {
		return err
	}
	raw := make([]byte, 4*len(src))
	for i, v := range src {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return b.dev.Upload(t.buf, t.off, raw)
}

// Read submits the recorded work and copies an F32 or F16 tensor out.
func (b *Backend) Read(src compute.Tensor, dst []float32) error {
	t := asT("Read", src)
	n := compute.Elements(t.shape)
	if t.buf == nil || len(dst) != n {
		return fmt.Errorf("gpu.Read: %d values from a %s tensor of shape %v", len(dst), t.dt, t.shape)
	}
	if err := b.Flush(); err != nil {
		return err
	}
	raw := make([]byte, t.bytes)
	if err := b.dev.Download(t.buf, t.off, raw); err != nil {
		return err
	}
	if t.dt == gguf.F16 {
		for i := range dst {
			dst[i] = gguf.F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return nil
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return nil
}

// bind returns a binding covering bytes [off, off+n) of buf, starting at an
// aligned offset, and the word offset of off within it.
func (b *Backend) bind(buf *vkrt.Buffer, off, n uint64, write bool) (vkrt.Binding, uint32) {
	start := off &^ (b.align - 1)
	size := (off + n - start + 3) &^ 3
	if size > b.rng {
		panic(fmt.Sprintf("gpu: a binding of %d bytes exceeds the device's storage buffer range %d", size, b.rng))
	}
	if write {
		return buf.Out(start, size), uint32((off - start) / 4)
	}
	return buf.In(start, size), uint32((off - start) / 4)
}

// whole binds a one-chunk weight or a whole activation tensor for reading.
func (b *Backend) whole(t *tensor) vkrt.Binding {
	if t.buf != nil {
		bd, o := b.in(t)
		if o != 0 {
			panic("gpu: an unaligned view used as a weight")
		}
		return bd
	}
	if len(t.chunks) != 1 {
		panic(fmt.Sprintf("gpu: weight of %d chunks used whole", len(t.chunks)))
	}
	return t.chunks[0].buf.In(0, 0)
}

func (b *Backend) in(t *tensor) (vkrt.Binding, uint32)  { return b.bind(t.buf, t.off, t.bytes, false) }
func (b *Backend) out(t *tensor) (vkrt.Binding, uint32) { return b.bind(t.buf, t.off, t.bytes, true) }

// scratchBuf returns a device buffer of at least n bytes for role; a
// replaced buffer stays alive until the recorded work using it is submitted.
func (b *Backend) scratchBuf(role string, n uint64) *vkrt.Buffer {
	n = max((n+3)&^3, 16)
	if s := b.scratch[role]; s != nil && s.Size() >= n {
		return s
	}
	if old := b.scratch[role]; old != nil {
		b.retired = append(b.retired, old)
	}
	s, err := b.dev.NewBuffer(max(n, 1<<16), vkrt.DeviceLocal)
	if err != nil {
		panic(fmt.Sprintf("gpu: scratch %s of %d bytes: %v", role, n, err))
	}
	b.scratch[role] = s
	return s
}

// arenaAlloc reserves n bytes of the host-visible arena for this step.
func (b *Backend) arenaAlloc(n uint64) (off uint64) {
	n = (n + b.align - 1) &^ (b.align - 1)
	if n > arenaSize {
		panic(fmt.Sprintf("gpu: %d bytes of per-step input exceed the %d-byte arena", n, arenaSize))
	}
	if b.arenaUsed+n > arenaSize {
		if err := b.Flush(); err != nil {
			panic(fmt.Sprintf("gpu: flush: %v", err))
		}
	}
	off = b.arenaUsed
	b.arenaUsed += n
	return off
}

// arenaPut writes v to the arena and returns its byte offset (aligned).
func (b *Backend) arenaPut(v []float32) uint64 {
	off := b.arenaAlloc(uint64(4 * len(v)))
	m := b.arena.Mapped()
	for i, x := range v {
		binary.LittleEndian.PutUint32(m[off+uint64(4*i):], math.Float32bits(x))
	}
	return off
}

// arenaFloats writes v to the arena and binds it.
func (b *Backend) arenaFloats(v []float32) (vkrt.Binding, uint32) {
	off := b.arenaPut(v)
	return b.bind(b.arena, off, uint64(4*len(v)), false)
}

func groups1D(n int) [3]uint32 {
	g := (n + 63) / 64
	return [3]uint32{uint32(min(max(g, 1), 65535)), 1, 1}
}

func f32bits(f float32) uint32 { return math.Float32bits(f) }
