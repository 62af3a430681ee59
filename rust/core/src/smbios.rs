// SPDX-License-Identifier: GPL-2.0

//! Finding a guest's SMBIOS system UUID in its physical memory.
//!
//! The firmware (SeaBIOS, OVMF's legacy region) places an SMBIOS entry
//! point on a 16-byte boundary in the F-segment, 0xF0000..0x100000: the
//! 2.x `_SM_` structure (32-bit table address) or the 3.x `_SM3_` one
//! (64-bit address). The table it points to holds the type 1 "System
//! Information" structure, whose UUID is what `-smbios type=1,uuid=` or
//! libvirt's `<uuid>` set. Since SMBIOS 2.6 the first three UUID fields are
//! stored little-endian (dmidecode does the same conversion).
//!
//! Everything here reads guest-controlled bytes: it bounds-checks every
//! access and never panics.

use crate::abi::Uuid;

/// Guest physical address of the F-segment.
pub const FSEG_BASE: u64 = 0xF0000;

/// Length of the F-segment.
pub const FSEG_LEN: usize = 0x10000;

/// Largest structure table read (SMBIOS 2.x tables are at most 64 KiB).
pub const TABLE_MAX_LEN: usize = 0x10000;

/// An SMBIOS entry point: where the structure table is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPoint {
    /// Guest physical address of the structure table.
    pub table_addr: u64,
    /// Length (2.x) or maximum length (3.x) of the table, capped at
    /// [`TABLE_MAX_LEN`].
    pub table_len: usize,
    /// SMBIOS major version.
    pub major: u8,
    /// SMBIOS minor version.
    pub minor: u8,
}

fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b)) == 0
}

fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Parses a 3.x entry point at the start of `ep`.
fn parse_sm3(ep: &[u8]) -> Option<EntryPoint> {
    let len = *ep.get(6)? as usize;
    if len < 24 || !checksum_ok(ep.get(..len)?) {
        return None;
    }
    Some(EntryPoint {
        table_addr: le_u64(ep, 16)?,
        table_len: (le_u32(ep, 12)? as usize).min(TABLE_MAX_LEN),
        major: *ep.get(7)?,
        minor: *ep.get(8)?,
    })
}

/// Parses a 2.x entry point at the start of `ep`.
fn parse_sm2(ep: &[u8]) -> Option<EntryPoint> {
    let len = *ep.get(5)? as usize;
    if len < 31 || !checksum_ok(ep.get(..len)?) {
        return None;
    }
    // The intermediate ("_DMI_") part has its own checksum.
    if ep.get(16..21)? != b"_DMI_" || !checksum_ok(ep.get(16..31)?) {
        return None;
    }
    Some(EntryPoint {
        table_addr: u64::from(le_u32(ep, 24)?),
        table_len: usize::from(le_u16(ep, 22)?),
        major: *ep.get(6)?,
        minor: *ep.get(7)?,
    })
}

/// Finds a valid entry point in the F-segment's bytes, preferring 3.x as
/// dmidecode does.
pub fn find_entry_point(fseg: &[u8]) -> Option<EntryPoint> {
    let mut found_v2 = None;
    for offset in (0..fseg.len()).step_by(16) {
        let ep = &fseg[offset..];
        if ep.starts_with(b"_SM3_") {
            if let Some(ep) = parse_sm3(ep) {
                return Some(ep);
            }
        } else if found_v2.is_none() && ep.starts_with(b"_SM_") {
            found_v2 = parse_sm2(ep);
        }
    }
    found_v2
}

/// Type of the "System Information" structure.
const TYPE_SYSTEM: u8 = 1;
/// Type of the end-of-table structure.
const TYPE_END: u8 = 127;
/// Offset of the UUID in a type 1 structure (SMBIOS 2.1+).
const SYSTEM_UUID_OFFSET: usize = 8;

/// The system UUID from the structure table, converted to the canonical
/// byte order; `None` if there is no type 1 structure with a UUID, or if
/// the UUID is "not present" (all 0xFF) or "not set" (all zero).
pub fn system_uuid(table: &[u8], entry: &EntryPoint) -> Option<Uuid> {
    let mut at = 0usize;
    loop {
        let kind = *table.get(at)?;
        let formatted_len = *table.get(at + 1)? as usize;
        if formatted_len < 4 {
            return None;
        }
        let formatted = table.get(at..at + formatted_len)?;
        if kind == TYPE_SYSTEM {
            let raw: Uuid = formatted
                .get(SYSTEM_UUID_OFFSET..SYSTEM_UUID_OFFSET + 16)?
                .try_into()
                .ok()?;
            if raw.iter().all(|&b| b == 0xff) || raw.iter().all(|&b| b == 0) {
                return None;
            }
            return Some(canonical_uuid(raw, entry));
        }
        if kind == TYPE_END {
            return None;
        }
        // The unformatted area: strings, ended by two NULs.
        let strings = table.get(at + formatted_len..)?;
        let end = strings.windows(2).position(|w| w == [0, 0])?;
        at += formatted_len + end + 2;
    }
}

/// SMBIOS >= 2.6 stores time_low, time_mid and time_hi_and_version
/// little-endian; convert to the text form's (big-endian) order.
fn canonical_uuid(mut raw: Uuid, entry: &EntryPoint) -> Uuid {
    if (entry.major, entry.minor) >= (2, 6) {
        raw[0..4].reverse();
        raw[4..6].reverse();
        raw[6..8].reverse();
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const UUID_TEXT_ORDER: Uuid = [
        0x4c, 0x54, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01,
    ];

    fn fix_checksum(bytes: &mut [u8], at: usize) {
        bytes[at] = 0;
        let sum = bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b));
        bytes[at] = 0u8.wrapping_sub(sum);
    }

    /// A table: a type 0 with strings, type 1 with `uuid` as stored, end.
    fn table(stored_uuid: Uuid) -> Vec<u8> {
        let mut t = vec![0u8, 0x18, 0x00, 0x00];
        t.extend_from_slice(&[1; 0x18 - 4]);
        t.extend_from_slice(b"SeaBIOS\0Version\0\0");
        let mut system = vec![1u8, 0x1b, 0x01, 0x00, 1, 2, 3, 4];
        system.extend_from_slice(&stored_uuid);
        system.extend_from_slice(&[6, 0, 0]);
        t.extend_from_slice(&system);
        t.extend_from_slice(b"QEMU\0\0");
        t.extend_from_slice(&[127, 4, 0x02, 0x00, 0, 0]);
        t
    }

    fn sm2(table_addr: u32, table_len: u16, minor: u8) -> Vec<u8> {
        let mut ep = vec![0u8; 31];
        ep[..4].copy_from_slice(b"_SM_");
        ep[5] = 31;
        ep[6] = 2;
        ep[7] = minor;
        ep[16..21].copy_from_slice(b"_DMI_");
        ep[22..24].copy_from_slice(&table_len.to_le_bytes());
        ep[24..28].copy_from_slice(&table_addr.to_le_bytes());
        fix_checksum(&mut ep[16..31], 5);
        fix_checksum(&mut ep, 4);
        ep
    }

    fn sm3(table_addr: u64, table_max: u32) -> Vec<u8> {
        let mut ep = vec![0u8; 24];
        ep[..5].copy_from_slice(b"_SM3_");
        ep[6] = 24;
        ep[7] = 3;
        ep[8] = 0;
        ep[12..16].copy_from_slice(&table_max.to_le_bytes());
        ep[16..24].copy_from_slice(&table_addr.to_le_bytes());
        fix_checksum(&mut ep, 5);
        ep
    }

    fn fseg_with(at: usize, ep: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; FSEG_LEN];
        f[at..at + ep.len()].copy_from_slice(ep);
        f
    }

    #[test]
    fn finds_v2_entry_point() {
        let f = fseg_with(0x5a0, &sm2(0x000f_5c00, 0x1a0, 8));
        let ep = find_entry_point(&f).unwrap();
        assert_eq!(ep.table_addr, 0xf5c00);
        assert_eq!(ep.table_len, 0x1a0);
        assert_eq!((ep.major, ep.minor), (2, 8));
    }

    #[test]
    fn prefers_v3_and_caps_its_length() {
        let mut f = fseg_with(0x100, &sm2(0xf5c00, 0x1a0, 8));
        let v3 = sm3(0x7ffe_0000, 0x10_0000);
        f[0x200..0x200 + v3.len()].copy_from_slice(&v3);
        let ep = find_entry_point(&f).unwrap();
        assert_eq!(ep.table_addr, 0x7ffe_0000);
        assert_eq!(ep.table_len, TABLE_MAX_LEN);
        assert_eq!(ep.major, 3);
    }

    #[test]
    fn rejects_bad_checksums_and_misalignment() {
        let mut ep = sm2(0xf5c00, 0x1a0, 8);
        ep[24] ^= 1;
        assert_eq!(find_entry_point(&fseg_with(0x100, &ep)), None);
        let ep = sm2(0xf5c00, 0x1a0, 8);
        assert_eq!(
            find_entry_point(&fseg_with(0x108, &ep)),
            None,
            "not 16-aligned"
        );
        assert_eq!(find_entry_point(&vec![0u8; FSEG_LEN]), None);
        // An anchor at the very end of the segment must not read past it.
        let mut f = vec![0u8; FSEG_LEN];
        f[FSEG_LEN - 16..FSEG_LEN - 11].copy_from_slice(b"_SM3_");
        f[FSEG_LEN - 10] = 0xff;
        assert_eq!(find_entry_point(&f), None);
    }

    #[test]
    fn uuid_byte_order_follows_the_version() {
        // Stored as SMBIOS >= 2.6 does: first three fields little-endian.
        let stored = [
            0x00, 0x00, 0x54, 0x4c, 0x00, 0x00, 0x00, 0x40, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x01,
        ];
        let new = EntryPoint {
            table_addr: 0,
            table_len: 0,
            major: 2,
            minor: 8,
        };
        assert_eq!(system_uuid(&table(stored), &new), Some(UUID_TEXT_ORDER));
        let old = EntryPoint { minor: 4, ..new };
        assert_eq!(
            system_uuid(&table(UUID_TEXT_ORDER), &old),
            Some(UUID_TEXT_ORDER)
        );
        let v3 = EntryPoint {
            major: 3,
            minor: 0,
            ..new
        };
        assert_eq!(system_uuid(&table(stored), &v3), Some(UUID_TEXT_ORDER));
    }

    #[test]
    fn unset_and_truncated_tables_give_none() {
        let ep = EntryPoint {
            table_addr: 0,
            table_len: 0,
            major: 2,
            minor: 8,
        };
        assert_eq!(system_uuid(&table([0xff; 16]), &ep), None);
        assert_eq!(system_uuid(&table([0; 16]), &ep), None);
        let t = table([0x11; 16]);
        for cut in 0..t.len() - 6 {
            // Truncated anywhere before the end marker: no panic.
            let _ = system_uuid(&t[..cut], &ep);
        }
        assert_eq!(system_uuid(&t[..30], &ep), None);
        // A structure length below the header size is corrupt.
        assert_eq!(system_uuid(&[1, 2, 0, 0, 0, 0], &ep), None);
    }
}
