package backend

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bitnet/cpu"
	"bitnet/engine/compute"
)

// TestAutoFallback: --backend auto runs on the CPU where there is no GPU
// (logged at info level) and where one failed to open (a warning), but
// fails where the user named the device or a setting of it that cannot be
// honoured; --backend vulkan fails whatever the failure. The Vulkan
// opener is replaced by one that fails as each case says.
func TestAutoFallback(t *testing.T) {
	saved, savedLog := gpuOpener, slog.Default()
	t.Cleanup(func() { gpuOpener = saved; slog.SetDefault(savedLog) })
	for _, c := range []struct {
		name   string
		why    gpuFailure
		device int
		cpu    bool // auto runs on the CPU
		level  string
	}{
		{"absent", gpuAbsent, -1, true, "level=INFO"},
		{"broken", gpuBroken, -1, true, "level=WARN"},
		{"refused setting", gpuRefused, -1, false, ""},
		{"named device absent", gpuAbsent, 3, false, ""},
		{"named device broken", gpuBroken, 3, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logged bytes.Buffer
			slog.SetDefault(slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug})))
			failure := errors.New("vulkan: the failure of " + c.name)
			var gotDevice int
			var gotAuto bool
			gpuOpener = func(device int, auto bool) (compute.Backend, gpuFailure, error) {
				gotDevice, gotAuto = device, auto
				return nil, c.why, failure
			}
			be, err := Open(Options{Name: "auto", Device: c.device, Threads: 1})
			assert.Equal(t, c.device, gotDevice)
			assert.Equal(t, c.device < 0, gotAuto, "automatic choice only without a named device")
			if c.cpu {
				require.NoError(t, err)
				require.NotNil(t, be)
				assert.IsType(t, &cpu.Backend{}, be)
				assert.Contains(t, logged.String(), c.level)
				assert.Contains(t, logged.String(), "the failure of "+c.name+"; using cpu")
			} else {
				require.ErrorIs(t, err, failure)
				assert.Nil(t, be)
			}
			_, err = Open(Options{Name: "vulkan", Device: c.device})
			require.ErrorIs(t, err, failure, "--backend vulkan")
		})
	}
}
