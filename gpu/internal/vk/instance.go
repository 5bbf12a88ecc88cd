//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vk

import (
	"unsafe"

	"github.com/ebitengine/purego"
)

// Instance is a VkInstance with its instance-level entry points.
type Instance struct {
	h  uintptr
	fn instanceFuncs
}

type instanceFuncs struct {
	DestroyInstance                        uintptr
	EnumeratePhysicalDevices               uintptr
	GetPhysicalDeviceProperties            uintptr
	GetPhysicalDeviceProperties2           uintptr `vk:"optional"` // Vulkan 1.1
	GetPhysicalDeviceFeatures              uintptr
	GetPhysicalDeviceFeatures2             uintptr `vk:"optional"` // Vulkan 1.1
	GetPhysicalDeviceMemoryProperties      uintptr
	GetPhysicalDeviceQueueFamilyProperties uintptr
	EnumerateDeviceExtensionProperties     uintptr
	CreateDevice                           uintptr
	GetDeviceProcAddr                      uintptr
	CreateDebugUtilsMessengerEXT           uintptr `vk:"optional"`
	DestroyDebugUtilsMessengerEXT          uintptr `vk:"optional"`

	GetPhysicalDeviceCooperativeMatrixPropertiesKHR uintptr `vk:"optional"`
}

// CreateInstance creates an instance. Enable VK_EXT_debug_utils and chain a
// DebugUtilsMessengerCreateInfoEXT (see MessengerCreateInfo) to see the
// messages of vkCreateInstance itself.
func CreateInstance(info *InstanceCreateInfo) (*Instance, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	var h uintptr
	r, _, _ := purego.SyscallN(loader.global.CreateInstance, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&h)))
	if err := check("vkCreateInstance", r); err != nil {
		return nil, err
	}
	in := &Instance{h: h}
	if err := resolve(&in.fn, func(sym string) uintptr { return instanceProcAddr(h, sym) }); err != nil {
		if in.fn.DestroyInstance != 0 {
			purego.SyscallN(in.fn.DestroyInstance, h, 0)
		}
		return nil, err
	}
	return in, nil
}

// Handle is the VkInstance.
func (in *Instance) Handle() uintptr { return in.h }

// HasProperties2 reports whether vkGetPhysicalDeviceProperties2 and
// vkGetPhysicalDeviceFeatures2 are available (instance version 1.1+).
func (in *Instance) HasProperties2() bool {
	return in.fn.GetPhysicalDeviceProperties2 != 0 && in.fn.GetPhysicalDeviceFeatures2 != 0
}

// Destroy destroys the instance. Destroy every device first.
func (in *Instance) Destroy() {
	if in.h != 0 {
		purego.SyscallN(in.fn.DestroyInstance, in.h, 0)
		in.h = 0
	}
}

// PhysicalDevices lists the physical devices.
func (in *Instance) PhysicalDevices() ([]PhysicalDevice, error) {
	for {
		var n uint32
		r, _, _ := purego.SyscallN(in.fn.EnumeratePhysicalDevices, in.h, uintptr(unsafe.Pointer(&n)), 0)
		if err := check("vkEnumeratePhysicalDevices", r); err != nil || n == 0 {
			return nil, err
		}
		pds := make([]PhysicalDevice, n)
		r, _, _ = purego.SyscallN(in.fn.EnumeratePhysicalDevices, in.h, uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&pds[0])))
		if Result(int32(r)) == Incomplete {
			continue
		}
		return pds[:n], check("vkEnumeratePhysicalDevices", r)
	}
}

// Properties returns the core properties of pd.
func (in *Instance) Properties(pd PhysicalDevice) *PhysicalDeviceProperties {
	p := new(PhysicalDeviceProperties)
	purego.SyscallN(in.fn.GetPhysicalDeviceProperties, uintptr(pd), uintptr(unsafe.Pointer(p)))
	return p
}

// Properties2 fills p and its pNext chain (HasProperties2 must be true).
func (in *Instance) Properties2(pd PhysicalDevice, p *PhysicalDeviceProperties2) {
	p.SType = StructureTypePhysicalDeviceProperties2
	purego.SyscallN(in.fn.GetPhysicalDeviceProperties2, uintptr(pd), uintptr(unsafe.Pointer(p)))
}

// Features returns the core features of pd.
func (in *Instance) Features(pd PhysicalDevice) *PhysicalDeviceFeatures {
	f := new(PhysicalDeviceFeatures)
	purego.SyscallN(in.fn.GetPhysicalDeviceFeatures, uintptr(pd), uintptr(unsafe.Pointer(f)))
	return f
}

// Features2 fills f and its pNext chain (HasProperties2 must be true).
func (in *Instance) Features2(pd PhysicalDevice, f *PhysicalDeviceFeatures2) {
	f.SType = StructureTypePhysicalDeviceFeatures2
	purego.SyscallN(in.fn.GetPhysicalDeviceFeatures2, uintptr(pd), uintptr(unsafe.Pointer(f)))
}

// MemoryProperties returns the memory types and heaps of pd.
func (in *Instance) MemoryProperties(pd PhysicalDevice) *PhysicalDeviceMemoryProperties {
	m := new(PhysicalDeviceMemoryProperties)
	purego.SyscallN(in.fn.GetPhysicalDeviceMemoryProperties, uintptr(pd), uintptr(unsafe.Pointer(m)))
	return m
}

// QueueFamilies returns the queue families of pd.
func (in *Instance) QueueFamilies(pd PhysicalDevice) []QueueFamilyProperties {
	var n uint32
	purego.SyscallN(in.fn.GetPhysicalDeviceQueueFamilyProperties, uintptr(pd), uintptr(unsafe.Pointer(&n)), 0)
	if n == 0 {
		return nil
	}
	q := make([]QueueFamilyProperties, n)
	purego.SyscallN(in.fn.GetPhysicalDeviceQueueFamilyProperties, uintptr(pd), uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&q[0])))
	return q[:n]
}

// DeviceExtensions lists the device extensions of pd.
func (in *Instance) DeviceExtensions(pd PhysicalDevice) ([]ExtensionProperties, error) {
	for {
		var n uint32
		r, _, _ := purego.SyscallN(in.fn.EnumerateDeviceExtensionProperties, uintptr(pd), 0, uintptr(unsafe.Pointer(&n)), 0)
		if err := check("vkEnumerateDeviceExtensionProperties", r); err != nil || n == 0 {
			return nil, err
		}
		props := make([]ExtensionProperties, n)
		r, _, _ = purego.SyscallN(in.fn.EnumerateDeviceExtensionProperties, uintptr(pd), 0, uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&props[0])))
		if Result(int32(r)) == Incomplete {
			continue
		}
		return props[:n], check("vkEnumerateDeviceExtensionProperties", r)
	}
}

// CreateDevice creates a logical device on pd and resolves its entry points.
func (in *Instance) CreateDevice(pd PhysicalDevice, info *DeviceCreateInfo) (*Device, error) {
	var h uintptr
	r, _, _ := purego.SyscallN(in.fn.CreateDevice, uintptr(pd), uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&h)))
	if err := check("vkCreateDevice", r); err != nil {
		return nil, err
	}
	d := &Device{h: h}
	gdpa := in.fn.GetDeviceProcAddr
	err := resolve(&d.fn, func(sym string) uintptr {
		b := append([]byte(sym), 0)
		p, _, _ := purego.SyscallN(gdpa, h, uintptr(unsafe.Pointer(&b[0])))
		return p
	})
	if err != nil {
		if d.fn.DestroyDevice != 0 {
			purego.SyscallN(d.fn.DestroyDevice, h, 0)
		}
		return nil, err
	}
	return d, nil
}

// CreateDebugUtilsMessenger installs the package's debug callback (see
// MessengerCreateInfo). VK_EXT_debug_utils must be enabled.
func (in *Instance) CreateDebugUtilsMessenger(info *DebugUtilsMessengerCreateInfoEXT) (DebugUtilsMessengerEXT, error) {
	if in.fn.CreateDebugUtilsMessengerEXT == 0 {
		return 0, &Error{Op: "vkCreateDebugUtilsMessengerEXT", Result: ErrorExtensionNotPresent}
	}
	var m DebugUtilsMessengerEXT
	r, _, _ := purego.SyscallN(in.fn.CreateDebugUtilsMessengerEXT, in.h, uintptr(unsafe.Pointer(info)), 0, uintptr(unsafe.Pointer(&m)))
	return m, check("vkCreateDebugUtilsMessengerEXT", r)
}

// DestroyDebugUtilsMessenger removes a messenger.
func (in *Instance) DestroyDebugUtilsMessenger(m DebugUtilsMessengerEXT) {
	if m != 0 && in.fn.DestroyDebugUtilsMessengerEXT != 0 {
		purego.SyscallN(in.fn.DestroyDebugUtilsMessengerEXT, in.h, uintptr(m), 0)
	}
}
