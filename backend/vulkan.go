//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package backend

import (
	"errors"
	"fmt"
	"runtime"

	"bitnet/engine/compute"
	"bitnet/gpu"
)

func init() {
	gpuOpener = func(device int, auto bool) (compute.Backend, gpuFailure, error) {
		be, err := gpu.Open(gpu.Options{Device: device, Auto: auto})
		var setting *gpu.SettingError
		switch {
		case err == nil:
			return be, 0, nil
		case errors.As(err, &setting):
			return nil, gpuRefused, err
		case errors.Is(err, gpu.ErrLoaderNotFound):
			return nil, gpuAbsent, fmt.Errorf("%w (%s)", err, installHint(runtime.GOOS))
		case errors.Is(err, gpu.ErrNoDevice) && device >= 0:
			return nil, gpuAbsent, fmt.Errorf("%w (`bitnet devices` lists the devices and their indices)", err)
		case errors.Is(err, gpu.ErrNoDevice):
			return nil, gpuAbsent, fmt.Errorf("%w (a GPU driver with Vulkan support is needed; `bitnet devices` lists what the loader sees)", err)
		}
		return nil, gpuBroken, err
	}
}

// installHint says how to get a Vulkan loader on goos.
func installHint(goos string) string {
	switch goos {
	case "darwin":
		return "install MoltenVK, e.g. brew install molten-vk, or the Vulkan SDK"
	case "windows":
		return "install your GPU vendor's current driver, which includes vulkan-1.dll"
	}
	return "install the Vulkan loader and a driver: on Debian/Ubuntu sudo apt-get install libvulkan1 mesa-vulkan-drivers (NVIDIA's driver brings its own)"
}
