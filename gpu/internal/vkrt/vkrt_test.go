//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"bitnet/internal/testdata"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bitnet/gpu/internal/vk"
	"bitnet/shaders"
)

// openTest opens the best device, CPU implementations included, with the
// validation layer when it is installed, and fails the test on any
// validation message.
func openTest(t *testing.T) *Device { return openTestOpts(t, Options{}) }

// openTestOpts is openTest with options (Device and Validate are set).
func openTestOpts(t *testing.T, o Options) *Device {
	t.Helper()
	validate := ValidationAvailable()
	o.Device, o.Validate = "any", validate
	d, err := Open(o)
	if errors.Is(err, ErrLoaderNotFound) || errors.Is(err, ErrNoDevice) {
		testdata.SkipUnlessCI(t, "no Vulkan device: %v", err)
	}
	require.NoError(t, err)
	if !validate {
		t.Logf("validation layer not installed: running without it")
	}
	before := MessageCount()
	t.Cleanup(func() {
		assert.NoError(t, d.Close())
		assert.Equal(t, before, MessageCount(), "validation messages (see the log)")
	})
	return d
}

func randFloats(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesf32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func TestDevices(t *testing.T) {
	infos, err := Devices()
	if errors.Is(err, ErrLoaderNotFound) || errors.Is(err, ErrNoDevice) {
		testdata.SkipUnlessCI(t, "no Vulkan device: %v", err)
	}
	require.NoError(t, err)
	require.NotEmpty(t, infos)
	for i, d := range infos {
		assert.Equal(t, i, d.Index)
		assert.NotEmpty(t, d.Name)
		assert.NotEmpty(t, d.Heaps)
		// Vulkan guarantees a host-visible, coherent memory type; a CPU
		// device's memory is all the host's.
		mapped := false
		for _, h := range d.Heaps {
			mapped = mapped || h.HostMapped
			if d.Type == TypeCPU {
				assert.True(t, h.HostMapped, "heaps %+v", d.Heaps)
			}
		}
		assert.True(t, mapped, "no host-mapped heap: %+v", d.Heaps)
		t.Logf("%d: %s usable=%v %s subgroup=%d limits=%+v features=%+v heaps=%+v",
			d.Index, d, d.Usable, d.Reason, d.SubgroupSize, d.Limits, d.Features, d.Heaps)
		if d.Usable {
			assert.NotZero(t, d.SubgroupSize)
			assert.NotZero(t, d.Limits.MaxStorageBufferRange)
			assert.GreaterOrEqual(t, d.Limits.MaxPushConstantsSize, uint32(128))
			assert.NotZero(t, d.Limits.MaxComputeWorkGroupCount[0])
			// Compute units where the driver has a way to report them
			// (lavapipe has none).
			assert.Equal(t, d.hasSMExt || d.hasCoreExt, d.ComputeUnits > 0, "compute units %d", d.ComputeUnits)
		}
	}
}

// TestInstanceShared lists and opens devices many times, without the
// validation layer, with it and with its synchronization checks: the
// process's three instances serve them all, none is made again
// (NVIDIA's driver stops creating instances after a dozen or so in a
// process).
func TestInstanceShared(t *testing.T) {
	created := func() int {
		instances.Lock()
		defer instances.Unlock()
		return instances.created
	}
	cycle := func() {
		_, err := Devices()
		require.NoError(t, err)
		for _, o := range []Options{{}, {Validate: ValidationAvailable()}, {SyncValidate: ValidationAvailable()}} {
			o.Device = "any"
			d, err := Open(o)
			require.NoError(t, err)
			require.NoError(t, d.Close())
		}
	}
	if _, err := Devices(); errors.Is(err, ErrLoaderNotFound) || errors.Is(err, ErrNoDevice) {
		testdata.SkipUnlessCI(t, "no Vulkan device: %v", err)
	}
	cycle()
	before := created()
	assert.LessOrEqual(t, before, 3)
	for range 20 {
		cycle()
	}
	assert.Equal(t, before, created(), "instances made again")
}

func TestSelect(t *testing.T) {
	dev := func(i int, typ DeviceType, usable bool) DeviceInfo {
		return DeviceInfo{Index: i, Name: fmt.Sprintf("dev%d", i), Type: typ, Usable: usable, Reason: "test"}
	}
	cases := []struct {
		name  string
		infos []DeviceInfo
		sel   string
		want  int
		err   bool
	}{
		{"discrete first", []DeviceInfo{dev(0, TypeCPU, true), dev(1, TypeIntegrated, true), dev(2, TypeDiscrete, true)}, "auto", 2, false},
		{"integrated over virtual", []DeviceInfo{dev(0, TypeVirtual, true), dev(1, TypeIntegrated, true)}, "", 1, false},
		{"virtual over cpu", []DeviceInfo{dev(0, TypeCPU, true), dev(1, TypeVirtual, true)}, "any", 1, false},
		{"auto never cpu", []DeviceInfo{dev(0, TypeCPU, true)}, "auto", 0, true},
		{"any takes cpu", []DeviceInfo{dev(0, TypeCPU, true)}, "any", 0, false},
		{"unusable skipped", []DeviceInfo{dev(0, TypeDiscrete, false), dev(1, TypeIntegrated, true)}, "auto", 1, false},
		{"first of a type", []DeviceInfo{dev(0, TypeDiscrete, true), dev(1, TypeDiscrete, true)}, "auto", 0, false},
		{"index", []DeviceInfo{dev(0, TypeDiscrete, true), dev(1, TypeCPU, true)}, "1", 1, false},
		{"index out of range", []DeviceInfo{dev(0, TypeDiscrete, true)}, "3", 0, true},
		{"index unusable", []DeviceInfo{dev(0, TypeDiscrete, false)}, "0", 0, true},
		{"bad selection", []DeviceInfo{dev(0, TypeDiscrete, true)}, "gpu", 0, true},
		{"none usable", []DeviceInfo{dev(0, TypeDiscrete, false)}, "any", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Select(c.infos, c.sel)
			if c.err {
				require.Error(t, err)
				t.Log(err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// TestSelectEnv: BITNET_VK_DEVICE selects where the selection leaves the
// choice open ("", "auto", "any"), a CPU implementation too, and an
// explicit index overrides it; its errors name the variable.
func TestSelectEnv(t *testing.T) {
	infos := []DeviceInfo{{Index: 0, Name: "gpu", Type: TypeDiscrete, Usable: true}, {Index: 1, Name: "cpu", Type: TypeCPU, Usable: true}}
	t.Setenv(DeviceEnv, "1")
	for _, sel := range []string{"", "auto", "any"} {
		got, err := SelectEnv(infos, sel)
		require.NoError(t, err, sel)
		assert.Equal(t, 1, got, "selection %q", sel)
	}
	got, err := SelectEnv(infos, "0")
	require.NoError(t, err)
	assert.Equal(t, 0, got, "an explicit index")
	t.Setenv(DeviceEnv, "5")
	_, err = SelectEnv(infos, "auto")
	require.ErrorIs(t, err, ErrNoDevice)
	assert.Contains(t, err.Error(), "BITNET_VK_DEVICE=5")
	t.Setenv(DeviceEnv, "")
	got, err = SelectEnv(infos, "auto")
	require.NoError(t, err)
	assert.Equal(t, 0, got, "unset")
}

func TestAddF32(t *testing.T) {
	d := openTest(t)
	p, err := d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
	require.NoError(t, err)
	defer p.Destroy()
	rec, err := d.NewRecorder()
	require.NoError(t, err)
	defer rec.Destroy()

	for _, n := range []int{1, 7, 33, 127, 4096, 100_003} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			seed := uint64(n)
			r := rand.New(rand.NewPCG(seed, 1))
			a, b := randFloats(r, n), randFloats(r, n)
			size := uint64(4 * n)
			ba, err := d.NewBuffer(size, DeviceLocal)
			require.NoError(t, err)
			defer ba.Destroy()
			bb, err := d.NewBuffer(size, DeviceLocal)
			require.NoError(t, err)
			defer bb.Destroy()
			bc, err := d.NewBuffer(size+16, DeviceLocal) // guard words after c
			require.NoError(t, err)
			defer bc.Destroy()
			require.NoError(t, d.Upload(ba, 0, f32bytes(a)))
			require.NoError(t, d.Upload(bb, 0, f32bytes(b)))

			nan := math.Float32bits(float32(math.NaN()))
			rec.Fill(bc.Out(0, 0), nan)
			rec.Dispatch(p, Groups(uint32(n), 64), []Binding{ba.In(0, size), bb.In(0, size), bc.Out(0, size)}, uint32(n), 0, 0, 0)
			require.NoError(t, rec.Submit())

			out := make([]byte, size+16)
			require.NoError(t, d.Download(bc, 0, out))
			c := bytesf32(out)
			for i := range n {
				if c[i] != a[i]+b[i] {
					t.Fatalf("seed %d: c[%d] = %v, want %v", seed, i, c[i], a[i]+b[i])
				}
			}
			for i := n; i < len(c); i++ {
				require.True(t, math.IsNaN(float64(c[i])), "guard word %d overwritten", i-n)
			}
		})
	}
}

// TestRecorderChain records many dependent and independent dispatches on
// sub-ranges of one buffer, submits once, and checks the result and the
// barriers placed; a second step with the same bindings reuses the cached
// descriptor sets.
func TestRecorderChain(t *testing.T) {
	d := openTest(t)
	p, err := d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
	require.NoError(t, err)
	defer p.Destroy()
	rec, err := d.NewRecorder()
	require.NoError(t, err)
	defer rec.Destroy()

	const n = 1000
	align := max(d.Info.Limits.MinStorageBufferOffsetAlignment, 4)
	stride := (uint64(4*n) + align - 1) / align * align
	const slots = 8
	big, err := d.NewBuffer(stride*slots, DeviceLocal)
	require.NoError(t, err)
	defer big.Destroy()
	slot := func(i int) (uint64, uint64) { return uint64(i) * stride, 4 * n }

	r := rand.New(rand.NewPCG(7, 7))
	x := randFloats(r, n)
	one := make([]float32, n)
	for i := range one {
		one[i] = 1
	}
	off0, _ := slot(0)
	off1, _ := slot(1)
	require.NoError(t, d.Upload(big, off0, f32bytes(x)))
	require.NoError(t, d.Upload(big, off1, f32bytes(one)))

	const steps = 200
	for step := range 2 {
		// slot 2 = x + 1; then slot 2 += 1 (ping-pong via slot 3) steps times.
		// Independent: slot 4 = x + x, slot 5 = 1 + 1 (no barrier between them).
		o2, s := slot(2)
		o3, _ := slot(3)
		o4, _ := slot(4)
		o5, _ := slot(5)
		rec.Dispatch(p, Groups(n, 64), []Binding{big.In(off0, s), big.In(off1, s), big.Out(o2, s)}, n, 0, 0, 0)
		src, dst := o2, o3
		for range steps {
			rec.Dispatch(p, Groups(n, 64), []Binding{big.In(src, s), big.In(off1, s), big.Out(dst, s)}, n, 0, 0, 0)
			src, dst = dst, src
		}
		barriers := rec.Barriers()
		rec.Dispatch(p, Groups(n, 64), []Binding{big.In(off0, s), big.In(off0, s), big.Out(o4, s)}, n, 0, 0, 0)
		rec.Dispatch(p, Groups(n, 64), []Binding{big.In(off1, s), big.In(off1, s), big.Out(o5, s)}, n, 0, 0, 0)
		assert.Equal(t, steps, barriers, "one barrier per dependent dispatch")
		assert.Equal(t, barriers, rec.Barriers(), "no barrier between independent dispatches")
		assert.Equal(t, steps+3, rec.Pending())
		cached := len(d.sets.sets)
		require.NoError(t, rec.Submit())

		out := make([]byte, 4*n)
		require.NoError(t, d.Download(big, src, out))
		got := bytesf32(out)
		want := make([]float32, n)
		for i := range want {
			v := x[i] + 1
			for range steps {
				v += 1
			}
			want[i] = v
		}
		require.Equal(t, want, got, "step %d", step)
		require.NoError(t, d.Download(big, o4, out))
		for i, v := range bytesf32(out) {
			require.Equal(t, x[i]+x[i], v)
		}
		if step == 1 {
			assert.Equal(t, cached, len(d.sets.sets), "second step allocates no descriptor sets")
		}
	}
}

func TestHostVisibleAndCopy(t *testing.T) {
	d := openTest(t)
	p, err := d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
	require.NoError(t, err)
	defer p.Destroy()
	rec, err := d.NewRecorder()
	require.NoError(t, err)
	defer rec.Destroy()

	const n = 36 // 4n bytes: a multiple of every device's storage offset alignment up to 16
	hv, err := d.NewBuffer(3*4*n, HostVisible)
	require.NoError(t, err)
	defer hv.Destroy()
	dl, err := d.NewBuffer(4*n, DeviceLocal)
	require.NoError(t, err)
	defer dl.Destroy()
	require.Equal(t, HostVisible, hv.Memory())
	require.Len(t, hv.Mapped(), 3*4*n)

	r := rand.New(rand.NewPCG(3, 3))
	a, b := randFloats(r, n), randFloats(r, n)
	copy(hv.Mapped(), f32bytes(a))
	copy(hv.Mapped()[4*n:], f32bytes(b))
	// dl = a + b on the device, then copied back into the third slot of hv.
	rec.Dispatch(p, Groups(n, 64), []Binding{hv.In(0, 4*n), hv.In(4*n, 4*n), dl.Out(0, 0)}, n, 0, 0, 0)
	rec.Copy(hv.Out(8*n, 4*n), dl.In(0, 0))
	require.NoError(t, rec.Submit())
	got := bytesf32(hv.Mapped()[8*n:])
	for i := range n {
		require.Equal(t, a[i]+b[i], got[i])
	}
}

func TestOutOfDeviceMemory(t *testing.T) {
	d := openTest(t)
	_, err := d.NewBuffer(1<<52, DeviceLocal)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrOutOfDeviceMemory)
	t.Log(err)
}

func TestMisusePanics(t *testing.T) {
	d := openTest(t)
	p, err := d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
	require.NoError(t, err)
	defer p.Destroy()
	rec, err := d.NewRecorder()
	require.NoError(t, err)
	defer rec.Destroy()
	buf, err := d.NewBuffer(1024, DeviceLocal)
	require.NoError(t, err)
	defer buf.Destroy()
	g := Groups(1, 64)
	assert.PanicsWithValue(t, "vkrt: add: 2 bindings, the pipeline has 3", func() {
		rec.Dispatch(p, g, []Binding{buf.In(0, 0), buf.Out(0, 0)}, 1, 0, 0, 0)
	})
	assert.Panics(t, func() { rec.Dispatch(p, g, []Binding{buf.In(0, 0), buf.In(0, 0), buf.Out(1000, 100)}, 1, 0, 0, 0) })
	assert.Panics(t, func() { rec.Dispatch(p, g, []Binding{buf.In(0, 0), buf.In(0, 0), buf.Out(0, 0)}, 1, 2, 3, 4, 5) })
	assert.Panics(t, func() {
		rec.Dispatch(p, [3]uint32{0, 1, 1}, []Binding{buf.In(0, 0), buf.In(0, 0), buf.Out(0, 0)}, 1, 0, 0, 0)
	})
	if a := d.Info.Limits.MinStorageBufferOffsetAlignment; a > 1 {
		assert.Panics(t, func() { rec.Dispatch(p, g, []Binding{buf.In(a/2, 4), buf.In(0, 0), buf.Out(0, 0)}, 1, 0, 0, 0) })
	}
	_, err = d.Pipeline(PipelineConfig{Name: "no_such_kernel", Buffers: 1})
	assert.ErrorContains(t, err, "no kernel")
	_, err = d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 6})
	assert.Error(t, err)
	require.NoError(t, rec.Submit())
}

// TestValidationCatchesMisuse checks that the validation layer is really on
// and its messages reach the counter: a pipeline whose layout lacks the
// shader's push-constant block is invalid.
func TestValidationCatchesMisuse(t *testing.T) {
	if !ValidationAvailable() {
		testdata.SkipUnlessCI(t, "validation layer not installed")
	}
	d, err := Open(Options{Device: "any", Validate: true})
	if errors.Is(err, ErrLoaderNotFound) || errors.Is(err, ErrNoDevice) {
		testdata.SkipUnlessCI(t, "no Vulkan device: %v", err)
	}
	require.NoError(t, err)
	defer d.Close()
	before := MessageCount()
	p, err := d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 0})
	if err == nil {
		p.Destroy()
	}
	assert.Greater(t, MessageCount(), before, "the validation layer reported nothing")
}

// TestSyncValidation: a dispatch that reads the first half of a buffer
// and one that then writes its second half, each binding it whole, need no
// barrier between them (the recorder places none), but the synchronization
// checks, which take a binding as touched whole, report them: with
// SyncValidate they are on, with Validate alone they are not.
func TestSyncValidation(t *testing.T) {
	if !ValidationAvailable() {
		testdata.SkipUnlessCI(t, "validation layer not installed")
	}
	for _, sync := range []bool{false, true} {
		d, err := Open(Options{Device: "any", Validate: true, SyncValidate: sync})
		if errors.Is(err, ErrLoaderNotFound) || errors.Is(err, ErrNoDevice) {
			testdata.SkipUnlessCI(t, "no Vulkan device: %v", err)
		}
		require.NoError(t, err)
		p, err := d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
		require.NoError(t, err)
		rec, err := d.NewRecorder()
		require.NoError(t, err)
		var bufs [3]*Buffer
		for i := range bufs {
			bufs[i], err = d.NewBuffer(256, DeviceLocal)
			require.NoError(t, err)
		}
		x, a, c := bufs[0], bufs[1], bufs[2]
		before := MessageCount()
		in := x.In(0, 0)
		in.AccessOffset, in.AccessSize = 0, 128
		rec.Dispatch(p, Groups(32, 64), []Binding{in, a.In(0, 0), c.Out(0, 0)}, 32, 0, 0, 0)
		out := x.Out(0, 0)
		out.AccessOffset, out.AccessSize = 128, 128
		rec.Dispatch(p, Groups(32, 64), []Binding{a.In(0, 0), a.In(0, 0), out}, 32, 0, 0, 32)
		barriers := rec.Barriers()
		require.NoError(t, rec.Submit())
		reported := MessageCount() - before
		for _, b := range bufs {
			b.Destroy()
		}
		rec.Destroy()
		p.Destroy()
		require.NoError(t, d.Close())
		assert.Zero(t, barriers, "barriers between the two dispatches")
		if sync {
			assert.Positive(t, reported, "the synchronization checks reported nothing")
		} else {
			assert.Zero(t, reported, "messages without the synchronization checks")
		}
	}
}

// TestShaderModules loads every embedded kernel on the device: with the
// validation layer on, a kernel that uses a capability whose feature the
// runtime did not enable (int8, fp16, 8/16-bit storage, cooperative
// matrices) is reported. The cooperative-matrix kernel loads only where
// the device has them (make test-coopmat runs this test on such a device,
// with BITNET_EXPECT_COOPMAT=1).
func TestShaderModules(t *testing.T) {
	// A validation layer older than VK_KHR_cooperative_matrix reports its
	// structs and shaders: then the extension stays off.
	coop := !ValidationAvailable() || ValidationKnowsCoopMat()
	d := openTestOpts(t, Options{CooperativeMatrix: coop})
	if os.Getenv("BITNET_EXPECT_COOPMAT") == "1" && !d.Info.Features.CooperativeMatrixInt8 {
		t.Fatalf("%s: no int8 cooperative matrices (validation layer knows them: %v)", d.Info, ValidationKnowsCoopMat())
	}
	for _, name := range shaders.Names() {
		t.Run(name, func(t *testing.T) {
			code, err := shaders.SPIRV(name)
			require.NoError(t, err)
			if shaders.UsesCoopMat(code) && !d.Info.Features.CooperativeMatrixInt8 {
				t.Skipf("%s: no int8 cooperative matrices enabled", d.Info)
			}
			before := MessageCount()
			m, err := d.vk.CreateShaderModule(code)
			require.NoError(t, err)
			d.vk.DestroyShaderModule(m)
			assert.Equal(t, before, MessageCount(), "validation messages for %s", name)
		})
	}
}

// TestRequiredSubgroupSize: on a device that lets pipelines require a
// subgroup size (lavapipe does, so CI expects it), a pipeline whose
// workgroup fits the subgroups the device allows requires the device's
// subgroup size (add: 64 invocations; TestAddF32 then runs it, and the
// validation layer checks the request), and where the largest workgroup
// does not fit, a pipeline of that size does not require it.
func TestRequiredSubgroupSize(t *testing.T) {
	d := openTest(t)
	if !d.Info.Features.SubgroupSizeControl {
		testdata.SkipUnlessCI(t, "%s: no subgroup size control", d.Info)
	}
	sg := d.Info.SubgroupSize
	p, err := d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
	require.NoError(t, err)
	defer p.Destroy()
	assert.Equal(t, sg, p.RequiredSubgroupSize(), "add, 64 invocations")
	most := d.Info.Limits.MaxComputeWorkGroupInvocations
	if uint64(d.Info.maxSubgroups)*uint64(sg) >= uint64(most) {
		t.Logf("%s: workgroups of up to %d invocations, all of them in %d subgroups of %d", d.Info, most, d.Info.maxSubgroups, sg)
		return
	}
	big, err := d.Pipeline(PipelineConfig{Name: "rmsnorm", Buffers: 4, PushSize: 24, Spec: []uint32{most}})
	require.NoError(t, err)
	defer big.Destroy()
	assert.Zero(t, big.RequiredSubgroupSize(), "rmsnorm, %d invocations, more than %d subgroups of %d", most, d.Info.maxSubgroups, sg)
}

// TestSubgroupEnv: BITNET_VK_SUBGROUP_SIZE on described devices (no
// device needed): unset, the default width; 0, no required size; a power
// of two in the device's range, that width, required; outside the range,
// on a device that cannot require one, or not a power of two, an error
// that names the variable, the device unchanged.
func TestSubgroupEnv(t *testing.T) {
	amd := DeviceInfo{Name: "amd", SubgroupSize: 64, SubgroupSizes: [2]uint32{32, 64}, Features: Features{SubgroupSizeControl: true}}
	fixed := DeviceInfo{Name: "fixed", SubgroupSize: 32}
	for _, c := range []struct {
		env     string
		in      DeviceInfo
		sg      uint32
		control bool
		err     string
	}{
		{"", amd, 64, true, ""},
		{"0", amd, 64, false, ""},
		{"32", amd, 32, true, ""},
		{"64", amd, 64, true, ""},
		{"16", amd, 0, false, "BITNET_VK_SUBGROUP_SIZE=16: amd runs compute shaders in subgroups of 32 to 64"},
		{"128", amd, 0, false, "subgroups of 32 to 64"},
		{"48", amd, 0, false, "BITNET_VK_SUBGROUP_SIZE=48: want 0 or a power of two"},
		{"wide", amd, 0, false, "want 0 or a power of two"},
		{"00", amd, 0, false, "want 0 or a power of two"},
		{"32", fixed, 32, false, ""},
		{"16", fixed, 0, false, "BITNET_VK_SUBGROUP_SIZE=16: fixed cannot require a subgroup size (its compute shaders run in subgroups of 32)"},
	} {
		t.Setenv(SubgroupSizeEnv, c.env)
		info := c.in
		err := SubgroupEnv(&info)
		if c.err != "" {
			require.Error(t, err, "%s=%q on %s", SubgroupSizeEnv, c.env, c.in.Name)
			assert.Contains(t, err.Error(), c.err)
			assert.Equal(t, c.in, info, "the device is unchanged after an error")
			continue
		}
		require.NoError(t, err, "%s=%q on %s", SubgroupSizeEnv, c.env, c.in.Name)
		assert.Equal(t, c.sg, info.SubgroupSize, "%s=%q on %s", SubgroupSizeEnv, c.env, c.in.Name)
		assert.Equal(t, c.control, info.Features.SubgroupSizeControl, "%s=%q on %s", SubgroupSizeEnv, c.env, c.in.Name)
	}
}

// TestSubgroupSizeEnv: on the test device, BITNET_VK_SUBGROUP_SIZE=0 leaves
// the subgroup size to the compiler, the device's default width set
// explicitly is what the pipelines require by default, and a width the
// device does not run fails Open, naming the variable.
func TestSubgroupSizeEnv(t *testing.T) {
	t.Setenv(SubgroupSizeEnv, "0")
	d := openTest(t)
	assert.False(t, d.Info.Features.SubgroupSizeControl)
	p, err := d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
	require.NoError(t, err)
	defer p.Destroy()
	assert.Zero(t, p.RequiredSubgroupSize())

	sg := d.Info.SubgroupSize
	t.Setenv(SubgroupSizeEnv, fmt.Sprint(sg))
	e := openTest(t)
	assert.Equal(t, sg, e.Info.SubgroupSize)
	if e.Info.Features.SubgroupSizeControl {
		q, err := e.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
		require.NoError(t, err)
		defer q.Destroy()
		assert.Equal(t, sg, q.RequiredSubgroupSize())
	}

	wide := 2 * max(e.Info.SubgroupSize, e.Info.SubgroupSizes[1])
	t.Setenv(SubgroupSizeEnv, fmt.Sprint(wide))
	_, err = Open(Options{Device: "any"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("%s=%d", SubgroupSizeEnv, wide))
}

// BenchmarkDispatch measures recording one dispatch with cached descriptor
// sets (the per-op host cost of a forward step).
func BenchmarkDispatch(b *testing.B) {
	d, err := Open(Options{Device: "any"})
	if err != nil {
		b.Skipf("no Vulkan device: %v", err)
	}
	defer d.Close()
	p, err := d.Pipeline(PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Destroy()
	rec, err := d.NewRecorder()
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Destroy()
	buf, err := d.NewBuffer(3*256, DeviceLocal)
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Destroy()
	bind := []Binding{buf.In(0, 256), buf.In(256, 256), buf.Out(512, 256)}
	n := 0
	for b.Loop() {
		rec.Dispatch(p, Groups(64, 64), bind, 64, 0, 0, 0)
		if n++; n == 1000 {
			b.StopTimer()
			if err := rec.Submit(); err != nil {
				b.Fatal(err)
			}
			n = 0
			b.StartTimer()
		}
	}
	b.StopTimer()
	if err := rec.Submit(); err != nil {
		b.Fatal(err)
	}
}

// TestCopyBandwidth: the copy kernel moves the bytes (the destination holds
// the source afterwards) and the timed rate is positive and finite.
func TestCopyBandwidth(t *testing.T) {
	d := openTest(t)
	bw, err := d.CopyBandwidth(8<<20, 2)
	require.NoError(t, err)
	assert.True(t, bw > 0 && !math.IsInf(bw, 0), "bandwidth %v", bw)
	// The kernel itself: 1,000 words (not a multiple of the workgroup).
	p, err := d.Pipeline(PipelineConfig{Name: "copy", Buffers: 2, PushSize: 4})
	require.NoError(t, err)
	defer p.Destroy()
	src, err := d.NewBuffer(16*1000, Shared)
	require.NoError(t, err)
	defer src.Destroy()
	dst, err := d.NewBuffer(16*1001, Shared)
	require.NoError(t, err)
	defer dst.Destroy()
	for i := range src.Mapped() {
		src.Mapped()[i] = byte(i*7 + 1)
	}
	clear(dst.Mapped())
	r, err := d.NewRecorder()
	require.NoError(t, err)
	defer r.Destroy()
	r.Dispatch(p, [3]uint32{2, 1, 1}, []Binding{src.In(0, 0), dst.Out(0, 0)}, 1000)
	require.NoError(t, r.Submit())
	assert.Equal(t, src.Mapped(), dst.Mapped()[:16*1000])
	assert.Equal(t, make([]byte, 16), dst.Mapped()[16*1000:], "the word past the copy was written")
}

func TestCoopShape(t *testing.T) {
	p := func(m, n, k, a, c, scope uint32) vk.CooperativeMatrixPropertiesKHR {
		return vk.CooperativeMatrixPropertiesKHR{MSize: m, NSize: n, KSize: k, AType: a, BType: a, CType: c, ResultType: c, Scope: scope}
	}
	const i8, i32, f16, sg = vk.ComponentTypeSint8KHR, vk.ComponentTypeSint32KHR, vk.ComponentTypeFloat16KHR, vk.ScopeSubgroupKHR
	// lavapipe: 8x8x8 only.
	s, ok := coopShape([]vk.CooperativeMatrixPropertiesKHR{p(8, 8, 8, f16, f16, sg), p(8, 8, 8, i8, i32, sg)})
	assert.True(t, ok)
	assert.Equal(t, [3]uint32{8, 8, 8}, s)
	// The largest usable int8 shape wins; others are ignored.
	s, ok = coopShape([]vk.CooperativeMatrixPropertiesKHR{
		p(16, 8, 32, i8, i32, sg), p(16, 16, 32, i8, i32, sg), p(16, 16, 16, f16, f16, sg),
		p(64, 16, 32, i8, i32, sg), p(16, 16, 48, i8, i32, sg), p(32, 32, 32, i8, i32, 2),
	})
	assert.True(t, ok)
	assert.Equal(t, [3]uint32{16, 16, 32}, s)
	sat := p(16, 16, 32, i8, i32, sg)
	sat.SaturatingAccumulation = 1
	_, ok = coopShape([]vk.CooperativeMatrixPropertiesKHR{sat, p(16, 16, 16, f16, f16, sg)})
	assert.False(t, ok)
}

// TestCoopMatOnlyWhenAsked: a device opened without
// Options.CooperativeMatrix has the extension and the Vulkan memory model
// off, whatever it offers (make test-coopmat runs this where it offers
// them).
func TestCoopMatOnlyWhenAsked(t *testing.T) {
	d := openTest(t)
	assert.False(t, d.Info.Features.CooperativeMatrixInt8)
	assert.False(t, d.Info.Features.VulkanMemoryModel)
}

// TestDispatchLatency: a chain of dependent dispatches takes a positive,
// finite time per dispatch, below a millisecond even on a CPU driver, and a
// chain of none is refused.
func TestDispatchLatency(t *testing.T) {
	d := openTest(t)
	for _, words := range []uint32{0, 1} {
		s, err := d.DispatchLatency(64, words)
		require.NoError(t, err)
		assert.True(t, s > 0 && s < 1e-3, "%d words: %v s per dispatch", words, s)
	}
	_, err := d.DispatchLatency(0, 1)
	assert.Error(t, err)
}

// TestChainLatency: a chain of dispatches that wait on each other's
// counters (no barriers) takes a positive, finite time per dispatch with
// one barrier per chain (after the fill that zeroes its counters), no wait
// gives up or finds a miscounted chain (on
// lavapipe, which runs one dispatch after the other, none waits at all),
// and chains of none or of more dispatches than counters are refused.
func TestChainLatency(t *testing.T) {
	d := openTest(t)
	barriers := d.Stats().Barriers
	for _, words := range []uint32{0, 1} {
		s, err := d.ChainLatency(64, words)
		require.NoError(t, err)
		assert.True(t, s > 0 && s < 1e-3, "%d words: %v s per dispatch", words, s)
	}
	// Per chain: the barrier after the fill that starts it, none between
	// its dispatches.
	assert.Equal(t, uint64(2), d.Stats().Barriers-barriers, "barriers of two chains of 64 dispatches")
	f, err := d.ChainFlags()
	require.NoError(t, err)
	if d.Info.Type == TypeCPU {
		assert.Zero(t, f, "chain flags on a CPU driver")
	} else {
		assert.Zero(t, f&(ChainTimedOut|ChainOvercount), "chain flags")
	}
	for _, n := range []int{0, ChainSlots} {
		_, err := d.ChainLatency(n, 1)
		assert.Error(t, err, "a chain of %d", n)
	}
}

// TestChainOrdersOutsideWrites: a chained dispatch that waits on the one
// before it is ordered after its chain only, so one that reads what a
// command recorded before its chain began wrote (with no barrier since)
// gets a barrier instead of the wait; one that conflicts with nothing
// outside its chain does not.
func TestChainOrdersOutsideWrites(t *testing.T) {
	d := openTest(t)
	plain, err := d.Pipeline(PipelineConfig{Name: "copy", Buffers: 2, PushSize: 4})
	require.NoError(t, err)
	defer plain.Destroy()
	chained, err := d.Pipeline(PipelineConfig{Name: "copy_chain", Buffers: 3, PushSize: 4 * (1 + ChainPushWords), Chained: true})
	require.NoError(t, err)
	defer chained.Destroy()
	const n = 4096
	bufs := make([]*Buffer, 5)
	for i := range bufs {
		bufs[i], err = d.NewBuffer(n, DeviceLocal)
		require.NoError(t, err)
		defer bufs[i].Destroy()
	}
	a, b, c, z, e := bufs[0], bufs[1], bufs[2], bufs[3], bufs[4]
	src := make([]byte, n)
	for i := range src {
		src[i] = byte(i * 7)
	}
	require.NoError(t, d.Upload(a, 0, src))
	rec, err := d.NewRecorder()
	require.NoError(t, err)
	defer rec.Destroy()
	words := uint32(n / 16)
	g := Groups(words, 256)
	rec.Dispatch(chained, g, []Binding{a.In(0, 0), b.Out(0, 0)}, words) // starts a chain
	b0 := rec.Barriers()
	rec.Dispatch(plain, g, []Binding{a.In(0, 0), z.Out(0, 0)}, words)   // outside any chain, no conflict
	rec.Dispatch(chained, g, []Binding{a.In(0, 0), c.Out(0, 0)}, words) // a new chain, no conflict
	require.Equal(t, b0, rec.Barriers(), "barriers before the dispatch that reads z")
	rec.Dispatch(chained, g, []Binding{c.In(0, 0), e.Out(0, 0)}, words) // conflicts with its chain only: waits
	require.Equal(t, b0, rec.Barriers(), "a barrier where the wait orders the dispatch")
	rec.Dispatch(chained, g, []Binding{z.In(0, 0), e.Out(0, 0)}, words) // reads z, written outside the chain
	require.Equal(t, b0+1, rec.Barriers(), "no barrier before the dispatch that reads z")
	require.NoError(t, rec.Submit())
	out := make([]byte, n)
	require.NoError(t, d.Download(e, 0, out))
	require.Equal(t, src, out)
	f, err := d.ChainFlags()
	require.NoError(t, err)
	assert.Zero(t, f&(ChainTimedOut|ChainOvercount), "chain flags")
}

// TestClockRate: the device clock the probes read runs at a measurable
// rate; lavapipe's counts nanoseconds (the dispatch's overhead makes the
// measured rate a little low).
func TestClockRate(t *testing.T) {
	d := openTest(t)
	if !d.Info.Features.ShaderDeviceClock {
		testdata.SkipUnlessCI(t, "%s: no device clock", d.Info.Name)
	}
	rate, err := d.ClockRate()
	require.NoError(t, err)
	t.Logf("%s: %.4f ticks per ns", d.Info.Name, rate)
	assert.True(t, rate > 0.001 && rate < 100, "%v ticks per ns", rate)
	if d.Info.Type == TypeCPU {
		assert.InDelta(t, 1, rate, 0.05, "ticks per ns of a CPU driver's clock")
	}
}

func TestComputeUnits(t *testing.T) {
	sm := &vk.PhysicalDeviceShaderSMBuiltinsPropertiesNV{ShaderSMCount: 132, ShaderWarpsPerSM: 64}
	core := &vk.PhysicalDeviceShaderCorePropertiesAMD{ShaderEngineCount: 4, ShaderArraysPerEngineCount: 2, ComputeUnitsPerShaderArray: 12}
	u, w := computeUnits(sm, core, true, false)
	assert.Equal(t, [2]uint32{132, 64}, [2]uint32{u, w}, "NVIDIA: SMs and warps per SM")
	u, w = computeUnits(sm, core, false, true)
	assert.Equal(t, [2]uint32{96, 0}, [2]uint32{u, w}, "AMD: engines x arrays x CUs per array")
	u, w = computeUnits(sm, core, false, false)
	assert.Equal(t, [2]uint32{0, 0}, [2]uint32{u, w}, "neither extension: unknown")
	// A struct the driver left unfilled reports nothing.
	u, _ = computeUnits(&vk.PhysicalDeviceShaderSMBuiltinsPropertiesNV{}, &vk.PhysicalDeviceShaderCorePropertiesAMD{}, true, true)
	assert.Zero(t, u)
}

// TestArena: buffers of an arena share its blocks, each holding its own
// bytes (uploads and a kernel's copy between two of them do not touch
// the others); blocks grow with what the arena holds, a buffer larger
// than the largest block gets one of its own, and a block is freed with
// its last buffer.
func TestArena(t *testing.T) {
	d := openTest(t)
	a := d.NewArena(4 << 20)
	var small []*Buffer
	for i := range 5 {
		b, err := a.NewBuffer(100<<10 + uint64(i))
		require.NoError(t, err)
		small = append(small, b)
	}
	assert.Equal(t, 1, a.Blocks(), "five buffers of 100 KiB in the first block of 2 MiB")
	for i, b := range small {
		data := make([]byte, b.Size())
		for j := range data {
			data[j] = byte(i*31 + j)
		}
		require.NoError(t, d.Upload(b, 0, data))
	}
	mid, err := a.NewBuffer(3 << 20)
	require.NoError(t, err)
	assert.Equal(t, 2, a.Blocks(), "3 MiB do not fit in the first block")
	big, err := a.NewBuffer(10 << 20)
	require.NoError(t, err)
	assert.Equal(t, 3, a.Blocks(), "a buffer above the largest block has its own")
	// The copy kernel from buffer 1 into buffer 3 (same block).
	p, err := d.Pipeline(PipelineConfig{Name: "copy", Buffers: 2, PushSize: 4})
	require.NoError(t, err)
	defer p.Destroy()
	r, err := d.NewRecorder()
	require.NoError(t, err)
	defer r.Destroy()
	r.Dispatch(p, [3]uint32{1, 1, 1}, []Binding{small[1].In(0, 0), small[3].Out(0, 0)}, uint32(small[1].Size()/16))
	require.NoError(t, r.Submit())
	for i, b := range small {
		got := make([]byte, b.Size())
		require.NoError(t, d.Download(b, 0, got))
		src := i
		if i == 3 {
			src = 1
		}
		for j := range got {
			if j < int(small[1].Size()/16*16) || i != 3 {
				if want := byte(src*31 + j); got[j] != want {
					t.Fatalf("buffer %d byte %d: %d, want %d", i, j, got[j], want)
				}
			}
		}
	}
	for _, b := range small {
		b.Destroy()
	}
	assert.Equal(t, 2, a.Blocks(), "the first block freed with its last buffer")
	mid.Destroy()
	big.Destroy()
	assert.Equal(t, 0, a.Blocks())
	// The arena goes on after its blocks are gone.
	b, err := a.NewBuffer(64)
	require.NoError(t, err)
	assert.Equal(t, 1, a.Blocks())
	b.Destroy()
}

// TestPipelineStatistics: a device opened with Options.PipelineStatistics
// reports, for a pipeline it builds, what the driver compiled it into
// where it has VK_KHR_pipeline_executable_properties (NVIDIA's drivers;
// not lavapipe, whose pipelines then say they keep none), and one opened
// without says it keeps none.
func TestPipelineStatistics(t *testing.T) {
	d := openTestOpts(t, Options{PipelineStatistics: true})
	p, err := d.Pipeline(PipelineConfig{Name: "copy", Buffers: 2, PushSize: 4})
	require.NoError(t, err)
	defer p.Destroy()
	stats, err := p.Statistics()
	if d.Info.Features.PipelineStatistics {
		require.NoError(t, err)
		require.NotEmpty(t, stats)
		for _, s := range stats {
			assert.NotEmpty(t, s.Name, "%+v", s)
			assert.False(t, math.IsNaN(s.Value) || math.IsInf(s.Value, 0), "%+v", s)
			t.Logf("%s: %s = %v (%s)", s.Executable, s.Name, s.Value, s.Description)
		}
	} else {
		t.Logf("%s has no pipeline statistics", d.Info.Name)
		assert.ErrorContains(t, err, "no statistics")
	}

	plain := openTest(t)
	assert.False(t, plain.Info.Features.PipelineStatistics)
	q, err := plain.Pipeline(PipelineConfig{Name: "copy", Buffers: 2, PushSize: 4})
	require.NoError(t, err)
	defer q.Destroy()
	_, err = q.Statistics()
	assert.ErrorContains(t, err, "no statistics")
}
