package shaders

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
)

// Toolchain is the compiler and validator of one kernel.
type Toolchain struct {
	Glslc, SpirvVal string
	// CoopMat: the kernel uses cooperative matrices, which only the newer
	// glslc (shaderc 2025.2) and spirv-val know.
	CoopMat bool
}

// ToolchainFor returns the tools that compile kernel source src. Most
// kernels use $GLSLC and $SPIRV_VAL (default: glslc and spirv-val on the
// PATH, Debian bookworm's shaderc 2023.2). Kernels on cooperative matrices
// (GL_KHR_cooperative_matrix) use $GLSLC_COOPMAT and $SPIRV_VAL_COOPMAT,
// by default the wrappers scripts/trixie-tools.sh installs in
// .tools/trixie/bin of the repository (Debian trixie's shaderc 2025.2).
func ToolchainFor(src []byte) Toolchain {
	if !bytes.Contains(src, []byte("GL_KHR_cooperative_matrix")) {
		return Toolchain{Glslc: env("GLSLC", "glslc"), SpirvVal: env("SPIRV_VAL", "spirv-val")}
	}
	dir := filepath.Join(repoRoot(), ".tools", "trixie", "bin")
	return Toolchain{
		Glslc:    env("GLSLC_COOPMAT", filepath.Join(dir, "glslc")),
		SpirvVal: env("SPIRV_VAL_COOPMAT", filepath.Join(dir, "spirv-val")),
		CoopMat:  true,
	}
}

// GlslcArgs are the compiler arguments for src, compiled to out, run in
// this directory.
func GlslcArgs(src, out string) []string {
	return []string{"--target-env=vulkan1.2", "-O", "-I", "include", src, "-o", out}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// repoRoot is the repository's root: the parent of this file's directory.
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ".."
	}
	return filepath.Dir(filepath.Dir(file))
}
