// SPDX-License-Identifier: GPL-2.0

//! Names for numbers in syscall records: x86-64 system calls and errno
//! values, from the generated tables [`crate::syscalls`] and
//! [`crate::errno`] (see `rust/reader/gen-tables.sh`).
//!
//! The guest's kernel is not necessarily the one the tables came from, but
//! both numberings are stable ABI: a newer guest can only add numbers,
//! which then show without a name.

use crate::errno;
use crate::syscalls;
use crate::syscalls::Syscall;

/// Bit 30 of RAX marks an x32 system call (`__X32_SYSCALL_BIT`); those are
/// not in the x86-64 table and get no name.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// The x86-64 system call `nr`, if the table knows it.
pub fn syscall(nr: u64) -> Option<Syscall> {
    usize::try_from(nr)
        .ok()
        .and_then(|i| syscalls::TABLE.get(i).copied().flatten())
}

/// The x86-64 system call name of `nr`, if the table knows it.
pub fn syscall_name(nr: u64) -> Option<&'static str> {
    syscall(nr).map(|s| s.name)
}

/// The name of errno `errno` (positive, as in `errno.h`), e.g. `EFAULT`.
pub fn errno_name(errno: i64) -> Option<&'static str> {
    usize::try_from(errno)
        .ok()
        .and_then(|i| errno::NAMES.get(i).copied())
        .filter(|name| !name.is_empty())
}

/// The errno a system call's return value `ret` reports, if it reports one:
/// the kernel returns `-errno` for errno in `1..=4095` (`IS_ERR_VALUE`).
pub fn errno_of_return(ret: i64) -> Option<i64> {
    (-4095..=-1).contains(&ret).then(|| -ret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn well_known_syscalls() {
        let cases = [
            (0, "read", 3),
            (1, "write", 3),
            (3, "close", 1),
            (9, "mmap", 6),
            (39, "getpid", 0),
            (56, "clone", 5),
            (59, "execve", 3),
            (60, "exit", 1),
            (231, "exit_group", 1),
            (257, "openat", 4),
            (322, "execveat", 5),
            (435, "clone3", 2),
        ];
        for (nr, name, args) in cases {
            assert_eq!(syscall(nr), Some(Syscall { name, args }), "nr {nr}");
        }
        assert_eq!(syscall_name(335), Some("uretprobe"));
        // Unassigned, x32 and out-of-range numbers have no name.
        assert_eq!(syscall_name(400), None);
        assert_eq!(syscall_name(X32_SYSCALL_BIT), None);
        assert_eq!(syscall_name(syscalls::MAX_NR as u64 + 1), None);
        assert_eq!(syscall_name(u64::MAX), None);
    }

    #[test]
    fn every_entry_has_a_name_and_at_most_six_arguments() {
        for (nr, entry) in syscalls::TABLE.iter().enumerate() {
            if let Some(s) = entry {
                assert!(!s.name.is_empty() && s.args <= 6, "nr {nr}: {s:?}");
            }
        }
        assert!(syscalls::TABLE[syscalls::MAX_NR].is_some());
    }

    /// Where the kernel's x86-64 table is, if this machine has the cached
    /// Linux source (`LEAKTRACE_CACHE`, as for the scripts).
    fn kernel_tbl() -> Option<PathBuf> {
        let cache = std::env::var_os("LEAKTRACE_CACHE")
            .map_or_else(|| PathBuf::from("/var/cache/leaktrace"), PathBuf::from);
        let tbl = cache.join("ref/linux-source-7.3/arch/x86/entry/syscalls/syscall_64.tbl");
        tbl.is_file().then_some(tbl)
    }

    /// The committed table has exactly the `common` and `64` entries of the
    /// kernel's `syscall_64.tbl` (checked only where the source is cached).
    #[test]
    fn table_matches_the_kernel_tbl() {
        let Some(tbl) = kernel_tbl() else {
            eprintln!("syscall_64.tbl not cached here: table not checked against it");
            return;
        };
        let text = std::fs::read_to_string(&tbl).unwrap();
        let mut expected = vec![None; syscalls::MAX_NR + 1];
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 3 || line.starts_with('#') {
                continue;
            }
            if fields[1] != "common" && fields[1] != "64" {
                continue;
            }
            let nr: usize = fields[0].parse().unwrap();
            assert!(
                nr <= syscalls::MAX_NR,
                "{} has {} (nr {nr}) beyond the table: rerun rust/reader/gen-tables.sh",
                tbl.display(),
                fields[2]
            );
            expected[nr] = Some(fields[2]);
        }
        let actual: Vec<Option<&str>> = syscalls::TABLE.iter().map(|e| e.map(|s| s.name)).collect();
        for (nr, (a, e)) in actual.iter().zip(&expected).enumerate() {
            assert_eq!(
                a,
                e,
                "nr {nr} differs from {}: rerun rust/reader/gen-tables.sh",
                tbl.display()
            );
        }
    }

    #[test]
    fn errno_names_match_libc() {
        let cases = [
            (libc::EPERM, "EPERM"),
            (libc::ENOENT, "ENOENT"),
            (libc::EINTR, "EINTR"),
            (libc::EAGAIN, "EAGAIN"),
            (libc::EFAULT, "EFAULT"),
            (libc::EINVAL, "EINVAL"),
            (libc::ENOSPC, "ENOSPC"),
            (libc::ENOTTY, "ENOTTY"),
            (libc::ENOSYS, "ENOSYS"),
            (libc::EDEADLK, "EDEADLK"),
            (libc::ECONNREFUSED, "ECONNREFUSED"),
            (libc::EHWPOISON, "EHWPOISON"),
        ];
        for (errno, name) in cases {
            assert_eq!(errno_name(i64::from(errno)), Some(name));
        }
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(41), None, "unassigned");
        assert_eq!(errno_name(-14), None);
        assert_eq!(errno_name(4095), None);
    }

    #[test]
    fn errors_are_small_negative_returns() {
        assert_eq!(errno_of_return(-14), Some(14));
        assert_eq!(errno_of_return(-4095), Some(4095));
        assert_eq!(errno_of_return(-4096), None);
        assert_eq!(errno_of_return(0), None);
        assert_eq!(errno_of_return(3), None);
        assert_eq!(errno_of_return(i64::MIN), None);
    }
}
