// SPDX-License-Identifier: GPL-2.0

//! Reading a guest kernel's own structures through a [`Profile`].
//!
//! Everything here goes through [`GuestMemory`], which the module implements
//! with KVM's guest-virtual reads on the trapping vCPU and the tests with a
//! map of fake pages. The guest controls every byte we read, so:
//!
//! - every pointer is checked before it is followed (kernel half, aligned
//!   for structures), and every read can fail: a failure ends the
//!   resolution with [`Fault`], never a panic;
//! - every walk is bounded: at most [`PATH_DEPTH_MAX`] path components and
//!   [`MOUNT_DEPTH_MAX`] mount crossings, names of at most [`NAME_MAX`]
//!   bytes, paths of at most [`FILE_PATH_MAX`] bytes. A guest that forges a
//!   `d_parent` cycle gets a truncated path after a bounded number of
//!   reads, not a stall.
//!
//! Addresses in a profile are link-time; [`relocation`] finds how far the
//! running guest kernel was moved (KASLR) from `MSR_LSTAR`, and checks the
//! kernel's banner and build id at their moved addresses before any offset
//! is trusted.

use crate::abi::FileKind;
use crate::abi::FileRecord;
use crate::abi::Profile;
use crate::abi::ProfileOffsets;
use crate::abi::TaskIdentity;
use crate::abi::COMM_LEN;
use crate::abi::FILE_PATH_DETACHED;
use crate::abi::FILE_PATH_MAX;
use crate::abi::FILE_PATH_TRUNCATED;
use crate::abi::FILE_SOCKET_VALID;
use crate::abi::PROFILE_BANNER_MAX;
use crate::abi::PROFILE_BUILD_ID_MAX;

/// A guest read failed, or what it returned failed a sanity check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault;

/// Guest kernel memory, by guest virtual address.
pub trait GuestMemory {
    /// Fills `buf` from guest virtual address `addr`, or fails.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault>;
}

/// Most path components a file's path is built from.
pub const PATH_DEPTH_MAX: usize = 64;
/// Most mount points crossed while building a path.
pub const MOUNT_DEPTH_MAX: usize = 16;
/// Longest file name component (`NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Largest pid the guest kernel can hand out (`PID_MAX_LIMIT`).
pub const PID_MAX: u32 = 4 * 1024 * 1024;
/// Largest descriptor table believed (`sysctl fs.nr_open` cannot exceed it).
pub const FDS_MAX: u32 = 1 << 30;

/// `AF_UNIX`.
const AF_UNIX: u16 = 1;
/// `AF_INET`.
const AF_INET: u16 = 2;

/// Start of the kernel half of the x86-64 address space.
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// `addr` as a pointer to a kernel structure: upper half, 8-byte aligned.
fn struct_ptr(addr: u64) -> Result<u64, Fault> {
    if addr >= KERNEL_HALF && addr.is_multiple_of(8) {
        Ok(addr)
    } else {
        Err(Fault)
    }
}

/// `addr` as a pointer to kernel bytes (any alignment).
fn byte_ptr(addr: u64) -> Result<u64, Fault> {
    if addr >= KERNEL_HALF {
        Ok(addr)
    } else {
        Err(Fault)
    }
}

/// `base + offset`, as a kernel address (no wrap into the user half).
fn at(base: u64, offset: u32) -> Result<u64, Fault> {
    base.checked_add(u64::from(offset)).ok_or(Fault)
}

/// The offset of a member of an embedded structure (`outer + inner`).
fn nested(outer: u32, inner: u32) -> Result<u32, Fault> {
    outer.checked_add(inner).ok_or(Fault)
}

fn read_u32(mem: &mut impl GuestMemory, addr: u64) -> Result<u32, Fault> {
    let mut b = [0u8; 4];
    mem.read(addr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(mem: &mut impl GuestMemory, addr: u64) -> Result<u64, Fault> {
    let mut b = [0u8; 8];
    mem.read(addr, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Widest span of a structure [`read_fields`] reads at once.
///
/// Each guest read walks the guest's page tables (on the trap path, in
/// the vCPU's context), so its cost hardly depends on its size: one read
/// of neighbouring fields costs about what reading one of them does.
pub const WINDOW_MAX: usize = 128;

/// A little-endian field of `size` bytes (at most 8) at `at` in `window`.
fn field(window: &[u8], at: usize, size: usize) -> Result<u64, Fault> {
    let bytes = window.get(at..at.checked_add(size).ok_or(Fault)?).ok_or(Fault)?;
    let mut b = [0u8; 8];
    b.get_mut(..bytes.len()).ok_or(Fault)?.copy_from_slice(bytes);
    Ok(u64::from_le_bytes(b))
}

/// The first offset of `fields` and how many bytes from it they span.
fn span_of(fields: &[(u32, usize)]) -> (u32, usize) {
    let start = fields.iter().map(|&(offset, _)| offset).min().unwrap_or(0);
    let end = fields
        .iter()
        .map(|&(offset, size)| offset as usize + size)
        .max()
        .unwrap_or(0);
    (start, end - start as usize)
}

/// The values of `fields` in `window`, a copy of the structure's bytes
/// from offset `start` on.
fn fields_in<const K: usize>(window: &[u8], start: u32, fields: &[(u32, usize); K]) -> Result<[u64; K], Fault> {
    let mut out = [0u64; K];
    for (value, &(offset, size)) in out.iter_mut().zip(fields) {
        *value = field(window, (offset - start) as usize, size)?;
    }
    Ok(out)
}

/// Reads the fields `(offset, size)` (sizes at most 8) of the structure
/// at `base`, zero-extended: with one guest read of the span that covers
/// them when it is at most [`WINDOW_MAX`] bytes, field by field when they
/// lie further apart or when the span cannot be read (it may reach past
/// the structure into memory the guest did not map). The values are the
/// same either way.
fn read_fields<const K: usize>(
    mem: &mut impl GuestMemory,
    base: u64,
    fields: [(u32, usize); K],
) -> Result<[u64; K], Fault> {
    let (start, span) = span_of(&fields);
    let mut window = [0u8; WINDOW_MAX];
    if let Some(window) = window.get_mut(..span) {
        if mem.read(at(base, start)?, window).is_ok() {
            return fields_in(window, start, &fields);
        }
    }
    let mut out = [0u64; K];
    for (value, &(offset, size)) in out.iter_mut().zip(&fields) {
        let mut b = [0u8; 8];
        mem.read(at(base, offset)?, b.get_mut(..size).ok_or(Fault)?)?;
        *value = u64::from_le_bytes(b);
    }
    Ok(out)
}

/// Why a profile does not fit the running guest kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// `MSR_LSTAR` minus the profile's `entry_syscall` is not a whole
    /// number of pages: not the profile's kernel (or not Linux).
    Relocation,
    /// The banner could not be read at its relocated address.
    Unreadable,
    /// The banner differs.
    Banner,
    /// The build id differs.
    BuildId,
}

/// The guest kernel's relocation (KASLR slide) if `profile` describes the
/// kernel whose SYSCALL entry point is `lstar`: the banner and the build
/// id are compared at their relocated addresses.
pub fn relocation(profile: &Profile, lstar: u64, mem: &mut impl GuestMemory) -> Result<u64, Mismatch> {
    let slide = lstar.wrapping_sub(profile.entry_syscall);
    if !slide.is_multiple_of(4096) {
        return Err(Mismatch::Relocation);
    }
    let len = (profile.banner_len as usize).min(PROFILE_BANNER_MAX);
    let mut banner = [0u8; PROFILE_BANNER_MAX];
    mem.read(profile.linux_banner.wrapping_add(slide), &mut banner[..len])
        .map_err(|_| Mismatch::Unreadable)?;
    if banner[..len] != profile.banner[..len] {
        return Err(Mismatch::Banner);
    }
    let len = (profile.build_id_len as usize).min(PROFILE_BUILD_ID_MAX);
    if len > 0 {
        let mut id = [0u8; PROFILE_BUILD_ID_MAX];
        mem.read(profile.build_id_addr.wrapping_add(slide), &mut id[..len])
            .map_err(|_| Mismatch::BuildId)?;
        if id[..len] != profile.build_id[..len] {
            return Err(Mismatch::BuildId);
        }
    }
    Ok(slide)
}

/// A verified profile and the guest kernel's relocation.
#[derive(Clone, Copy)]
pub struct Kernel<'a> {
    /// The profile, checked by [`relocation`].
    pub profile: &'a Profile,
    /// What [`relocation`] returned.
    pub slide: u64,
}

/// What identifies a task cheaply, read at every call to validate a cached
/// [`TaskIdentity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskKey {
    /// Guest address of the `task_struct`.
    pub task: u64,
    /// `task->pid`.
    pub pid: u32,
    /// `task->tgid`.
    pub tgid: u32,
    /// `task->real_parent`.
    pub parent: u64,
}

/// The open file behind a descriptor, or why there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Descriptor {
    /// Guest address of the `struct file`.
    Open(u64),
    /// The descriptor is not open (the call will fail with `EBADF`).
    NotOpen,
}

impl Kernel<'_> {
    fn off(&self) -> &ProfileOffsets {
        &self.profile.offsets
    }

    /// The task running on the vCPU, from the per-CPU `current_task` at
    /// `kernel_gs_base` (the guest kernel's GS base during SYSCALL).
    pub fn current_task(&self, mem: &mut impl GuestMemory, kernel_gs_base: u64) -> Result<u64, Fault> {
        let addr = kernel_gs_base
            .wrapping_add(self.profile.current_task)
            .wrapping_add(self.slide);
        struct_ptr(read_u64(mem, byte_ptr(addr)?)?)
    }

    /// Reads what [`TaskKey`] holds.
    pub fn task_key(&self, mem: &mut impl GuestMemory, task: u64) -> Result<TaskKey, Fault> {
        let task = struct_ptr(task)?;
        let o = self.off();
        let [pid, tgid, parent] = read_fields(mem, task, [(o.task_pid, 4), (o.task_tgid, 4), (o.task_real_parent, 8)])?;
        let (pid, tgid) = (pid as u32, tgid as u32);
        if pid == 0 || tgid == 0 || pid > PID_MAX || tgid > PID_MAX {
            return Err(Fault);
        }
        let parent = struct_ptr(parent)?;
        Ok(TaskKey {
            task,
            pid,
            tgid,
            parent,
        })
    }

    /// Completes a task's identity: its parent's tgid and its comm.
    pub fn task_identity(&self, mem: &mut impl GuestMemory, key: &TaskKey) -> Result<TaskIdentity, Fault> {
        // The initial task is its own parent; everything else has tgid > 0.
        let ppid = read_u32(mem, at(key.parent, self.off().task_tgid)?)?;
        if ppid > PID_MAX {
            return Err(Fault);
        }
        let mut comm = [0u8; COMM_LEN];
        mem.read(at(key.task, self.off().task_comm)?, &mut comm)?;
        // The kernel keeps comm NUL-terminated; a forged one is cut.
        comm[COMM_LEN - 1] = 0;
        if let Some(nul) = comm.iter().position(|&b| b == 0) {
            comm[nul..].fill(0);
        }
        Ok(TaskIdentity {
            task: key.task,
            status: crate::abi::Resolution::Resolved as u32,
            pid: key.pid,
            tgid: key.tgid,
            ppid,
            comm,
        })
    }

    /// The `struct file` of descriptor `fd` of `task`.
    pub fn descriptor(&self, mem: &mut impl GuestMemory, task: u64, fd: u64) -> Result<Descriptor, Fault> {
        let Ok(fd) = u32::try_from(fd) else {
            return Ok(Descriptor::NotOpen);
        };
        let o = self.off();
        let files = struct_ptr(read_u64(mem, at(task, o.task_files)?)?)?;
        let fdt = struct_ptr(read_u64(mem, at(files, o.files_fdt)?)?)?;
        let [max_fds, array] = read_fields(mem, fdt, [(o.fdtable_max_fds, 4), (o.fdtable_fd, 8)])?;
        let max_fds = max_fds as u32;
        if max_fds > FDS_MAX {
            return Err(Fault);
        }
        if fd >= max_fds {
            return Ok(Descriptor::NotOpen);
        }
        let array = struct_ptr(array)?;
        let slot = array.checked_add(u64::from(fd) * 8).ok_or(Fault)?;
        match read_u64(mem, slot)? {
            0 => Ok(Descriptor::NotOpen),
            file => Ok(Descriptor::Open(struct_ptr(file)?)),
        }
    }

    /// Fills the identity fields of `out` (kind, mode, device, inode,
    /// path, socket) for the `struct file` at `file`, opened by `task`. On
    /// a fault they are all zero again: nothing a forged structure put
    /// there is kept.
    pub fn file_identity(
        &self,
        mem: &mut impl GuestMemory,
        task: u64,
        file: u64,
        out: &mut FileRecord,
    ) -> Result<(), Fault> {
        match self.file_key(mem, file) {
            Ok(key) => self.file_identity_of(mem, task, &key, out),
            Err(fault) => {
                clear_identity(out);
                Err(fault)
            }
        }
    }

    /// Reads what identifies the open file at `file` for [`FileCache`]:
    /// the `struct file` and the inode, mount and dentry it points at
    /// (one guest read).
    pub fn file_key(&self, mem: &mut impl GuestMemory, file: u64) -> Result<FileKey, Fault> {
        let o = self.off();
        let file = struct_ptr(file)?;
        let [inode, mnt, dentry] = read_fields(
            mem,
            file,
            [
                (o.file_f_inode, 8),
                (nested(o.file_f_path, o.path_mnt)?, 8),
                (nested(o.file_f_path, o.path_dentry)?, 8),
            ],
        )?;
        Ok(FileKey {
            file,
            inode,
            mnt,
            dentry,
        })
    }

    /// [`Kernel::file_identity`] for a file whose [`FileKey`] was read.
    pub fn file_identity_of(
        &self,
        mem: &mut impl GuestMemory,
        task: u64,
        key: &FileKey,
        out: &mut FileRecord,
    ) -> Result<(), Fault> {
        let result = self.fill_file_identity(mem, task, key, out);
        if result.is_err() {
            clear_identity(out);
        }
        result
    }

    fn fill_file_identity(
        &self,
        mem: &mut impl GuestMemory,
        task: u64,
        key: &FileKey,
        out: &mut FileRecord,
    ) -> Result<(), Fault> {
        let o = self.off();
        let FileKey {
            file,
            inode,
            mnt,
            dentry,
        } = *key;
        let inode = struct_ptr(inode)?;
        let [mode, ino, sb] = read_fields(mem, inode, [(o.inode_i_mode, 2), (o.inode_i_ino, 8), (o.inode_i_sb, 8)])?;
        let mode = mode as u32;
        let sb = struct_ptr(sb)?;
        let dev = read_u32(mem, at(sb, o.super_block_s_dev)?)?;
        let kind = FileKind::from_mode(mode);

        out.file = file;
        out.mode = mode;
        out.kind = kind as u32;
        out.ino = ino;
        // The kernel's internal dev_t: 12 bits of major, 20 of minor.
        out.dev_major = dev >> 20;
        out.dev_minor = dev & 0xf_ffff;
        out.flags = 0;
        out.path_len = 0;
        if kind == FileKind::Socket {
            self.socket_identity(mem, inode, out)?;
        }

        let mnt = struct_ptr(mnt)?;
        let dentry = struct_ptr(dentry)?;
        let mut path = PathBuilder::new();
        self.walk_path(mem, task, mnt, dentry, &mut path)?;
        let pseudo = matches!(kind, FileKind::Fifo | FileKind::Socket | FileKind::Anonymous);
        if pseudo && path.detached && path.len == 0 {
            // pipefs, sockfs, anon_inodefs: no path, shown by kind and inode.
            return Ok(());
        }
        let bytes = path.finish();
        out.path[..bytes.len()].copy_from_slice(bytes);
        out.path_len = bytes.len() as u32;
        if path.truncated {
            out.flags |= FILE_PATH_TRUNCATED;
        }
        if path.detached {
            out.flags |= FILE_PATH_DETACHED;
        }
        Ok(())
    }

    /// Reads the socket behind a sockfs inode (`struct socket_alloc`).
    fn socket_identity(&self, mem: &mut impl GuestMemory, inode: u64, out: &mut FileRecord) -> Result<(), Fault> {
        let o = self.off();
        let alloc = inode
            .checked_sub(u64::from(o.socket_alloc_vfs_inode))
            .ok_or(Fault)?;
        let socket = struct_ptr(at(alloc, o.socket_alloc_socket)?)?;
        let [sock_type, sk] = read_fields(mem, socket, [(o.socket_type, 2), (o.socket_sk, 8)])?;
        let sk = struct_ptr(sk)?;
        // struct sock_common: the family and, for IPv4, the connection.
        let [family, local_addr, remote_addr, local_port, remote_port] = read_fields(
            mem,
            sk,
            [
                (o.sock_common_skc_family, 2),
                (o.sock_common_skc_rcv_saddr, 4),
                (o.sock_common_skc_daddr, 4),
                (o.sock_common_skc_num, 2),
                (o.sock_common_skc_dport, 2),
            ],
        )?;
        let family = family as u16;
        out.socket.family = family;
        out.socket.sock_type = sock_type as u16;
        match family {
            AF_INET => {
                // Addresses as they lie in memory (network order).
                out.socket.local_addr[..4].copy_from_slice(&(local_addr as u32).to_le_bytes());
                out.socket.remote_addr[..4].copy_from_slice(&(remote_addr as u32).to_le_bytes());
                out.socket.local_port = local_port as u16;
                out.socket.remote_port = u16::from_be(remote_port as u16);
            }
            AF_UNIX => {
                // Which direction of which connection: this end and its peer.
                let peer = read_u64(mem, at(sk, o.unix_sock_peer)?)?;
                let peer = if peer == 0 { 0 } else { struct_ptr(peer)? };
                out.socket.local_addr[..8].copy_from_slice(&sk.to_le_bytes());
                out.socket.remote_addr[..8].copy_from_slice(&peer.to_le_bytes());
            }
            // Other families: the family and type are still worth having.
            _ => {}
        }
        out.flags |= FILE_SOCKET_VALID;
        Ok(())
    }

    /// Builds the path of (`mnt`, `dentry`) up to `task`'s root, as
    /// `d_path()` would, within the module's bounds.
    fn walk_path(
        &self,
        mem: &mut impl GuestMemory,
        task: u64,
        mut mnt: u64,
        mut dentry: u64,
        path: &mut PathBuilder,
    ) -> Result<(), Fault> {
        let o = self.off();
        let fs = struct_ptr(read_u64(mem, at(task, o.task_fs)?)?)?;
        let [root_mnt, root_dentry] = read_fields(
            mem,
            fs,
            [
                (nested(o.fs_root, o.path_mnt)?, 8),
                (nested(o.fs_root, o.path_dentry)?, 8),
            ],
        )?;
        let mut crossings = 0;
        // The mount being walked and its root dentry, read once per mount.
        let mut mnt_root: Option<(u64, u64)> = None;
        for _ in 0..PATH_DEPTH_MAX + MOUNT_DEPTH_MAX {
            if dentry == root_dentry && mnt == root_mnt {
                return Ok(());
            }
            let root_of_mnt = match mnt_root {
                Some((known, root)) if known == mnt => root,
                _ => {
                    let root = read_u64(mem, at(mnt, o.vfsmount_mnt_root)?)?;
                    mnt_root = Some((mnt, root));
                    root
                }
            };
            if dentry == root_of_mnt {
                // At the root of a mount: continue from its mount point.
                let mount = mnt.checked_sub(u64::from(o.mount_mnt)).ok_or(Fault)?;
                let [parent, mountpoint] =
                    read_fields(mem, mount, [(o.mount_mnt_parent, 8), (o.mount_mnt_mountpoint, 8)])?;
                let parent = struct_ptr(parent)?;
                if parent == mount || crossings == MOUNT_DEPTH_MAX {
                    // The namespace's root, not the task's: outside its root.
                    path.detached = true;
                    return Ok(());
                }
                crossings += 1;
                dentry = struct_ptr(mountpoint)?;
                mnt = struct_ptr(at(parent, o.mount_mnt)?)?;
                continue;
            }
            let window = DentryWindow::read(mem, o, dentry)?;
            let parent = struct_ptr(window.parent)?;
            if parent == dentry {
                // A file system root that is no mount's root: a pseudo
                // file system's, or a dentry cut off from its tree.
                path.detached = true;
                return Ok(());
            }
            let len = window.name_len as usize;
            if len == 0 || len > NAME_MAX {
                return Err(Fault);
            }
            let name = byte_ptr(window.name)?;
            let mut buf = [0u8; NAME_MAX];
            window.name_bytes(mem, name, &mut buf[..len])?;
            if !path.push_component(&buf[..len]) {
                return Ok(());
            }
            dentry = parent;
        }
        // Deeper than we follow (or a forged cycle): keep the tail.
        path.truncated = true;
        Ok(())
    }
}

/// What a path walk needs of a dentry, read with one guest read of
/// [`WINDOW_MAX`] bytes from its first such member. The window reaches
/// past `d_name` over `d_iname`, where the kernel keeps short names
/// inline, so a component usually costs that one read.
struct DentryWindow {
    /// Guest address of `bytes[0]`.
    at: u64,
    bytes: [u8; WINDOW_MAX],
    /// How many of `bytes` were read: 0 when the window could not be
    /// (then the members were read one by one).
    have: usize,
    /// `d_parent`.
    parent: u64,
    /// `d_name.len`.
    name_len: u32,
    /// `d_name.name`.
    name: u64,
}

impl DentryWindow {
    fn read(mem: &mut impl GuestMemory, o: &ProfileOffsets, dentry: u64) -> Result<Self, Fault> {
        let fields = [(o.dentry_d_parent, 8), (o.dentry_d_name_len, 4), (o.dentry_d_name_name, 8)];
        let (start, span) = span_of(&fields);
        let mut window = Self {
            at: at(dentry, start)?,
            bytes: [0; WINDOW_MAX],
            have: 0,
            parent: 0,
            name_len: 0,
            name: 0,
        };
        let members = if span <= WINDOW_MAX && mem.read(window.at, &mut window.bytes).is_ok() {
            window.have = WINDOW_MAX;
            fields_in(&window.bytes, start, &fields)?
        } else {
            // Members far apart, or near the end of what the guest
            // mapped: no window.
            read_fields(mem, dentry, fields)?
        };
        window.parent = members[0];
        window.name_len = members[1] as u32;
        window.name = members[2];
        Ok(window)
    }

    /// Fills `out` with the name's bytes at `name`: from the window when
    /// they lie in it (an inline name), else with a guest read.
    fn name_bytes(&self, mem: &mut impl GuestMemory, name: u64, out: &mut [u8]) -> Result<(), Fault> {
        let inline = name
            .checked_sub(self.at)
            .and_then(|from| usize::try_from(from).ok())
            .and_then(|from| self.bytes[..self.have].get(from..from.checked_add(out.len())?));
        match inline {
            Some(bytes) => {
                out.copy_from_slice(bytes);
                Ok(())
            }
            None => mem.read(name, out),
        }
    }
}

/// Zeroes the identity fields of `out` (kind, mode, device, inode, path,
/// socket): nothing a forged structure put there is kept.
fn clear_identity(out: &mut FileRecord) {
    out.file = 0;
    out.mode = 0;
    out.kind = FileKind::Unknown as u32;
    out.ino = 0;
    out.dev_major = 0;
    out.dev_minor = 0;
    out.flags = 0;
    out.path_len = 0;
    out.socket = Default::default();
}

/// A path built from its last component backwards.
struct PathBuilder {
    buf: [u8; FILE_PATH_MAX],
    /// Bytes used, at the end of `buf`.
    len: usize,
    truncated: bool,
    detached: bool,
}

impl PathBuilder {
    fn new() -> Self {
        Self {
            buf: [0; FILE_PATH_MAX],
            len: 0,
            truncated: false,
            detached: false,
        }
    }

    /// Prepends `/name`; false (and truncated) if it does not fit.
    fn push_component(&mut self, name: &[u8]) -> bool {
        let need = name.len() + 1;
        if self.len + need > FILE_PATH_MAX {
            self.truncated = true;
            return false;
        }
        let start = FILE_PATH_MAX - self.len - need;
        self.buf[start] = b'/';
        self.buf[start + 1..start + need].copy_from_slice(name);
        self.len += need;
        true
    }

    /// The path: `/` for the root itself.
    fn finish(&mut self) -> &[u8] {
        if self.len == 0 && !self.detached && !self.truncated {
            self.buf[FILE_PATH_MAX - 1] = b'/';
            self.len = 1;
        }
        &self.buf[FILE_PATH_MAX - self.len..]
    }
}

/// Number of entries of a [`TaskCache`].
pub const TASK_CACHE_SIZE: usize = 64;

/// A small direct-mapped cache of task identities, by `task_struct`
/// address. An entry is used only if the task's pid, tgid and parent
/// pointer, read again at every call, still match: a freed and reused
/// `task_struct` gets a new pid. Calls that change what is cached beyond
/// that (`execve`, `prctl(PR_SET_NAME)`, exit) [`TaskCache::forget`] it.
pub struct TaskCache {
    entries: [Option<(TaskKey, TaskIdentity)>; TASK_CACHE_SIZE],
}

impl Default for TaskCache {
    fn default() -> Self {
        Self {
            entries: [None; TASK_CACHE_SIZE],
        }
    }
}

impl TaskCache {
    fn slot(task: u64) -> usize {
        // task_structs are at least cache-line aligned.
        ((task >> 6) as usize) % TASK_CACHE_SIZE
    }

    /// The cached identity for `key`, if still valid.
    pub fn lookup(&self, key: &TaskKey) -> Option<TaskIdentity> {
        match self.entries[Self::slot(key.task)] {
            Some((k, identity)) if k == *key => Some(identity),
            _ => None,
        }
    }

    /// Remembers `identity`, read for `key`.
    pub fn insert(&mut self, key: TaskKey, identity: TaskIdentity) {
        self.entries[Self::slot(key.task)] = Some((key, identity));
    }

    /// Drops what is cached for `task`.
    pub fn forget(&mut self, task: u64) {
        let slot = &mut self.entries[Self::slot(task)];
        if matches!(slot, Some((k, _)) if k.task == task) {
            *slot = None;
        }
    }

    /// Drops everything (the profile changed).
    pub fn clear(&mut self) {
        self.entries = [None; TASK_CACHE_SIZE];
    }
}

/// What an open file's cached identity is checked against at every call:
/// the `struct file` and the inode, mount and dentry it points at, read
/// again with one guest read ([`Kernel::file_key`]). A `struct file` freed
/// and reused for another file points at another dentry or mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileKey {
    /// Guest address of the `struct file`.
    pub file: u64,
    /// `file->f_inode`.
    pub inode: u64,
    /// `file->f_path.mnt`.
    pub mnt: u64,
    /// `file->f_path.dentry`.
    pub dentry: u64,
}

/// Number of entries of a [`FileCache`] (the module gives it this many).
pub const FILE_CACHE_SIZE: usize = 32;
/// Longest path a [`FileCache`] entry keeps: files with longer paths are
/// resolved in full at every call.
pub const FILE_CACHE_PATH_MAX: usize = 192;
/// How long a cached identity is trusted (ns): bounds how long a name
/// changed without a trapped call (see [`FileCache`]) can stay stale.
pub const FILE_CACHE_TTL_NS: u64 = 1_000_000_000;

const _: () = assert!(FILE_CACHE_PATH_MAX <= FILE_PATH_MAX);

/// One cached file identity: the fields of a [`FileRecord`] that
/// [`Kernel::file_identity`] fills for a file that is not a socket.
#[derive(Clone, Copy)]
pub struct FileCacheEntry {
    key: FileKey,
    /// [`FileCache::generation`] when the identity was read.
    generation: u64,
    /// When it was stored (ns, the caller's clock).
    stored_ns: u64,
    kind: u32,
    mode: u32,
    dev_major: u32,
    dev_minor: u32,
    flags: u32,
    path_len: u32,
    ino: u64,
    path: [u8; FILE_CACHE_PATH_MAX],
}

/// A small direct-mapped cache of file identities, by `struct file`
/// address, over caller-provided storage (it never allocates).
///
/// Resolving a file's path costs a guest read per dentry and mount
/// crossed; a cached identity costs the one read of its [`FileKey`]. What
/// a key does not cover is the name: a rename, an unlink, a mount change
/// or a new root changes a path without touching the `struct file`. The
/// tracker [`FileCache::invalidate`]s the whole cache when a call that can
/// do that ([`crate::fdcalls::changes_paths`]) enters and when it returns;
/// an identity read while such a call ran is not stored (the generation
/// moved on), and none is trusted for longer than [`FILE_CACHE_TTL_NS`].
/// Sockets are never cached: their addresses change with `connect`.
pub struct FileCache<S> {
    entries: S,
    generation: u64,
}

impl<S: core::ops::DerefMut<Target = [Option<FileCacheEntry>]>> FileCache<S> {
    /// A cache of `storage.len()` entries (none: nothing is cached).
    pub fn new(mut storage: S) -> Self {
        storage.fill(None);
        Self {
            entries: storage,
            generation: 0,
        }
    }

    fn slot(&self, file: u64) -> Option<usize> {
        // `struct file`s are at least 64-byte aligned slab objects.
        let len = self.entries.len();
        (len != 0).then(|| ((file >> 6) as usize) % len)
    }

    /// The generation to hand back to [`FileCache::insert`]: read it
    /// before reading the guest.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Fills the identity fields of `out` from the entry for `key`, if
    /// there is one that is current at `now_ns`; false otherwise (then
    /// `out` is untouched).
    pub fn lookup(&self, key: &FileKey, now_ns: u64, out: &mut FileRecord) -> bool {
        let Some(Some(e)) = self.slot(key.file).map(|i| &self.entries[i]) else {
            return false;
        };
        if e.key != *key
            || e.generation != self.generation
            || now_ns.saturating_sub(e.stored_ns) > FILE_CACHE_TTL_NS
        {
            return false;
        }
        let len = e.path_len as usize;
        out.file = key.file;
        out.kind = e.kind;
        out.mode = e.mode;
        out.dev_major = e.dev_major;
        out.dev_minor = e.dev_minor;
        out.flags = e.flags;
        out.ino = e.ino;
        out.socket = Default::default();
        out.path_len = e.path_len;
        out.path[..len].copy_from_slice(&e.path[..len]);
        true
    }

    /// Remembers the identity in `record`, resolved for `key` after
    /// [`FileCache::generation`] returned `generation`. Not stored (false)
    /// if the cache was invalidated since, for a socket, or for a path
    /// longer than [`FILE_CACHE_PATH_MAX`].
    pub fn insert(&mut self, generation: u64, now_ns: u64, key: &FileKey, record: &FileRecord) -> bool {
        let len = record.path_len as usize;
        if generation != self.generation
            || record.kind == FileKind::Socket as u32
            || record.flags & FILE_SOCKET_VALID != 0
            || len > FILE_CACHE_PATH_MAX
            || record.file != key.file
        {
            return false;
        }
        let Some(i) = self.slot(key.file) else {
            return false;
        };
        let mut path = [0u8; FILE_CACHE_PATH_MAX];
        path[..len].copy_from_slice(&record.path[..len]);
        self.entries[i] = Some(FileCacheEntry {
            key: *key,
            generation,
            stored_ns: now_ns,
            kind: record.kind,
            mode: record.mode,
            dev_major: record.dev_major,
            dev_minor: record.dev_minor,
            flags: record.flags,
            path_len: record.path_len,
            ino: record.ino,
            path,
        });
        true
    }

    /// Forgets every entry, and refuses identities read before now.
    pub fn invalidate(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests;
