package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"bitnet/gpu"
)

func init() {
	register(&command{
		name:  "devices",
		usage: "devices [--json]",
		short: "List the Vulkan devices, their limits and features, and which one auto selects.",
		run:   runDevices,
	})
}

// devicesReport is the --json output.
type devicesReport struct {
	Loader  string           `json:"loader"`
	Auto    *int             `json:"auto"` // index automatic selection picks; null when none
	Devices []gpu.DeviceInfo `json:"devices"`
}

func runDevices(args []string, stdout, stderr io.Writer) error {
	c := commands["devices"]
	fs := newFlagSet(c, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("unexpected arguments: %s", strings.Join(pos, " "))
	}
	infos, err := gpu.Devices()
	if err != nil {
		return err
	}
	auto, autoErr := gpu.AutoDevice(infos)
	if *asJSON {
		rep := devicesReport{Loader: gpu.LoaderName(), Devices: infos}
		if autoErr == nil {
			rep.Auto = &auto
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	for i, d := range infos {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		writeDevice(stdout, d, autoErr == nil && auto == d.Index)
	}
	if autoErr != nil {
		fmt.Fprintf(stdout, "\nauto: %v\n", autoErr)
	}
	return nil
}

func writeDevice(w io.Writer, d gpu.DeviceInfo, auto bool) {
	mark := ""
	if auto {
		mark = "  [auto]"
	}
	fmt.Fprintf(w, "%d: %s%s\n", d.Index, d.Name, mark)
	fmt.Fprintf(w, "   type %s, Vulkan %s, vendor 0x%04x, device 0x%04x\n", d.Type, d.APIVersion, d.VendorID, d.DeviceID)
	if d.DriverName != "" {
		fmt.Fprintf(w, "   driver %s %s (%s)\n", d.DriverName, d.DriverVersionText, d.DriverInfo)
	}
	var heaps []string
	for _, h := range d.Heaps {
		kind := "host"
		if h.DeviceLocal {
			kind = "device-local"
		}
		if h.HostMapped {
			kind += " (host-mapped)"
		}
		heaps = append(heaps, gpu.FormatBytes(h.Size)+" "+kind)
	}
	fmt.Fprintf(w, "   memory heaps: %s\n", strings.Join(heaps, ", "))
	if !d.Usable {
		fmt.Fprintf(w, "   not usable: %s\n", d.Reason)
		return
	}
	l := d.Limits
	arith := ""
	if d.SubgroupArithmetic {
		arith = ", arithmetic"
	}
	if d.SubgroupShuffle {
		arith += ", shuffle"
	}
	if r := d.SubgroupSizes; r[0] > 0 && r[0] != r[1] {
		arith = fmt.Sprintf(" (%d to %d possible)", r[0], r[1]) + arith
	}
	fmt.Fprintf(w, "   subgroup size %d%s; shared memory %s; push constants %d B\n",
		d.SubgroupSize, arith, gpu.FormatBytes(uint64(l.MaxComputeSharedMemorySize)), l.MaxPushConstantsSize)
	fmt.Fprintf(w, "   storage buffer range %s (offset alignment %d); max allocation %s\n",
		gpu.FormatBytes(l.MaxStorageBufferRange), l.MinStorageBufferOffsetAlignment, gpu.FormatBytes(l.MaxMemoryAllocationSize))
	fmt.Fprintf(w, "   workgroups: count %d x %d x %d, size %d x %d x %d, %d invocations\n",
		l.MaxComputeWorkGroupCount[0], l.MaxComputeWorkGroupCount[1], l.MaxComputeWorkGroupCount[2],
		l.MaxComputeWorkGroupSize[0], l.MaxComputeWorkGroupSize[1], l.MaxComputeWorkGroupSize[2],
		l.MaxComputeWorkGroupInvocations)
	switch {
	case d.ComputeUnits > 0 && d.WarpsPerUnit > 0:
		fmt.Fprintf(w, "   compute units: %d (%d subgroups resident on each)\n", d.ComputeUnits, d.WarpsPerUnit)
	case d.ComputeUnits > 0:
		fmt.Fprintf(w, "   compute units: %d\n", d.ComputeUnits)
	}
	f := d.Features
	feats := []struct {
		name string
		on   bool
	}{
		{"shaderInt8", f.ShaderInt8}, {"shaderInt16", f.ShaderInt16}, {"shaderInt64", f.ShaderInt64},
		{"shaderFloat16", f.ShaderFloat16}, {"storageBuffer8BitAccess", f.StorageBuffer8BitAccess},
		{"storageBuffer16BitAccess", f.StorageBuffer16BitAccess}, {"integerDotProduct", f.IntegerDotProduct},
		{"integerDotProduct4x8BitPackedAccelerated", f.IntegerDotProductFast},
		{"vulkanMemoryModel", f.VulkanMemoryModel}, {"cooperativeMatrixInt8", f.CooperativeMatrixInt8},
		{"shaderDeviceClock", f.ShaderDeviceClock}, {"subgroupSizeControl", f.SubgroupSizeControl},
		{"pipelineExecutableProperties", f.PipelineStatistics},
	}
	var have, missing []string
	for _, x := range feats {
		if x.on {
			have = append(have, x.name)
		} else {
			missing = append(missing, x.name)
		}
	}
	fmt.Fprintf(w, "   features: %s\n", strings.Join(have, " "))
	if len(missing) > 0 {
		fmt.Fprintf(w, "   missing: %s\n", strings.Join(missing, " "))
	}
	if f.CooperativeMatrixInt8 {
		s := d.CoopMatShape
		fmt.Fprintf(w, "   cooperative matrices: int8 %dx%dx%d (prompt GEMM)\n", s[0], s[1], s[2])
	}
}
