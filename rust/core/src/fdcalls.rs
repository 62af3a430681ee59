// SPDX-License-Identifier: GPL-2.0

//! Which x86-64 system calls take or produce file descriptors, and where.
//!
//! The module resolves descriptors in arguments when the call enters the
//! kernel (before `close` removes one, before `dup2` replaces one), and the
//! descriptors a call creates when it returns.

/// The system call a guest kernel runs when RAX holds `rax` at SYSCALL.
///
/// Linux dispatches on the low 32 bits only (`entry_SYSCALL_64`
/// sign-extends EAX; the number is an `int`): a guest that sets RAX's
/// upper half still makes the call its low half names. Everything the
/// module decides by number, and the number it records, is this one;
/// otherwise `read` with garbage in RAX's upper half would go unseen.
pub fn effective_nr(rax: u64) -> u64 {
    rax & 0xffff_ffff
}

/// An `int` or `unsigned int` argument as the guest kernel sees it: the
/// low 32 bits of its register.
fn int_arg(arg: u64) -> u64 {
    arg & 0xffff_ffff
}

/// Argument positions (0-5) that hold a file descriptor when the call
/// enters the kernel. Arguments that take `AT_FDCWD` (the `*at` family) are
/// not listed: their directory descriptor is not what is read or written.
pub fn fd_arguments(nr: u64) -> &'static [u8] {
    match nr {
        // read write close fstat lseek ioctl pread64 pwrite64 readv writev
        0 | 1 | 3 | 5 | 8 | 16 | 17 | 18 | 19 | 20 => &[0],
        // mmap: the descriptor is the fifth argument (-1: anonymous).
        9 => &[4],
        // dup dup2 connect accept sendto recvfrom sendmsg recvmsg shutdown
        // bind listen getsockname getpeername setsockopt getsockopt
        32 | 33 | 42 | 43 | 44 | 45 | 46 | 47 | 48 | 49 | 50 | 51 | 52 | 54 | 55 => &[0],
        // sendfile(out_fd, in_fd, ...)
        40 => &[0, 1],
        // fcntl flock fsync fdatasync ftruncate getdents fchdir fchmod
        // fchown fstatfs readahead getdents64 fadvise64 vmsplice fallocate
        // accept4 dup3 preadv pwritev recvmmsg sendmmsg preadv2 pwritev2
        72 | 73 | 74 | 75 | 77 | 78 | 81 | 91 | 93 | 138 | 187 | 217 | 221 | 278 | 285 | 288
        | 292 | 295 | 296 | 299 | 307 | 327 | 328 => &[0],
        // splice(fd_in, off_in, fd_out, ...), copy_file_range likewise
        275 | 326 => &[0, 2],
        // tee(fd_in, fd_out, ...)
        276 => &[0, 1],
        // mq_timedsend mq_timedreceive (POSIX queues are descriptors)
        242 | 243 => &[0],
        _ => &[],
    }
}

/// `fcntl` commands that return a new descriptor.
const F_DUPFD: u64 = 0;
/// `F_DUPFD_CLOEXEC`.
const F_DUPFD_CLOEXEC: u64 = 1030;

/// What descriptors a call produces, on success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdResult {
    /// None.
    Nothing,
    /// The return value is a new descriptor.
    Returned,
    /// Two descriptors written as `int[2]` at the user address in argument
    /// N (`pipe`, `pipe2`, `socketpair`); the call returns 0.
    Pair(u8),
}

/// The descriptors `nr` produces, given its arguments.
pub fn fd_result(nr: u64, args: &[u64; 6]) -> FdResult {
    match nr {
        // open creat openat openat2 dup dup2 dup3 socket accept accept4
        // epoll_create epoll_create1 eventfd eventfd2 signalfd signalfd4
        // timerfd_create inotify_init inotify_init1 memfd_create
        // userfaultfd perf_event_open open_by_handle_at pidfd_open mq_open
        2 | 85 | 257 | 437 | 32 | 33 | 292 | 41 | 43 | 288 | 213 | 291 | 284 | 290 | 282 | 289
        | 283 | 253 | 294 | 319 | 323 | 298 | 304 | 434 | 240 => FdResult::Returned,
        // fcntl's command is an unsigned int.
        72 if int_arg(args[1]) == F_DUPFD || int_arg(args[1]) == F_DUPFD_CLOEXEC => {
            FdResult::Returned
        }
        // pipe pipe2
        22 | 293 => FdResult::Pair(0),
        // socketpair(domain, type, protocol, sv)
        53 => FdResult::Pair(3),
        _ => FdResult::Nothing,
    }
}

/// x86-64 `execve`.
pub const NR_EXECVE: u64 = 59;
/// x86-64 `execveat`.
pub const NR_EXECVEAT: u64 = 322;
/// x86-64 `prctl`.
pub const NR_PRCTL: u64 = 157;
/// `prctl(PR_SET_NAME, ...)`.
pub const PR_SET_NAME: u64 = 15;

/// Whether the call may change the calling task's command name or
/// identity, so that a cached identity must be read again afterwards.
pub fn changes_task_identity(nr: u64, args: &[u64; 6]) -> bool {
    match nr {
        NR_EXECVE | NR_EXECVEAT => true,
        // prctl's option is an int.
        NR_PRCTL => int_arg(args[0]) == PR_SET_NAME,
        _ => false,
    }
}

/// Whether the call can change the path an open file is seen under (a
/// rename or unlink, a mount change, a new root or namespace), or does
/// file operations the tracker does not see one by one (`io_uring_enter`),
/// so that cached file identities must be read again.
pub fn changes_paths(nr: u64) -> bool {
    matches!(
        nr,
        82 // rename
            | 84 // rmdir
            | 87 // unlink
            | 155 // pivot_root
            | 161 // chroot
            | 165 // mount
            | 166 // umount2
            | 263 // unlinkat
            | 264 // renameat
            | 272 // unshare
            | 308 // setns
            | 316 // renameat2
            | 426 // io_uring_enter
            | 428 // open_tree
            | 429 // move_mount
            | 432 // fsmount
            | 442 // mount_setattr
            | 467 // open_tree_attr
    )
}

/// Whether the call writes to its descriptor (`write`, `pwrite64`,
/// `writev`, `pwritev`, `pwritev2`).
pub fn is_write(nr: u64) -> bool {
    matches!(nr, 1 | 18 | 20 | 296 | 328)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_in_arguments() {
        assert_eq!(fd_arguments(0), &[0]); // read
        assert_eq!(fd_arguments(3), &[0]); // close
        assert_eq!(fd_arguments(9), &[4]); // mmap
        assert_eq!(fd_arguments(40), &[0, 1]); // sendfile
        assert_eq!(fd_arguments(275), &[0, 2]); // splice
        assert_eq!(fd_arguments(326), &[0, 2]); // copy_file_range
        assert_eq!(fd_arguments(39), &[] as &[u8]); // getpid
        assert_eq!(fd_arguments(257), &[] as &[u8]); // openat: dirfd not listed
    }

    #[test]
    fn descriptors_produced() {
        let none = [0; 6];
        assert_eq!(fd_result(257, &none), FdResult::Returned);
        assert_eq!(fd_result(41, &none), FdResult::Returned);
        assert_eq!(fd_result(293, &none), FdResult::Pair(0));
        assert_eq!(fd_result(53, &none), FdResult::Pair(3));
        assert_eq!(fd_result(72, &[3, F_DUPFD_CLOEXEC, 0, 0, 0, 0]), FdResult::Returned);
        assert_eq!(fd_result(72, &[3, 2, 1, 0, 0, 0]), FdResult::Nothing); // F_SETFD
        assert_eq!(fd_result(0, &none), FdResult::Nothing);
    }

    #[test]
    fn the_guest_kernel_ignores_the_upper_half_of_rax_and_int_arguments() {
        assert_eq!(effective_nr(0), 0);
        assert_eq!(effective_nr(0xdead_beef_0000_0000), 0); // read
        assert_eq!(effective_nr(0x1_0000_0001), 1); // write
        assert_eq!(fd_arguments(effective_nr(0xffff_ffff_0000_0003)), &[0]); // close
        assert_eq!(effective_nr(u64::MAX), 0xffff_ffff); // -1: no call
        assert_eq!(fd_arguments(effective_nr(u64::MAX)), &[] as &[u8]);
        let dupfd = [3, 0x5_0000_0000 | F_DUPFD, 0, 0, 0, 0];
        assert_eq!(fd_result(72, &dupfd), FdResult::Returned);
        assert!(changes_task_identity(157, &[0x7_0000_0000 | PR_SET_NAME, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn writes() {
        assert!(is_write(1) && is_write(20) && is_write(328));
        assert!(!is_write(0) && !is_write(257));
    }

    #[test]
    fn path_changes() {
        assert!(changes_paths(82) && changes_paths(316) && changes_paths(165) && changes_paths(161));
        assert!(changes_paths(effective_nr(0x1_0000_0000 | 264)));
        assert!(!changes_paths(0) && !changes_paths(1) && !changes_paths(257) && !changes_paths(39));
    }

    #[test]
    fn identity_changes() {
        assert!(changes_task_identity(59, &[0; 6]));
        assert!(changes_task_identity(157, &[15, 0, 0, 0, 0, 0]));
        assert!(!changes_task_identity(157, &[16, 0, 0, 0, 0, 0]));
        assert!(!changes_task_identity(39, &[0; 6]));
    }
}
