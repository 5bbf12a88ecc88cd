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

// capabilityCooperativeMatrixKHR is SPIR-V's CooperativeMatrixKHR capability.
const capabilityCooperativeMatrixKHR = 6022

// UsesCoopMat reports whether a SPIR-V module declares the
// CooperativeMatrixKHR capability: such a kernel loads only on a device
// with VK_KHR_cooperative_matrix enabled.
func UsesCoopMat(code []uint32) bool {
	const opCapability = 17
	for i := 5; i < len(code); {
		n := int(code[i] >> 16)
		if n == 0 {
			return false
		}
		if code[i]&0xffff == opCapability && n == 2 && i+1 < len(code) && code[i+1] == capabilityCooperativeMatrixKHR {
			return true
		}
		i += n
	}
	return false
}
