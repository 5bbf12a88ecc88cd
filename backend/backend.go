// Package backend chooses and opens the compute backend a command runs on:
// the selector behind --backend auto|cpu|vulkan. It sits above the engine
// (which knows only the compute contract) and the backends.
package backend

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"bitnet/cpu"
	"bitnet/engine/compute"
	"bitnet/reference"
)

// Options selects and configures a backend.
type Options struct {
	Name      string // auto, cpu or vulkan ("" reads BITNET_BACKEND, default auto)
	Threads   int    // CPU workers; 0: physical cores
	Device    int    // Vulkan device index; -1: automatic choice
	Reference bool   // CPU: the scalar oracle (package reference) instead of the fast backend
}

// gpuOpener opens the Vulkan backend on the platforms that have one (see
// vulkan.go), and says what kind of failure an error is.
var gpuOpener func(device int, auto bool) (compute.Backend, gpuFailure, error)

// gpuFailure is why the Vulkan backend did not open.
type gpuFailure int

const (
	gpuBroken  gpuFailure = iota + 1 // a device is there, but opening it failed
	gpuAbsent                        // no Vulkan loader, or no usable device
	gpuRefused                       // a device or setting the user named cannot be honoured
)

// Open returns the backend named by o. auto uses a usable GPU (never a CPU
// Vulkan implementation) and otherwise the CPU, and logs which one runs and
// why: quietly (slog's info level) where there is no GPU to use, as a
// warning where one failed to open. An explicit vulkan with no usable
// device is an error, and so is auto where the user named the device
// (Options.Device, BITNET_VK_DEVICE) or a setting of it
// (BITNET_VK_SUBGROUP_SIZE) that cannot be honoured.
func Open(o Options) (compute.Backend, error) {
	name := o.Name
	if name == "" {
		name = os.Getenv("BITNET_BACKEND")
	}
	if name == "" {
		name = "auto"
	}
	cpuBackend := func() compute.Backend {
		if o.Reference {
			return reference.New()
		}
		return cpu.New(cpu.Options{Threads: o.Threads})
	}
	switch strings.ToLower(name) {
	case "cpu":
		return cpuBackend(), nil
	case "vulkan":
		if gpuOpener == nil {
			return nil, fmt.Errorf("vulkan: this build has no Vulkan backend")
		}
		be, _, err := gpuOpener(o.Device, false)
		if err != nil {
			return nil, err
		}
		return be, nil
	case "auto":
		if gpuOpener == nil {
			slog.Info("vulkan: not available on this platform; using cpu")
			return cpuBackend(), nil
		}
		be, why, err := gpuOpener(o.Device, o.Device < 0)
		switch {
		case err == nil:
		case why == gpuRefused || o.Device >= 0:
			return nil, err
		case why == gpuAbsent:
			slog.Info(fmt.Sprintf("%v; using cpu", err))
			return cpuBackend(), nil
		default:
			slog.Warn(fmt.Sprintf("%v; using cpu", err))
			return cpuBackend(), nil
		}
		slog.Info("using vulkan: " + be.Device())
		return be, nil
	}
	return nil, fmt.Errorf("unknown backend %q (want auto, cpu or vulkan)", name)
}
