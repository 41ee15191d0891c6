#!/bin/sh
# Build (or reuse) an arm64 Debian root that runs the runner (tfquant-run) under QEMU user-mode emulation.
#
#   sudo export/arm64_root.sh [ROOT]        # default ROOT: $TFQUANT_ARM64_ROOT or ~/.cache/tfquant/arm64-root
#   sudo python -m export.arm64_run litert MODEL.tflite DATA.npz   # runs python3 -m tfquant_lite.cli in it
# or by hand:
#   cp -r tfquant ROOT/tmp/ && sudo env PYTHONPATH=/opt/litert:/tmp chroot ROOT /usr/bin/qemu-aarch64-static \
#        -cpu cortex-a76 /usr/bin/python3 -m tfquant_lite.cli /tmp/model.tflite /tmp/data.npz
#
# What it makes:
#   ROOT/                         Debian bookworm arm64, minbase + python3 (debootstrap, first stage only:
#                                 the .debs are unpacked with dpkg-deb, so no binfmt_misc is needed)
#   ROOT/usr/bin/qemu-aarch64-static
#   ROOT/proc/cpuinfo             a fake ARM cpuinfo (LiteRT parses it and crashes on the host's x86 one;
#                                 /proc is not mounted in the root, so this plain file is what it reads)
#   ROOT/opt/litert/              aarch64 wheels of ai-edge-litert + numpy (pip install --target)
#   ROOT/opt/tflite-runtime/      aarch64 wheels of tflite-runtime 2.14 + numpy<2 (it fails under numpy 2)
#
# Needs root (debootstrap, chroot), debootstrap, qemu-user-static, dpkg-deb, and a python with pip
# ($PYTHON, default python3) that can reach PyPI. Mirror: $DEBIAN_MIRROR (default deb.debian.org, the one
# apt uses on these machines). Re-running it is cheap: each step is skipped when its result exists.
set -eu

ROOT=${1:-${TFQUANT_ARM64_ROOT:-$HOME/.cache/tfquant/arm64-root}}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PYTHON=${PYTHON:-python3}
PY_VERSION=3.11   # bookworm's python3

for tool in debootstrap dpkg-deb qemu-aarch64-static chroot; do
  command -v "$tool" >/dev/null || { echo "arm64_root: '$tool' not found: apt-get install debootstrap qemu-user-static" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "arm64_root: debootstrap and chroot need root: rerun with sudo" >&2; exit 2; }

if [ ! -x "$ROOT/usr/bin/python3" ]; then
  echo "arm64_root: debootstrap bookworm arm64 into $ROOT (about 230 MB)"
  rm -rf "$ROOT.partial"
  debootstrap --arch=arm64 --variant=minbase --foreign --include=python3 bookworm "$ROOT.partial" "$MIRROR"
  # The first stage unpacks only the essential packages; unpack the rest (python3 and its libraries).
  for deb in "$ROOT.partial"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$ROOT.partial"; done
  rm -f "$ROOT.partial"/var/cache/apt/archives/*.deb
  mkdir -p "$(dirname "$ROOT")" && rm -rf "$ROOT" && mv "$ROOT.partial" "$ROOT"
fi

cp "$(command -v qemu-aarch64-static)" "$ROOT/usr/bin/qemu-aarch64-static"
mkdir -p "$ROOT/proc" "$ROOT/tmp"
if ! grep -q "CPU implementer" "$ROOT/proc/cpuinfo" 2>/dev/null; then
  rm -rf "$ROOT/proc/cpuinfo"
  for core in 0 1 2 3; do
    cat <<EOF
processor	: $core
BogoMIPS	: 108.00
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x4
CPU part	: 0xd0b
CPU revision	: 1

EOF
  done > "$ROOT/proc/cpuinfo"
fi

# pip matches --platform exactly, so list every manylinux tag an aarch64 bookworm (glibc 2.36) accepts.
PLATFORMS=""
for tag in manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_27 manylinux_2_28 manylinux_2_31 manylinux_2_34 manylinux_2_35 manylinux_2_36; do
  PLATFORMS="$PLATFORMS --platform ${tag}_aarch64"
done
install_wheels() {  # install_wheels DIR REQUIREMENT...
  dir=$1; shift
  [ -f "$ROOT/opt/$dir/.complete" ] && return 0
  echo "arm64_root: aarch64 wheels $* -> $ROOT/opt/$dir"
  rm -rf "$ROOT/opt/$dir"
  # shellcheck disable=SC2086
  "$PYTHON" -m pip install -q --disable-pip-version-check --no-warn-conflicts --no-compile --target "$ROOT/opt/$dir" \
    $PLATFORMS --python-version "$PY_VERSION" --implementation cp --only-binary=:all: "$@"
  touch "$ROOT/opt/$dir/.complete"
}
install_wheels litert ai-edge-litert numpy
install_wheels tflite-runtime "tflite-runtime==2.14.0" "numpy<2"
echo "arm64_root: ready: $ROOT"
