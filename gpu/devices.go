package gpu

import "bitnet/gpu/internal/vkrt"

// DeviceInfo describes a Vulkan physical device: identity, driver, memory
// heaps, subgroup size, the limits kernels must respect and the shader
// features the backend enables.
type DeviceInfo = vkrt.DeviceInfo

// Errors of Devices (and of opening a device), for errors.Is.
var (
	// ErrLoaderNotFound: no Vulkan loader library (libvulkan.so.1...).
	ErrLoaderNotFound = vkrt.ErrLoaderNotFound
	// ErrNoDevice: the loader works but no usable device was found.
	ErrNoDevice = vkrt.ErrNoDevice
)

// SettingError is a device-selection environment variable's value that
// cannot be honoured (BITNET_VK_DEVICE, BITNET_VK_SUBGROUP_SIZE), for
// errors.As: the user asked for something specific.
type SettingError = vkrt.SettingError

// Devices lists the Vulkan devices in the loader's order; DeviceInfo.Index
// is the index to select one with.
func Devices() ([]DeviceInfo, error) { return vkrt.Devices() }

// AutoDevice is the device automatic selection picks among infos
// (discrete > integrated > virtual, never a CPU implementation), or the
// one BITNET_VK_DEVICE selects when it is set (see Options.Device), or an
// error saying why there is none.
func AutoDevice(infos []DeviceInfo) (int, error) { return vkrt.SelectEnv(infos, "auto") }

// LoaderName is the Vulkan loader library in use ("" before Devices or
// Open loaded it).
func LoaderName() string { return vkrt.LoaderName() }

// FormatBytes formats a byte count with binary units ("2 GiB", "128 MiB").
func FormatBytes(n uint64) string { return vkrt.FormatBytes(n) }

// ValidationAvailable reports whether the Khronos validation layer is
// installed (BITNET_VK_VALIDATE=1 then enables it).
func ValidationAvailable() bool { return vkrt.ValidationAvailable() }

// ValidationMessages is the number of validation-layer messages logged so
// far by this process.
func ValidationMessages() int64 { return vkrt.MessageCount() }
