#!/usr/bin/env bash
# trixie-tools.sh [DIR]: installs into DIR (default .tools/trixie of the
# repository) what the cooperative-matrix kernel needs beyond Debian
# bookworm, without touching the system: Debian trixie's glslc 2025.2 and
# spirv-tools (bookworm's glslc does not know GL_KHR_cooperative_matrix),
# and a Vulkan runtime with cooperative matrices on the CPU (the Vulkan
# loader, the validation layer and Mesa 26.1's lavapipe from
# trixie-backports), all with trixie's own C library. It writes:
#
#   DIR/bin/glslc, DIR/bin/spirv-val   the compilers (make shaders uses them)
#   DIR/bin/vkrun PROGRAM ARGS...       runs a program on that runtime
#
# The packages come from deb.debian.org through apt with a private package
# list; nothing is installed system-wide. Needs apt-get and dpkg.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/.tools/trixie}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case $(uname -m) in
x86_64) multiarch=x86_64-linux-gnu ldso=ld-linux-x86-64.so.2 ;;
aarch64) multiarch=aarch64-linux-gnu ldso=ld-linux-aarch64.so.1 ;;
*) echo "trixie-tools: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac

apt=$dir/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/debs"
cat >"$apt/sources.list" <<'LIST'
deb [trusted=yes] http://deb.debian.org/debian trixie main
deb [trusted=yes] http://deb.debian.org/debian trixie-backports main
LIST
opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Dir::State::status=/dev/null
  -o "APT::Sandbox::User=$(id -un)" -o Debug::NoLocking=1)
apt-get "${opts[@]}" -qq update

# Every package the tools and the runtime need, recursively (the
# versions of trixie; Mesa then comes from trixie-backports, with the two
# libraries only that version needs).
top=(glslc spirv-tools libvulkan1 vulkan-validationlayers mesa-vulkan-drivers libdisplay-info2 libpng16-16t64)
mapfile -t pkgs < <(apt-cache "${opts[@]}" depends --recurse --no-recommends --no-suggests \
  --no-conflicts --no-breaks --no-replaces --no-enhances "${top[@]}" | grep -v '^[ <]' | sort -u)
pkgs=("${pkgs[@]/#mesa-vulkan-drivers/mesa-vulkan-drivers/trixie-backports}")
(cd "$dir/debs" && rm -f ./*.deb && apt-get "${opts[@]}" -qq download "${pkgs[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
rm -rf "$dir/root"
for f in "$dir"/debs/*.deb; do
  dpkg -x "$f" "$dir/root"
done

lib=$dir/root/usr/lib/$multiarch
mkdir -p "$dir/bin"
for tool in glslc spirv-val spirv-dis; do
  cat >"$dir/bin/$tool" <<TOOL
#!/bin/sh
exec "$lib/$ldso" --library-path "$lib" "$dir/root/usr/bin/$tool" "\$@"
TOOL
done
cat >"$dir/bin/vkrun" <<TOOL
#!/bin/sh
# Runs a dynamically linked program with trixie's C library, Vulkan loader,
# validation layer and lavapipe (cooperative matrices on the CPU).
export VK_ICD_FILENAMES="$dir/root/usr/share/vulkan/icd.d/lvp_icd.json"
export VK_LAYER_PATH="$dir/root/usr/share/vulkan/explicit_layer.d"
exec "$lib/$ldso" --library-path "$lib" "\$@"
TOOL
chmod +x "$dir"/bin/*
"$dir/bin/glslc" --version | sed -n 1p
dpkg-deb -f "$dir"/debs/mesa-vulkan-drivers_*.deb Package Version | tr '\n' ' '
echo
