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

fn read_u16(mem: &mut impl GuestMemory, addr: u64) -> Result<u16, Fault> {
    let mut b = [0u8; 2];
    mem.read(addr, &mut b)?;
    Ok(u16::from_le_bytes(b))
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
        let pid = read_u32(mem, at(task, self.off().task_pid)?)?;
        let tgid = read_u32(mem, at(task, self.off().task_tgid)?)?;
        if pid == 0 || tgid == 0 || pid > PID_MAX || tgid > PID_MAX {
            return Err(Fault);
        }
        let parent = struct_ptr(read_u64(mem, at(task, self.off().task_real_parent)?)?)?;
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
        let max_fds = read_u32(mem, at(fdt, o.fdtable_max_fds)?)?;
        if max_fds > FDS_MAX {
            return Err(Fault);
        }
        if fd >= max_fds {
            return Ok(Descriptor::NotOpen);
        }
        let array = struct_ptr(read_u64(mem, at(fdt, o.fdtable_fd)?)?)?;
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
        let result = self.fill_file_identity(mem, task, file, out);
        if result.is_err() {
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
        result
    }

    fn fill_file_identity(
        &self,
        mem: &mut impl GuestMemory,
        task: u64,
        file: u64,
        out: &mut FileRecord,
    ) -> Result<(), Fault> {
        let o = self.off();
        let file = struct_ptr(file)?;
        let inode = struct_ptr(read_u64(mem, at(file, o.file_f_inode)?)?)?;
        let mode = u32::from(read_u16(mem, at(inode, o.inode_i_mode)?)?);
        let ino = read_u64(mem, at(inode, o.inode_i_ino)?)?;
        let sb = struct_ptr(read_u64(mem, at(inode, o.inode_i_sb)?)?)?;
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

        let path_at = at(file, o.file_f_path)?;
        let mnt = struct_ptr(read_u64(mem, at(path_at, o.path_mnt)?)?)?;
        let dentry = struct_ptr(read_u64(mem, at(path_at, o.path_dentry)?)?)?;
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
        let sock_type = read_u16(mem, at(socket, o.socket_type)?)?;
        let sk = struct_ptr(read_u64(mem, at(socket, o.socket_sk)?)?)?;
        let family = read_u16(mem, at(sk, o.sock_common_skc_family)?)?;
        out.socket.family = family;
        out.socket.sock_type = sock_type;
        match family {
            AF_INET => {
                mem.read(at(sk, o.sock_common_skc_rcv_saddr)?, &mut out.socket.local_addr[..4])?;
                mem.read(at(sk, o.sock_common_skc_daddr)?, &mut out.socket.remote_addr[..4])?;
                out.socket.local_port = read_u16(mem, at(sk, o.sock_common_skc_num)?)?;
                out.socket.remote_port = u16::from_be(read_u16(mem, at(sk, o.sock_common_skc_dport)?)?);
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
        let root_at = at(fs, o.fs_root)?;
        let root_mnt = read_u64(mem, at(root_at, o.path_mnt)?)?;
        let root_dentry = read_u64(mem, at(root_at, o.path_dentry)?)?;
        let mut crossings = 0;
        for _ in 0..PATH_DEPTH_MAX + MOUNT_DEPTH_MAX {
            if dentry == root_dentry && mnt == root_mnt {
                return Ok(());
            }
            let mnt_root = read_u64(mem, at(mnt, o.vfsmount_mnt_root)?)?;
            if dentry == mnt_root {
                // At the root of a mount: continue from its mount point.
                let mount = mnt.checked_sub(u64::from(o.mount_mnt)).ok_or(Fault)?;
                let parent = struct_ptr(read_u64(mem, at(mount, o.mount_mnt_parent)?)?)?;
                if parent == mount || crossings == MOUNT_DEPTH_MAX {
                    // The namespace's root, not the task's: outside its root.
                    path.detached = true;
                    return Ok(());
                }
                crossings += 1;
                dentry = struct_ptr(read_u64(mem, at(mount, o.mount_mnt_mountpoint)?)?)?;
                mnt = struct_ptr(at(parent, o.mount_mnt)?)?;
                continue;
            }
            let parent = struct_ptr(read_u64(mem, at(dentry, o.dentry_d_parent)?)?)?;
            if parent == dentry {
                // A file system root that is no mount's root: a pseudo
                // file system's, or a dentry cut off from its tree.
                path.detached = true;
                return Ok(());
            }
            let len = read_u32(mem, at(dentry, o.dentry_d_name_len)?)? as usize;
            if len == 0 || len > NAME_MAX {
                return Err(Fault);
            }
            let name = byte_ptr(read_u64(mem, at(dentry, o.dentry_d_name_name)?)?)?;
            let mut buf = [0u8; NAME_MAX];
            mem.read(name, &mut buf[..len])?;
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

#[cfg(test)]
mod tests;
