#!/usr/bin/env bash
# Proof that swift-nn builds and passes `make test` on a second distribution: a Debian 13
# (trixie) root made by debootstrap from Debian's packages, with this machine's Swift
# toolchain and local Swift package copies bind-mounted read-only, and the committed tree
# cloned in. Inside, `make test` runs `make deps` first, so the Makefile's DEBS list is
# installed from trixie's archive too (libomp-dev is LLVM 19 there, not 14).
#
# Needs root (debootstrap, chroot, bind mounts), hence not part of `make test`.
# Usage: sudo scripts/trixie-test.sh [--prepare]
#   --prepare  only make the root and install the toolchain's own needs (no build, no tests)
# Environment: TRIXIE_ROOT (default .build-trixie/root, gitignored; reused when present),
#              TRIXIE_MIRROR (default http://deb.debian.org/debian),
#              SWIFT_TOOLCHAIN (default /opt/swift), SWIFT_PACKAGES (default /opt/swift-packages).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
rootfs=${TRIXIE_ROOT:-$repo/.build-trixie/root}
mirror=${TRIXIE_MIRROR:-http://deb.debian.org/debian}
toolchain=${SWIFT_TOOLCHAIN:-/opt/swift}
packages=${SWIFT_PACKAGES:-/opt/swift-packages}
prepare_only=0
[ "${1:-}" = "--prepare" ] && prepare_only=1

if [ "$(id -u)" != 0 ]; then
    echo "error: $0 needs root (debootstrap, chroot and bind mounts); run it with sudo" >&2
    exit 1
fi
command -v debootstrap >/dev/null || { echo "error: debootstrap not found: apt-get install debootstrap" >&2; exit 1; }
[ -x "$toolchain/usr/bin/swift" ] || { echo "error: no Swift toolchain at $toolchain (set SWIFT_TOOLCHAIN)" >&2; exit 1; }

# What the Swift toolchain itself needs at run time and to link (crt files, libstdc++),
# plus git and make for the build, and python3-numpy for the safetensors interop test.
toolchain_debs="ca-certificates git make g++ binutils libcurl4t64 libxml2 libedit2 libsqlite3-0 \
libncurses6 tzdata python3 python3-numpy"

if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
    echo "== debootstrap trixie into $rootfs"
    mkdir -p "$rootfs"
    debootstrap --variant=minbase trixie "$rootfs" "$mirror"
fi

mounts=()
mount_bind() { # source target [ro]
    mkdir -p "$rootfs$2"
    mount --bind "$1" "$rootfs$2"
    [ "${3:-}" = ro ] && mount -o remount,bind,ro "$rootfs$2"
    mounts+=("$rootfs$2")
}
cleanup() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" || true; done
}
trap cleanup EXIT

mount_bind /proc /proc
mount_bind /sys /sys
mount_bind /dev /dev
mount_bind /dev/pts /dev/pts
mount_bind "$toolchain" /opt/swift ro
mount_bind "$packages" /opt/swift-packages ro
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"

# git inside reads github.com URLs from the local package copies, as it does here.
cat > "$rootfs/etc/gitconfig" <<'EOF'
[url "/opt/swift-packages/"]
	insteadOf = https://github.com/
	insteadOf = git@github.com:
	insteadOf = ssh://git@github.com/
[safe]
	directory = *
EOF

in_root() {
    chroot "$rootfs" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
        PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

echo "== toolchain packages: $toolchain_debs"
in_root apt-get update -q
# shellcheck disable=SC2086
in_root apt-get install -y -q --no-install-recommends $toolchain_debs
in_root swift --version
[ "$prepare_only" = 1 ] && { echo "== trixie root prepared at $rootfs"; exit 0; }

# The committed state, as a user would clone it (consumer-check.sh clones it again).
echo "== clone $(git -C "$repo" rev-parse --short HEAD) into /src/swift-nn"
rm -rf "$rootfs/src/swift-nn"
mkdir -p "$rootfs/src"
git clone -q --no-hardlinks "$repo" "$rootfs/src/swift-nn"

echo "== make test inside trixie ($(cat "$rootfs/etc/debian_version"))"
in_root /bin/sh -c 'cd /src/swift-nn && make test'
echo "== trixie: make test passed"
