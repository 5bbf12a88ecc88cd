//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vkrt

import (
	"fmt"
	"log/slog"
	"sync"

	"bitnet/gpu/internal/vk"
)

// ErrLoaderNotFound is matched when the Vulkan loader library is missing.
var ErrLoaderNotFound = vk.ErrLoaderNotFound

// ErrOutOfDeviceMemory is matched by allocation failures for lack of device
// memory.
var ErrOutOfDeviceMemory = vk.ErrOutOfDeviceMemory

// LoaderName is the Vulkan loader library in use ("" when none loaded).
func LoaderName() string { return vk.LibraryName() }

// MessageCount is the number of validation (debug-utils) messages received
// by the process; it stays 0 when the runtime is used correctly.
func MessageCount() int64 { return vk.MessageCount() }

// ValidationAvailable reports whether the Khronos validation layer and
// VK_EXT_debug_utils are installed.
func ValidationAvailable() bool {
	layers, err := vk.InstanceLayers()
	if err != nil {
		return false
	}
	found := false
	for _, l := range layers {
		if vk.FixedString(l.LayerName[:]) == vk.ValidationLayer {
			found = true
		}
	}
	return found && hasDebugUtils()
}

// ValidationKnowsCoopMat reports whether the installed validation layer
// knows VK_KHR_cooperative_matrix (Vulkan headers 1.3.255 and later): an
// older one reports the extension's structs and shaders as errors.
func ValidationKnowsCoopMat() bool {
	layers, err := vk.InstanceLayers()
	if err != nil {
		return false
	}
	for _, l := range layers {
		if vk.FixedString(l.LayerName[:]) == vk.ValidationLayer {
			return l.SpecVersion >= vk.APIVersion(1, 3, 255)
		}
	}
	return false
}

func hasDebugUtils() bool {
	exts, err := vk.InstanceExtensions("")
	if err != nil {
		return false
	}
	for _, e := range exts {
		if vk.FixedString(e.ExtensionName[:]) == vk.DebugUtilsExtension {
			return true
		}
	}
	// The validation layer provides it too.
	exts, _ = vk.InstanceExtensions(vk.ValidationLayer)
	for _, e := range exts {
		if vk.FixedString(e.ExtensionName[:]) == vk.DebugUtilsExtension {
			return true
		}
	}
	return false
}

// instance is a VkInstance with the optional debug messenger.
type instance struct {
	vk        *vk.Instance
	messenger vk.DebugUtilsMessengerEXT
}

// apiVersion is the Vulkan version the runtime targets (SPIR-V 1.5 shaders).
var apiVersion = vk.APIVersion(1, 2, 0)

// instanceKind says which layers and checks an instance has.
type instanceKind uint8

const (
	plainInstance         instanceKind = iota
	validatedInstance                  // the validation layer
	syncValidatedInstance              // and its synchronization validation
)

// instances holds the process's instances, one of each kind, made on
// first use and never destroyed: Devices and every Device share them, and
// only devices are created and destroyed.
// NVIDIA's driver (580 on an H200) stopped creating instances after a
// dozen or so had been created and destroyed in one process
// (VK_ERROR_INCOMPATIBLE_DRIVER), and repeated cycles are reported to
// corrupt its subgroup invocation ids; an instance holds no device memory.
var instances struct {
	sync.Mutex
	m       map[instanceKind]*instance
	created int // instances created (tests)
}

// sharedInstance returns the process's instance of a kind, making it the
// first time.
func sharedInstance(kind instanceKind) (*instance, error) {
	instances.Lock()
	defer instances.Unlock()
	if in := instances.m[kind]; in != nil {
		return in, nil
	}
	in, err := newInstance(kind)
	if err != nil {
		return nil, err
	}
	if instances.m == nil {
		instances.m = map[instanceKind]*instance{}
	}
	instances.m[kind] = in
	instances.created++
	return in, nil
}

func newInstance(kind instanceKind) (*instance, error) {
	ver, err := vk.InstanceVersion()
	if err != nil {
		return nil, err
	}
	if ver < vk.APIVersion(1, 1, 0) {
		return nil, fmt.Errorf("%w: the Vulkan loader supports only %s (1.2 needed)", ErrNoDevice, vk.VersionString(ver))
	}
	var layers, exts []string
	var msgInfo *vk.DebugUtilsMessengerCreateInfoEXT
	if kind != plainInstance {
		if !ValidationAvailable() {
			return nil, fmt.Errorf("vulkan: validation requested but %s (with %s) is not installed", vk.ValidationLayer, vk.DebugUtilsExtension)
		}
		layers = append(layers, vk.ValidationLayer)
		exts = append(exts, vk.DebugUtilsExtension)
		msgInfo = vk.MessengerCreateInfo(false)
	}
	app := &vk.ApplicationInfo{
		SType:            vk.StructureTypeApplicationInfo,
		PApplicationName: vk.CString("bitnet"),
		PEngineName:      vk.CString("bitnet"),
		ApiVersion:       apiVersion,
	}
	info := &vk.InstanceCreateInfo{
		SType:                   vk.StructureTypeInstanceCreateInfo,
		PApplicationInfo:        app,
		EnabledLayerCount:       uint32(len(layers)),
		PpEnabledLayerNames:     vk.CStrings(layers),
		EnabledExtensionCount:   uint32(len(exts)),
		PpEnabledExtensionNames: vk.CStrings(exts),
	}
	if msgInfo != nil {
		next := []vk.Chainable{msgInfo}
		if kind == syncValidatedInstance {
			enables := []uint32{vk.ValidationFeatureEnableSynchronizationValidationEXT}
			next = append(next, &vk.ValidationFeaturesEXT{
				SType:                         vk.StructureTypeValidationFeaturesEXT,
				EnabledValidationFeatureCount: uint32(len(enables)),
				PEnabledValidationFeatures:    &enables[0],
			})
		}
		vk.Chain(info, next...)
	}
	in, err := vk.CreateInstance(info)
	if err != nil {
		return nil, err
	}
	inst := &instance{vk: in}
	if msgInfo != nil {
		msgInfo.PNext = nil
		m, err := in.CreateDebugUtilsMessenger(msgInfo)
		if err != nil {
			in.Destroy()
			return nil, err
		}
		inst.messenger = m
		slog.Debug("vulkan: validation enabled", "layer", vk.ValidationLayer)
	}
	return inst, nil
}

// Devices lists the Vulkan physical devices, in the loader's order (Index
// is the position in that order). The error matches ErrLoaderNotFound when
// there is no Vulkan library and ErrNoDevice when there are no devices.
func Devices() ([]DeviceInfo, error) {
	in, err := sharedInstance(plainInstance)
	if err != nil {
		return nil, err
	}
	infos, _, err := in.devices()
	return infos, err
}

func (in *instance) devices() ([]DeviceInfo, []vk.PhysicalDevice, error) {
	pds, err := in.vk.PhysicalDevices()
	if err != nil {
		return nil, nil, err
	}
	if len(pds) == 0 {
		return nil, nil, fmt.Errorf("%w: the Vulkan loader (%s) found no physical device", ErrNoDevice, vk.LibraryName())
	}
	infos := make([]DeviceInfo, len(pds))
	for i, pd := range pds {
		infos[i] = in.query(i, pd)
	}
	return infos, pds, nil
}
