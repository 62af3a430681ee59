#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The introspection profile suite (TAP), run on the host:
#
#   selftests/leaktrace/profile.sh
#
# Builds profiles with `leaktrace profile build` and checks every value
# against an independent source:
#
#   - the project's release kernel (scripts/build-kernel --variant release
#     --print-dir, or LEAKTRACE_PROFILE_KDIR): its bzImage and its vmlinux
#     give the same profile; every address matches the tree's System.map;
#     every offset matches `pahole -F dwarf` (DWARF, not the BTF the
#     profile came from); banner and build id are the bytes at their
#     addresses in the file;
#   - Debian's stock kernel (LEAKTRACE_DEBIAN_VMLINUZ, by default the one
#     scripts/fetch-guest-kernel caches): no symbol table, so
#     entry_SYSCALL_64 must come from the fingerprint; the vmlinuz and the
#     vmlinux scripts/extract-vmlinux gets from it give the same profile;
#     offsets match `pahole -F btf`; current_task matches the export table;
#     the raw .BTF section gives the same offsets with --offsets-only;
#   - malformed inputs (truncated image, ELF without .BTF, garbage,
#     corrupt JSON profiles): a non-zero exit and a clear message, never a
#     panic.
#
# A kernel that is not there (not built yet, not fetched) makes its checks
# SKIP with the reason. Exit status: 0 when nothing failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/scripts/lib.sh"

reader=$root/build/cargo-host/debug/leaktrace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { sed 's/^/# /'; }
# check NAME CMD...: one test; the command's output becomes diagnostics.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		not_ok "$name"
	fi
	[ -z "$out" ] || printf '%s\n' "$out" | diag
}

echo "TAP version 13"

cargo build --quiet --locked --target-dir "$root/build/cargo-host" \
	--manifest-path "$root/Cargo.toml" -p leaktrace --bin leaktrace 2>&1 | diag
if [ "${PIPESTATUS[0]}" != 0 ] || [ ! -x "$reader" ]; then
	echo "not ok 1 - profile suite: cannot build $reader"
	echo "1..1"
	exit 1
fi

# The profile fields and the kernel members they hold (an independent copy
# of the table in rust/reader/src/profile.rs): field struct member.path.
FIELDS="
task_pid task_struct pid
task_tgid task_struct tgid
task_comm task_struct comm
task_real_parent task_struct real_parent
task_mm task_struct mm
task_files task_struct files
task_fs task_struct fs
fs_root fs_struct root
files_fdt files_struct fdt
fdtable_max_fds fdtable max_fds
fdtable_fd fdtable fd
file_f_path file f_path
file_f_inode file f_inode
path_mnt path mnt
path_dentry path dentry
dentry_d_parent dentry d_parent
dentry_d_name_len dentry d_name.len
dentry_d_name_name dentry d_name.name
mount_mnt mount mnt
mount_mnt_parent mount mnt_parent
mount_mnt_mountpoint mount mnt_mountpoint
vfsmount_mnt_root vfsmount mnt_root
inode_i_mode inode i_mode
inode_i_ino inode i_ino
inode_i_sb inode i_sb
super_block_s_dev super_block s_dev
socket_alloc_socket socket_alloc socket
socket_alloc_vfs_inode socket_alloc vfs_inode
socket_type socket type
socket_sk socket sk
sock_common_skc_family sock_common skc_family
sock_common_skc_daddr sock_common skc_daddr
sock_common_skc_rcv_saddr sock_common skc_rcv_saddr
sock_common_skc_dport sock_common skc_dport
sock_common_skc_num sock_common skc_num
task_comm_size task_struct comm
unix_sock_peer unix_sock peer
"

# json FILE EXPR: a value of a profile (Python expression on `p`).
json() {
	python3 -c 'import json, sys; p = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# build NAME INPUT [ARGS]: `profile build` into $tmp/NAME.json, its
# standard error into $tmp/NAME.err.
build() {
	local name=$1 input=$2
	shift 2
	"$reader" profile build "$@" "$input" -o "$tmp/$name.json" 2>"$tmp/$name.err"
}

# pahole_member DUMP STRUCT PATH: "offset size" of a member (PATH like
# d_name.len) from pahole's output, following nested structures; fetches
# a nested structure with $PAHOLE (appending it to DUMP) when missing.
pahole_member() {
	local dump=$1 struct=$2 path=$3 total=0 comp line off size rest
	rest=$path
	while :; do
		comp=${rest%%.*}
		grep -q "^struct $struct {" "$dump" || $PAHOLE -C "$struct" "$PAHOLE_FILE" >>"$dump" 2>/dev/null
		line=$(awk -v s="struct $struct {" -v m="$comp" '
			$0 == s { inside = 1; next }
			inside && /^}/ { exit }
			inside {
				re = "[ *]" m "(\\[[0-9]+\\])?( __attribute__.*)?;"
				if ($0 ~ re) { print; exit }
			}' "$dump")
		[ -n "$line" ] || { echo "pahole: struct $struct has no $comp"; return 1; }
		case "$line" in *"/* "*": "*) echo "pahole: $struct.$comp is a bitfield"; return 1 ;; esac
		read -r off size <<<"$(sed -n 's|.*/\* *\([0-9][0-9]*\) *\([0-9][0-9]*\) *\*/.*|\1 \2|p' <<<"$line")"
		[ -n "${off:-}" ] || { echo "pahole: no offset in: $line"; return 1; }
		total=$((total + off))
		[ "$rest" != "$comp" ] || break
		rest=${rest#*.}
		struct=$(sed -n 's/^[[:space:]]*\(const \)\{0,1\}struct \([A-Za-z0-9_]*\)[[:space:]]\{1,\}[A-Za-z0-9_]\{1,\}[;[ ].*/\2/p' <<<"$line")
		[ -n "$struct" ] || { echo "pahole: $comp is not a structure: $line"; return 1; }
	done
	echo "$total $size"
}

# offsets_match PROFILE: every offset of PROFILE against pahole ($PAHOLE
# on $PAHOLE_FILE).
offsets_match() {
	local profile=$1 dump=$tmp/pahole.$RANDOM field struct path got want bad=0 structs
	structs=$(awk 'NF == 3 { print $2 }' <<<"$FIELDS" | sort -u | paste -sd,)
	$PAHOLE -C "$structs" "$PAHOLE_FILE" >"$dump" 2>/dev/null
	while read -r field struct path; do
		[ -n "$field" ] || continue
		got=$(json "$profile" "p['offsets']['$field']") || { echo "$field: not in the profile"; bad=1; continue; }
		want=$(pahole_member "$dump" "$struct" "$path") || { echo "$want"; bad=1; continue; }
		[ "$field" = task_comm_size ] && want=${want#* } || want=${want%% *}
		if [ "$got" = "$want" ]; then
			echo "$field = $got ($struct.$path)"
		else
			echo "MISMATCH $field: profile $got, pahole $want ($struct.$path)"
			bad=1
		fi
	done <<<"$FIELDS"
	# Nothing in the profile that this suite does not check.
	local count
	count=$(json "$profile" "len(p['offsets'])")
	[ "$count" = "$(grep -c . <<<"$FIELDS")" ] || { echo "the profile has $count offsets"; bad=1; }
	return $bad
}

# bytes_at FILE ADDR LEN: hex of LEN bytes at link address ADDR of an
# x86-64 ELF FILE, found through its section headers.
bytes_at() {
	python3 - "$@" <<'PY'
import struct, sys
path, addr, length = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3])
with open(path, "rb") as f:
    data = f.read()
shoff, = struct.unpack_from("<Q", data, 0x28)
shentsize, shnum = struct.unpack_from("<HH", data, 0x3a)
for i in range(shnum):
    _, kind, _, sh_addr, sh_off, sh_size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
    if kind != 8 and sh_addr and sh_addr <= addr < sh_addr + sh_size:  # not NOBITS
        at = sh_off + addr - sh_addr
        print(data[at:at + length].hex())
        sys.exit(0)
sys.exit(1)
PY
}

# identity_matches PROFILE VMLINUX: the banner and build id are the bytes
# at their addresses, the build id is the one readelf reports.
identity_matches() {
	local p=$1 elf=$2 banner_hex id addr got
	banner_hex=$(json "$p" "p['kernel']['banner'].encode().hex()")
	addr=$(json "$p" "p['addresses']['linux_banner']")
	got=$(bytes_at "$elf" "$addr" $((${#banner_hex} / 2)))
	[ "$got" = "$banner_hex" ] || { echo "bytes at linux_banner $addr: $got"; return 1; }
	echo "banner at $addr: ok"
	id=$(json "$p" "p['kernel']['build_id']")
	[ "$id" = "$(readelf -n "$elf" | sed -n 's/^ *Build ID: //p' | head -n 1)" ] ||
		{ echo "build id $id is not readelf's"; return 1; }
	addr=$(json "$p" "p['addresses']['build_id_addr']")
	got=$(bytes_at "$elf" "$addr" $((${#id} / 2)))
	[ "$got" = "$id" ] || { echo "bytes at build_id_addr $addr: $got"; return 1; }
	echo "build id $id at $addr: ok"
}

# --- The project's release kernel.
kdir=${LEAKTRACE_PROFILE_KDIR:-$("$root/scripts/build-kernel" --variant release --print-dir 2>/dev/null)}
release_skip=
if [ ! -f "$kdir/vmlinux" ] || [ ! -f "$kdir/arch/x86/boot/bzImage" ] || [ ! -f "$kdir/System.map" ]; then
	release_skip="no release kernel in ${kdir:-?} (scripts/build-kernel --variant release)"
elif ! readelf -SW "$kdir/vmlinux" | grep -q ' \.BTF '; then
	release_skip="the release kernel in $kdir has no .BTF (rebuild it: kconfig/btf.config)"
fi

if [ -n "$release_skip" ]; then
	for t in "vmlinux gives a profile" "bzImage gives the same profile" \
		"addresses match System.map" "banner and build id are the image's bytes" \
		"offsets match pahole (DWARF)"; do
		skip "release kernel: $t" "$release_skip"
	done
else
	echo "# release kernel: $kdir"
	check "release kernel: vmlinux gives a profile" build rel-vmlinux "$kdir/vmlinux"
	diag <"$tmp/rel-vmlinux.err"
	check "release kernel: bzImage gives the same profile" \
		sh -c 'build() { "$1" profile build "$2" -o "$3" 2>"$3.err"; }
			build "$1" "$2" "$3" && cat "$3.err" && cmp "$3" "$4"' \
		sh "$reader" "$kdir/arch/x86/boot/bzImage" "$tmp/rel-bzimage.json" "$tmp/rel-vmlinux.json"
	release_addresses() {
		local p=$tmp/rel-vmlinux.json bad=0 field sym got want
		for pair in linux_banner:linux_banner entry_syscall:entry_SYSCALL_64 current_task:current_task; do
			field=${pair%%:*} sym=${pair#*:}
			got=$(json "$p" "p['addresses']['$field']") || return 1
			want=0x$(awk -v s="$sym" '$3 == s { print $1; exit }' "$kdir/System.map")
			if [ "$got" = "$want" ]; then
				echo "$field = $got ($sym in System.map)"
			else
				echo "MISMATCH $field: profile $got, System.map $want ($sym)"
				bad=1
			fi
		done
		# No symbol table in the bzImage: the fingerprint found the entry.
		grep 'entry_syscall: .* found by fingerprint' "$tmp/rel-bzimage.json.err" || bad=1
		return $bad
	}
	check "release kernel: addresses match System.map" release_addresses
	check "release kernel: banner and build id are the image's bytes" \
		identity_matches "$tmp/rel-vmlinux.json" "$kdir/vmlinux"
	PAHOLE="pahole -F dwarf" PAHOLE_FILE=$kdir/vmlinux \
		check "release kernel: offsets match pahole (DWARF)" offsets_match "$tmp/rel-vmlinux.json"
fi

# --- Debian's stock kernel: stripped, IBT, zstd.
vmlinuz=${LEAKTRACE_DEBIAN_VMLINUZ:-$LT_CACHE/guest-kernels/debian/vmlinuz}
extract=
for d in "$kdir" /usr/src/linux-source-7.3; do
	[ -x "$d/scripts/extract-vmlinux" ] && { extract=$d/scripts/extract-vmlinux; break; }
done
debian_tests=("vmlinuz gives a profile, entry_syscall by fingerprint"
	"the extracted vmlinux gives the same profile"
	"banner and build id are the image's bytes"
	"offsets match pahole (BTF)"
	"raw .BTF gives the same offsets with --offsets-only, and no profile without")
if [ ! -f "$vmlinuz" ]; then
	for t in "${debian_tests[@]}"; do
		skip "debian kernel: $t" "no $vmlinuz (scripts/fetch-guest-kernel, or set LEAKTRACE_DEBIAN_VMLINUZ)"
	done
else
	echo "# debian kernel: $(realpath "$vmlinuz")"
	debian_profile() {
		build debian "$vmlinuz" || { cat "$tmp/debian.err"; return 1; }
		cat "$tmp/debian.err"
		local banner
		banner=$(json "$tmp/debian.json" "p['kernel']['banner']")
		case "$banner" in "Linux version 7.3"*) ;; *) echo "banner: $banner"; return 1 ;; esac
		grep -q 'no symbol table' "$tmp/debian.err" || { echo "it has a symbol table?"; return 1; }
		grep -q 'entry_syscall: .* found by fingerprint' "$tmp/debian.err" || return 1
		grep -q 'current_task: matches the kernel.s export table' "$tmp/debian.err" || return 1
	}
	check "debian kernel: ${debian_tests[0]}" debian_profile
	if [ ! -f "$tmp/debian.json" ]; then
		for t in "${debian_tests[@]:1}"; do skip "debian kernel: $t" "no profile"; done
	elif [ -z "$extract" ]; then
		for t in "${debian_tests[@]:1}"; do
			skip "debian kernel: $t" "no scripts/extract-vmlinux (no kernel tree)"
		done
	elif ! "$extract" "$vmlinuz" >"$tmp/debian.vmlinux" 2>"$tmp/extract.err" ||
		! [ -s "$tmp/debian.vmlinux" ]; then
		for t in "${debian_tests[@]:1}"; do
			skip "debian kernel: $t" "$extract failed: $(tr '\n' ' ' <"$tmp/extract.err")"
		done
	else
		check "debian kernel: ${debian_tests[1]}" \
			sh -c '"$1" profile build -q "$2" | cmp - "$3"' sh "$reader" "$tmp/debian.vmlinux" "$tmp/debian.json"
		check "debian kernel: ${debian_tests[2]}" identity_matches "$tmp/debian.json" "$tmp/debian.vmlinux"
		PAHOLE="pahole -F btf" PAHOLE_FILE=$tmp/debian.vmlinux \
			check "debian kernel: ${debian_tests[3]}" offsets_match "$tmp/debian.json"
		raw_btf() {
			objcopy -O binary --only-section=.BTF "$tmp/debian.vmlinux" "$tmp/debian.btf" || return 1
			"$reader" profile build --offsets-only -q "$tmp/debian.btf" >"$tmp/debian-btf.json" || return 1
			[ "$(json "$tmp/debian-btf.json" "p['offsets']")" = "$(json "$tmp/debian.json" "p['offsets']")" ] ||
				{ echo "offsets differ"; return 1; }
			! "$reader" profile build "$tmp/debian.btf" 2>"$tmp/raw.err" >/dev/null || return 1
			cat "$tmp/raw.err"
			grep -q -- '--offsets-only' "$tmp/raw.err"
		}
		check "debian kernel: ${debian_tests[4]}" raw_btf
	fi
	rm -f "$tmp/debian.vmlinux" "$tmp/debian.btf"
fi

# --- Malformed inputs: exit 1 with "leaktrace: error: ..." naming the
# problem; never a panic (exit 101).
# refuses NAME EXPECTED CMD...: CMD exits 1 and says EXPECTED.
refuses() {
	local name=$1 expected=$2 out rc
	shift 2
	out=$("$@" 2>&1 >/dev/null)
	rc=$?
	printf '%s\n' "$out"
	[ "$rc" = 1 ] || { echo "exit status $rc, expected 1"; return 1; }
	case "$out" in *panicked*) echo "panicked"; return 1 ;; esac
	grep -q -- "$expected" <<<"$out" || { echo "no \"$expected\" in the message"; return 1; }
}

image=
for f in "$vmlinuz" "$kdir/arch/x86/boot/bzImage"; do
	[ -f "$f" ] && { image=$f; break; }
done
if [ -n "$image" ]; then
	head -c $(($(stat -c %s "$image") / 2)) "$image" >"$tmp/truncated"
	check "malformed: a truncated kernel image is refused" \
		refuses truncated "corrupt or truncated" "$reader" profile build "$tmp/truncated"
else
	skip "malformed: a truncated kernel image is refused" "no kernel image to truncate"
fi
check "malformed: an ELF file without .BTF is refused" \
	refuses nobtf "no .BTF section" "$reader" profile build "$reader"
yes 'not a kernel' | head -c 100000 >"$tmp/garbage"
check "malformed: a garbage file is refused" \
	refuses garbage "neither an ELF file" "$reader" profile build "$tmp/garbage"
check "malformed: a missing file is refused" \
	refuses missing "No such file" "$reader" profile build "$tmp/nonexistent"

# Profiles: a good one (from a kernel above, or the unit tests' shape) and
# broken copies of it.
good=
for f in "$tmp/rel-vmlinux.json" "$tmp/debian.json"; do
	[ -s "$f" ] && { good=$f; break; }
done
if [ -n "$good" ]; then
	check "profile show: a built profile is shown, --json as written" \
		sh -c '"$1" profile show "$2" && "$1" profile show --json "$2" | cmp - "$2"' sh "$reader" "$good"
	head -c 200 "$good" >"$tmp/cut.json"
	check "malformed: a truncated profile is refused" \
		refuses cut "not valid JSON" "$reader" profile show "$tmp/cut.json"
	# broken NAME EXPECTED PYTHON: the profile changed by PYTHON (on `p`)
	# is refused by show and by load, before any device is opened.
	broken() {
		local name=$1 expected=$2 change=$3
		python3 -c 'import json, sys; p = json.load(open(sys.argv[1])); exec(sys.argv[2]); json.dump(p, open(sys.argv[3], "w"))' \
			"$good" "$change" "$tmp/$name.json" || return 1
		refuses "$name" "$expected" "$reader" profile show "$tmp/$name.json" || return 1
		refuses "$name" "$expected" "$reader" --device "$tmp/no-device" profile load --all "$tmp/$name.json"
	}
	check "malformed: a profile with a non-hex address is refused" \
		broken hex "not a hex address" "p['addresses']['entry_syscall'] = 'ffffffff81000040'"
	check "malformed: a profile with an offset out of range is refused" \
		broken range "out of range" "p['offsets']['task_pid'] = 70000"
	check "malformed: a profile without a field is refused" \
		broken missing "missing \`offsets.socket_sk\`" "del p['offsets']['socket_sk']"
	check "malformed: a profile of another version is refused" \
		broken version "unsupported profile version 1" "p['version'] = 1"
	check "malformed: a profile the module would refuse is refused" \
		broken comm "comm length" "p['offsets']['task_comm_size'] = 32"
else
	for t in "profile show: a built profile is shown" "malformed: profiles"; do
		skip "$t" "no kernel gave a profile to start from"
	done
fi
check "malformed: a JSON file that is no profile is refused" \
	refuses other "not a leaktrace profile" sh -c 'echo "{\"format\": \"x\"}" | "$1" profile show -' sh "$reader"

echo "1..$n"
[ "$failed" -eq 0 ]
