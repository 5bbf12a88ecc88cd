package main

import (
	"bitnet/internal/testdata"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"bitnet/gpu"
)

func TestDevicesCommand(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"devices"}, &out, &errb)
	if _, err := gpu.Devices(); errors.Is(err, gpu.ErrLoaderNotFound) || errors.Is(err, gpu.ErrNoDevice) {
		if code != 1 || !strings.Contains(errb.String(), "vulkan:") {
			t.Fatalf("without devices: exit %d, stderr %q", code, errb.String())
		}
		testdata.SkipUnlessCI(t, "no Vulkan device: %v", err)
	}
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"0: ", "subgroup size", "storage buffer range", "features:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if code := run([]string{"devices", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errb.String())
	}
	var rep devicesReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	if len(rep.Devices) == 0 || rep.Devices[0].Name == "" || rep.Loader == "" {
		t.Errorf("--json: %+v", rep)
	}
	for _, d := range rep.Devices {
		if rep.Auto != nil && *rep.Auto == d.Index && d.Type == "cpu" {
			t.Errorf("auto selected a CPU device: %s", d.Name)
		}
	}

	if code := run([]string{"devices", "extra"}, &out, &errb); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
}
