// SPDX-License-Identifier: GPL-2.0

//! Introspection profiles: `leaktrace profile build`, `show` and `load`.
//!
//! A profile tells the module where to find what it reads in one guest
//! kernel build: the link-time addresses of `linux_banner`,
//! `entry_SYSCALL_64` and the per-CPU `current_task`, the kernel's build id,
//! and the offsets of the structure fields in [`ProfileOffsets`]. It lives
//! on disk as versioned JSON ([`KernelProfile`], [`FORMAT`], [`VERSION`])
//! and goes to the module as an ABI [`Profile`] ([`KernelProfile::to_abi`]).
//!
//! [`build`] makes one from the kernel image alone (a vmlinux ELF, a
//! compressed bzImage/vmlinuz, or a raw BTF blob for the offsets): the
//! offsets and `current_task` from BTF ([`btf`]), the addresses from the
//! ELF sections ([`elf`]), the image itself through [`image`].
//! Documentation/introspection.rst ("Profiles") describes the format and
//! how each value is found.

pub mod btf;
pub mod build;
pub mod elf;
pub mod image;

use leaktrace_abi::Profile;
use leaktrace_abi::ProfileError;
use leaktrace_abi::ProfileOffsets;
use leaktrace_abi::COMM_LEN;
use leaktrace_abi::PROFILE_BANNER_MAX;
use leaktrace_abi::PROFILE_BUILD_ID_MAX;
use leaktrace_abi::PROFILE_OFFSET_MAX;
use serde::ser::SerializeMap;
use serde::Serialize;
use serde::Serializer;
use serde_json::Map;
use serde_json::Value;
use std::fmt;
use std::fmt::Write as _;

/// `format` of a profile file.
pub const FORMAT: &str = "leaktrace-profile";

/// `version` of the profile file format this leaktrace reads and writes.
pub const VERSION: u64 = 2;

/// `format` of the output of `leaktrace profile build --offsets-only`.
pub const OFFSETS_FORMAT: &str = "leaktrace-offsets";

/// What a [`ProfileOffsets`] field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// The byte offset of the member at the end of the path.
    Offset,
    /// The size in bytes of the member at the end of the path.
    Size,
}

/// One field of [`ProfileOffsets`]: its name (in the ABI and in JSON),
/// where the value comes from, and how to read and write it.
#[derive(Clone, Copy)]
pub struct OffsetField {
    /// Field name, as in [`ProfileOffsets`] and the JSON `offsets` object.
    pub name: &'static str,
    /// The kernel structure (`struct NAME`).
    pub strukt: &'static str,
    /// The member path inside it, nested members in order; anonymous
    /// structures and unions in between are looked through.
    pub path: &'static [&'static str],
    /// Offset or size of that member.
    pub measure: Measure,
    /// The size in bytes the module reads at that offset, or `None` for an
    /// embedded structure whose size may vary between kernels.
    pub size: Option<u64>,
    /// Reads the field.
    pub get: fn(&ProfileOffsets) -> u32,
    /// Writes the field.
    pub set: fn(&mut ProfileOffsets, u32),
}

impl OffsetField {
    /// `struct.member.member`, for messages.
    pub fn member(&self) -> String {
        format!("{}.{}", self.strukt, self.path.join("."))
    }
}

impl fmt::Debug for OffsetField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OffsetField")
            .field("name", &self.name)
            .field("member", &self.member())
            .field("measure", &self.measure)
            .field("size", &self.size)
            .finish()
    }
}

/// Declares one [`OffsetField`].
macro_rules! field {
    ($name:ident, $strukt:literal, [$($path:literal),+], $measure:ident, $size:expr) => {
        OffsetField {
            name: stringify!($name),
            strukt: $strukt,
            path: &[$($path),+],
            measure: Measure::$measure,
            size: $size,
            get: |o| o.$name,
            set: |o, v| o.$name = v,
        }
    };
}

/// Size of a pointer in an x86-64 kernel.
const PTR: Option<u64> = Some(8);

/// Every field of [`ProfileOffsets`] but the trailing `reserved` (always
/// zero, not in JSON), in ABI order (a unit test checks that each field
/// appears exactly once).
pub const OFFSET_FIELDS: [OffsetField; 37] = [
    field!(task_pid, "task_struct", ["pid"], Offset, Some(4)),
    field!(task_tgid, "task_struct", ["tgid"], Offset, Some(4)),
    field!(
        task_comm,
        "task_struct",
        ["comm"],
        Offset,
        Some(COMM_LEN as u64)
    ),
    field!(
        task_real_parent,
        "task_struct",
        ["real_parent"],
        Offset,
        PTR
    ),
    field!(task_mm, "task_struct", ["mm"], Offset, PTR),
    field!(task_files, "task_struct", ["files"], Offset, PTR),
    field!(task_fs, "task_struct", ["fs"], Offset, PTR),
    field!(fs_root, "fs_struct", ["root"], Offset, Some(16)),
    field!(files_fdt, "files_struct", ["fdt"], Offset, PTR),
    field!(fdtable_max_fds, "fdtable", ["max_fds"], Offset, Some(4)),
    field!(fdtable_fd, "fdtable", ["fd"], Offset, PTR),
    field!(file_f_path, "file", ["f_path"], Offset, Some(16)),
    field!(file_f_inode, "file", ["f_inode"], Offset, PTR),
    field!(path_mnt, "path", ["mnt"], Offset, PTR),
    field!(path_dentry, "path", ["dentry"], Offset, PTR),
    field!(dentry_d_parent, "dentry", ["d_parent"], Offset, PTR),
    field!(
        dentry_d_name_len,
        "dentry",
        ["d_name", "len"],
        Offset,
        Some(4)
    ),
    field!(
        dentry_d_name_name,
        "dentry",
        ["d_name", "name"],
        Offset,
        PTR
    ),
    field!(mount_mnt, "mount", ["mnt"], Offset, None),
    field!(mount_mnt_parent, "mount", ["mnt_parent"], Offset, PTR),
    field!(
        mount_mnt_mountpoint,
        "mount",
        ["mnt_mountpoint"],
        Offset,
        PTR
    ),
    field!(vfsmount_mnt_root, "vfsmount", ["mnt_root"], Offset, PTR),
    field!(inode_i_mode, "inode", ["i_mode"], Offset, Some(2)),
    field!(inode_i_ino, "inode", ["i_ino"], Offset, Some(8)),
    field!(inode_i_sb, "inode", ["i_sb"], Offset, PTR),
    field!(super_block_s_dev, "super_block", ["s_dev"], Offset, Some(4)),
    field!(
        socket_alloc_socket,
        "socket_alloc",
        ["socket"],
        Offset,
        None
    ),
    field!(
        socket_alloc_vfs_inode,
        "socket_alloc",
        ["vfs_inode"],
        Offset,
        None
    ),
    field!(socket_type, "socket", ["type"], Offset, Some(2)),
    field!(socket_sk, "socket", ["sk"], Offset, PTR),
    field!(
        sock_common_skc_family,
        "sock_common",
        ["skc_family"],
        Offset,
        Some(2)
    ),
    field!(
        sock_common_skc_daddr,
        "sock_common",
        ["skc_daddr"],
        Offset,
        Some(4)
    ),
    field!(
        sock_common_skc_rcv_saddr,
        "sock_common",
        ["skc_rcv_saddr"],
        Offset,
        Some(4)
    ),
    field!(
        sock_common_skc_dport,
        "sock_common",
        ["skc_dport"],
        Offset,
        Some(2)
    ),
    field!(
        sock_common_skc_num,
        "sock_common",
        ["skc_num"],
        Offset,
        Some(2)
    ),
    field!(task_comm_size, "task_struct", ["comm"], Size, None),
    field!(unix_sock_peer, "unix_sock", ["peer"], Offset, PTR),
];

/// The field of [`OFFSET_FIELDS`] called `name`.
pub fn offset_field(name: &str) -> Option<&'static OffsetField> {
    OFFSET_FIELDS.iter().find(|f| f.name == name)
}

/// A profile as the file holds it: what identifies the kernel, the
/// link-time addresses, the structure offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelProfile {
    /// The kernel release (`uname -r`), from the banner; informative.
    pub release: String,
    /// The leading bytes (at most [`PROFILE_BANNER_MAX`]) of `linux_banner`,
    /// without its NUL.
    pub banner: String,
    /// The GNU build id, empty if the kernel has none.
    pub build_id: Vec<u8>,
    /// Link-time address of the build id's bytes; `Some` exactly when
    /// `build_id` is not empty.
    pub build_id_addr: Option<u64>,
    /// Link-time address of `linux_banner`.
    pub linux_banner: u64,
    /// Link-time address of `entry_SYSCALL_64`.
    pub entry_syscall: u64,
    /// Link-time address of the per-CPU variable `current_task`.
    pub current_task: u64,
    /// Structure offsets.
    pub offsets: ProfileOffsets,
}

/// Why a profile file was refused: a message naming the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileFileError(pub String);

impl fmt::Display for ProfileFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProfileFileError {}

/// Shorthand for a [`ProfileFileError`] result.
fn bad<T>(message: String) -> Result<T, ProfileFileError> {
    Err(ProfileFileError(message))
}

/// An address as profiles write it: `0x` and 16 lowercase hex digits.
pub fn hex_address(addr: u64) -> String {
    format!("{addr:#018x}")
}

/// Bytes as lowercase hex.
pub fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Parses an address: `0x` followed by 1 to 16 hex digits.
pub fn parse_hex_address(text: &str) -> Option<u64> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// Parses an even number of hex digits into bytes.
pub fn parse_hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a [`ProfileError`] means, for messages.
pub fn profile_error_text(err: ProfileError) -> &'static str {
    match err {
        ProfileError::Magic => "the structure is not a profile (bad magic)",
        ProfileError::Version => "the profile structure's version or size is not this ABI's",
        ProfileError::Identity => {
            "the banner is empty or longer than 256 bytes, or the build id is longer than 32 bytes"
        }
        ProfileError::Address => {
            "an address is not a kernel (upper half) address, or the build id has no address"
        }
        ProfileError::Offset => {
            "an offset is 65536 or more, or task_comm_size is not the kernel's comm length (16)"
        }
        ProfileError::Reserved => "a reserved field is not zero",
    }
}

/// The text of a JSON value's type, for messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The object at `key` of `obj` (`what` names it in messages).
fn object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Map<String, Value>, ProfileFileError> {
    match obj.get(key) {
        None => bad(format!("missing `{key}`")),
        Some(Value::Object(o)) => Ok(o),
        Some(v) => bad(format!("`{key}` is {}, expected an object", json_type(v))),
    }
}

/// The string at `key` of `obj`, or `None` if absent; `path` names the
/// object in messages.
fn opt_string<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, ProfileFileError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => bad(format!(
            "`{path}.{key}` is {}, expected a string",
            json_type(v)
        )),
    }
}

/// The string at `key` of `obj`, required.
fn string<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a str, ProfileFileError> {
    opt_string(obj, path, key)?.map_or_else(|| bad(format!("missing `{path}.{key}`")), Ok)
}

/// Refuses keys of `obj` not in `known` (a typo would otherwise go
/// unnoticed).
fn no_unknown_keys(
    obj: &Map<String, Value>,
    path: &str,
    known: &[&str],
) -> Result<(), ProfileFileError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) if path.is_empty() => bad(format!("unknown field `{k}`")),
        Some(k) => bad(format!("unknown field `{path}.{k}`")),
        None => Ok(()),
    }
}

/// An address at `key` of `obj`, as a hex string.
fn address(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, ProfileFileError> {
    match opt_string(obj, "addresses", key)? {
        None => Ok(None),
        Some(text) => match parse_hex_address(text) {
            Some(a) => Ok(Some(a)),
            None => bad(format!(
                "`addresses.{key}` is {text:?}, not a hex address (0x and 1 to 16 hex digits)"
            )),
        },
    }
}

/// Reads the `offsets` object: every field of [`OFFSET_FIELDS`], each a
/// whole number below [`PROFILE_OFFSET_MAX`], and nothing else.
fn offsets_from_json(obj: &Map<String, Value>) -> Result<ProfileOffsets, ProfileFileError> {
    let mut offsets = ProfileOffsets::default();
    for key in obj.keys() {
        if offset_field(key).is_none() {
            return bad(format!("unknown field `offsets.{key}`"));
        }
    }
    for field in &OFFSET_FIELDS {
        let name = field.name;
        let value = match obj.get(name) {
            None => return bad(format!("missing `offsets.{name}`")),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if v < u64::from(PROFILE_OFFSET_MAX) => v as u32,
                _ => {
                    return bad(format!(
                        "`offsets.{name}` is {n}: out of range (a whole number from 0 to {})",
                        PROFILE_OFFSET_MAX - 1
                    ))
                }
            },
            Some(v) => {
                return bad(format!(
                    "`offsets.{name}` is {}, expected a number",
                    json_type(v)
                ))
            }
        };
        (field.set)(&mut offsets, value);
    }
    Ok(offsets)
}

/// Serializes [`ProfileOffsets`] as an object in [`OFFSET_FIELDS`] order.
struct JsonOffsets<'a>(&'a ProfileOffsets);

impl Serialize for JsonOffsets<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(OFFSET_FIELDS.len()))?;
        for field in &OFFSET_FIELDS {
            map.serialize_entry(field.name, &(field.get)(self.0))?;
        }
        map.end()
    }
}

/// `kernel` of the JSON file.
#[derive(Serialize)]
struct JsonKernel<'a> {
    /// [`KernelProfile::release`].
    release: &'a str,
    /// [`KernelProfile::banner`].
    banner: &'a str,
    /// [`KernelProfile::build_id`] in hex, absent if empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    build_id: Option<String>,
}

/// `addresses` of the JSON file, as hex strings.
#[derive(Serialize)]
struct JsonAddresses {
    /// [`KernelProfile::linux_banner`].
    linux_banner: String,
    /// [`KernelProfile::entry_syscall`].
    entry_syscall: String,
    /// [`KernelProfile::current_task`].
    current_task: String,
    /// [`KernelProfile::build_id_addr`].
    #[serde(skip_serializing_if = "Option::is_none")]
    build_id_addr: Option<String>,
}

/// The JSON file, in the order it is written.
#[derive(Serialize)]
struct JsonProfile<'a> {
    /// [`FORMAT`].
    format: &'static str,
    /// [`VERSION`].
    version: u64,
    /// Identity of the kernel.
    kernel: JsonKernel<'a>,
    /// Link-time addresses.
    addresses: JsonAddresses,
    /// Structure offsets.
    offsets: JsonOffsets<'a>,
}

/// The output of `profile build --offsets-only`.
#[derive(Serialize)]
struct JsonOffsetsOnly<'a> {
    /// [`OFFSETS_FORMAT`].
    format: &'static str,
    /// [`VERSION`].
    version: u64,
    /// Structure offsets.
    offsets: JsonOffsets<'a>,
}

/// `offsets` alone as pretty JSON with a final newline (`profile build
/// --offsets-only`).
pub fn offsets_to_json(offsets: &ProfileOffsets) -> String {
    let doc = JsonOffsetsOnly {
        format: OFFSETS_FORMAT,
        version: VERSION,
        offsets: JsonOffsets(offsets),
    };
    // Serializing plain strings and integers into a String cannot fail.
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// The release in a banner: the word after `Linux version `.
pub fn release_of_banner(banner: &str) -> Option<&str> {
    let rest = banner.strip_prefix("Linux version ")?;
    let release = rest.split([' ', '\n']).next()?;
    (!release.is_empty()).then_some(release)
}

impl KernelProfile {
    /// The profile as pretty-printed JSON with a final newline.
    pub fn to_json(&self) -> String {
        let doc = JsonProfile {
            format: FORMAT,
            version: VERSION,
            kernel: JsonKernel {
                release: &self.release,
                banner: &self.banner,
                build_id: (!self.build_id.is_empty()).then(|| hex_bytes(&self.build_id)),
            },
            addresses: JsonAddresses {
                linux_banner: hex_address(self.linux_banner),
                entry_syscall: hex_address(self.entry_syscall),
                current_task: hex_address(self.current_task),
                build_id_addr: self.build_id_addr.map(hex_address),
            },
            offsets: JsonOffsets(&self.offsets),
        };
        // Serializing plain strings and integers into a String cannot fail.
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses a profile file and checks it as the module will
    /// ([`Self::to_abi`]); the error names the problem.
    pub fn from_json(text: &str) -> Result<Self, ProfileFileError> {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return bad(format!("not valid JSON: {e}")),
        };
        let Value::Object(top) = value else {
            return bad(format!(
                "expected a JSON object, found {}",
                json_type(&value)
            ));
        };
        match top.get("format") {
            Some(Value::String(f)) if f == FORMAT => {}
            Some(Value::String(f)) if f == OFFSETS_FORMAT => {
                return bad(format!(
                    "this is the output of `profile build --offsets-only` ({OFFSETS_FORMAT:?}), \
                     not a profile: build the profile from the kernel image"
                ))
            }
            Some(Value::String(f)) => {
                return bad(format!(
                    "not a leaktrace profile: `format` is {f:?}, expected {FORMAT:?}"
                ))
            }
            Some(v) => return bad(format!("`format` is {}, expected a string", json_type(v))),
            None => {
                return bad(format!(
                    "not a leaktrace profile: no `format` (expected {FORMAT:?})"
                ))
            }
        }
        match top.get("version").map(|v| (v, v.as_u64())) {
            Some((_, Some(VERSION))) => {}
            Some((_, Some(v))) => {
                return bad(format!(
                    "unsupported profile version {v} (this leaktrace reads version {VERSION})"
                ))
            }
            Some((v, None)) => return bad(format!("`version` is {v}, expected a whole number")),
            None => return bad("missing `version`".to_owned()),
        }
        no_unknown_keys(
            &top,
            "",
            &["format", "version", "kernel", "addresses", "offsets"],
        )?;

        let kernel = object(&top, "kernel")?;
        no_unknown_keys(kernel, "kernel", &["release", "banner", "build_id"])?;
        let release = string(kernel, "kernel", "release")?.to_owned();
        let banner = string(kernel, "kernel", "banner")?.to_owned();
        let build_id = match opt_string(kernel, "kernel", "build_id")? {
            None => Vec::new(),
            Some(text) => match parse_hex_bytes(text) {
                Some(id) if !id.is_empty() => id,
                _ => {
                    return bad(format!(
                        "`kernel.build_id` is {text:?}, not an even number of hex digits"
                    ))
                }
            },
        };

        let addresses = object(&top, "addresses")?;
        no_unknown_keys(
            addresses,
            "addresses",
            &[
                "linux_banner",
                "entry_syscall",
                "current_task",
                "build_id_addr",
            ],
        )?;
        let required = |key: &str| {
            address(addresses, key)?.map_or_else(|| bad(format!("missing `addresses.{key}`")), Ok)
        };
        let linux_banner = required("linux_banner")?;
        let entry_syscall = required("entry_syscall")?;
        let current_task = required("current_task")?;
        let build_id_addr = address(addresses, "build_id_addr")?;

        let offsets = offsets_from_json(object(&top, "offsets")?)?;
        let profile = Self {
            release,
            banner,
            build_id,
            build_id_addr,
            linux_banner,
            entry_syscall,
            current_task,
            offsets,
        };
        profile.to_abi()?;
        Ok(profile)
    }

    /// The ABI structure for `IOCTL_PROFILE_LOAD`, checked with
    /// [`Profile::validate`] and for what the structure cannot say (a
    /// banner that is not one, a build id without an address).
    pub fn to_abi(&self) -> Result<Profile, ProfileFileError> {
        let banner = self.banner.as_bytes();
        if banner.is_empty() || banner.len() > PROFILE_BANNER_MAX {
            return bad(format!(
                "`kernel.banner` is {} bytes long; a profile holds 1 to {PROFILE_BANNER_MAX}",
                banner.len()
            ));
        }
        if !self.banner.starts_with("Linux version ") {
            return bad("`kernel.banner` does not start with \"Linux version \"".to_owned());
        }
        if self.build_id.len() > PROFILE_BUILD_ID_MAX {
            return bad(format!(
                "`kernel.build_id` is {} bytes long; a profile holds at most {PROFILE_BUILD_ID_MAX}",
                self.build_id.len()
            ));
        }
        let build_id_addr = match (self.build_id.is_empty(), self.build_id_addr) {
            (true, None) => 0,
            (false, Some(addr)) => addr,
            (true, Some(_)) => {
                return bad(
                    "`addresses.build_id_addr` is given but `kernel.build_id` is not".into(),
                )
            }
            (false, None) => {
                return bad(
                    "`kernel.build_id` is given but `addresses.build_id_addr` is not".into(),
                )
            }
        };
        let kernel_addresses = [
            ("linux_banner", self.linux_banner),
            ("entry_syscall", self.entry_syscall),
            ("current_task", self.current_task),
            ("build_id_addr", build_id_addr),
        ];
        for (name, addr) in kernel_addresses {
            if addr < 0xffff_8000_0000_0000 && !(name == "build_id_addr" && addr == 0) {
                return bad(format!(
                    "`addresses.{name}` is {}: not a kernel (upper half) address",
                    hex_address(addr)
                ));
            }
        }
        for field in &OFFSET_FIELDS {
            let v = (field.get)(&self.offsets);
            if v >= PROFILE_OFFSET_MAX {
                return bad(format!(
                    "`offsets.{}` is {v}: out of range (at most {})",
                    field.name,
                    PROFILE_OFFSET_MAX - 1
                ));
            }
        }
        if self.offsets.task_comm_size as usize != COMM_LEN {
            return bad(format!(
                "`offsets.task_comm_size` is {}; the module needs the kernel's comm length, {COMM_LEN}",
                self.offsets.task_comm_size
            ));
        }
        let mut profile = Profile {
            banner_len: banner.len() as u32,
            build_id_len: self.build_id.len() as u32,
            build_id_addr,
            linux_banner: self.linux_banner,
            entry_syscall: self.entry_syscall,
            current_task: self.current_task,
            offsets: self.offsets,
            ..Profile::default()
        };
        profile.banner[..banner.len()].copy_from_slice(banner);
        profile.build_id[..self.build_id.len()].copy_from_slice(&self.build_id);
        match profile.validate() {
            Ok(()) => Ok(profile),
            Err(e) => bad(format!(
                "the module would refuse this profile: {}",
                profile_error_text(e)
            )),
        }
    }

    /// The summary `leaktrace profile show` prints.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "kernel    {}", self.release);
        let _ = writeln!(out, "banner    {}", self.banner.trim_end_matches('\n'));
        match self.build_id_addr {
            Some(addr) if !self.build_id.is_empty() => {
                let _ = writeln!(
                    out,
                    "build id  {} at {}",
                    hex_bytes(&self.build_id),
                    hex_address(addr)
                );
            }
            _ => out.push_str("build id  none (not checked)\n"),
        }
        out.push_str("addresses (link time, before KASLR)\n");
        let _ = writeln!(out, "  linux_banner   {}", hex_address(self.linux_banner));
        let _ = writeln!(
            out,
            "  entry_syscall  {}  entry_SYSCALL_64",
            hex_address(self.entry_syscall)
        );
        let _ = writeln!(
            out,
            "  current_task   {}  per-CPU",
            hex_address(self.current_task)
        );
        out.push_str("offsets\n");
        let width = OFFSET_FIELDS
            .iter()
            .map(|f| f.name.len())
            .max()
            .unwrap_or(0);
        for field in &OFFSET_FIELDS {
            let v = (field.get)(&self.offsets);
            let what = match field.measure {
                Measure::Offset => field.member(),
                Measure::Size => format!("sizeof {}", field.member()),
            };
            let _ = writeln!(out, "  {:width$}  {v:5}  {what}", field.name);
        }
        out
    }
}

/// A sample profile (the values of a Linux 7.3 build), for tests here and
/// in the control tests.
#[cfg(test)]
pub(crate) fn sample() -> KernelProfile {
    let mut offsets = ProfileOffsets::default();
    for (i, field) in OFFSET_FIELDS.iter().enumerate() {
        (field.set)(&mut offsets, 8 * i as u32 + 16);
    }
    offsets.task_comm_size = COMM_LEN as u32;
    KernelProfile {
        release: "7.3.4-leaktrace".into(),
        banner: "Linux version 7.3.4-leaktrace (root@vm) (gcc) #3 SMP PREEMPT\n".into(),
        build_id: vec![0x77, 0x83, 0x71, 0x74],
        build_id_addr: Some(0xffff_ffff_8160_0000),
        linux_banner: 0xffff_ffff_8169_2da0,
        entry_syscall: 0xffff_ffff_8100_0040,
        current_task: 0xffff_ffff_81c7_f018,
        offsets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaktrace_abi::Pod;

    fn json_value(p: &KernelProfile) -> Value {
        serde_json::from_str(&p.to_json()).unwrap()
    }

    fn parse_value(v: &Value) -> Result<KernelProfile, ProfileFileError> {
        KernelProfile::from_json(&v.to_string())
    }

    fn error_of(v: &Value) -> String {
        parse_value(v).unwrap_err().0
    }

    #[test]
    fn every_field_appears_exactly_once() {
        // All but `reserved`, the last word.
        assert_eq!(
            (OFFSET_FIELDS.len() + 1) * 4,
            core::mem::size_of::<ProfileOffsets>()
        );
        let mut offsets = ProfileOffsets::default();
        for (i, field) in OFFSET_FIELDS.iter().enumerate() {
            (field.set)(&mut offsets, i as u32 + 1);
            assert_eq!((field.get)(&offsets), i as u32 + 1, "{}", field.name);
        }
        // Every 4-byte slot got a distinct value: no field was missed or
        // set twice; and they are in ABI order.
        let words: Vec<u32> = offsets
            .as_bytes()
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut expected: Vec<u32> = (1..=OFFSET_FIELDS.len() as u32).collect();
        expected.push(0);
        assert_eq!(words, expected);
        assert_eq!(
            offset_field("unix_sock_peer").unwrap().member(),
            "unix_sock.peer"
        );
        assert!(offset_field("reserved").is_none());
        assert_eq!(
            offset_field("dentry_d_name_len").unwrap().member(),
            "dentry.d_name.len"
        );
        assert!(offset_field("nope").is_none());
    }

    #[test]
    fn json_round_trip() {
        let p = sample();
        let text = p.to_json();
        assert!(text.ends_with('\n'));
        let back = KernelProfile::from_json(&text).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.to_json(), text);
        let v = json_value(&p);
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["version"], VERSION);
        assert_eq!(v["kernel"]["build_id"], "77837174");
        assert_eq!(v["addresses"]["entry_syscall"], "0xffffffff81000040");
        assert_eq!(v["offsets"]["task_comm_size"], 16);
        assert_eq!(v["offsets"]["unix_sock_peer"], 8 * 36 + 16);
        assert!(v["offsets"].get("reserved").is_none());
        assert_eq!(p.to_abi().unwrap().offsets.reserved, 0);
        // Fields are written in ABI order.
        let pid = text.find("\"task_pid\"").unwrap();
        let num = text.find("\"sock_common_skc_num\"").unwrap();
        assert!(pid < num);

        // Without a build id, neither it nor its address is written.
        let mut p = sample();
        p.build_id.clear();
        p.build_id_addr = None;
        let v = json_value(&p);
        assert!(v["kernel"].get("build_id").is_none());
        assert!(v["addresses"].get("build_id_addr").is_none());
        assert_eq!(parse_value(&v).unwrap(), p);
        assert_eq!(p.to_abi().unwrap().build_id_len, 0);
    }

    #[test]
    fn to_abi_fills_and_validates() {
        let p = sample();
        let abi = p.to_abi().unwrap();
        assert_eq!(abi.validate(), Ok(()));
        assert_eq!(abi.banner_len as usize, p.banner.len());
        assert_eq!(&abi.banner[..p.banner.len()], p.banner.as_bytes());
        assert_eq!(abi.build_id_len, 4);
        assert_eq!(&abi.build_id[..4], &[0x77, 0x83, 0x71, 0x74]);
        assert_eq!(abi.build_id_addr, 0xffff_ffff_8160_0000);
        assert_eq!(abi.entry_syscall, p.entry_syscall);
        assert_eq!(abi.current_task, p.current_task);
        assert_eq!(abi.linux_banner, p.linux_banner);
        assert_eq!(abi.offsets, p.offsets);
    }

    #[test]
    fn to_abi_refuses_what_validate_would() {
        let check = |f: &dyn Fn(&mut KernelProfile), needle: &str| {
            let mut p = sample();
            f(&mut p);
            let err = p.to_abi().unwrap_err().0;
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        };
        check(&|p| p.banner.clear(), "banner` is 0 bytes");
        check(
            &|p| p.banner = format!("Linux version {}", "x".repeat(300)),
            "1 to 256",
        );
        check(&|p| p.banner = "Hello".into(), "Linux version");
        check(&|p| p.build_id = vec![1; 33], "at most 32");
        check(&|p| p.build_id_addr = None, "build_id_addr` is not");
        check(
            &|p| {
                p.build_id.clear();
            },
            "`kernel.build_id` is not",
        );
        check(
            &|p| p.entry_syscall = 0x1000,
            "entry_syscall` is 0x0000000000001000",
        );
        check(&|p| p.current_task = 0, "current_task");
        check(&|p| p.build_id_addr = Some(0x40), "build_id_addr");
        check(&|p| p.offsets.inode_i_sb = 70_000, "inode_i_sb` is 70000");
        check(&|p| p.offsets.task_comm_size = 32, "task_comm_size` is 32");
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        let good = json_value(&sample());
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = good.clone();
            f(&mut v);
            error_of(&v)
        };
        let cases: Vec<(String, &str)> = vec![
            (
                KernelProfile::from_json("{").unwrap_err().0,
                "not valid JSON",
            ),
            (
                KernelProfile::from_json("").unwrap_err().0,
                "not valid JSON",
            ),
            (
                KernelProfile::from_json("[1]").unwrap_err().0,
                "found an array",
            ),
            (
                with(&|v| v["format"] = "other".into()),
                "not a leaktrace profile",
            ),
            (
                with(&|v| {
                    v.as_object_mut().unwrap().remove("format");
                }),
                "no `format`",
            ),
            (with(&|v| v["format"] = 3.into()), "`format` is a number"),
            (
                with(&|v| v["format"] = OFFSETS_FORMAT.into()),
                "--offsets-only",
            ),
            (
                with(&|v| v["version"] = 1.into()),
                "unsupported profile version 1 (this leaktrace reads version 2)",
            ),
            (with(&|v| v["version"] = "2".into()), "`version` is \"2\""),
            (
                with(&|v| {
                    v.as_object_mut().unwrap().remove("version");
                }),
                "missing `version`",
            ),
            (with(&|v| v["extra"] = 1.into()), "unknown field `extra`"),
            (
                with(&|v| {
                    v.as_object_mut().unwrap().remove("kernel");
                }),
                "missing `kernel`",
            ),
            (with(&|v| v["kernel"] = 1.into()), "`kernel` is a number"),
            (
                with(&|v| {
                    v["kernel"].as_object_mut().unwrap().remove("banner");
                }),
                "missing `kernel.banner`",
            ),
            (
                with(&|v| v["kernel"]["release"] = 7.into()),
                "`kernel.release` is a number",
            ),
            (
                with(&|v| v["kernel"]["build_id"] = "abc".into()),
                "`kernel.build_id` is \"abc\"",
            ),
            (
                with(&|v| v["kernel"]["build_id"] = "".into()),
                "`kernel.build_id` is \"\"",
            ),
            (
                with(&|v| v["kernel"]["uname"] = "".into()),
                "unknown field `kernel.uname`",
            ),
            (
                with(&|v| {
                    v["addresses"]
                        .as_object_mut()
                        .unwrap()
                        .remove("entry_syscall");
                }),
                "missing `addresses.entry_syscall`",
            ),
            (
                with(&|v| v["addresses"]["entry_syscall"] = "ffffffff81000040".into()),
                "not a hex address",
            ),
            (
                with(&|v| v["addresses"]["current_task"] = "0xfffffffff81c7f0180".into()),
                "not a hex address",
            ),
            (
                with(&|v| v["addresses"]["linux_banner"] = "0xzz".into()),
                "not a hex address",
            ),
            (
                with(&|v| v["addresses"]["linux_banner"] = 1.into()),
                "`addresses.linux_banner` is a number",
            ),
            (
                with(&|v| v["addresses"]["linux_banner"] = "0x1000".into()),
                "not a kernel (upper half) address",
            ),
            (
                with(&|v| {
                    v["addresses"]
                        .as_object_mut()
                        .unwrap()
                        .remove("build_id_addr");
                }),
                "`addresses.build_id_addr` is not",
            ),
            (
                with(&|v| {
                    v["offsets"].as_object_mut().unwrap().remove("socket_sk");
                }),
                "missing `offsets.socket_sk`",
            ),
            (
                with(&|v| {
                    v["offsets"]
                        .as_object_mut()
                        .unwrap()
                        .remove("unix_sock_peer");
                }),
                "missing `offsets.unix_sock_peer`",
            ),
            (
                with(&|v| v["offsets"]["reserved"] = 0.into()),
                "unknown field `offsets.reserved`",
            ),
            (
                with(&|v| v["offsets"]["socket_skk"] = 1.into()),
                "unknown field `offsets.socket_skk`",
            ),
            (
                with(&|v| v["offsets"]["task_pid"] = 65536.into()),
                "`offsets.task_pid` is 65536: out of range",
            ),
            (
                with(&|v| v["offsets"]["task_pid"] = (-1).into()),
                "`offsets.task_pid` is -1",
            ),
            (
                with(&|v| v["offsets"]["task_pid"] = 1.5.into()),
                "`offsets.task_pid` is 1.5",
            ),
            (
                with(&|v| v["offsets"]["task_pid"] = "8".into()),
                "expected a number",
            ),
            (
                with(&|v| v["offsets"]["task_comm_size"] = 8.into()),
                "comm length",
            ),
            (with(&|v| v["offsets"] = Value::Null), "`offsets` is null"),
        ];
        for (err, needle) in cases {
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn hex_helpers() {
        assert_eq!(
            parse_hex_address("0xffffffff81000040"),
            Some(0xffff_ffff_8100_0040)
        );
        assert_eq!(parse_hex_address("0X1"), Some(1));
        assert_eq!(parse_hex_address("0x"), None);
        assert_eq!(parse_hex_address("0x+1"), None);
        assert_eq!(parse_hex_address("1234"), None);
        assert_eq!(parse_hex_address("0x10000000000000000"), None);
        assert_eq!(hex_address(0x40), "0x0000000000000040");
        assert_eq!(parse_hex_bytes("00ff7a"), Some(vec![0, 0xff, 0x7a]));
        assert_eq!(parse_hex_bytes("0"), None);
        assert_eq!(parse_hex_bytes("é1"), None);
        assert_eq!(hex_bytes(&[1, 0xab]), "01ab");
    }

    #[test]
    fn release_comes_from_the_banner() {
        assert_eq!(
            release_of_banner("Linux version 7.3.4+deb13-amd64 (debian-kernel@lists.debian.org)"),
            Some("7.3.4+deb13-amd64")
        );
        assert_eq!(release_of_banner("Linux version \n"), None);
        assert_eq!(release_of_banner("Linux 7.3"), None);
    }

    #[test]
    fn text_names_every_field() {
        let text = sample().text();
        for field in &OFFSET_FIELDS {
            assert!(text.contains(field.name), "{}", field.name);
        }
        assert!(text.contains("dentry.d_name.len"));
        assert!(text.contains("sizeof task_struct.comm"));
        assert!(text.contains("entry_syscall  0xffffffff81000040"));
        assert!(text.contains("build id  77837174 at 0xffffffff81600000"));
    }

    #[test]
    fn offsets_only_output_is_not_a_profile() {
        let text = offsets_to_json(&sample().offsets);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format"], OFFSETS_FORMAT);
        assert_eq!(v["offsets"]["task_comm_size"], 16);
        assert!(KernelProfile::from_json(&text)
            .unwrap_err()
            .0
            .contains("--offsets-only"));
    }
}
