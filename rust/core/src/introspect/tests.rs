// SPDX-License-Identifier: GPL-2.0

//! Host tests of guest introspection on a fake guest kernel, including
//! forged structures.

use super::*;
use crate::abi::Resolution;
use std::collections::BTreeMap;
use std::vec;
use std::vec::Vec;

/// Guest memory made of byte regions; reads outside them fail. Counts
/// reads so that tests can check that work stays bounded.
#[derive(Default)]
struct FakeMemory {
    regions: BTreeMap<u64, Vec<u8>>,
    reads: usize,
}

impl FakeMemory {
    fn map(&mut self, base: u64, len: usize) {
        self.regions.insert(base, vec![0; len]);
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) {
        let (base, region) = self
            .regions
            .range_mut(..=addr)
            .next_back()
            .expect("write outside the fake memory");
        let at = (addr - base) as usize;
        region[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn w64(&mut self, addr: u64, v: u64) {
        self.write(addr, &v.to_le_bytes());
    }

    fn w32(&mut self, addr: u64, v: u32) {
        self.write(addr, &v.to_le_bytes());
    }

    fn w16(&mut self, addr: u64, v: u16) {
        self.write(addr, &v.to_le_bytes());
    }
}

impl GuestMemory for FakeMemory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.reads += 1;
        let (base, region) = self.regions.range(..=addr).next_back().ok_or(Fault)?;
        let at = (addr - base) as usize;
        let end = at.checked_add(buf.len()).ok_or(Fault)?;
        if end > region.len() {
            return Err(Fault);
        }
        buf.copy_from_slice(&region[at..end]);
        Ok(())
    }
}

const SLIDE: u64 = 0x2a0_0000;
const BANNER: &[u8] = b"Linux version 7.3.4-test (test@host) #1 SMP";
const BUILD_ID: [u8; 20] = [7; 20];

/// Object addresses in the fake kernel's heap.
const HEAP: u64 = 0xffff_8880_0000_0000;
const TASK: u64 = HEAP + 0x1000;
const PARENT: u64 = HEAP + 0x2000;
const FILES: u64 = HEAP + 0x3000;
const FDT: u64 = HEAP + 0x3100;
const FD_ARRAY: u64 = HEAP + 0x3200;
const FS: u64 = HEAP + 0x3400;
const FILE: u64 = HEAP + 0x4000;
const INODE: u64 = HEAP + 0x5000;
const SB: u64 = HEAP + 0x6000;
const ROOT_MOUNT: u64 = HEAP + 0x7000;
const TMP_MOUNT: u64 = HEAP + 0x7400;
const DENTRY_ROOT: u64 = HEAP + 0x8000;
const DENTRY_TMP: u64 = HEAP + 0x8100;
const DENTRY_TMPFS_ROOT: u64 = HEAP + 0x8200;
const DENTRY_DIR: u64 = HEAP + 0x8300;
const DENTRY_FILE: u64 = HEAP + 0x8400;
const NAMES: u64 = HEAP + 0x9000;
/// Where this CPU's `current_task` lives.
const CURRENT_TASK_SLOT: u64 = HEAP + 0x0f00;
/// The GS base that puts `current_task` at [`CURRENT_TASK_SLOT`]: like the
/// real per-CPU offsets, it wraps around when added to a link address.
const PERCPU_BASE: u64 = CURRENT_TASK_SLOT
    .wrapping_sub(0xffff_ffff_81c7_f018)
    .wrapping_sub(SLIDE);

fn profile() -> Profile {
    let mut p = Profile {
        banner_len: BANNER.len() as u32,
        build_id_len: 20,
        build_id_addr: 0xffff_ffff_8180_0000,
        linux_banner: 0xffff_ffff_8160_0000,
        entry_syscall: 0xffff_ffff_8100_0040,
        current_task: 0xffff_ffff_81c7_f018,
        offsets: ProfileOffsets {
            task_pid: 0x10,
            task_tgid: 0x14,
            task_comm: 0x20,
            task_real_parent: 0x30,
            task_mm: 0x38,
            task_files: 0x40,
            task_fs: 0x48,
            fs_root: 0x8,
            files_fdt: 0x20,
            fdtable_max_fds: 0x0,
            fdtable_fd: 0x8,
            file_f_path: 0x10,
            file_f_inode: 0x20,
            path_mnt: 0x0,
            path_dentry: 0x8,
            dentry_d_parent: 0x18,
            dentry_d_name_len: 0x24,
            dentry_d_name_name: 0x28,
            mount_mnt: 0x20,
            mount_mnt_parent: 0x10,
            mount_mnt_mountpoint: 0x18,
            vfsmount_mnt_root: 0x0,
            inode_i_mode: 0x0,
            inode_i_ino: 0x40,
            inode_i_sb: 0x28,
            super_block_s_dev: 0x10,
            socket_alloc_socket: 0x0,
            socket_alloc_vfs_inode: 0x80,
            socket_type: 0x4,
            socket_sk: 0x18,
            sock_common_skc_family: 0x10,
            sock_common_skc_daddr: 0x0,
            sock_common_skc_rcv_saddr: 0x4,
            sock_common_skc_dport: 0xc,
            sock_common_skc_num: 0xe,
            task_comm_size: 16,
            unix_sock_peer: 0x300,
            reserved: 0,
        },
        ..Profile::default()
    };
    p.banner[..BANNER.len()].copy_from_slice(BANNER);
    p.build_id[..20].copy_from_slice(&BUILD_ID);
    assert_eq!(p.validate(), Ok(()));
    p
}

fn dentry(mem: &mut FakeMemory, p: &Profile, d: u64, parent: u64, name: &[u8], name_at: u64) {
    let o = &p.offsets;
    mem.w64(d + u64::from(o.dentry_d_parent), parent);
    mem.w32(d + u64::from(o.dentry_d_name_len), name.len() as u32);
    mem.w64(d + u64::from(o.dentry_d_name_name), name_at);
    mem.write(name_at, name);
}

/// A guest with task 42 (comm "cat", parent tgid 7) whose fd 3 is
/// /tmp/dir/secret.txt on a tmpfs mounted at /tmp.
fn guest() -> (FakeMemory, Profile) {
    let p = profile();
    let o = p.offsets;
    let mut m = FakeMemory::default();
    m.map(p.linux_banner + SLIDE, 4096);
    m.write(p.linux_banner + SLIDE, BANNER);
    m.map(p.build_id_addr + SLIDE, 64);
    m.write(p.build_id_addr + SLIDE, &BUILD_ID);
    m.map(HEAP, 0x10000);
    m.w64(CURRENT_TASK_SLOT, TASK);

    m.w32(TASK + u64::from(o.task_pid), 42);
    m.w32(TASK + u64::from(o.task_tgid), 42);
    m.write(TASK + u64::from(o.task_comm), b"cat\0\0\0\0\0\0\0\0\0\0\0\0\0");
    m.w64(TASK + u64::from(o.task_real_parent), PARENT);
    m.w64(TASK + u64::from(o.task_files), FILES);
    m.w64(TASK + u64::from(o.task_fs), FS);
    m.w32(PARENT + u64::from(o.task_tgid), 7);
    m.w64(FILES + u64::from(o.files_fdt), FDT);
    m.w32(FDT + u64::from(o.fdtable_max_fds), 64);
    m.w64(FDT + u64::from(o.fdtable_fd), FD_ARRAY);
    m.w64(FD_ARRAY + 3 * 8, FILE);

    // The task's root: / of the root mount.
    m.w64(FS + u64::from(o.fs_root) + u64::from(o.path_mnt), ROOT_MOUNT + u64::from(o.mount_mnt));
    m.w64(FS + u64::from(o.fs_root) + u64::from(o.path_dentry), DENTRY_ROOT);
    // Root mount: its own parent, root dentry /.
    m.w64(ROOT_MOUNT + u64::from(o.mount_mnt_parent), ROOT_MOUNT);
    m.w64(ROOT_MOUNT + u64::from(o.mount_mnt) + u64::from(o.vfsmount_mnt_root), DENTRY_ROOT);
    dentry(&mut m, &p, DENTRY_ROOT, DENTRY_ROOT, b"/", NAMES);
    dentry(&mut m, &p, DENTRY_TMP, DENTRY_ROOT, b"tmp", NAMES + 0x10);
    // tmpfs on /tmp.
    m.w64(TMP_MOUNT + u64::from(o.mount_mnt_parent), ROOT_MOUNT);
    m.w64(TMP_MOUNT + u64::from(o.mount_mnt_mountpoint), DENTRY_TMP);
    m.w64(TMP_MOUNT + u64::from(o.mount_mnt) + u64::from(o.vfsmount_mnt_root), DENTRY_TMPFS_ROOT);
    dentry(&mut m, &p, DENTRY_TMPFS_ROOT, DENTRY_TMPFS_ROOT, b"/", NAMES + 0x20);
    dentry(&mut m, &p, DENTRY_DIR, DENTRY_TMPFS_ROOT, b"dir", NAMES + 0x30);
    dentry(&mut m, &p, DENTRY_FILE, DENTRY_DIR, b"secret.txt", NAMES + 0x40);

    m.w64(FILE + u64::from(o.file_f_path) + u64::from(o.path_mnt), TMP_MOUNT + u64::from(o.mount_mnt));
    m.w64(FILE + u64::from(o.file_f_path) + u64::from(o.path_dentry), DENTRY_FILE);
    m.w64(FILE + u64::from(o.file_f_inode), INODE);
    m.w16(INODE + u64::from(o.inode_i_mode), 0o100640);
    m.w64(INODE + u64::from(o.inode_i_ino), 1234);
    m.w64(INODE + u64::from(o.inode_i_sb), SB);
    m.w32(SB + u64::from(o.super_block_s_dev), 23); // 0:23
    (m, p)
}

fn resolve_fd(m: &mut FakeMemory, p: &Profile, fd: u64) -> Result<FileRecord, Fault> {
    let k = Kernel {
        profile: p,
        slide: SLIDE,
    };
    let task = k.current_task(m, PERCPU_BASE)?;
    let Descriptor::Open(file) = k.descriptor(m, task, fd)? else {
        return Err(Fault);
    };
    let mut out = FileRecord::default();
    k.file_identity(m, task, file, &mut out)?;
    Ok(out)
}

#[test]
fn relocation_checks_banner_and_build_id() {
    let (mut m, p) = guest();
    assert_eq!(relocation(&p, p.entry_syscall + SLIDE, &mut m), Ok(SLIDE));
    assert_eq!(relocation(&p, p.entry_syscall + SLIDE + 8, &mut m), Err(Mismatch::Relocation));
    // Another kernel: banner elsewhere (unreadable) or different.
    assert_eq!(
        relocation(&p, p.entry_syscall + SLIDE + 0x40_0000, &mut m),
        Err(Mismatch::Unreadable)
    );
    m.write(p.linux_banner + SLIDE + 14, b"6");
    assert_eq!(relocation(&p, p.entry_syscall + SLIDE, &mut m), Err(Mismatch::Banner));
    let (mut m, p) = guest();
    m.write(p.build_id_addr + SLIDE, &[8; 20]);
    assert_eq!(relocation(&p, p.entry_syscall + SLIDE, &mut m), Err(Mismatch::BuildId));
}

#[test]
fn resolves_the_current_task() {
    let (mut m, p) = guest();
    let k = Kernel {
        profile: &p,
        slide: SLIDE,
    };
    let task = k.current_task(&mut m, PERCPU_BASE).unwrap();
    assert_eq!(task, TASK);
    let key = k.task_key(&mut m, task).unwrap();
    assert_eq!((key.pid, key.tgid, key.parent), (42, 42, PARENT));
    let id = k.task_identity(&mut m, &key).unwrap();
    assert_eq!(id.status, Resolution::Resolved as u32);
    assert_eq!((id.pid, id.tgid, id.ppid), (42, 42, 7));
    assert_eq!(&id.comm[..4], b"cat\0");
}

#[test]
fn resolves_a_file_across_a_mount() {
    let (mut m, p) = guest();
    let f = resolve_fd(&mut m, &p, 3).unwrap();
    assert_eq!(f.path_bytes(), b"/tmp/dir/secret.txt");
    assert_eq!(f.kind, FileKind::Regular as u32);
    assert_eq!(f.mode, 0o100640);
    assert_eq!((f.dev_major, f.dev_minor, f.ino), (0, 23, 1234));
    assert_eq!(f.flags, 0);
    assert_eq!(f.file, FILE);
}

#[test]
fn descriptors_that_are_not_open() {
    let (mut m, p) = guest();
    let k = Kernel {
        profile: &p,
        slide: SLIDE,
    };
    assert_eq!(k.descriptor(&mut m, TASK, 4), Ok(Descriptor::NotOpen));
    assert_eq!(k.descriptor(&mut m, TASK, 64), Ok(Descriptor::NotOpen));
    assert_eq!(k.descriptor(&mut m, TASK, u64::MAX), Ok(Descriptor::NotOpen)); // -1
    assert_eq!(k.descriptor(&mut m, TASK, 1 << 40), Ok(Descriptor::NotOpen));
}

#[test]
fn root_and_chroot() {
    let (mut m, p) = guest();
    let o = p.offsets;
    // The file is the task's root itself.
    m.w64(FILE + u64::from(o.file_f_path) + u64::from(o.path_mnt), ROOT_MOUNT + u64::from(o.mount_mnt));
    m.w64(FILE + u64::from(o.file_f_path) + u64::from(o.path_dentry), DENTRY_ROOT);
    assert_eq!(resolve_fd(&mut m, &p, 3).unwrap().path_bytes(), b"/");
    // chroot into /tmp/dir: the file is /secret.txt there.
    let (mut m, p) = guest();
    m.w64(FS + u64::from(o.fs_root) + u64::from(o.path_mnt), TMP_MOUNT + u64::from(o.mount_mnt));
    m.w64(FS + u64::from(o.fs_root) + u64::from(o.path_dentry), DENTRY_DIR);
    assert_eq!(resolve_fd(&mut m, &p, 3).unwrap().path_bytes(), b"/secret.txt");
}

#[test]
fn pipes_have_no_path() {
    let (mut m, p) = guest();
    let o = p.offsets;
    // A pipefs dentry: its own parent, on a mount whose root it is not.
    m.w16(INODE + u64::from(o.inode_i_mode), 0o010600);
    m.w64(FILE + u64::from(o.file_f_path) + u64::from(o.path_dentry), HEAP + 0xa000);
    dentry(&mut m, &p, HEAP + 0xa000, HEAP + 0xa000, b"", NAMES + 0x80);
    m.w64(FILE + u64::from(o.file_f_path) + u64::from(o.path_mnt), HEAP + 0xb000 + u64::from(o.mount_mnt));
    m.w64(HEAP + 0xb000 + u64::from(o.mount_mnt) + u64::from(o.vfsmount_mnt_root), HEAP + 0xc000);
    let f = resolve_fd(&mut m, &p, 3).unwrap();
    assert_eq!(f.kind, FileKind::Fifo as u32);
    assert_eq!((f.path_len, f.flags), (0, 0));
}

#[test]
fn sockets_carry_their_addresses() {
    let (mut m, p) = guest();
    let o = p.offsets;
    let sock_inode = HEAP + 0xd080; // socket_alloc at 0xd000
    let sk = HEAP + 0xe000;
    m.w64(FILE + u64::from(o.file_f_inode), sock_inode);
    m.w16(sock_inode + u64::from(o.inode_i_mode), 0o140777);
    m.w64(sock_inode + u64::from(o.inode_i_sb), SB);
    m.w16(HEAP + 0xd000 + u64::from(o.socket_type), 1);
    m.w64(HEAP + 0xd000 + u64::from(o.socket_sk), sk);
    m.w16(sk + u64::from(o.sock_common_skc_family), 2);
    m.write(sk + u64::from(o.sock_common_skc_rcv_saddr), &[127, 0, 0, 1]);
    m.write(sk + u64::from(o.sock_common_skc_daddr), &[10, 0, 2, 2]);
    m.w16(sk + u64::from(o.sock_common_skc_num), 8080);
    m.write(sk + u64::from(o.sock_common_skc_dport), &443u16.to_be_bytes());
    // sockfs dentry, as for pipes.
    m.w64(FILE + u64::from(o.file_f_path) + u64::from(o.path_dentry), HEAP + 0xa000);
    dentry(&mut m, &p, HEAP + 0xa000, HEAP + 0xa000, b"", NAMES + 0x80);
    let f = resolve_fd(&mut m, &p, 3).unwrap();
    assert_eq!(f.kind, FileKind::Socket as u32);
    assert_eq!(f.flags, FILE_SOCKET_VALID);
    assert_eq!((f.socket.family, f.socket.sock_type), (2, 1));
    assert_eq!(&f.socket.local_addr[..4], &[127, 0, 0, 1]);
    assert_eq!(&f.socket.remote_addr[..4], &[10, 0, 2, 2]);
    assert_eq!((f.socket.local_port, f.socket.remote_port), (8080, 443));
}

#[test]
fn unix_sockets_carry_their_sock_and_peer() {
    let (mut m, p) = guest();
    let o = p.offsets;
    let sock_inode = HEAP + 0xd080;
    let sk = HEAP + 0xe000;
    let peer = HEAP + 0xf000;
    m.w64(FILE + u64::from(o.file_f_inode), sock_inode);
    m.w16(sock_inode + u64::from(o.inode_i_mode), 0o140777);
    m.w64(sock_inode + u64::from(o.inode_i_sb), SB);
    m.w16(HEAP + 0xd000 + u64::from(o.socket_type), 1);
    m.w64(HEAP + 0xd000 + u64::from(o.socket_sk), sk);
    m.w16(sk + u64::from(o.sock_common_skc_family), 1);
    m.w64(sk + u64::from(o.unix_sock_peer), peer);
    m.w64(FILE + u64::from(o.file_f_path) + u64::from(o.path_dentry), HEAP + 0xa000);
    dentry(&mut m, &p, HEAP + 0xa000, HEAP + 0xa000, b"", NAMES + 0x80);
    let f = resolve_fd(&mut m, &p, 3).unwrap();
    assert_eq!(f.socket.family, 1);
    assert_eq!(&f.socket.local_addr[..8], &sk.to_le_bytes());
    assert_eq!(&f.socket.remote_addr[..8], &peer.to_le_bytes());
    // Unconnected: no peer. A forged peer in user space: unresolved.
    m.w64(sk + u64::from(o.unix_sock_peer), 0);
    let f = resolve_fd(&mut m, &p, 3).unwrap();
    assert_eq!(&f.socket.remote_addr[..8], &[0; 8]);
    m.w64(sk + u64::from(o.unix_sock_peer), 0x7fff_0000_1000);
    assert!(resolve_fd(&mut m, &p, 3).is_err());
}

#[test]
fn forged_d_parent_cycle_is_bounded() {
    let (mut m, p) = guest();
    // dir and file point at each other: an endless path.
    dentry(&mut m, &p, DENTRY_DIR, DENTRY_FILE, b"dir", NAMES + 0x30);
    m.reads = 0;
    let f = resolve_fd(&mut m, &p, 3).unwrap();
    assert_ne!(f.flags & FILE_PATH_TRUNCATED, 0);
    assert!(f.path_bytes().ends_with(b"/dir/secret.txt"));
    assert!(f.path_len as usize <= FILE_PATH_MAX);
    assert!(m.reads < 8 * (PATH_DEPTH_MAX + MOUNT_DEPTH_MAX) + 32, "{} reads", m.reads);
}

#[test]
fn forged_mount_cycle_is_bounded() {
    let (mut m, p) = guest();
    let o = p.offsets;
    // /tmp's mount point is its own root on its own mount: an endless climb.
    m.w64(TMP_MOUNT + u64::from(o.mount_mnt_mountpoint), DENTRY_TMPFS_ROOT);
    m.w64(TMP_MOUNT + u64::from(o.mount_mnt_parent), TMP_MOUNT + 0x100);
    m.w64(TMP_MOUNT + 0x100 + u64::from(o.mount_mnt) + u64::from(o.vfsmount_mnt_root), DENTRY_TMPFS_ROOT);
    m.w64(TMP_MOUNT + 0x100 + u64::from(o.mount_mnt_parent), TMP_MOUNT);
    m.w64(TMP_MOUNT + 0x100 + u64::from(o.mount_mnt_mountpoint), DENTRY_TMPFS_ROOT);
    m.reads = 0;
    let f = resolve_fd(&mut m, &p, 3).unwrap();
    assert_ne!(f.flags & (FILE_PATH_DETACHED | FILE_PATH_TRUNCATED), 0);
    assert!(m.reads < 8 * (PATH_DEPTH_MAX + MOUNT_DEPTH_MAX) + 32, "{} reads", m.reads);
}

#[test]
fn forged_lengths_and_pointers_are_unresolved() {
    // A huge name length, found after the inode was read: nothing of
    // what was read before the fault stays in the record.
    let (mut m, p) = guest();
    m.w32(DENTRY_FILE + u64::from(p.offsets.dentry_d_name_len), 1 << 20);
    assert_eq!(resolve_fd(&mut m, &p, 3), Err(Fault));
    let k = Kernel {
        profile: &p,
        slide: SLIDE,
    };
    let mut out = FileRecord::default();
    assert_eq!(k.file_identity(&mut m, TASK, FILE, &mut out), Err(Fault));
    assert_eq!(out, FileRecord::default());
    // A name pointer into user space.
    let (mut m, p) = guest();
    m.w64(DENTRY_FILE + u64::from(p.offsets.dentry_d_name_name), 0x4000_0000);
    assert_eq!(resolve_fd(&mut m, &p, 3), Err(Fault));
    // An unaligned inode pointer.
    let (mut m, p) = guest();
    m.w64(FILE + u64::from(p.offsets.file_f_inode), INODE + 3);
    assert_eq!(resolve_fd(&mut m, &p, 3), Err(Fault));
    // A pointer to memory that is not there (MMIO, unmapped).
    let (mut m, p) = guest();
    m.w64(FILE + u64::from(p.offsets.file_f_inode), 0xffff_c900_dead_0000);
    assert_eq!(resolve_fd(&mut m, &p, 3), Err(Fault));
    // A huge descriptor table.
    let (mut m, p) = guest();
    m.w32(FDT + u64::from(p.offsets.fdtable_max_fds), u32::MAX);
    assert_eq!(resolve_fd(&mut m, &p, 3), Err(Fault));
    // Garbage pids.
    let (mut m, p) = guest();
    m.w32(TASK + u64::from(p.offsets.task_pid), 0);
    let k = Kernel {
        profile: &p,
        slide: SLIDE,
    };
    assert_eq!(k.task_key(&mut m, TASK), Err(Fault));
    m.w32(TASK + u64::from(p.offsets.task_pid), u32::MAX);
    assert_eq!(k.task_key(&mut m, TASK), Err(Fault));
    // current_task pointing at user memory.
    let (mut m, p) = guest();
    m.w64(CURRENT_TASK_SLOT, 0x7fff_0000_0000);
    let k = Kernel {
        profile: &p,
        slide: SLIDE,
    };
    assert_eq!(k.current_task(&mut m, PERCPU_BASE), Err(Fault));
}

#[test]
fn forged_comm_is_terminated() {
    let (mut m, p) = guest();
    m.write(TASK + u64::from(p.offsets.task_comm), &[b'A'; 16]);
    let k = Kernel {
        profile: &p,
        slide: SLIDE,
    };
    let key = k.task_key(&mut m, TASK).unwrap();
    let id = k.task_identity(&mut m, &key).unwrap();
    assert_eq!(&id.comm[..15], &[b'A'; 15]);
    assert_eq!(id.comm[15], 0);
}

#[test]
fn long_paths_keep_their_tail() {
    let (mut m, p) = guest();
    // 40 directories of 20 bytes between /tmp and the file: > 512 bytes.
    let mut parent = DENTRY_TMPFS_ROOT;
    for i in 0..40u64 {
        let d = HEAP + 0xf000 + i * 0x40;
        let name_at = NAMES + 0x100 + i * 0x20;
        m.map(d, 0x40);
        dentry(&mut m, &p, d, parent, b"abcdefghijklmnopqrst", name_at);
        parent = d;
    }
    dentry(&mut m, &p, DENTRY_FILE, parent, b"secret.txt", NAMES + 0x40);
    let f = resolve_fd(&mut m, &p, 3).unwrap();
    assert_ne!(f.flags & FILE_PATH_TRUNCATED, 0);
    assert!(f.path_bytes().ends_with(b"/abcdefghijklmnopqrst/secret.txt"));
    assert!(f.path_len as usize <= FILE_PATH_MAX);
}

#[test]
fn task_cache_validates_and_forgets() {
    let mut cache = TaskCache::default();
    let key = TaskKey {
        task: TASK,
        pid: 42,
        tgid: 42,
        parent: PARENT,
    };
    let id = TaskIdentity {
        task: TASK,
        pid: 42,
        tgid: 42,
        ppid: 7,
        ..Default::default()
    };
    assert_eq!(cache.lookup(&key), None);
    cache.insert(key, id);
    assert_eq!(cache.lookup(&key), Some(id));
    // The same task_struct reused by another process.
    let reused = TaskKey { pid: 43, tgid: 43, ..key };
    assert_eq!(cache.lookup(&reused), None);
    // Reparented.
    let orphan = TaskKey {
        parent: HEAP,
        ..key
    };
    assert_eq!(cache.lookup(&orphan), None);
    cache.forget(TASK);
    assert_eq!(cache.lookup(&key), None);
    cache.insert(key, id);
    cache.clear();
    assert_eq!(cache.lookup(&key), None);
}

/// Members that lie together are read together, and short names come
/// with their dentry's window: resolving /tmp/dir/secret.txt across the
/// tmpfs mount takes 19 guest reads with names out of line and 16 with
/// names inline (a read per member took 34). Exact, so that a change
/// that adds reads to the trap path shows here.
#[test]
fn neighbouring_members_are_read_at_once() {
    let (mut m, p) = guest();
    m.reads = 0;
    assert_eq!(resolve_fd(&mut m, &p, 3).unwrap().path_bytes(), b"/tmp/dir/secret.txt");
    assert_eq!(m.reads, 19);

    let (mut m, p) = guest();
    let inline = u64::from(p.offsets.dentry_d_name_name) + 16;
    for (d, parent, name) in [
        (DENTRY_TMP, DENTRY_ROOT, &b"tmp"[..]),
        (DENTRY_DIR, DENTRY_TMPFS_ROOT, b"dir"),
        (DENTRY_FILE, DENTRY_DIR, b"secret.txt"),
    ] {
        dentry(&mut m, &p, d, parent, name, d + inline);
    }
    m.reads = 0;
    assert_eq!(resolve_fd(&mut m, &p, 3).unwrap().path_bytes(), b"/tmp/dir/secret.txt");
    assert_eq!(m.reads, 16);
}

/// A structure at the very end of what the guest mapped, where a window
/// would reach into unmapped memory: its members are read one by one and
/// the result is the same.
#[test]
fn windows_that_cannot_be_read_fall_back_to_members() {
    let (mut m, p) = guest();
    let o = p.offsets;
    // DENTRY_FILE alone in a region that ends right after d_name.name,
    // then a hole, then the rest of the heap again.
    let tail_at = DENTRY_FILE + WINDOW_MAX as u64 + 0x40;
    let tail = m.regions[&HEAP][(tail_at - HEAP) as usize..].to_vec();
    m.regions.insert(tail_at, tail);
    m.map(DENTRY_FILE, o.dentry_d_name_name as usize + 8);
    dentry(&mut m, &p, DENTRY_FILE, DENTRY_DIR, b"secret.txt", NAMES + 0x40);
    let f = resolve_fd(&mut m, &p, 3).unwrap();
    assert_eq!(f.path_bytes(), b"/tmp/dir/secret.txt");
    assert_eq!((f.dev_major, f.dev_minor, f.ino), (0, 23, 1234));
}

/// The identity fields of two records, for comparing a cached identity
/// with a full resolution.
fn identity_of(f: &FileRecord) -> (u64, u32, u32, u32, u32, u32, u64, std::vec::Vec<u8>) {
    (f.file, f.kind, f.mode, f.dev_major, f.dev_minor, f.flags, f.ino, f.path_bytes().to_vec())
}

fn file_cache() -> FileCache<Vec<Option<FileCacheEntry>>> {
    FileCache::new(vec![None; FILE_CACHE_SIZE])
}

/// Resolves descriptor 3 through `cache` as the tracker does: the key is
/// always read, the rest only on a miss. Returns the record and whether
/// it came from the cache.
fn resolve_cached(
    m: &mut FakeMemory,
    p: &Profile,
    cache: &mut FileCache<Vec<Option<FileCacheEntry>>>,
    now_ns: u64,
) -> (FileRecord, bool) {
    let k = Kernel {
        profile: p,
        slide: SLIDE,
    };
    let Descriptor::Open(file) = k.descriptor(m, TASK, 3).unwrap() else {
        panic!("descriptor 3 is not open");
    };
    let key = k.file_key(m, file).unwrap();
    let mut out = FileRecord::default();
    if cache.lookup(&key, now_ns, &mut out) {
        return (out, true);
    }
    let generation = cache.generation();
    k.file_identity_of(m, TASK, &key, &mut out).unwrap();
    cache.insert(generation, now_ns, &key, &out);
    (out, false)
}

#[test]
fn file_cache_gives_what_resolution_gives_for_one_read() {
    let (mut m, p) = guest();
    let full = resolve_fd(&mut m, &p, 3).unwrap();
    let mut cache = file_cache();
    let (first, hit) = resolve_cached(&mut m, &p, &mut cache, 1000);
    assert!(!hit);
    assert_eq!(identity_of(&first), identity_of(&full));
    let before = m.reads;
    let (again, hit) = resolve_cached(&mut m, &p, &mut cache, 2000);
    assert!(hit);
    assert_eq!(identity_of(&again), identity_of(&full));
    // current_task is not read here: the descriptor (4 reads) and the key (1).
    assert_eq!(m.reads - before, 5);
}

#[test]
fn file_cache_checks_the_key_generation_and_age() {
    let (mut m, p) = guest();
    let o = p.offsets;
    let mut cache = file_cache();
    assert!(!resolve_cached(&mut m, &p, &mut cache, 0).1);
    assert!(resolve_cached(&mut m, &p, &mut cache, FILE_CACHE_TTL_NS).1);
    // Too old: read again.
    assert!(!resolve_cached(&mut m, &p, &mut cache, 2 * FILE_CACHE_TTL_NS + 1).1);
    // A rename (or any path change): everything is read again.
    cache.invalidate();
    assert!(!resolve_cached(&mut m, &p, &mut cache, 2 * FILE_CACHE_TTL_NS + 2).1);
    // The struct file freed and reused for the directory: another dentry.
    m.w64(FILE + u64::from(o.file_f_path) + u64::from(o.path_dentry), DENTRY_DIR);
    let (dir, hit) = resolve_cached(&mut m, &p, &mut cache, 2 * FILE_CACHE_TTL_NS + 3);
    assert!(!hit);
    assert_eq!(dir.path_bytes(), b"/tmp/dir");
}

#[test]
fn file_cache_refuses_what_it_must_not_keep() {
    let (mut m, p) = guest();
    let k = Kernel {
        profile: &p,
        slide: SLIDE,
    };
    let mut cache = file_cache();
    let key = k.file_key(&mut m, FILE).unwrap();
    let mut full = FileRecord::default();
    k.file_identity_of(&mut m, TASK, &key, &mut full).unwrap();
    // Read while a path-changing call ran: not stored.
    let generation = cache.generation();
    cache.invalidate();
    assert!(!cache.insert(generation, 0, &key, &full));
    // Sockets change with connect; long paths are not kept.
    let socket = FileRecord {
        kind: FileKind::Socket as u32,
        ..full
    };
    assert!(!cache.insert(cache.generation(), 0, &key, &socket));
    let long = FileRecord {
        path_len: (FILE_CACHE_PATH_MAX + 1) as u32,
        ..full
    };
    assert!(!cache.insert(cache.generation(), 0, &key, &long));
    // A record of another struct file than the key's.
    let other = FileRecord { file: FILE + 0x100, ..full };
    assert!(!cache.insert(cache.generation(), 0, &key, &other));
    assert!(cache.insert(cache.generation(), 0, &key, &full));
    let mut out = FileRecord::default();
    assert!(cache.lookup(&key, 0, &mut out));
    // No storage: nothing is cached, nothing fails.
    let mut none: FileCache<Vec<Option<FileCacheEntry>>> = FileCache::new(Vec::new());
    assert!(!none.insert(none.generation(), 0, &key, &full));
    assert!(!none.lookup(&key, 0, &mut out));
}
