// Package vk is a minimal binding of the Vulkan compute API through purego
// (no cgo): it loads the Vulkan loader library at run time, resolves entry
// points with vkGetInstanceProcAddr and vkGetDeviceProcAddr, and wraps the
// calls a compute runtime needs with typed Go functions.
//
// Conventions:
//   - Dispatchable handles (Instance, PhysicalDevice, Device, Queue,
//     CommandBuffer) are uintptr; non-dispatchable ones (Buffer, Pipeline, ...)
//     are uint64, never pointers.
//   - VkResult is read as int32(r1) and turned into an *Error by Check.
//   - Struct layouts are generated from the C headers by "go generate"
//     (ztypes.go, LP64: amd64 and arm64). Always use keyed literals: the
//     generated structs carry padding fields. The cgo-only test in layoutcheck
//     compares every size, alignment and field offset against C.
//   - This is the only package of the runtime that uses unsafe and SyscallN.
//
// The validation layer is enabled with BITNET_VK_VALIDATE=1 (or on request);
// its messages go to log/slog and are counted by MessageCount.
package vk

//go:generate go run gen.go
