//go:build ignore

// gen.go compiles every *.comp of this directory (or the ones named as
// arguments) to spv/<name>.spv with glslc (Vulkan 1.2 target, optimized,
// include/ on the include path) and checks each result with spirv-val. Run
// it with "go generate ./shaders", or "go run gen.go add.comp" in this
// directory. The compilers are chosen per kernel (see ToolchainFor).
package main

import (
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"bitnet/shaders"
)

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("shaders: ")
	srcs, err := filepath.Glob("*.comp")
	if len(os.Args) > 1 {
		srcs = os.Args[1:]
	}
	if err != nil || len(srcs) == 0 {
		log.Fatalf("no *.comp files (%v)", err)
	}
	if err := os.MkdirAll("spv", 0o755); err != nil {
		log.Fatal(err)
	}
	// Remove outputs whose source is gone.
	olds, _ := filepath.Glob("spv/*.spv")
	for _, o := range olds {
		if _, err := os.Stat(strings.TrimSuffix(filepath.Base(o), ".spv") + ".comp"); os.IsNotExist(err) {
			os.Remove(o)
		}
	}
	for _, src := range srcs {
		text, err := os.ReadFile(src)
		if err != nil {
			log.Fatal(err)
		}
		tc := shaders.ToolchainFor(text)
		if _, err := exec.LookPath(tc.Glslc); tc.CoopMat && err != nil {
			log.Fatalf("%s uses cooperative matrices and needs glslc 2025.2 (%s not found): run scripts/trixie-tools.sh or set GLSLC_COOPMAT and SPIRV_VAL_COOPMAT", src, tc.Glslc)
		}
		out := filepath.Join("spv", strings.TrimSuffix(src, ".comp")+".spv")
		run(tc.Glslc, shaders.GlslcArgs(src, out)...)
		run(tc.SpirvVal, "--target-env", "vulkan1.2", out)
	}
	log.Printf("compiled %d kernels", len(srcs))
}
