# bitnet: build, run and test.
GO      ?= go
BIN     ?= bin/bitnet
MODEL   ?= testdata/tinybitnet-stories.gguf
PROMPT  ?= Once upon a time
ARGS    ?= --seed 4 --max-new-tokens 256 --echo
BACKEND ?= auto

.PHONY: all build run test test-short test-arm64 test-coopmat trixie-tools bench lint cross shaders check-shaders fuzz clean gpu-bench-build gpu-bench-pack gpu-bench

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/bitnet

# Generate text with MODEL (default: the bundled tinybitnet-stories model).
run: build
	@if [ "$(MODEL)" = "testdata/tinybitnet-stories.gguf" ]; then \
	  echo "model: bundled tinybitnet-stories (855K-parameter ternary story model); the full BitNet b1.58 2B-4T: ./$(BIN) run --hf microsoft/bitnet-b1.58-2B-4T-gguf --prompt ... (downloads it on first use), or make run MODEL=path/to/ggml-model-i2_s.gguf" >&2; \
	fi
	./$(BIN) run --model $(MODEL) --prompt "$(PROMPT)" --backend $(BACKEND) $(ARGS)

# The whole suite; the race detector on the packages where it is affordable.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -race -short ./engine/... ./cpu/ ./gguf/ ./internal/server/
	$(GO) test -count=1 -short -tags noasm ./cpu/... ./engine/

test-short:
	$(GO) test -short ./...

# The arm64 build under qemu-user (Debian: qemu-user-static): the kernels,
# CPU backend and engine on qemu's default CPU model, which has the
# dot-product extension (path neon-dotprod), then the kernels and engine on
# a Cortex-A72, which has not (path neon). BITNET_EXPECT_PATH makes the
# kernel tests check the path chosen from the CPU features.
QEMU_ARM64 ?= qemu-aarch64-static
test-arm64:
	GOARCH=arm64 CGO_ENABLED=0 BITNET_EXPECT_PATH=neon-dotprod \
	  $(GO) test -count=1 -short -exec $(QEMU_ARM64) ./cpu/kernels/ ./cpu/ ./engine/
	QEMU_CPU=cortex-a72 GOARCH=arm64 CGO_ENABLED=0 BITNET_EXPECT_PATH=neon \
	  $(GO) test -count=1 -short -exec $(QEMU_ARM64) ./cpu/kernels/ ./engine/

# The cooperative-matrix prompt GEMM on a CPU Vulkan driver that has
# cooperative matrices (lavapipe from Mesa 26.1, Debian trixie-backports,
# run with trixie's C library; bookworm's lavapipe has none): the whole
# conformance suite and the prompt test on that runtime, where missing
# cooperative matrices fail instead of skipping.
TRIXIE ?= .tools/trixie
trixie-tools:
	scripts/trixie-tools.sh $(TRIXIE)

test-coopmat:
	@[ -x $(TRIXIE)/bin/vkrun ] || { echo "$(TRIXIE)/bin/vkrun missing: run make trixie-tools" >&2; exit 1; }
	CGO_ENABLED=0 $(GO) test -c -o bin/vkrt-coopmat.test ./gpu/internal/vkrt
	CGO_ENABLED=0 $(GO) test -c -o bin/gpu-coopmat.test ./gpu
	cd gpu/internal/vkrt && BITNET_EXPECT_COOPMAT=1 ../../../$(TRIXIE)/bin/vkrun ../../../bin/vkrt-coopmat.test -test.count=1 -test.run '^(TestShaderModules|TestCoopMatOnlyWhenAsked)$$'
	cd gpu && BITNET_EXPECT_COOPMAT=1 ../$(TRIXIE)/bin/vkrun ../bin/gpu-coopmat.test -test.count=1 -test.run '^(TestConformanceCoopMat|TestPromptCoopMat|TestCoopMatAuto)$$'

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./cpu/... ./engine/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The binary builds without cgo for the other platforms too.
cross:
	for p in linux/arm64 darwin/arm64 windows/amd64 linux/386; do \
	  echo "build $$p"; CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -o /dev/null ./cmd/bitnet || exit 1; \
	done

# Recompile the GLSL compute shaders to SPIR-V (needs glslc and spirv-val;
# the cooperative-matrix kernel needs glslc 2025.2: make trixie-tools).
shaders:
	$(GO) generate ./shaders

# Fail when the committed SPIR-V differs from a fresh compile.
check-shaders: shaders
	git diff --exit-code -- shaders/spv

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime 2m ./gguf/
	for f in FuzzI2S FuzzQuantizeRow FuzzDotF16 FuzzDotQuant FuzzElementwise; do \
	  $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime 1m ./cpu/kernels/ || exit 1; \
	done

# The binaries scripts/gpu-bench.sh runs on a GPU machine without Go. With
# BASE=<git revision>, also bin/bitnet-base, that revision's build, which the
# script runs side by side with this one (its part baseline).
gpu-bench-build: build
	CGO_ENABLED=0 $(GO) test -c -o bin/gpu.test ./gpu
	@if [ -n "$(BASE)" ]; then \
	  d=$$(mktemp -d) && git worktree add -q --detach "$$d" "$(BASE)" && \
	  (cd "$$d" && CGO_ENABLED=0 $(GO) build -o "$(CURDIR)/bin/bitnet-base" ./cmd/bitnet); \
	  r=$$?; git worktree remove --force "$$d"; exit $$r; \
	fi

# The same binaries in one archive, bin/gpu-bench.tgz, for a machine that
# takes a limited upload: unpack it in the repository root there.
gpu-bench-pack: gpu-bench-build
	tar -czf bin/gpu-bench.tgz bin/bitnet bin/gpu.test $(if $(BASE),bin/bitnet-base)

# Correctness and speed of the Vulkan backend on this machine's GPU
# (results in gpu-bench-out/).
gpu-bench: gpu-bench-build
	scripts/gpu-bench.sh gpu-bench-out

clean:
	rm -rf bin
