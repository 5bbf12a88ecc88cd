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
// vulkan.go).
var gpuOpener func(device int, auto bool) (compute.Backend, error)

// Open returns the backend named by o. auto uses a usable GPU (never a CPU
// Vulkan implementation) and otherwise the CPU, and logs which one runs and
// why. An explicit vulkan with no usable device is an error.
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
		be, err := gpuOpener(o.Device, false)
		if err != nil {
			return nil, err
		}
		return be, nil
	case "auto":
		if gpuOpener == nil {
			slog.Info("vulkan: not available on this platform; using cpu")
			return cpuBackend(), nil
		}
		be, err := gpuOpener(o.Device, o.Device < 0)
		if err != nil {
			slog.Info(fmt.Sprintf("%v; using cpu", err))
			return cpuBackend(), nil
		}
		slog.Info("using vulkan: " + be.Device())
		return be, nil
	}
	return nil, fmt.Errorf("unknown backend %q (want auto, cpu or vulkan)", name)
}
