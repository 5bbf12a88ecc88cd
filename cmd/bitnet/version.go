package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"bitnet/cpu/kernels"
	"bitnet/gpu"
)

func init() {
	register(&command{
		name:  "version",
		usage: "version",
		short: "Print the version, VCS revision, Go version, CPU kernels and whether a Vulkan loader was found.",
		run:   runVersion,
	})
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(commands["version"], stderr)
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	version, revision := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		revision = vcsRevision(bi.Settings)
	}
	fmt.Fprintf(stdout, "bitnet %s\n", version)
	fmt.Fprintf(stdout, "revision:    %s\n", revision)
	fmt.Fprintf(stdout, "go:          %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "cpu kernels: %s (available: %s)\n", kernels.Path(), strings.Join(kernels.Paths(), ", "))
	fmt.Fprintf(stdout, "vulkan:      %s\n", vulkanStatus())
	return nil
}

// vcsRevision describes the commit the binary was built from, or "unknown".
func vcsRevision(settings []debug.BuildSetting) string {
	var rev, when string
	modified := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if when != "" {
		rev += " (" + when + ")"
	}
	if modified {
		rev += ", modified"
	}
	return rev
}

// vulkanStatus says whether a Vulkan loader was found and how many devices
// it lists (see the devices command for them).
func vulkanStatus() string {
	infos, err := gpu.Devices()
	switch {
	case errors.Is(err, gpu.ErrLoaderNotFound):
		return "no loader found"
	case errors.Is(err, gpu.ErrNoDevice):
		return fmt.Sprintf("loader %s, no device", gpu.LoaderName())
	case err != nil:
		return fmt.Sprintf("loader %s: %v", gpu.LoaderName(), err)
	}
	usable := 0
	for _, d := range infos {
		if d.Usable {
			usable++
		}
	}
	return fmt.Sprintf("loader %s, %d device(s), %d usable", gpu.LoaderName(), len(infos), usable)
}
