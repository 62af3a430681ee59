// SPDX-License-Identifier: GPL-2.0

//! `lt-ioctlfuzz [--iterations N] [--seed S] [--device PATH]`: hostile
//! use of `/dev/leaktrace` by root and by others, as TAP, run in the
//! testbed's L1 with nobody else reading the device.
//!
//! 1. the node is a misc character device, mode 0600, owned by root;
//! 2. a process without root's uid cannot open it, in any mode;
//! 3. N ioctls from a seeded stream (random commands; the module's
//!    commands with wrong direction or size bits; its commands with null,
//!    kernel, non-canonical, unmapped, read-only and guard-straddling
//!    pointers; with random bytes; and with valid requests broken in
//!    exactly one documented way) get errors only, except the commands
//!    that only read, and change nothing: the selection, the secrets, the
//!    VMs' tracing and profile states, the ring's size and the readers
//!    are the same before and after (checked every 1000 calls);
//! 4. reads with bad buffers and lengths fail without consuming a record;
//! 5. the device still works: a test record requested is read back.
//!
//! Exit status 0 when every test passed, 1 otherwise, 4 (skip) when not
//! root.

use leaktrace::abi::Info;
use leaktrace::abi::Pod;
use leaktrace::abi::Profile;
use leaktrace::abi::ProfileLoadRequest;
use leaktrace::abi::SecretInfo;
use leaktrace::abi::SecretListRequest;
use leaktrace::abi::SecretRequest;
use leaktrace::abi::SelectionRequest;
use leaktrace::abi::TraceRequest;
use leaktrace::abi::Uuid;
use leaktrace::abi::VmInfo;
use leaktrace::abi::VmListRequest;
use leaktrace::abi::EMIT_TEST_MAX;
use leaktrace::abi::IOCTL_EMIT_TEST;
use leaktrace::abi::IOCTL_GET_INFO;
use leaktrace::abi::IOCTL_GET_SELECTION;
use leaktrace::abi::IOCTL_PROFILE_LOAD;
use leaktrace::abi::IOCTL_SECRET;
use leaktrace::abi::IOCTL_SECRET_LIST;
use leaktrace::abi::IOCTL_TRACE;
use leaktrace::abi::IOCTL_VM_LIST;
use leaktrace::abi::PROFILE_OFFSET_MAX;
use leaktrace::abi::RECORD_MAX_SIZE;
use leaktrace::abi::SECRETS_MAX;
use leaktrace::abi::SECRET_ADD;
use leaktrace::abi::SECRET_PATTERN_MAX;
use leaktrace::abi::SECRET_REMOVE;
use leaktrace::abi::SELECTION_MAX;
use leaktrace::abi::TRACE_ADD;
use leaktrace::abi::TRACE_ALL;
use leaktrace::abi::TRACE_NONE;
use leaktrace::abi::TRACE_REMOVE;
use leaktrace::device::Device;
use leaktrace::device::DEFAULT_DEVICE;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

/// Page size of x86-64.
const PAGE: usize = 4096;

/// Commands that change the module's state: they must never succeed here.
const CHANGERS: [u32; 4] = [IOCTL_TRACE, IOCTL_PROFILE_LOAD, IOCTL_SECRET, IOCTL_EMIT_TEST];

/// Commands that only read: they may succeed.
const READERS: [u32; 4] = [IOCTL_GET_INFO, IOCTL_VM_LIST, IOCTL_GET_SELECTION, IOCTL_SECRET_LIST];

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }
}

/// Memory for hostile pointers: a read-write page, a read-only page and
/// an inaccessible page, in that order.
struct Pages {
    base: *mut u8,
}

impl Pages {
    fn new() -> io::Result<Self> {
        // SAFETY: an anonymous private mapping, checked below.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                3 * PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = base.cast::<u8>();
        // SAFETY: both ranges are inside the mapping made above.
        unsafe {
            libc::mprotect(base.add(PAGE).cast(), PAGE, libc::PROT_READ);
            libc::mprotect(base.add(2 * PAGE).cast(), PAGE, libc::PROT_NONE);
        }
        Ok(Self { base })
    }

    fn rw(&self) -> *mut u8 {
        self.base
    }

    fn ro(&self) -> *mut u8 {
        // SAFETY: inside the mapping.
        unsafe { self.base.add(PAGE) }
    }

    fn none(&self) -> *mut u8 {
        // SAFETY: inside the mapping.
        unsafe { self.base.add(2 * PAGE) }
    }

    /// `len` bytes ending where the inaccessible page starts: a structure
    /// there is readable only in part.
    fn straddling(&self, len: usize) -> *mut u8 {
        // SAFETY: inside the mapping.
        unsafe { self.none().sub(len.min(PAGE)) }
    }
}

/// What must not change.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    abi_version: u16,
    record_max_size: u32,
    ring_bytes: u64,
    readers: u64,
    all: bool,
    selection: Vec<Uuid>,
    secrets: Vec<(u32, u32, Uuid, Vec<u8>)>,
    /// Per VM: id, flags, UUID, profile state, refusal.
    vms: Vec<(u32, u32, Uuid, u32, u32)>,
}

fn state(dev: &Device) -> io::Result<State> {
    let info = dev.info()?;
    let mut uuids = vec![Uuid::default(); SELECTION_MAX];
    let (count, all) = dev.selection(&mut uuids)?;
    uuids.truncate(count as usize);
    let mut secrets = vec![SecretInfo::default(); SECRETS_MAX];
    let n = dev.secret_list(&mut secrets)? as usize;
    secrets.truncate(n);
    let mut vms = vec![VmInfo::default(); 64];
    let n = dev.vm_list(&mut vms)? as usize;
    vms.truncate(n.min(64));
    Ok(State {
        abi_version: info.abi_version,
        record_max_size: info.record_max_size,
        ring_bytes: info.ring_bytes,
        readers: info.readers,
        all,
        selection: uuids,
        secrets: secrets
            .iter()
            .map(|s| (s.id, s.all, s.uuid, s.pattern[..(s.pattern_len as usize).min(SECRET_PATTERN_MAX)].to_vec()))
            .collect(),
        vms: vms.iter().map(|v| (v.vm_id, v.flags, v.uuid, v.profile, v.refusal)).collect(),
    })
}

/// TAP output.
struct Tap {
    n: usize,
    failed: usize,
}

impl Tap {
    fn result(&mut self, ok: bool, name: &str, diag: &[String]) {
        self.n += 1;
        for line in diag {
            for l in line.lines() {
                println!("# {l}");
            }
        }
        if ok {
            println!("ok {} - {name}", self.n);
        } else {
            self.failed += 1;
            println!("not ok {} - {name}", self.n);
        }
    }
}

fn t_node(path: &Path) -> Result<Vec<String>, String> {
    let md = std::fs::metadata(path).map_err(|e| format!("stat {}: {e}", path.display()))?;
    let mode = md.mode() & 0o7777;
    let ok = md.file_type().is_char_device() && mode == 0o600 && md.uid() == 0 && md.gid() == 0;
    let line = format!(
        "{}: char device {}, mode {:04o}, owner {}:{}",
        path.display(),
        md.file_type().is_char_device(),
        mode,
        md.uid(),
        md.gid()
    );
    if ok {
        Ok(vec![line])
    } else {
        Err(line)
    }
}

/// How [`open_in_child`]'s child ended.
enum ChildOpen {
    /// `open` failed with the expected errno.
    Refused,
    /// `drop_privileges` failed.
    CannotDrop,
    /// `open` succeeded.
    Opened,
    /// `open` failed with another errno (at most 99), or the child died.
    Other(i32),
}

/// Forks a child that runs `drop_privileges` (true on success), then
/// opens `path` with `flags | O_NONBLOCK` and exits; reports how the open
/// went against `expected` errno. `drop_privileges` must only make
/// async-signal-safe calls.
fn open_in_child(
    path: &CString,
    flags: libc::c_int,
    expected: libc::c_int,
    drop_privileges: impl FnOnce() -> bool,
) -> Result<ChildOpen, String> {
    // SAFETY: the child only makes async-signal-safe calls and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: plain system calls; the child ends with _exit.
        unsafe {
            if !drop_privileges() {
                libc::_exit(100);
            }
            let fd = libc::open(path.as_ptr(), flags | libc::O_NONBLOCK);
            if fd >= 0 {
                libc::_exit(101);
            }
            let errno = *libc::__errno_location();
            libc::_exit(if errno == expected { 0 } else { errno.min(99) });
        }
    }
    let mut status = 0;
    // SAFETY: waiting for the child forked above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Ok(match code {
        0 => ChildOpen::Refused,
        100 => ChildOpen::CannotDrop,
        101 => ChildOpen::Opened,
        e => ChildOpen::Other(e),
    })
}

/// Opens `path` as uid/gid 65534 in a child, in the three modes; each
/// must fail with EACCES.
fn t_non_root(path: &Path) -> Result<Vec<String>, String> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (name, flags) in [("O_RDONLY", libc::O_RDONLY), ("O_WRONLY", libc::O_WRONLY), ("O_RDWR", libc::O_RDWR)] {
        let drop_to_nobody = || {
            let none: [libc::gid_t; 0] = [];
            // SAFETY: plain system calls on a local (empty) array.
            unsafe {
                libc::setgroups(0, none.as_ptr()) == 0
                    && libc::setresgid(65534, 65534, 65534) == 0
                    && libc::setresuid(65534, 65534, 65534) == 0
            }
        };
        match open_in_child(&c_path, flags, libc::EACCES, drop_to_nobody)? {
            ChildOpen::Refused => out.push(format!("uid 65534, {name}: EACCES")),
            ChildOpen::CannotDrop => problems.push("cannot drop to uid 65534".to_owned()),
            ChildOpen::Opened => problems.push(format!("uid 65534 opened the device {name}")),
            ChildOpen::Other(e) => problems.push(format!("uid 65534, {name}: errno {e}, expected EACCES")),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems.join("; "))
    }
}

/// Opens `path` as root (uid 0, the node's owner) with no capabilities
/// in a child: the module itself must refuse with EPERM, the node's mode
/// allowing it.
fn t_root_without_caps(path: &Path) -> Result<Vec<String>, String> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    let drop_all_capabilities = || {
        // `struct __user_cap_header_struct` and two
        // `struct __user_cap_data_struct`, all sets empty.
        let header: [u32; 2] = [0x2008_0522, 0];
        let data = [0u32; 6];
        // SAFETY: capset on local buffers of the sizes it reads.
        unsafe { libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()) == 0 }
    };
    match open_in_child(&c_path, libc::O_RDONLY, libc::EPERM, drop_all_capabilities)? {
        ChildOpen::Refused => Ok(vec!["uid 0 without capabilities, O_RDONLY: EPERM".to_owned()]),
        ChildOpen::CannotDrop => Err("capset to no capabilities failed".to_owned()),
        ChildOpen::Opened => Err("uid 0 without CAP_SYS_ADMIN opened the device".to_owned()),
        ChildOpen::Other(e) => Err(format!("uid 0 without capabilities: errno {e}, expected EPERM")),
    }
}

/// A profile that passes `Profile::validate`, to break in one way.
fn valid_profile() -> Profile {
    let mut p = Profile {
        banner_len: 14,
        linux_banner: 0xffff_ffff_8200_0000,
        entry_syscall: 0xffff_ffff_8100_0000,
        current_task: 0xffff_ffff_8300_0000,
        ..Profile::default()
    };
    p.banner[..14].copy_from_slice(b"Linux version ");
    p.offsets.task_comm_size = 16;
    debug_assert!(p.validate().is_ok());
    p
}

/// One request of the fuzz stream: command, argument, and what it is.
struct Call {
    cmd: u32,
    arg: *mut libc::c_void,
    what: String,
    /// It must fail (a state-changing command).
    must_fail: bool,
}

/// Buffers a call's argument may point into; kept alive across the call.
struct Bufs {
    /// A structure's bytes (a request, a profile).
    request: Vec<u64>,
    profile: Box<Profile>,
}

/// A valid request of `cmd`, in `bufs`, broken in exactly one documented
/// way (or, for commands that only read, with hostile output pointers).
fn near_valid(rng: &mut Rng, cmd: u32, bufs: &mut Bufs, pages: &Pages, st: &State) -> (*mut libc::c_void, String) {
    let req = bufs.request.as_mut_ptr().cast::<u8>();
    let random_uuid = |rng: &mut Rng| {
        let mut u = Uuid::default();
        rng.fill(&mut u);
        u[0] |= 1; // not nil
        u
    };
    let hostile_out = |rng: &mut Rng| -> u64 {
        match rng.below(5) {
            0 => 0,
            1 => pages.ro() as u64,
            2 => pages.none() as u64,
            3 => pages.straddling(8) as u64,
            _ => 0xffff_8880_0000_0000,
        }
    };
    macro_rules! put {
        ($t:ty, $v:expr) => {{
            let v: $t = $v;
            // SAFETY: `request` has room for any request structure.
            unsafe { core::ptr::copy_nonoverlapping(v.as_bytes().as_ptr(), req, size_of::<$t>()) };
        }};
    }
    let what;
    match cmd {
        IOCTL_TRACE => {
            let mut r = TraceRequest { op: TRACE_ADD, reserved: 0, uuid: random_uuid(rng) };
            what = match rng.below(6) {
                0 => {
                    r.reserved = 1 + rng.below(u32::MAX as u64) as u32;
                    "TRACE_ADD with reserved != 0"
                }
                1 => {
                    r.uuid = Uuid::default();
                    "TRACE_ADD of the nil UUID"
                }
                2 => {
                    r.op = if rng.below(2) == 0 { TRACE_ALL } else { TRACE_NONE };
                    "TRACE_ALL/NONE with a UUID"
                }
                3 => {
                    r.op = [0, 5, 6, u32::MAX][rng.below(4) as usize];
                    "an unknown op"
                }
                4 => {
                    // A UUID not in the selection.
                    r.op = TRACE_REMOVE;
                    while st.selection.contains(&r.uuid) {
                        r.uuid = random_uuid(rng);
                    }
                    "TRACE_REMOVE of a UUID not selected"
                }
                _ => {
                    r.op = TRACE_REMOVE;
                    r.uuid = Uuid::default();
                    "TRACE_REMOVE of the nil UUID"
                }
            };
            put!(TraceRequest, r);
        }
        IOCTL_PROFILE_LOAD => {
            *bufs.profile = valid_profile();
            let p = &mut *bufs.profile;
            let mut r = ProfileLoadRequest {
                uuid: random_uuid(rng),
                all: 0,
                reserved: 0,
                profile: p as *mut Profile as u64,
                size: size_of::<Profile>() as u32,
                reserved2: 0,
            };
            what = match rng.below(16) {
                0 => {
                    r.all = 2 + rng.below(100) as u32;
                    "all = 2.."
                }
                1 => {
                    r.all = 1;
                    "all with a UUID"
                }
                2 => {
                    r.uuid = Uuid::default();
                    "a profile for the nil UUID"
                }
                3 => {
                    r.size -= 8;
                    "size too small"
                }
                4 => {
                    r.size += 8;
                    "size too large"
                }
                5 => {
                    r.profile = hostile_out(rng) | 1;
                    "a profile at a bad address"
                }
                6 => {
                    r.profile = pages.straddling(64) as u64;
                    "a profile straddling an unmapped page"
                }
                7 => {
                    r.reserved = 1;
                    "reserved != 0"
                }
                8 => {
                    r.reserved2 = 1 + rng.below(1000) as u32;
                    "reserved2 != 0"
                }
                9 => {
                    r.profile = 0;
                    "removal with a size"
                }
                10 => {
                    p.magic ^= 1 << rng.below(32);
                    "bad magic"
                }
                11 => {
                    p.version = p.version.wrapping_add(1 + rng.below(100) as u32);
                    "bad version"
                }
                12 => {
                    p.banner_len = if rng.below(2) == 0 { 0 } else { 257 + rng.below(10_000) as u32 };
                    "bad banner length"
                }
                13 => {
                    p.current_task = rng.next() >> 17;
                    "a user-space address"
                }
                14 => {
                    let k = rng.below(37) as usize * 4;
                    let bytes = p.offsets.as_bytes_mut();
                    bytes[k..k + 4].copy_from_slice(&(PROFILE_OFFSET_MAX + rng.below(1 << 20) as u32).to_ne_bytes());
                    "an offset out of range"
                }
                _ => {
                    p.offsets.task_comm_size = 8;
                    "comm size not 16"
                }
            };
            put!(ProfileLoadRequest, r);
        }
        IOCTL_SECRET => {
            let mut r = SecretRequest {
                op: SECRET_ADD,
                all: 1,
                pattern_len: 10,
                ..SecretRequest::default()
            };
            r.pattern[..10].copy_from_slice(b"/fuzz/**/x");
            what = match rng.below(10) {
                0 => {
                    r.all = 2 + rng.below(10) as u32;
                    "all = 2.."
                }
                1 => {
                    r.uuid = random_uuid(rng);
                    "all with a UUID"
                }
                2 => {
                    r.all = 0;
                    "a secret for the nil UUID"
                }
                3 => {
                    r.id = 1 + rng.below(1000) as u32;
                    "SECRET_ADD with an id"
                }
                4 => {
                    r.pattern_len = if rng.below(2) == 0 { 0 } else { SECRET_PATTERN_MAX as u32 + 1 + rng.below(100) as u32 };
                    "a bad pattern length"
                }
                5 => {
                    let bad: [&[u8]; 7] = [b"relative/x", b"/a//b", b"/a/../b", b"/a/./b", b"/a/**x", b"/a/\xff\xfe", b"/"];
                    let pat = bad[rng.below(bad.len() as u64) as usize];
                    r.pattern = [0; SECRET_PATTERN_MAX];
                    r.pattern[..pat.len()].copy_from_slice(pat);
                    r.pattern_len = pat.len() as u32;
                    "an invalid glob"
                }
                6 => {
                    r.op = [0, 3, u32::MAX][rng.below(3) as usize];
                    "an unknown op"
                }
                _ => {
                    r.op = SECRET_REMOVE;
                    r.id = loop {
                        let id = rng.below(200) as u32;
                        if !st.secrets.iter().any(|s| s.0 == id) {
                            break id;
                        }
                    };
                    "SECRET_REMOVE of an id not defined"
                }
            };
            put!(SecretRequest, r);
        }
        IOCTL_EMIT_TEST => {
            let v: u64 = match rng.below(3) {
                0 => 0,
                1 => EMIT_TEST_MAX + 1 + rng.below(1 << 40),
                _ => u64::MAX,
            };
            // SAFETY: room for a u64.
            unsafe { core::ptr::copy_nonoverlapping(v.to_ne_bytes().as_ptr(), req, 8) };
            what = "EMIT_TEST of a count out of range";
        }
        IOCTL_VM_LIST => {
            put!(VmListRequest, VmListRequest {
                entries: hostile_out(rng),
                capacity: [1, 64, u32::MAX][rng.below(3) as usize],
                count: rng.next() as u32,
            });
            what = "VM_LIST to a bad array";
        }
        IOCTL_GET_SELECTION => {
            put!(SelectionRequest, SelectionRequest {
                uuids: hostile_out(rng),
                capacity: [1, 256, u32::MAX][rng.below(3) as usize],
                count: 0,
                all: rng.next() as u32,
                reserved: rng.next() as u32,
            });
            what = "GET_SELECTION to a bad array";
        }
        IOCTL_SECRET_LIST => {
            put!(SecretListRequest, SecretListRequest {
                entries: hostile_out(rng),
                capacity: [1, 64, u32::MAX][rng.below(3) as usize],
                count: 0,
            });
            what = "SECRET_LIST to a bad array";
        }
        _ => {
            what = "GET_INFO";
        }
    }
    let arg = if cmd == IOCTL_GET_INFO { hostile_out(rng) as *mut libc::c_void } else { req.cast() };
    (arg, what.to_owned())
}

/// The next call of the stream.
fn next_call(rng: &mut Rng, bufs: &mut Bufs, pages: &Pages, st: &State) -> Call {
    let all: Vec<u32> = CHANGERS.iter().chain(READERS.iter()).copied().collect();
    let known = all[rng.below(all.len() as u64) as usize];
    let hostile = |rng: &mut Rng| -> *mut libc::c_void {
        let fixed: [u64; 8] = [0, 1, 0xfff, 0xffff_8880_0000_0000, 0xffff_ffff_8100_0000, 0x0000_8000_0000_0000, u64::MAX, 0x8000_0000_0000_0000];
        (match rng.below(4) {
            0 => pages.ro() as u64,
            1 => pages.straddling(1 + rng.below(64) as usize) as u64,
            _ => fixed[rng.below(8) as usize],
        }) as *mut libc::c_void
    };
    match rng.below(5) {
        0 => Call {
            cmd: rng.next() as u32,
            arg: hostile(rng),
            what: "a random command".into(),
            must_fail: true,
        },
        1 => {
            // The module's command with other direction, size or type bits.
            let cmd = loop {
                let cmd = match rng.below(3) {
                    0 => (known & !(3 << 30)) | (((known >> 30) + 1 + rng.below(3) as u32) & 3) << 30,
                    1 => (known & !(0x3fff << 16)) | ((rng.next() as u32 & 0x3fff) << 16),
                    _ => (known & !(0xff << 8)) | ((rng.next() as u32 & 0xff) << 8),
                };
                if cmd != known {
                    break cmd;
                }
            };
            Call {
                cmd,
                arg: bufs.request.as_mut_ptr().cast(),
                what: format!("{known:#x} with other bits ({cmd:#x})"),
                must_fail: true,
            }
        }
        2 => Call {
            cmd: known,
            arg: hostile(rng),
            what: format!("{known:#x} with a bad pointer"),
            must_fail: CHANGERS.contains(&known),
        },
        3 => {
            // Random bytes as the request.
            let bytes = bufs.request.as_mut_slice();
            for w in bytes.iter_mut() {
                *w = rng.next();
            }
            Call {
                cmd: known,
                arg: bufs.request.as_mut_ptr().cast(),
                what: format!("{known:#x} with random bytes"),
                must_fail: CHANGERS.contains(&known),
            }
        }
        _ => {
            let (arg, what) = near_valid(rng, known, bufs, pages, st);
            Call {
                cmd: known,
                arg,
                what: format!("{known:#x}: {what}"),
                must_fail: CHANGERS.contains(&known),
            }
        }
    }
}

fn t_fuzz(dev: &Device, iterations: u64, seed: u64) -> Result<Vec<String>, String> {
    let pages = Pages::new().map_err(|e| format!("mmap: {e}"))?;
    // SAFETY: the read-write page is ours; a pattern in the others' way.
    unsafe { core::ptr::write_bytes(pages.rw(), 0x5a, PAGE) };
    let mut bufs = Bufs {
        request: vec![0u64; 512],
        profile: Box::new(valid_profile()),
    };
    let mut rng = Rng(seed);
    let before = state(dev).map_err(|e| format!("reading the state: {e}"))?;
    let mut errors = std::collections::BTreeMap::<i32, u64>::new();
    let mut read_ok = 0u64;
    let mut problems = Vec::new();
    for i in 0..iterations {
        let call = next_call(&mut rng, &mut bufs, &pages, &before);
        // SAFETY: the argument points into memory we own (`bufs`, the
        // read-write page) or is meant to fault; no request of the module
        // writes beyond its structure, and arrays it writes are bounded by
        // capacities that point to faulting or owned memory.
        let r = unsafe { dev.ioctl_raw(call.cmd, call.arg) };
        match r {
            Ok(_) if call.must_fail => {
                problems.push(format!("call {i}: {} succeeded", call.what));
            }
            Ok(_) => read_ok += 1,
            Err(e) => *errors.entry(e.raw_os_error().unwrap_or(-1)).or_default() += 1,
        }
        if (i + 1) % 1000 == 0 || i + 1 == iterations {
            let now = state(dev).map_err(|e| format!("reading the state after call {i}: {e}"))?;
            if now != before {
                problems.push(format!("after call {i}: the state changed:\n  before {before:?}\n  after  {now:?}"));
                break;
            }
        }
        if problems.len() >= 10 {
            break;
        }
    }
    let summary = format!(
        "{iterations} calls (seed {seed:#x}): {read_ok} reading commands succeeded; errors by errno: {errors:?}"
    );
    if problems.is_empty() {
        Ok(vec![summary, format!("state unchanged: {before:?}")])
    } else {
        problems.insert(0, summary);
        Err(problems.join("\n"))
    }
}

fn t_bad_reads(dev: &Device, seed: u64) -> Result<Vec<String>, String> {
    let pages = Pages::new().map_err(|e| format!("mmap: {e}"))?;
    let mut rng = Rng(seed ^ 0x7265_6164);
    dev.emit_test(50).map_err(|e| format!("EMIT_TEST(50): {e}"))?;
    let before = dev.info().map_err(|e| e.to_string())?;
    let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
    let mut problems = Vec::new();
    for _ in 0..2000 {
        let (ptr, len): (u64, usize) = match rng.below(6) {
            0 => (0, RECORD_MAX_SIZE),
            1 => (pages.ro() as u64, PAGE),
            2 => (pages.straddling(8) as u64, RECORD_MAX_SIZE),
            3 => (0xffff_8880_0000_0000, 65536),
            4 => (pages.rw() as u64, 1 + rng.below(23) as usize),
            _ => (0x8000_0000_0000_0000, usize::MAX),
        };
        // SAFETY: the buffer is meant to fault or be too short.
        let n = unsafe { libc::read(dev_fd(dev), ptr as *mut libc::c_void, len) };
        let key = if n < 0 {
            format!("errno {}", io::Error::last_os_error().raw_os_error().unwrap_or(-1))
        } else {
            problems.push(format!("read({ptr:#x}, {len}) returned {n}"));
            "success".into()
        };
        *outcomes.entry(key).or_default() += 1;
    }
    let after = dev.info().map_err(|e| e.to_string())?;
    if after.counters.delivered != before.counters.delivered {
        problems.push(format!(
            "records were consumed: delivered {} -> {}",
            before.counters.delivered, after.counters.delivered
        ));
    }
    // Drain what we queued, so the next test starts from an empty ring.
    let mut buf = vec![0u8; 65536];
    while matches!(dev.read(&mut buf), Ok(n) if n > 0) {}
    let line = format!("2000 reads: {outcomes:?}; delivered {} before and after", before.counters.delivered);
    if problems.is_empty() {
        Ok(vec![line])
    } else {
        problems.insert(0, line);
        Err(problems.join("\n"))
    }
}

/// The raw descriptor of `dev`, for reads with hostile buffers.
fn dev_fd(dev: &Device) -> libc::c_int {
    use std::os::fd::AsRawFd;
    dev.as_raw_fd()
}

fn t_still_works(dev: &Device) -> Result<Vec<String>, String> {
    dev.emit_test(1).map_err(|e| format!("EMIT_TEST(1): {e}"))?;
    let mut buf = vec![0u8; 65536];
    let mut decoder = leaktrace::decode::Decoder::new();
    for _ in 0..100 {
        let n = match dev.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            Err(e) => return Err(format!("read: {e}")),
        };
        let mut events = Vec::new();
        decoder.decode(&buf[..n], &mut events).map_err(|e| e.to_string())?;
        if events.iter().any(|e| matches!(e, leaktrace::decode::Event::Record(leaktrace::decode::Record::Test(_)))) {
            let info: Info = dev.info().map_err(|e| e.to_string())?;
            return Ok(vec![format!("a test record read back; counters {:?}", info.counters)]);
        }
    }
    Err("the test record never came".into())
}

fn main() -> ExitCode {
    let mut iterations = 20_000u64;
    let mut seed = 0x696f_6374_6c21u64;
    let mut path = PathBuf::from(DEFAULT_DEVICE);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match a.as_str() {
            "--iterations" => iterations = value().parse().unwrap_or(iterations),
            "--seed" => {
                let v = value();
                seed = v
                    .strip_prefix("0x")
                    .map_or_else(|| v.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
                    .unwrap_or(seed)
            }
            "--device" => path = PathBuf::from(value()),
            _ => {
                eprintln!("usage: lt-ioctlfuzz [--iterations N] [--seed S] [--device PATH]");
                return ExitCode::from(2);
            }
        }
    }
    println!("TAP version 13");
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("1..0 # SKIP must run as root");
        return ExitCode::from(4);
    }
    println!("1..6");
    let mut tap = Tap { n: 0, failed: 0 };
    let report = |tap: &mut Tap, name: &str, r: Result<Vec<String>, String>| match r {
        Ok(diag) => tap.result(true, name, &diag),
        Err(e) => tap.result(false, name, &[e]),
    };
    report(&mut tap, "the node is a character device, 0600, root:root", t_node(&path));
    report(&mut tap, "a non-root process cannot open the device", t_non_root(&path));
    report(&mut tap, "root without CAP_SYS_ADMIN cannot open the device", t_root_without_caps(&path));
    let dev = match Device::open(&path, true) {
        Ok(dev) => dev,
        Err(e) => {
            for name in ["random ioctls fail and change nothing", "reads with bad buffers consume nothing", "the device still works"] {
                tap.result(false, name, &[format!("open {}: {e}", path.display())]);
            }
            return ExitCode::FAILURE;
        }
    };
    report(&mut tap, "random ioctls: only errors (reading commands aside), no state change", t_fuzz(&dev, iterations, seed));
    report(&mut tap, "reads with bad buffers and lengths fail and consume nothing", t_bad_reads(&dev, seed));
    report(&mut tap, "the device still works: a test record comes back", t_still_works(&dev));
    println!("# lt-ioctlfuzz: {} passed, {} failed", tap.n - tap.failed, tap.failed);
    if tap.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
