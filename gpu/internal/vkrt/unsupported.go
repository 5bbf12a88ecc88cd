//go:build !((amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows))

package vkrt

import (
	"errors"
	"fmt"
	"runtime"
)

// ErrLoaderNotFound is matched when the Vulkan loader library is missing.
var ErrLoaderNotFound = errors.New("vulkan: loader library not found")

// Devices reports that the runtime is not built for this platform.
func Devices() ([]DeviceInfo, error) {
	return nil, fmt.Errorf("%w: the Vulkan runtime is not available on %s/%s", ErrLoaderNotFound, runtime.GOOS, runtime.GOARCH)
}

// LoaderName is "" on this platform.
func LoaderName() string { return "" }

// MessageCount is 0: there is no validation layer on this platform.
func MessageCount() int64 { return 0 }

// ValidationAvailable is false on this platform.
func ValidationAvailable() bool { return false }

// ValidationKnowsCoopMat is false on this platform.
func ValidationKnowsCoopMat() bool { return false }
