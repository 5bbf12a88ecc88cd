//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vk

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ErrLoaderNotFound is matched (errors.Is) by the error Load returns when no
// Vulkan loader library could be opened.
var ErrLoaderNotFound = errors.New("vulkan: loader library not found")

// LoaderError says which libraries were tried and why they failed.
type LoaderError struct {
	Names  []string // libraries tried, in order
	Reason string   // the dynamic loader's message for the first one
}

func (e *LoaderError) Error() string {
	msg := "vulkan: " + e.Names[0] + " not found"
	if len(e.Names) > 1 {
		msg += " (also tried " + strings.Join(e.Names[1:], ", ") + ")"
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

func (e *LoaderError) Is(target error) bool { return target == ErrLoaderNotFound }

// LibraryEnv names the environment variable that overrides the loader
// library (a file name or path).
const LibraryEnv = "BITNET_VK_LIBRARY"

var loader struct {
	once sync.Once
	err  error
	name string // the library that was opened

	getInstanceProcAddr uintptr
	global              globalFuncs
}

type globalFuncs struct {
	CreateInstance                       uintptr
	EnumerateInstanceVersion             uintptr `vk:"optional"` // Vulkan 1.1 loaders
	EnumerateInstanceLayerProperties     uintptr
	EnumerateInstanceExtensionProperties uintptr
}

// Load opens the Vulkan loader library and resolves the global entry points.
// It is called by every function that needs the library; the first result
// is kept.
func Load() error {
	loader.once.Do(func() { loader.err = load() })
	return loader.err
}

// LibraryName is the loader library Load opened ("" before Load succeeds).
func LibraryName() string {
	if Load() != nil {
		return ""
	}
	return loader.name
}

func load() error {
	names := libraryNames()
	if env := os.Getenv(LibraryEnv); env != "" {
		names = []string{env}
	}
	lib, name, err := openFirst(names)
	if err != nil {
		return err
	}
	gipa, err := librarySymbol(lib, "vkGetInstanceProcAddr")
	if err != nil || gipa == 0 {
		return fmt.Errorf("vulkan: %s has no vkGetInstanceProcAddr: %v", name, err)
	}
	loader.name = name
	loader.getInstanceProcAddr = gipa
	return resolve(&loader.global, func(sym string) uintptr { return instanceProcAddr(0, sym) })
}

func openFirst(names []string) (lib uintptr, name string, err error) {
	var first error
	for _, n := range names {
		lib, err := openLibrary(n)
		if err == nil && lib != 0 {
			return lib, n, nil
		}
		if first == nil {
			first = err
		}
	}
	e := &LoaderError{Names: names}
	if first != nil {
		e.Reason = first.Error()
	}
	return 0, "", e
}

// instanceProcAddr calls vkGetInstanceProcAddr(instance, name).
func instanceProcAddr(instance uintptr, name string) uintptr {
	b := append([]byte(name), 0)
	r, _, _ := purego.SyscallN(loader.getInstanceProcAddr, instance, uintptr(unsafe.Pointer(&b[0])))
	return r
}

// resolve fills the uintptr fields of the struct table points to with the
// entry points "vk"+FieldName found by proc. Fields tagged vk:"optional" may
// stay zero; a missing required entry point is an error.
func resolve(table any, proc func(string) uintptr) error {
	v := reflect.ValueOf(table).Elem()
	t := v.Type()
	var missing []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := "vk" + f.Name
		p := proc(name)
		if p == 0 && f.Tag.Get("vk") != "optional" {
			missing = append(missing, name)
		}
		v.Field(i).SetUint(uint64(p))
	}
	if len(missing) > 0 {
		return fmt.Errorf("vulkan: entry points not found: %s", strings.Join(missing, ", "))
	}
	return nil
}

// InstanceVersion is the highest Vulkan version the loader supports.
func InstanceVersion() (uint32, error) {
	if err := Load(); err != nil {
		return 0, err
	}
	if loader.global.EnumerateInstanceVersion == 0 {
		return APIVersion1_0, nil
	}
	var v uint32
	r, _, _ := purego.SyscallN(loader.global.EnumerateInstanceVersion, uintptr(unsafe.Pointer(&v)))
	return v, check("vkEnumerateInstanceVersion", r)
}

// InstanceLayers lists the instance layers installed.
func InstanceLayers() ([]LayerProperties, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	for {
		var n uint32
		r, _, _ := purego.SyscallN(loader.global.EnumerateInstanceLayerProperties, uintptr(unsafe.Pointer(&n)), 0)
		if err := check("vkEnumerateInstanceLayerProperties", r); err != nil || n == 0 {
			return nil, err
		}
		props := make([]LayerProperties, n)
		r, _, _ = purego.SyscallN(loader.global.EnumerateInstanceLayerProperties, uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&props[0])))
		if Result(int32(r)) == Incomplete {
			continue
		}
		return props[:n], check("vkEnumerateInstanceLayerProperties", r)
	}
}

// InstanceExtensions lists the instance extensions of the loader and
// implicit layers (layer "") or of one layer.
func InstanceExtensions(layer string) ([]ExtensionProperties, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	var pl *int8
	if layer != "" {
		pl = CString(layer)
	}
	for {
		var n uint32
		r, _, _ := purego.SyscallN(loader.global.EnumerateInstanceExtensionProperties, uintptr(unsafe.Pointer(pl)), uintptr(unsafe.Pointer(&n)), 0)
		if err := check("vkEnumerateInstanceExtensionProperties", r); err != nil || n == 0 {
			return nil, err
		}
		props := make([]ExtensionProperties, n)
		r, _, _ = purego.SyscallN(loader.global.EnumerateInstanceExtensionProperties, uintptr(unsafe.Pointer(pl)), uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&props[0])))
		if Result(int32(r)) == Incomplete {
			continue
		}
		return props[:n], check("vkEnumerateInstanceExtensionProperties", r)
	}
}
