//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package backend

import (
	"bitnet/engine/compute"
	"bitnet/gpu"
)

func init() {
	gpuOpener = func(device int, auto bool) (compute.Backend, error) {
		return gpu.Open(gpu.Options{Device: device, Auto: auto})
	}
}
