//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd)

package vk

import (
	"runtime"

	"github.com/ebitengine/purego"
)

func libraryNames() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"libvulkan.1.dylib", "libvulkan.dylib", "libMoltenVK.dylib"}
	default:
		return []string{"libvulkan.so.1", "libvulkan.so"}
	}
}

func openLibrary(name string) (uintptr, error) {
	return purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

func librarySymbol(lib uintptr, name string) (uintptr, error) {
	return purego.Dlsym(lib, name)
}
