//go:build amd64 || arm64

package vk

import (
	"errors"
	"fmt"
	"unsafe"
)

// Dispatchable handles: pointers owned by the driver, carried as uintptr.
type (
	PhysicalDevice uintptr
	Queue          uintptr
	CommandBuffer  uintptr
)

// Non-dispatchable handles: 64-bit values whose meaning is the driver's.
type (
	Buffer                 uint64
	DeviceMemory           uint64
	ShaderModule           uint64
	DescriptorSetLayout    uint64
	PipelineLayout         uint64
	Pipeline               uint64
	DescriptorPool         uint64
	DescriptorSet          uint64
	CommandPool            uint64
	Fence                  uint64
	QueryPool              uint64
	DebugUtilsMessengerEXT uint64
)

// Result is a VkResult.
type Result int32

var resultNames = map[Result]string{
	Success:                   "VK_SUCCESS",
	NotReady:                  "VK_NOT_READY",
	Timeout:                   "VK_TIMEOUT",
	Incomplete:                "VK_INCOMPLETE",
	ErrorOutOfHostMemory:      "VK_ERROR_OUT_OF_HOST_MEMORY",
	ErrorOutOfDeviceMemory:    "VK_ERROR_OUT_OF_DEVICE_MEMORY",
	ErrorInitializationFailed: "VK_ERROR_INITIALIZATION_FAILED",
	ErrorDeviceLost:           "VK_ERROR_DEVICE_LOST",
	ErrorMemoryMapFailed:      "VK_ERROR_MEMORY_MAP_FAILED",
	ErrorLayerNotPresent:      "VK_ERROR_LAYER_NOT_PRESENT",
	ErrorExtensionNotPresent:  "VK_ERROR_EXTENSION_NOT_PRESENT",
	ErrorFeatureNotPresent:    "VK_ERROR_FEATURE_NOT_PRESENT",
	ErrorIncompatibleDriver:   "VK_ERROR_INCOMPATIBLE_DRIVER",
	ErrorTooManyObjects:       "VK_ERROR_TOO_MANY_OBJECTS",
	ErrorFormatNotSupported:   "VK_ERROR_FORMAT_NOT_SUPPORTED",
	ErrorFragmentedPool:       "VK_ERROR_FRAGMENTED_POOL",
	ErrorUnknown:              "VK_ERROR_UNKNOWN",
	ErrorOutOfPoolMemory:      "VK_ERROR_OUT_OF_POOL_MEMORY",
	ErrorFragmentation:        "VK_ERROR_FRAGMENTATION",
	ErrorValidationFailedEXT:  "VK_ERROR_VALIDATION_FAILED_EXT",
}

func (r Result) String() string {
	if s, ok := resultNames[r]; ok {
		return s
	}
	return fmt.Sprintf("VkResult(%d)", int32(r))
}

// Error is a failed Vulkan call.
type Error struct {
	Op     string // the Vulkan function, e.g. "vkAllocateMemory"
	Result Result
}

func (e *Error) Error() string {
	msg := e.Result.String()
	switch e.Result {
	case ErrorOutOfDeviceMemory:
		msg = "out of device memory (" + msg + ")"
	case ErrorOutOfHostMemory:
		msg = "out of host memory (" + msg + ")"
	}
	if e.Op == "" {
		return "vulkan: " + msg
	}
	return "vulkan: " + e.Op + ": " + msg
}

// Is matches an *Error with the same Result, so that
// errors.Is(err, ErrOutOfDeviceMemory) works whatever the call.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Op == "" && t.Result == e.Result
}

// Sentinels for errors.Is.
var (
	ErrOutOfDeviceMemory = &Error{Result: ErrorOutOfDeviceMemory}
	ErrOutOfHostMemory   = &Error{Result: ErrorOutOfHostMemory}
	ErrDeviceLost        = &Error{Result: ErrorDeviceLost}
	ErrTimeout           = &Error{Result: Timeout}
)

// check turns the VkResult in the low 32 bits of r1 into an error. Positive
// codes other than Success (VK_INCOMPLETE, VK_TIMEOUT...) are reported too;
// callers that expect them test the Result.
func check(op string, r1 uintptr) error {
	if r := Result(int32(r1)); r != Success {
		return &Error{Op: op, Result: r}
	}
	return nil
}

// Bool32 converts a Go bool to VkBool32.
func Bool32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// APIVersion packs a Vulkan API version (variant 0).
func APIVersion(major, minor, patch uint32) uint32 {
	return major<<22 | minor<<12 | patch
}

// VersionString formats a packed API version as "major.minor.patch".
func VersionString(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v>>22&0x7f, v>>12&0x3ff, v&0xfff)
}

// CString returns a NUL-terminated copy of s for a const char* field.
func CString(s string) *int8 {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return (*int8)(unsafe.Pointer(&b[0]))
}

// CStrings returns a const char* const* array for ss (nil when empty).
func CStrings(ss []string) **int8 {
	if len(ss) == 0 {
		return nil
	}
	p := make([]*int8, len(ss))
	for i, s := range ss {
		p[i] = CString(s)
	}
	return &p[0]
}

// GoString copies a NUL-terminated C string.
func GoString(p *int8) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*int8)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(p)), n))
}

// FixedString converts a fixed-size char array (deviceName, layerName...)
// up to its first NUL.
func FixedString(a []int8) string {
	b := make([]byte, 0, len(a))
	for _, c := range a {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// Bytes views a slice of plain values (float32, int8, uint16...) as bytes,
// for copies into mapped memory and push constants.
func Bytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// Chainable is an extensible struct (sType and pNext first).
type Chainable interface {
	header() *BaseOutStructure
}

// Chain links head.pNext -> next[0] -> next[1] ... -> nil. The structs must
// stay alive until the call that reads the chain returns (they do when they
// are referenced from head, as here).
func Chain(head Chainable, next ...Chainable) {
	h := head.header()
	for _, n := range next {
		nh := n.header()
		h.PNext = nh
		h = nh
	}
	h.PNext = nil
}

// SlicePointer points at the first element of s (nil when empty), for
// void* fields such as SpecializationInfo.PData.
func SlicePointer[T any](s []T) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(&s[0])
}

// enumerate runs a Vulkan query of the two-call kind, named op: call with
// a nil out for the count, then with n structs, each set up by init
// (its sType), again while the driver answers VK_INCOMPLETE; nil when
// there are none.
func enumerate[T any](op string, init func(*T), call func(n *uint32, out *T) uintptr) ([]T, error) {
	for {
		var n uint32
		if err := check(op, call(&n, nil)); err != nil || n == 0 {
			return nil, err
		}
		items := make([]T, n)
		for i := range items {
			init(&items[i])
		}
		r := call(&n, &items[0])
		if Result(int32(r)) == Incomplete {
			continue
		}
		return items[:n], check(op, r)
	}
}
