// Package vkrt is the Vulkan compute runtime under the GPU backend: device
// discovery and selection, device-local and host-visible buffers, uploads and
// downloads through staging memory, compute pipelines built from the embedded
// SPIR-V, and a Recorder that records many dispatches into one command buffer
// (with memory barriers only where dispatches depend on each other) and
// submits them with a single fence wait.
//
// A typical forward step:
//
//	dev, _ := vkrt.Open(vkrt.Options{Device: "auto"})
//	p, _ := dev.Pipeline(vkrt.PipelineConfig{Name: "add", Buffers: 3, PushSize: 16})
//	rec, _ := dev.NewRecorder()
//	rec.Dispatch(p, vkrt.Groups(n, 64), []vkrt.Binding{a.In(0, 0), b.In(0, 0), c.Out(0, 0)}, uint32(n), 0, 0, 0)
//	... hundreds more ...
//	err := rec.Submit() // one vkQueueSubmit, one fence wait
//
// Storage-buffer bindings are sub-ranges (offset, size) of buffers, so one big
// allocation can hold many tensors, and a tensor larger than the device's
// MaxStorageBufferRange (128 MiB on lavapipe) is bound as several ranges.
// Descriptor sets are cached by their bindings: a forward step that binds the
// same ranges every time allocates no descriptors after the first step.
//
// Misuse (a wrong number of bindings, a range beyond the buffer or the
// device's limit, an unaligned offset, too many push-constant bytes) panics;
// device failures are returned as errors, out-of-memory ones matching
// ErrOutOfDeviceMemory.
//
// The runtime is built on amd64 and arm64 (the generated struct layouts are
// LP64) and on the operating systems purego supports.
package vkrt
