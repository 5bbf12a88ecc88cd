#!/usr/bin/env bash
# GPU check: correctness and speed of the Vulkan backend on a machine with a
# GPU, using only what `make gpu-bench-build` made (bin/bitnet, bin/gpu.test)
# and the repository's files: no Go needed there. Results go to one
# directory (default gpu-bench-out): summary.txt is the short version.
#
#   scripts/gpu-bench.sh [OUT] [SHARED]
#
# SHARED is the reference-data folder (default ../shared, or $BITNET_SHARED);
# the steps that need it are skipped without it. BASELINE=path/to/bitnet
# (default bin/bitnet-base where `make gpu-bench-build BASE=<revision>` made
# it) adds alternating rounds of the main benches with that other build, for
# a side-by-side comparison on the same machine. The default run (the
# check) takes a few minutes on a large GPU: a 2B-4T-shaped model is
# generated (1.2 GB), then the GPU tests of the defaults, the kernel
# benchmarks, crossval, and bench (pp512, tg128, tg128 at depth 4096,
# --op-times with the device's copy bandwidth) run against it. PARTS=all
# adds the side-by-side parts below (more than one device call): on a device
# with int8 cooperative matrices, pp512 with and without the
# cooperative-matrix GEMM (BITNET_VK_COOPMAT); with part attn, decode with
# and without the attention reductions within subgroups
# (BITNET_VK_ATTN_SG), two rows per subgroup in the matvecs of many rows
# (BITNET_VK_MATVEC_ROWS) and decode attention in chunks of 128 positions
# (BITNET_VK_ATTN_DECODE_CHUNK).
#
# A prompt's attention with 1, 4 and 8 query rows per workgroup
# (BITNET_VK_ATTN_ROWS) at pp512 and pp2048 (part prompt).
#
# The decode kernels chained by counters instead of pipeline barriers
# (BITNET_VK_CHAIN): greedy text against the CPU's (bundled model) and the
# barriers' (2B-4T shapes), then tg128 and depth 4096 side by side with the
# default, and the cost of one dependent
# dispatch behind a barrier and chained (part chain). Part timeline prints
# where a decode step's time goes, kernel by kernel, from the device clock
# (BITNET_VK_TIMELINE), behind barriers and chained.
#
# Greedy decoding with its steps chained on the device, 8 and 16 at a
# time and as run chooses, against a round trip to the host per token
# (bench --run-ahead, part runahead).
#
# The LM head screened by an int8 copy (--head-screen on: BITNET_VK_SCREEN=1
# makes it the automatic mode's choice) against the full head, side by
# side at tg128 (one step at a time and in bursts of 8) and depth 4096,
# and greedy text on the 2B-4T shapes both ways (part screen).
#
# Lookup decoding (run --lookup): what a step checking a draft of 1, 3, 7
# and 15 tokens costs on the 2B-4T shapes against a generated token's
# (bench --lookup, with the device counters of its replays), and greedy
# text with and without lookup on the story models, with its speed and
# acceptance (part lookup).
#
# Batched decoding (serve --parallel): 1, 2, 4, 8 and 16 sequences
# generating 64 tokens each at the same time on the 2B-4T shapes, their
# steps batched, with the device counters of the replays (part parallel).
#
# PARTS picks what runs, a comma-separated list of tests, phases, stats, matvec, longattn, attncfg, clocks, kernels,
# crossval, bench, runahead, screen, lookup, parallel, chain, timeline, waves, attnheads, valueloads, prompt,
# stage, rowsum, blocks, coopmat, attn, tq,
# baseline, heads, optimes and cpu (default: tests, kernels, crossval,
# bench, runahead, screen, lookup, parallel, stats, optimes and cpu; all: every part but attn, whose variants were
# measured on 2026-11-26); ROUNDS (default 2) is how many alternating
# rounds the side-by-side parts run.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-bench-out}
shared=${2:-${BITNET_SHARED:-../shared}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
B=$PWD/bin/bitnet
[ -z "${BASELINE:-}" ] && [ -x bin/bitnet-base ] && BASELINE=$PWD/bin/bitnet-base
sum=$out/summary.txt
: >"$sum"
note() { echo "== $*" | tee -a "$sum"; }
# step NAME SECONDS CMD...: run with a time limit, log to OUT/NAME.log, note the status.
step() {
	local name=$1 limit=$2
	shift 2
	local t0=$SECONDS
	timeout "$limit" "$@" >"$out/$name.log" 2>&1
	local rc=$?
	note "$name: exit $rc in $((SECONDS - t0)) s"
	return $rc
}
# gputests NAME PATTERN: the GPU tests matching PATTERN (bin/gpu.test, if
# built), logged to OUT/gpu-test-NAME.log, their results in the summary.
gputests() {
	[ -x bin/gpu.test ] || return 0
	(cd gpu && BITNET_SHARED=$shared step "gpu-test-$1" 300 ../bin/gpu.test -test.v -test.count=1 -test.run "$2")
	grep -E '^(--- |ok|FAIL|PASS)' "$out/gpu-test-$1.log" | grep -v -- '--- PASS: TestConformance[A-Za-z]*/' | tee -a "$sum"
}
# timelines VAR VALUES: the timeline of a decode step (tg32) on the 2B-4T
# model with the environment variable VAR set to each of VALUES, in the
# summary as "VAR=value: ..." (VAR without its BITNET_VK_ prefix), after
# $LABEL where set.
timelines() {
	local v
	for v in $2; do
		env "$1=$v" BITNET_VK_TIMELINE=1 timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 32 -r 1 2>&1 | grep -A 12 '^timeline of' | sed "s/^/${LABEL:-}${1#BITNET_VK_}=$v: /" | tee -a "$sum"
	done
}
# pipestats LABEL ARGS...: bench on the 2B-4T model with ARGS and the
# driver's statistics kept (BITNET_VK_PIPELINE_STATS=1), each pipeline's
# line in the summary after LABEL.
pipestats() {
	local label=$1
	shift
	BITNET_VK_PIPELINE_STATS=1 timeout 120 "$B" bench --model "$model" --backend vulkan "$@" 2>&1 | awk '/^pipeline statistics/ { on = 1; next } on && /^  / { print; next } { on = 0 }' | sed "s/^/$label:/" | tee -a "$sum"
}
# sidebyside VAR VALUES ARGS...: ROUNDS alternating rounds of bench on the
# 2B-4T model with the environment variable VAR set to each of VALUES
# (space-separated), for each of ARGS (each a string of bench arguments);
# the result lines go to the summary as "round N VAR=value (args): ...",
# after $LABEL where set (other settings the rounds share).
sidebyside() {
	local var=$1 values=$2 round v a
	shift 2
	for round in $(seq "${ROUNDS:-2}"); do
		for v in $values; do
			for a in "$@"; do
				# shellcheck disable=SC2086 # a holds several arguments
				env "$var=$v" timeout 120 "$B" bench --model "$model" --backend vulkan $a 2>/dev/null | grep -E '^(pp|tg)[0-9]+(@d[0-9]+)? ' | sed "s/^/round $round ${LABEL:-}$var=$v ($a): /" | tee -a "$sum"
			done
		done
	done
}
# variants LIST ARGS...: ROUNDS alternating rounds of bench on the 2B-4T
# model under each of LIST's settings (space-separated; each a
# comma-separated list of NAME=value, NAME short for BITNET_VK_NAME, or
# "default"), for each of ARGS; the result lines go to the summary as
# "round N SETTING (args): ...".
variants() {
	local list=$1 round v a
	shift
	for round in $(seq "${ROUNDS:-2}"); do
		for v in $list; do
			for a in "$@"; do
				# shellcheck disable=SC2086 # a holds several arguments
				withenv "$v" timeout 120 "$B" bench --model "$model" --backend vulkan $a 2>/dev/null | grep -E '^(pp|tg)[0-9]+(@d[0-9]+)? ' | sed "s/^/round $round $v ($a): /" | tee -a "$sum"
			done
		done
	done
}
# venv SETTING prints the environment assignments of a variants setting.
venv() {
	[ "$1" = default ] && return 0
	echo "$1" | tr ',' '\n' | sed 's/^/BITNET_VK_/'
}
# withenv SETTING CMD...: CMD (a function too) with a variants setting's
# environment.
withenv() {
	local v=$1 a
	shift
	(
		for a in $(venv "$v"); do export "${a?}"; done
		"$@"
	)
}
parts=${PARTS:-tests,kernels,crossval,bench,runahead,screen,lookup,parallel,stats,optimes,cpu}
[ "$parts" = all ] && parts=tests,phases,stats,matvec,longattn,attncfg,clocks,kernels,crossval,bench,runahead,screen,chain,timeline,waves,attnheads,valueloads,prompt,stage,rowsum,blocks,coopmat,tq,baseline,heads,optimes,cpu
parts=",$parts,"
want() { case $parts in *",$1,"*) return 0 ;; esac; return 1; }
[ -x "$B" ] || { echo "bin/bitnet missing: run make gpu-bench-build first" >&2; exit 2; }

note "date $(date -u +%FT%TZ), host $(uname -n), $(nproc) CPUs"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv >"$out/nvidia-smi.csv" 2>&1
if ! "$B" devices >"$out/devices.txt" 2>&1; then
	# Containers that hide the driver's ICD file: point the loader at NVIDIA's.
	for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
		[ -f "$f" ] && export VK_DRIVER_FILES=$f && break
	done
	"$B" devices >"$out/devices.txt" 2>&1
fi
"$B" devices --json >"$out/devices.json" 2>/dev/null
cat "$out/devices.txt" | tee -a "$sum"

model=${BITNET_BENCH_MODEL:-/tmp/bitnet-2b4t.gguf}
[ -f "$model" ] || step gen-model 300 "$B" gen-model --preset 2b4t --out "$model"

# Correctness: the GPU test binary (conformance on the real shapes, golden
# models, generation agreement, the decode step's structure).
if want tests && [ -x bin/gpu.test ]; then
	# One process per test: each starts clean (builds before 2026-11-27
	# made an instance per device, and NVIDIA's 580 driver refused new
	# ones after a dozen or so in one process).
	# GPU_TESTS names the tests (space-separated); by default those of the
	# defaults, all: the options' too.
	defaults="TestConformance TestCoopMatAuto TestPipelineStatistics TestConformanceAttnStageKeys TestShortCacheStep TestQuantHead TestFloatMatvec TestTernaryMatvec TestModelsMatchCPU TestGeneratedModelsMatchCPU TestGenerateMatchesCPU TestRunAhead TestRunAheadStops TestRunAheadDeviceFailure TestRunAheadFullContext TestRunAheadShortCache TestScreen TestScreenedHeadOnDevice TestLookup TestBatcher TestBatchedStepStructure TestDecodeStepStructure TestStateTooLargeForDevice"
	tests=${GPU_TESTS:-$defaults}
	[ "$tests" = all ] && tests="$defaults TestConformanceCoopMat TestPromptCoopMat TestConformanceAttnOtherReductions TestConformanceAttnDecodeChunk TestConformanceMatvecRows TestConformanceAttnRows TestConformanceAttnHeads TestConformanceAttnValueLoads TestConformanceMatvecNoRowSum TestConformanceMatvecOtherFlags TestWeightBlocks TestConformanceChain TestChainStep TestDecodeStepStructureChain"
	for t in $tests; do
		(cd gpu && BITNET_SHARED=$shared step "gpu-test-$t" 300 ../bin/gpu.test -test.v -test.count=1 -test.run "^$t\$")
		grep -E '^(--- |ok|FAIL|PASS)|logits over|validation|structure_test' "$out/gpu-test-$t.log" | grep -v -- '--- PASS: TestConformance[A-Za-z]*/' | tee -a "$sum"
	done
fi
# A layer's matvecs as dependent phases (bench --op-times' calibration,
# vkrt's PhaseChain): per layer behind barriers against one persistent
# dispatch whose workgroups wait on counters, with workgroups of 1,024
# and 256 invocations (part phases, a few seconds).
if want phases; then
	for round in $(seq "${ROUNDS:-2}"); do
		for wgs in 1024 256; do
			BITNET_VK_MATVEC_WGS=$wgs timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 4 -r 1 --op-times 2>&1 | grep -E 'dependent (dispatch|phases)' | sed "s/^/round $round MATVEC_WGS=$wgs: /" | tee -a "$sum"
		done
	done
fi
# The LM head's decode matvec for each head type (F16, Q8_0, Q6_K), and
# the I2_S decode matvec on the 2B-4T shapes and on a 113 MB matrix:
# kernel time, weight GB/s and its share of the copy bandwidth; the tail
# of the attention block with the attention in kernels of its own and
# inside the output projection. A process per benchmark, as for the tests.
if want kernels && [ -x bin/gpu.test ]; then
	for b in LMHead MatvecI2S AttnBlock; do
		(cd gpu && step "bench-$b" 180 ../bin/gpu.test -test.run '^$' -test.bench "^Benchmark$b\$" -test.benchtime 50x)
		grep -E '^Benchmark|FAIL' "$out/bench-$b.log" | tee -a "$sum"
	done
fi

# Where a decode step's time goes on the device (BITNET_VK_TIMELINE): every
# matvec and attention workgroup reads the device clock at its start, when
# its wait is over, when its first phase is done (a matvec's norm,
# attention's scores) and at its end; bench prints the last step's timeline kernel by kernel, behind
# barriers and chained, at a short cache and at depth 4096.
if want timeline; then
	for c in 0 1; do
		BITNET_VK_TIMELINE=1 BITNET_VK_CHAIN=$c timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 32 -r 1 2>&1 | grep -A 12 '^timeline of' | sed "s/^/CHAIN=$c: /" | tee -a "$sum"
		BITNET_VK_TIMELINE=1 BITNET_VK_CHAIN=$c timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 8 -d 4096 -r 1 --ctx-size 4160 2>&1 | grep -A 12 '^timeline of' | sed "s/^/CHAIN=$c depth 4096: /" | tee -a "$sum"
	done
	# The opt-in whose effect is in a ramp: two rows per subgroup (gate/up
	# in one wave).
	for v in BITNET_VK_MATVEC_ROWS=2; do
		env BITNET_VK_TIMELINE=1 "$v" timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 32 -r 1 2>&1 | grep -A 12 '^timeline of' | sed "s/^/$v: /" | tee -a "$sum"
	done
fi

# crossval against the CPU on the real small models and the 2B-4T shapes
# (QUICK=1 skips it and the CPU bench).
want crossval && [ "${QUICK:-0}" != 1 ] && for m in testdata/tinybitnet-stories.gguf "$shared/models/stories260K.gguf" "$shared/golden/tiny-i2_s.gguf" "$model"; do
	[ -f "$m" ] || continue
	n=$(basename "$m" .gguf)
	step "crossval-$n" 120 "$B" crossval --model "$m" --tokens 1,17,42,99,3,250,7,128 --backends vulkan,cpu
	tail -n 3 "$out/crossval-$n.log" | tee -a "$sum"
done

# Speed on the 2B-4T shapes.
if want bench; then
step bench 300 "$B" bench --model "$model" --backend vulkan -p 512 -n 128 -r 5 --json
grep -hE '^(pp|tg)[0-9]' "$out/bench.log" | tee -a "$sum"
step bench-d4096 300 "$B" bench --model "$model" --backend vulkan -p 0 -n 128 -d 4096 -r 3 --ctx-size 4352 --json
grep -hE '^(pp|tg)[0-9]' "$out/bench-d4096.log" | tee -a "$sum"
# A state of 4,096 positions (what run takes for 2B-4T) at shallow depth.
step bench-ctx4096 200 "$B" bench --model "$model" --backend vulkan -p 0 -n 128 -r 3 --ctx-size 4096 --json
grep -hE '^(pp|tg)[0-9]' "$out/bench-ctx4096.log" | sed "s/^/ctx 4096: /" | tee -a "$sum"
fi
# Greedy decoding with a round trip to the host per token (--run-ahead 1,
# bench's default), as run chooses (0), and 8 and 16 steps chained on the
# device, side by side at tg128 and depth 4096; then the per-token
# counters of each (part runahead).
if want runahead; then
	ra="1 0 8 16"
	args=()
	for r in $ra; do args+=("-p 0 -n 128 -r 3 --run-ahead $r"); done
	for r in $ra; do args+=("-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352 --run-ahead $r"); done
	variants default "${args[@]}"
	for r in $ra; do
		timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 128 -r 1 --run-ahead "$r" 2>&1 | grep -E '^tg128: per token' | sed "s/^/run-ahead $r: /" | tee -a "$sum"
	done
fi
# The screened LM head against the full one (part screen).
if want screen; then
	variants "default SCREEN=1" "-p 0 -n 128 -r 3" "-p 0 -n 128 -r 3 --run-ahead 8" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352"
	args=(--model "$model" --prompt "The quick brown fox" --temperature 0 --max-new-tokens 48 --ctx-size 256 --backend vulkan)
	timeout 120 "$B" run "${args[@]}" --head-screen off >"$out/screen-text-off.txt" 2>"$out/screen-text-off.log"
	timeout 120 "$B" run "${args[@]}" --head-screen on >"$out/screen-text-on.txt" 2>"$out/screen-text-on.log"
	if [ -s "$out/screen-text-off.txt" ] && cmp -s "$out/screen-text-off.txt" "$out/screen-text-on.txt"; then
		note "screen: greedy text of the 2B-4T shapes with the head screened equals the full head's"
	else
		note "screen: greedy text DIFFERS with the head screened (see $out/screen-text-*)"
	fi
fi
# Lookup decoding (part lookup).
if want lookup; then
	timeout 150 "$B" bench --model "$model" --backend vulkan -p 0 -n 64 -r 3 --lookup 1,3,7,15 >"$out/lookup-bench.txt" 2>"$out/lookup-bench.log"
	grep -E '^(tg64|lookup[0-9]+) ' "$out/lookup-bench.txt" | sed "s/^/lookup step: /" | tee -a "$sum"
	grep -E '^lookup[0-9]+: (a step|per token)' "$out/lookup-bench.log" | tee -a "$sum"
	for m in testdata/tinybitnet-stories.gguf "$shared/models/stories260K.gguf"; do
		n=$(basename "$m" .gguf)
		for look in 0 3 7 15; do
			timeout 60 "$B" run --model "$m" --backend vulkan --prompt "Once upon a time" --temperature 0 --max-new-tokens 256 --lookup "$look" >"$out/lookup-$n-$look.txt" 2>"$out/lookup-$n-$look.log"
			note "lookup $look, $n: $(grep -E 'generated|^lookup:' "$out/lookup-$n-$look.log" | sed -E 's/.*(generated [0-9]+ tokens, [0-9.]+ tokens\/s).*/\1/' | tr '\n' ' ')"
			if [ "$look" != 0 ] && ! cmp -s "$out/lookup-$n-0.txt" "$out/lookup-$n-$look.txt"; then
				note "lookup $look, $n: greedy text DIFFERS from one token at a time (see lookup-$n-*)"
			fi
		done
	done
fi
# Batched decoding (part parallel).
if want parallel; then
	timeout 150 "$B" bench --model "$model" --backend vulkan -p 0 -n 64 -r 3 --parallel 2,4,8,16 >"$out/parallel-bench.txt" 2>"$out/parallel-bench.log"
	grep -E '^tg64(x[0-9]+)? ' "$out/parallel-bench.txt" | sed "s/^/batched: /" | tee -a "$sum"
	grep -E '^tg64x[0-9]+: (per token|[0-9.]+ sequences)' "$out/parallel-bench.log" | tee -a "$sum"
fi
# A prompt's attention with 1, 4 and 8 (the default) query rows per
# workgroup (BITNET_VK_ATTN_ROWS): pp512 and pp2048.
if want prompt; then
	sidebyside BITNET_VK_ATTN_ROWS "1 4 8" "-p 512,2048 -n 0 -r 2 --ctx-size 2304"
fi
# The decode kernels chained by counters instead of barriers
# (BITNET_VK_CHAIN, opt-in: slower on an H200): greedy text (below), then
# tg128 side by side with the default, and depth 4096. Each run has
# a time limit: a chain that waits forever ends there.
if want chain; then
	# Greedy text: on the bundled model against the CPU's; on the 2B-4T
	# shapes against the barriers' (the same kernels, so the same bits;
	# random weights leave near ties that the CPU's other summation order
	# may break the other way).
	for m in testdata/tinybitnet-stories.gguf "$model"; do
		n=$(basename "$m" .gguf)
		args=(--model "$m" --prompt "The quick brown fox" --temperature 0 --max-new-tokens 48 --ctx-size 256)
		ref=cpu
		[ "$m" = "$model" ] && ref=vulkan
		timeout 120 "$B" run "${args[@]}" --backend "$ref" >"$out/chain-text-$n-$ref.txt" 2>"$out/chain-text-$n-$ref.log"
		BITNET_VK_CHAIN=1 timeout 120 "$B" run "${args[@]}" --backend vulkan >"$out/chain-text-$n-chain.txt" 2>"$out/chain-text-$n-chain.log"
		if [ -s "$out/chain-text-$n-$ref.txt" ] && cmp -s "$out/chain-text-$n-$ref.txt" "$out/chain-text-$n-chain.txt"; then
			note "chain: greedy text of $n equals the $ref backend's"
		else
			note "chain: greedy text of $n DIFFERS from the $ref backend's (see chain-text-$n-*)"
		fi
	done
	for round in $(seq "${ROUNDS:-2}"); do
		for c in 0 1; do
			BITNET_VK_CHAIN=$c timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 128 -r 3 2>>"$out/chain-bench.log" | grep -E '^tg[0-9]+ ' | sed "s/^/round $round CHAIN=$c: /" | tee -a "$sum"
		done
		for c in 0 1; do
			BITNET_VK_CHAIN=$c timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 64 -d 4096 -r 2 --ctx-size 4352 2>>"$out/chain-bench.log" | grep -E '^tg[0-9]+@d[0-9]+ ' | sed "s/^/round $round CHAIN=$c depth 4096: /" | tee -a "$sum"
		done
	done
	grep -h 'BITNET_VK_CHAIN' "$out/chain-bench.log" | head -n 2 | tee -a "$sum"
	# What one dependent dispatch costs behind a barrier and chained.
	timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 4 -r 1 --op-times 2>&1 | grep 'dependent dispatch' | tee -a "$sum"
fi
# Decode matvecs in workgroups of 256 invocations instead of 1,024 (gate/up's
# 216 workgroups of 1,024 start in two waves on an H200) and two rows per
# subgroup (gate/up in 108 workgroups), side by side at tg128.
if want waves; then
	for round in $(seq "${ROUNDS:-2}"); do
		for v in BITNET_VK_MATVEC_WGS=0 BITNET_VK_MATVEC_WGS=256 BITNET_VK_MATVEC_ROWS=2; do
			env "$v" timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 128 -r 3 2>/dev/null | grep -E '^tg[0-9]+' | sed "s/^/round $round $v: /" | tee -a "$sum"
		done
	done
fi
# What the driver compiled each kernel into (BITNET_VK_PIPELINE_STATS=1:
# NVIDIA reports register counts, which bound the workgroups a compute
# unit holds at once), for the kernels of a decode step and of a prompt
# with the default settings and with 512- and 256-invocation matvec
# workgroups, and those settings' decode timelines (part stats, a few
# seconds).
if want stats; then
	for wgs in 0 512 256; do
		BITNET_VK_MATVEC_WGS=$wgs pipestats "BITNET_VK_MATVEC_WGS=$wgs" -p 512 -n 32 -r 1
	done
	timelines BITNET_VK_MATVEC_WGS "512 256"
fi
# The decode matvec's flags as specialization constants
# (BITNET_VK_MATVEC_SPEC=0: read from the push constants by one pipeline
# for every fusion) and two rows per subgroup in gate/up
# (BITNET_VK_MATVEC_ROWS=1: one), each turned off and both (part matvec):
# the conformance cases of the push constants and of two rows, each
# setting's registers, then side by side at tg128 and depth 4096, and
# each setting's timeline.
if want matvec; then
	gputests matvec '^(TestConformanceMatvecOtherFlags|TestConformanceMatvecRows)$'
	mv="default MATVEC_SPEC=0 MATVEC_ROWS=1 MATVEC_SPEC=0,MATVEC_ROWS=1"
	for v in $mv; do
		withenv "$v" pipestats "$v" -p 0 -n 32 -r 1
	done
	variants "$mv" "-p 0 -n 128 -r 3" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352"
	for v in $mv; do
		LABEL="$v " withenv "$v" timelines BITNET_VK_TIMELINE 1
	done
fi
# Decode attention over a long cache (depth 4096): the timeline of a step,
# then chunks of 64 and 256 positions (BITNET_VK_ATTN_CHUNK, prompts' too;
# 128 by default) side by side (part longattn).
if want longattn; then
	BITNET_VK_TIMELINE=1 timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 16 -d 4096 -r 1 --ctx-size 4352 2>&1 | grep -A 14 '^timeline of' | sed "s/^/depth 4096: /" | tee -a "$sum"
	variants "default ATTN_CHUNK=64 ATTN_CHUNK=256" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352"
fi
# The attention's defaults against their former values: the reductions
# in shared memory alone (BITNET_VK_ATTN_SG=0), 8 value rows loaded at
# once (BITNET_VK_ATTN_VALUE_LOADS=8; 16 in a decode step over a long
# cache by default) and a KV head's four query heads per workgroup
# (BITNET_VK_ATTN_HEADS=4; two there by default), alone and together, at
# depth 4096 (a long cache), and the reductions at tg128 and pp512 (part
# attncfg).
if want attncfg; then
	variants "default ATTN_VALUE_LOADS=8 ATTN_SG=0 ATTN_HEADS=4 ATTN_VALUE_LOADS=8,ATTN_SG=0,ATTN_HEADS=4" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352"
	variants "default ATTN_SG=0" "-p 0 -n 128 -r 3" "-p 512 -n 0 -r 3"
fi
# The GPU's clocks while it decodes (nvidia-smi every 20 ms during tg128;
# part clocks).
if want clocks && command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,utilization.gpu --format=csv -lms 20 >"$out/clocks.csv" 2>&1 &
	smi=$!
	timeout 120 "$B" bench --model "$model" --backend vulkan -p 0 -n 512 -r 1 2>&1 | grep -E '^tg' | sed "s/^/clocks: /" | tee -a "$sum"
	kill "$smi"
	awk -F', ' 'NR > 1 && $2 + 0 > 0 { n++; sm += $2; if ($2 + 0 > mx) mx = $2 + 0 } END { if (n) printf "clocks: %d samples, SM clock mean %.0f MHz, max %d MHz\n", n, sm / n, mx }' "$out/clocks.csv" | tee -a "$sum"
fi
# Query heads per attention workgroup (BITNET_VK_ATTN_HEADS; 0, the
# default: one over a short cache, the 4 of a KV head over a long one and
# in prompts), side by side at tg128, depth 4096 and pp512, then the
# timeline of a short cache's step with one head each.
if want attnheads; then
	sidebyside BITNET_VK_ATTN_HEADS "0 1 2" "-p 0 -n 128 -r 3" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352" "-p 512 -n 0 -r 3"
	timelines BITNET_VK_ATTN_HEADS "1"
fi
# Decode attention over a short cache with its chunk's key rows staged in
# shared memory (the default) and loaded into registers
# (BITNET_VK_ATTN_STAGE=0), side by side at tg128, tg128 in a
# 4,096-position state and depth 4096 (a long cache: the same kernels
# both ways), then the timeline of both and the attention block's kernel
# benchmark.
if want stage; then
	sidebyside BITNET_VK_ATTN_STAGE "0 1" "-p 0 -n 128 -r 3" "-p 0 -n 128 -r 3 --ctx-size 4096" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352"
	for v in 0 1; do
		timelines BITNET_VK_ATTN_STAGE "$v"
		(cd gpu && BITNET_VK_ATTN_STAGE=$v step "bench-AttnBlock-stage$v" 180 ../bin/gpu.test -test.run '^$' -test.bench '^BenchmarkAttnBlock$' -test.benchtime 50x)
		grep -E '^Benchmark|FAIL' "$out/bench-AttnBlock-stage$v.log" | sed "s/^/ATTN_STAGE=$v: /" | tee -a "$sum"
	done
fi
# The I2_S decode matvec with the codes masked in place and the code sum
# subtracted once per row (BITNET_VK_MATVEC_ROWSUM=1, the default) against
# the codes shifted down (=0): the latter's conformance cases, then side by
# side at
# tg128, tg128 in a 4,096-position state and depth 4096 (and with two rows
# per subgroup in gate/up at tg128), the timeline (its body column is the
# dot products) and the kernel benchmark of the 2B-4T shapes, both ways.
if want rowsum; then
	gputests rowsum '^TestConformanceMatvecNoRowSum$'
	sidebyside BITNET_VK_MATVEC_ROWSUM "0 1" "-p 0 -n 128 -r 3" "-p 0 -n 128 -r 3 --ctx-size 4096" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352"
	# With two rows per subgroup in gate/up (one wave of workgroups, each
	# with twice the dot products, which the code sum per row makes cheaper).
	(
		export BITNET_VK_MATVEC_ROWSUM=1
		LABEL="BITNET_VK_MATVEC_ROWSUM=1 " sidebyside BITNET_VK_MATVEC_ROWS "1 2" "-p 0 -n 128 -r 3"
	)
	for v in 0 1; do
		timelines BITNET_VK_MATVEC_ROWSUM "$v"
		if [ -x bin/gpu.test ]; then
			(cd gpu && BITNET_VK_MATVEC_ROWSUM=$v step "bench-MatvecI2S-rowsum$v" 180 ../bin/gpu.test -test.run '^$' -test.bench '^BenchmarkMatvecI2S$/^(2560x6912|6912x2560|2560x2560)$' -test.benchtime 50x)
			grep -E '^Benchmark|FAIL' "$out/bench-MatvecI2S-rowsum$v.log" | sed "s/^/MATVEC_ROWSUM=$v: /" | tee -a "$sum"
		fi
	done
fi
# The weights in a few memory blocks of up to 64 MiB instead of an
# allocation per tensor (BITNET_VK_WEIGHT_BLOCKS=1, opt-in: within the
# noise on an H200): side by side at tg128, tg128 in a 4,096-position state and
# depth 4096, then the timeline both ways (a matvec's wait column holds
# its first weight loads, where address translation misses would show).
if want blocks; then
	sidebyside BITNET_VK_WEIGHT_BLOCKS "0 1" "-p 0 -n 128 -r 3" "-p 0 -n 128 -r 3 --ctx-size 4096" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352"
	timelines BITNET_VK_WEIGHT_BLOCKS "0 1"
fi
# Value rows an attention invocation loads at once (BITNET_VK_ATTN_VALUE_LOADS,
# default 8: four rounds to memory over a chunk of 128 positions; 32: one),
# side by side at depth 4096 and tg128.
if want valueloads; then
	sidebyside BITNET_VK_ATTN_VALUE_LOADS "8 16 32" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352" "-p 0 -n 128 -r 3"
fi
# The prompt GEMM on cooperative matrices (the default on a GPU that has
# them), side by side with the tiled kernel in the same run, at pp512 and
# pp2048.
if want coopmat && grep -q 'cooperative matrices' "$out/devices.txt"; then
	sidebyside BITNET_VK_COOPMAT "0 1" "-p 512,2048 -n 0 -r 3 --ctx-size 2304"
	# The GEMM's workgroup tiles (weight rows x tokens; the default is
	# 128x128).
	for tile in 64x64 128x64 64x128 128x128; do
		BITNET_VK_COOPMAT=1 BITNET_VK_COOPMAT_TILE=$tile "$B" bench --model "$model" --backend vulkan -p 512 -n 0 -r 3 2>/dev/null | grep -E '^(kernels|pp[0-9]+ )' | tr '\n' ' ' | sed "s/^/BITNET_VK_COOPMAT_TILE=$tile: /" | tee -a "$sum"
		echo | tee -a "$sum"
	done
	# Each kernel's time in one 512-token prompt pass, both ways.
	for cm in 0 1; do
		BITNET_VK_COOPMAT=$cm step "op-times-pp512-coopmat$cm" 180 "$B" bench --model "$model" --backend vulkan -p 512 -n 0 -r 1 --op-times
		sed -n '/kernel times/,$p' "$out/op-times-pp512-coopmat$cm.log" | head -n 16 | tee -a "$sum"
	done
fi
# The attention reductions within subgroups (opt-in: no faster on an H100
# or H200), side
# by side with the shared-memory trees: decode over a short cache and at
# depth 4096.
want attn && sidebyside BITNET_VK_ATTN_SG "0 1" "-p 0 -n 128 -r 3" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352"
# Two opt-in decode variants (mixed on an H200; see BENCHMARKS.md): two
# rows per subgroup in the matvecs of many rows (BITNET_VK_MATVEC_ROWS=2:
# gate/up in one wave of workgroups) and decode attention over a short
# cache in chunks of 128 positions (BITNET_VK_ATTN_DECODE_CHUNK=128): side
# by side at tg128, depth 512 and depth 4096, then the kernel times at
# depth 8 with both.
if want attn; then
	for round in $(seq "${ROUNDS:-2}"); do
		for v in "1 256" "2 256" "1 128" "2 128"; do
			# shellcheck disable=SC2086 # v holds two values
			set -- $v
			for a in "-p 0 -n 128 -r 3" "-p 0 -n 64 -d 512 -r 2 --ctx-size 1024" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352"; do
				# shellcheck disable=SC2086 # a holds several arguments
				BITNET_VK_MATVEC_ROWS=$1 BITNET_VK_ATTN_DECODE_CHUNK=$2 "$B" bench --model "$model" --backend vulkan $a 2>/dev/null | grep -E '^tg[0-9]+(@d[0-9]+)? ' | sed "s/^/round $round BITNET_VK_MATVEC_ROWS=$1 BITNET_VK_ATTN_DECODE_CHUNK=$2: /" | tee -a "$sum"
			done
		done
	done
	BITNET_VK_MATVEC_ROWS=2 BITNET_VK_ATTN_DECODE_CHUNK=128 step op-times-rows2-chunk128 180 "$B" bench --model "$model" --backend vulkan -p 0 -n 32 -r 1 --op-times
	sed -n '/kernel times/,$p' "$out/op-times-rows2-chunk128.log" | head -n 8 | tee -a "$sum"
fi
# The same shapes in upstream bitnet's TQ2_0 (the type llama.cpp's table
# row ran): its tiled prompt GEMM and decode matvec.
tq=${model%.gguf}-tq2_0.gguf
if want tq; then
	[ -f "$tq" ] || step gen-model-tq2_0 300 "$B" gen-model --arch bitnet --preset 2b4t --weight-type tq2_0 --out "$tq"
	step bench-tq2_0 300 "$B" bench --model "$tq" --backend vulkan -p 512 -n 128 -r 3 --json
	grep -hE '^(pp|tg)[0-9]' "$out/bench-tq2_0.log" | sed "s/^/tq2_0: /" | tee -a "$sum"
fi
# Side by side with another build (BASELINE=path/to/bitnet): two rounds,
# alternating, on the same machine.
if want baseline && [ -n "${BASELINE:-}" ] && [ -x "$BASELINE" ]; then
	for round in $(seq "${ROUNDS:-2}"); do
		for bin in "$BASELINE" "$B"; do
			who=current
			[ "$bin" = "$BASELINE" ] && who=baseline
			for a in "-p 0 -n 128 -r 3" "-p 0 -n 128 -r 3 --ctx-size 4096" "-p 0 -n 64 -d 4096 -r 2 --ctx-size 4352" "-p 512 -n 0 -r 3"; do
				# shellcheck disable=SC2086 # a holds several arguments
				"$bin" bench --model "$model" --backend vulkan $a 2>/dev/null | grep -E '^(pp|tg)[0-9]+(@d[0-9]+)? ' | sed "s/^/round $round $who ($a): /" | tee -a "$sum"
			done
		done
	done
fi
want heads && for h in q8_0 q6_k; do
	step "bench-head-$h" 200 "$B" bench --model "$model" --backend vulkan -p 0 -n 128 -r 3 --lm-head "$h" --json
	grep -hE '^(pp|tg)[0-9]' "$out/bench-head-$h.log" | sed "s/^/lm-head $h: /" | tee -a "$sum"
done
if want optimes; then
step op-times 180 "$B" bench --model "$model" --backend vulkan -p 0 -n 32 -r 1 --op-times
sed -n '/kernel times/,$p' "$out/op-times.log" | head -n 40 | tee -a "$sum"
step op-times-d4096 180 "$B" bench --model "$model" --backend vulkan -p 0 -n 16 -d 4096 -r 1 --ctx-size 4352 --op-times
sed -n '/kernel times/,$p' "$out/op-times-d4096.log" | head -n 16 | tee -a "$sum"
fi
# The same machine's CPU, for scale.
if want cpu && [ "${QUICK:-0}" != 1 ]; then
	step bench-cpu 240 "$B" bench --model "$model" --backend cpu -p 128 -n 32 -r 2
	grep -hE '^(pp|tg)[0-9]' "$out/bench-cpu.log" | tee -a "$sum"
fi
# The side-by-side rounds in short: per variant and test, the mean over
# the rounds (tokens/s).
if grep -q '^round [0-9]' "$sum"; then
	note "side by side, mean of the rounds (tokens/s):"
	grep '^round [0-9]' "$sum" | sed -E 's/^round [0-9]+ //' |
		awk '{ v = ""; for (i = 1; i <= NF; i++) if ($i ~ /^(pp|tg)[0-9]+(@d[0-9]+)?$/) { v = $(i + 1); k = $0; sub(/ +[0-9.]+ +± .*/, "", k); s[k] += v; n[k]++; break } }
			END { for (k in s) printf "  %s: %.1f (%d rounds)\n", k, s[k] / n[k], n[k] }' | sort | tee -a "$sum"
fi
note "results in $out"
