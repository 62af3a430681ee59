// SPDX-License-Identifier: GPL-2.0

//! VM UUIDs in their canonical text form,
//! `00112233-4455-6677-8899-aabbccddeeff` (the byte order of
//! [`leaktrace_abi::Uuid`]).
//!
//! Parsing is strict: exactly 8-4-4-4-12 hexadecimal digits with hyphens,
//! either case, nothing else (no braces, `urn:uuid:` prefix, spaces or
//! missing hyphens): a UUID that selects what gets traced should not be
//! guessed at. Formatting is lowercase.

use core::fmt;
use leaktrace_abi::Uuid;
use leaktrace_abi::UUID_SIZE;

/// Length of the canonical text form.
pub const TEXT_LEN: usize = 36;

/// Positions of the hyphens in the canonical text form.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// Why a string is not a canonical UUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UuidError {
    /// Not 36 characters long.
    Length(usize),
    /// A character that is not a hexadecimal digit where one is needed.
    NotHex {
        /// Character position, from 0.
        at: usize,
        /// The character found.
        found: char,
    },
    /// No hyphen at one of positions 8, 13, 18, 23.
    Hyphen {
        /// Character position, from 0.
        at: usize,
        /// The character found.
        found: char,
    },
    /// The nil UUID (all zero), which the module uses for "no UUID".
    Nil,
}

impl fmt::Display for UuidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FORM: &str =
            "expected 8-4-4-4-12 hex digits, like 4c4c4544-0042-3510-8052-b3c04f4e3732";
        match self {
            Self::Length(n) => write!(f, "{n} characters, {FORM}"),
            Self::NotHex { at, found } => {
                write!(
                    f,
                    "{found:?} at position {} is not a hex digit; {FORM}",
                    at + 1
                )
            }
            Self::Hyphen { at, found } => {
                write!(f, "{found:?} at position {} should be '-'; {FORM}", at + 1)
            }
            Self::Nil => write!(
                f,
                "the nil UUID (all zero) stands for \"no UUID\" and cannot be traced"
            ),
        }
    }
}

impl std::error::Error for UuidError {}

/// Parses a canonical UUID, case-insensitively; rejects the nil UUID.
pub fn parse(text: &str) -> Result<Uuid, UuidError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() != TEXT_LEN {
        return Err(UuidError::Length(chars.len()));
    }
    let mut uuid = [0u8; UUID_SIZE];
    let mut nibbles = 0;
    for (at, &c) in chars.iter().enumerate() {
        if HYPHENS.contains(&at) {
            if c != '-' {
                return Err(UuidError::Hyphen { at, found: c });
            }
            continue;
        }
        let digit = c.to_digit(16).ok_or(UuidError::NotHex { at, found: c })? as u8;
        uuid[nibbles / 2] |= if nibbles % 2 == 0 { digit << 4 } else { digit };
        nibbles += 1;
    }
    if is_nil(&uuid) {
        return Err(UuidError::Nil);
    }
    Ok(uuid)
}

/// Whether `uuid` is all zero (the module's "no UUID").
pub fn is_nil(uuid: &Uuid) -> bool {
    uuid.iter().all(|&b| b == 0)
}

/// The canonical lowercase text form.
pub fn format(uuid: &Uuid) -> String {
    let mut s = String::with_capacity(TEXT_LEN);
    for (i, b) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The text form, or `None` for the nil UUID.
pub fn format_non_nil(uuid: &Uuid) -> Option<String> {
    (!is_nil(uuid)).then(|| format(uuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "4c4c4544-0042-3510-8052-b3c04f4e3732";
    const BYTES: Uuid = [
        0x4c, 0x4c, 0x45, 0x44, 0x00, 0x42, 0x35, 0x10, 0x80, 0x52, 0xb3, 0xc0, 0x4f, 0x4e, 0x37,
        0x32,
    ];

    #[test]
    fn parses_canonical_text_in_either_case() {
        assert_eq!(parse(TEXT), Ok(BYTES));
        assert_eq!(parse(&TEXT.to_uppercase()), Ok(BYTES));
        assert_eq!(parse("4C4c4544-0042-3510-8052-B3C04F4E3732"), Ok(BYTES));
        let ff = parse("ffffffff-ffff-ffff-ffff-ffffffffffff").unwrap();
        assert_eq!(ff, [0xff; 16]);
        let one = parse("00000000-0000-0000-0000-000000000001").unwrap();
        assert_eq!(one[15], 1);
    }

    #[test]
    fn formats_lowercase_and_round_trips() {
        assert_eq!(format(&BYTES), TEXT);
        assert_eq!(format(&parse(&TEXT.to_uppercase()).unwrap()), TEXT);
        assert_eq!(format(&[0; 16]), "00000000-0000-0000-0000-000000000000");
        assert_eq!(format_non_nil(&[0; 16]), None);
        assert_eq!(format_non_nil(&BYTES).as_deref(), Some(TEXT));
    }

    #[test]
    fn rejects_everything_else() {
        let bad = [
            "",
            "4c4c4544004235108052b3c04f4e3732",
            "{4c4c4544-0042-3510-8052-b3c04f4e3732}",
            "urn:uuid:4c4c4544-0042-3510-8052-b3c04f4e3732",
            " 4c4c4544-0042-3510-8052-b3c04f4e3732",
            "4c4c4544-0042-3510-8052-b3c04f4e3732 ",
            "4c4c4544-0042-3510-8052-b3c04f4e373",
            "4c4c4544-0042-3510-8052-b3c04f4e37321",
            "4c4c454-40042-3510-8052-b3c04f4e3732",
            "4c4c4544_0042_3510_8052_b3c04f4e3732",
            "4c4c4544-0042-3510-8052-b3c04f4e373g",
            "4c4c4544-+042-3510-8052-b3c04f4e3732",
            "4c4c4544-0042-3510-8052-b3c04f4e373\u{e9}",
            "4c4c4544-0042-3510-8052-b3c04f4e37\u{663}2",
            "00000000-0000-0000-0000-000000000000",
        ];
        for text in bad {
            assert!(parse(text).is_err(), "{text:?} accepted");
        }
        assert_eq!(parse("abc"), Err(UuidError::Length(3)));
        assert_eq!(
            parse("4c4c4544-0042-3510-8052-b3c04f4e373g"),
            Err(UuidError::NotHex { at: 35, found: 'g' })
        );
        assert_eq!(
            parse("4c4c4544x0042-3510-8052-b3c04f4e3732"),
            Err(UuidError::Hyphen { at: 8, found: 'x' })
        );
        assert_eq!(
            parse("00000000-0000-0000-0000-000000000000"),
            Err(UuidError::Nil)
        );
        let msg = parse("4c4c4544x0042-3510-8052-b3c04f4e3732")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("position 9") && msg.contains("8-4-4-4-12"),
            "{msg}"
        );
    }
}
