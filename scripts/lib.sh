# SPDX-License-Identifier: GPL-2.0
# Shared definitions for leaktrace's scripts. Sourced, not executed.

# Build cache outside the checkout, reused across runs and by CI on the
# same machine. Override with LEAKTRACE_CACHE.
LT_CACHE=${LEAKTRACE_CACHE:-/var/cache/leaktrace}
mkdir -p "$LT_CACHE"

LT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BINDGEN=$LT_CACHE/bindgen/bin/bindgen
KERNEL_RUSTC=/usr/bin/rustc
LIBCLANG_PATH=/usr/lib/llvm-19/lib
export LIBCLANG_PATH

lt_log() { printf '[leaktrace] %s\n' "$*" >&2; }
lt_die() { printf '[leaktrace] error: %s\n' "$*" >&2; exit 1; }

# The KVM patch series, in order: patches/series lists the files (quilt
# style); an absent or empty series means no patches.
lt_patch_series() {
	local series=$LT_ROOT/patches/series
	[ -f "$series" ] || return 0
	local p
	while IFS= read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		[ -f "$LT_ROOT/patches/$p" ] || lt_die "patches/series names missing $p"
		echo "$LT_ROOT/patches/$p"
	done <"$series"
}

# Remove all but the newest $2 entries of directory $1.
lt_prune_dir() {
	local dir=$1 keep=$2
	[ -d "$dir" ] || return 0
	local old
	old=$(ls -1dt "$dir"/*/ 2>/dev/null | tail -n +"$((keep + 1))") || true
	[ -z "$old" ] || xargs -r rm -rf <<<"$old"
}
