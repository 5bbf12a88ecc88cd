// Package shaders holds the GLSL compute kernels of the Vulkan backend and
// their SPIR-V, compiled by "go generate" (glslc, then spirv-val) into spv/
// and embedded in the binary.
//
// A kernel is shaders/<name>.comp (#version 450, shared code in include/);
// the name is also the Go constant, the log attribute and the subtest name.
// Run "go generate ./shaders" after editing a shader and commit spv/.
package shaders

import (
	"embed"
	"encoding/binary"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:generate go run gen.go

//go:embed spv/*.spv
var spv embed.FS

// spirvMagic is the first word of every SPIR-V module.
const spirvMagic = 0x07230203

// SPIRV returns the SPIR-V words of kernel name (e.g. "add"), copied
// into a fresh []uint32 (Vulkan wants 4-byte aligned code).
func SPIRV(name string) ([]uint32, error) {
	b, err := spv.ReadFile("spv/" + name + ".spv")
	if err != nil {
		return nil, fmt.Errorf("shaders: no kernel %q (have %s)", name, strings.Join(Names(), ", "))
	}
	if len(b) < 20 || len(b)%4 != 0 {
		return nil, fmt.Errorf("shaders: %s.spv: %d bytes is not a SPIR-V module", name, len(b))
	}
	words := make([]uint32, len(b)/4)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	if words[0] != spirvMagic {
		return nil, fmt.Errorf("shaders: %s.spv: bad SPIR-V magic %#x", name, words[0])
	}
	return words, nil
}

// Names lists the embedded kernels, sorted.
func Names() []string {
	ents, _ := fs.ReadDir(spv, "spv")
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".spv"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// SPIR-V opcodes and enumerants UsesCoopMat and WorkgroupInvocations read.
const (
	opCapability                   = 17
	capabilityCooperativeMatrixKHR = 6022
	opExecutionMode                = 16
	opConstant                     = 43
	opConstantComposite            = 44
	opSpecConstant                 = 50
	opSpecConstantComposite        = 51
	opDecorate                     = 71
	execModeLocalSize              = 17
	decorationBuiltIn              = 11
	decorationSpecID               = 1
	builtInWorkgroupSize           = 25
)

// eachInstruction calls visit with every instruction of the SPIR-V module
// code (its words, the one holding the opcode first), in order after the
// header. It reports false where the module is malformed (an instruction
// of no words, or one past the end), having visited the ones before.
func eachInstruction(code []uint32, visit func(w []uint32)) bool {
	for i := 5; i < len(code); {
		n := int(code[i] >> 16)
		if n == 0 || i+n > len(code) {
			return false
		}
		visit(code[i : i+n])
		i += n
	}
	return true
}

// UsesCoopMat reports whether a SPIR-V module declares the
// CooperativeMatrixKHR capability: such a kernel loads only on a device
// with VK_KHR_cooperative_matrix enabled.
func UsesCoopMat(code []uint32) bool {
	found := false
	eachInstruction(code, func(w []uint32) {
		found = found || w[0]&0xffff == opCapability && len(w) == 2 && w[1] == capabilityCooperativeMatrixKHR
	})
	return found
}

// WorkgroupInvocations returns the number of invocations in a workgroup of
// the compute kernel code when its specialization constants are spec
// (spec[i] is constant_id i): the WorkgroupSize built-in where the module
// declares one (layout(local_size_x_id = ...), constants taking spec's
// values), else its LocalSize execution mode (layout(local_size_x = ...)).
// It returns 0 where the module says neither in a form it reads.
func WorkgroupInvocations(code []uint32, spec []uint32) uint32 {
	values := map[uint32]uint32{}  // constant id -> value
	specIDs := map[uint32]uint32{} // constant id -> constant_id
	parts := map[uint32][]uint32{} // composite id -> constituent ids
	var builtin uint32             // id decorated WorkgroupSize
	var local [3]uint32            // LocalSize
	ok := eachInstruction(code, func(w []uint32) {
		switch op := w[0] & 0xffff; {
		case op == opExecutionMode && len(w) == 6 && w[2] == execModeLocalSize:
			local = [3]uint32{w[3], w[4], w[5]}
		case op == opDecorate && len(w) == 4 && w[2] == decorationBuiltIn && w[3] == builtInWorkgroupSize:
			builtin = w[1]
		case op == opDecorate && len(w) == 4 && w[2] == decorationSpecID:
			specIDs[w[1]] = w[3]
		case (op == opConstant || op == opSpecConstant) && len(w) == 4:
			values[w[2]] = w[3]
		case (op == opConstantComposite || op == opSpecConstantComposite) && len(w) >= 3:
			parts[w[2]] = w[3:]
		}
	})
	if !ok {
		return 0
	}
	inv := uint64(local[0]) * uint64(local[1]) * uint64(local[2])
	if builtin != 0 {
		ids := parts[builtin]
		if len(ids) != 3 {
			return 0
		}
		inv = 1
		for _, id := range ids {
			v, ok := values[id]
			if sid, isSpec := specIDs[id]; isSpec && int(sid) < len(spec) {
				v, ok = spec[sid], true
			}
			if !ok {
				return 0
			}
			inv *= uint64(v)
		}
	}
	if inv > 1<<31 {
		return 0
	}
	return uint32(inv)
}
