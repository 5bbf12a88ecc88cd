package main

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"bitnet/cpu/kernels"
	"bitnet/gpu"
)

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version"} {
		out, errs, code := bitnet(t, arg)
		if code != 0 || errs != "" {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, errs)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 5 || !strings.HasPrefix(lines[0], "bitnet ") || !strings.HasPrefix(lines[1], "revision:") {
			t.Fatalf("%s:\n%s", arg, out)
		}
		want := []string{
			"go:          " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
			"cpu kernels: " + kernels.Path() + " (available: " + strings.Join(kernels.Paths(), ", ") + ")",
		}
		if lines[2] != want[0] || lines[3] != want[1] {
			t.Errorf("%s: got\n%s\n%s\nwant\n%s\n%s", arg, lines[2], lines[3], want[0], want[1])
		}
		_, err := gpu.Devices()
		found := !errors.Is(err, gpu.ErrLoaderNotFound)
		if found != strings.HasPrefix(lines[4], "vulkan:      loader ") || found == strings.Contains(lines[4], "no loader found") {
			t.Errorf("%s: %q, but gpu.Devices says %v", arg, lines[4], err)
		}
	}
	if _, _, code := bitnet(t, "version", "extra"); code != 2 {
		t.Errorf("version extra: exit %d, want 2", code)
	}
}

func TestVCSRevision(t *testing.T) {
	for _, c := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "unknown"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}}, "abc123"},
		{[]debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "abc123"},
			{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}, "abc123 (2026-01-02T03:04:05Z), modified"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}, "abc123"},
	} {
		if got := vcsRevision(c.settings); got != c.want {
			t.Errorf("%v: %q, want %q", c.settings, got, c.want)
		}
	}
}
