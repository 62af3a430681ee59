// SPDX-License-Identifier: GPL-2.0

//! What a profile needs from a kernel's ELF image (vmlinux): sections,
//! the symbol table when there is one, the GNU build id note, the banner
//! in `.rodata`, and `entry_SYSCALL_64` found by its first instructions.
//!
//! Distribution kernels (Debian's) are stripped: their vmlinux, extracted
//! from vmlinuz, has section headers but no symbol table. Everything here
//! therefore works from sections alone; [`KernelElf::symbol`] is only a
//! cross-check where symbols exist.

use anyhow::anyhow;
use anyhow::bail;
use anyhow::Result;
use object::Architecture;
use object::Object;
use object::ObjectSection;
use object::ObjectSymbol;
use object::SectionKind;
use std::collections::HashMap;

/// `swapgs`.
pub const SWAPGS: [u8; 3] = [0x0f, 0x01, 0xf8];

/// `mov %rsp, %gs:disp32(%rip)`, followed by the 32-bit displacement.
pub const MOV_RSP_TO_GS_RIP: [u8; 4] = [0x65, 0x48, 0x89, 0x25];

/// `endbr64`: the first instruction of an indirect branch target under
/// IBT.
pub const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// `n_type` of the GNU build id note.
pub const NT_GNU_BUILD_ID: u32 = 3;

/// The longest banner accepted, NUL excluded.
const BANNER_SCAN_MAX: usize = 1024;

/// The start of the kernel banner.
pub const BANNER_PREFIX: &[u8] = b"Linux version ";

/// The symbols a profile cross-checks, when the image has a symbol table.
pub const CHECKED_SYMBOLS: [&str; 4] = [
    "linux_banner",
    "entry_SYSCALL_64",
    "current_task",
    "cpu_tss_rw",
];

/// A section's link address and contents.
#[derive(Clone, Copy, Debug)]
pub struct Section<'a> {
    /// Link-time address (`sh_addr`).
    pub addr: u64,
    /// Contents (empty for `NOBITS`).
    pub data: &'a [u8],
}

/// The places that look like the start of `entry_SYSCALL_64`: `swapgs`
/// directly followed by `mov %rsp, %gs:disp(%rip)` whose target is
/// `target` (the link address of `cpu_tss_rw.x86_tss.sp2`). `code` is an
/// executable section at link address `base`. Each result is the address
/// of the symbol: the `swapgs`, or the `endbr64` right before it.
pub fn find_syscall_entry(code: &[u8], base: u64, target: u64) -> Vec<u64> {
    let mut found = Vec::new();
    let len = SWAPGS.len() + MOV_RSP_TO_GS_RIP.len() + 4;
    for (i, window) in code.windows(len).enumerate() {
        if window[..3] != SWAPGS || window[3..7] != MOV_RSP_TO_GS_RIP {
            continue;
        }
        let disp = i32::from_le_bytes([window[7], window[8], window[9], window[10]]);
        // RIP-relative: from the end of the mov, 11 bytes after swapgs.
        let next = base.wrapping_add(i as u64).wrapping_add(len as u64);
        if next.wrapping_add(i64::from(disp) as u64) != target {
            continue;
        }
        let start = match i.checked_sub(ENDBR64.len()) {
            Some(at) if code[at..i] == ENDBR64 => at,
            _ => i,
        };
        found.push(base.wrapping_add(start as u64));
    }
    found
}

/// The complete banners in `data`: NUL-terminated strings that start with
/// "Linux version " and end with a newline, as (offset, bytes without NUL).
pub fn find_banners(data: &[u8]) -> Vec<(usize, &[u8])> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = find(&data[from..], BANNER_PREFIX).map(|i| i + from) {
        from = at + 1;
        let rest = &data[at..data.len().min(at + BANNER_SCAN_MAX + 1)];
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            continue;
        };
        let text = &rest[..nul];
        let printable = text
            .iter()
            .all(|&b| b == b'\n' || (b' '..0x7f).contains(&b) || b >= 0x80);
        if printable && text.ends_with(b"\n") && std::str::from_utf8(text).is_ok() {
            found.push((at, text));
        }
    }
    found
}

/// Whether a banner is the placeholder built into init/version.o, whose
/// UTS_VERSION has no build number ("... (compiler) # SMP ..."): the final
/// link overrides that `linux_banner` with init/version-timestamp.o's, but
/// its string stays in `.rodata`.
pub fn is_placeholder_banner(banner: &[u8]) -> bool {
    find(banner, b") #").is_some_and(|at| banner.get(at + 3) == Some(&b' '))
}

/// Chooses `linux_banner` among the complete banners of `.rodata`
/// ([`find_banners`]): placeholders left out, exactly one text must
/// remain. Several copies of one text (possible when the build number is
/// fixed) are the same banner to the module; the last one is taken, as the
/// final definition is linked last.
pub fn choose_banner(candidates: &[(usize, &[u8])]) -> Result<usize> {
    if candidates.is_empty() {
        bail!("no \"Linux version ...\" banner in .rodata");
    }
    let real: Vec<&(usize, &[u8])> = candidates
        .iter()
        .filter(|(_, text)| !is_placeholder_banner(text))
        .collect();
    let pool: Vec<&(usize, &[u8])> = if real.is_empty() {
        candidates.iter().collect()
    } else {
        real
    };
    let first = pool[0].1;
    if pool.iter().any(|(_, text)| *text != first) {
        let texts: Vec<String> = pool
            .iter()
            .map(|(_, t)| format!("{:?}", String::from_utf8_lossy(t)))
            .collect();
        bail!(
            "{} different \"Linux version\" banners in .rodata, cannot tell which is linux_banner: {}",
            pool.len(),
            texts.join(", ")
        );
    }
    Ok(pool.iter().map(|(at, _)| *at).max().unwrap_or(pool[0].0))
}

/// One ELF note: owner name, type, descriptor and the descriptor's offset
/// in the section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note<'a> {
    /// Owner name without trailing NULs.
    pub name: &'a [u8],
    /// `n_type`.
    pub kind: u32,
    /// Offset of the descriptor from the start of the section.
    pub desc_offset: usize,
    /// The descriptor.
    pub desc: &'a [u8],
}

/// The notes of a (little-endian, 4-byte aligned) note section.
pub fn parse_notes(data: &[u8]) -> Result<Vec<Note<'_>>> {
    let mut notes = Vec::new();
    let mut at = 0usize;
    let word = |i: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(i..i + 4)?.try_into().ok()?))
    };
    let align = |n: usize| n.div_ceil(4) * 4;
    while at < data.len() {
        let (Some(namesz), Some(descsz), Some(kind)) = (word(at), word(at + 4), word(at + 8))
        else {
            bail!("truncated ELF note at offset {at}");
        };
        let name_at = at + 12;
        let desc_at = name_at + align(namesz as usize);
        let end = desc_at + align(descsz as usize);
        let (Some(name), Some(desc)) = (
            data.get(name_at..name_at + namesz as usize),
            data.get(desc_at..desc_at + descsz as usize),
        ) else {
            bail!("truncated ELF note at offset {at}");
        };
        let mut name = name;
        while let [rest @ .., 0] = name {
            name = rest;
        }
        notes.push(Note {
            name,
            kind,
            desc_offset: desc_at,
            desc,
        });
        at = end;
    }
    Ok(notes)
}

/// Size of a `struct kernel_symbol` with relative references (x86-64):
/// three `int` offsets, each from its own field: value, name, namespace.
pub const KSYMTAB_ENTRY: usize = 12;

/// The exported symbols among `wanted` found in a `__ksymtab` section
/// (`tab`), whose names lie in `__ksymtab_strings` (`strings`): name and
/// link address. A table of another layout gives nothing.
pub fn ksymtab_lookup(tab: Section, strings: Section, wanted: &[&str]) -> HashMap<String, u64> {
    let mut found = HashMap::new();
    if !tab.data.len().is_multiple_of(KSYMTAB_ENTRY) {
        return found;
    }
    for (i, entry) in tab.data.chunks_exact(KSYMTAB_ENTRY).enumerate() {
        let field = |at: usize| {
            i32::from_le_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]])
        };
        let addr = tab.addr.wrapping_add((i * KSYMTAB_ENTRY) as u64);
        let value = addr.wrapping_add(i64::from(field(0)) as u64);
        let name_addr = addr
            .wrapping_add(4)
            .wrapping_add(i64::from(field(4)) as u64);
        let Some(name_at) = name_addr.checked_sub(strings.addr) else {
            continue;
        };
        let Some(rest) = usize::try_from(name_at)
            .ok()
            .and_then(|at| strings.data.get(at..))
        else {
            continue;
        };
        let name = rest.split(|&b| b == 0).next().unwrap_or_default();
        if let Some(&w) = wanted.iter().find(|w| w.as_bytes() == name) {
            found.insert(w.to_owned(), value);
        }
    }
    found
}

/// Finds `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A parsed x86-64 kernel ELF image.
pub struct KernelElf<'a> {
    /// The ELF file.
    file: object::File<'a>,
    /// The values of [`CHECKED_SYMBOLS`] found in the symbol table.
    symbols: HashMap<&'static str, u64>,
    /// Whether the image has a symbol table at all.
    has_symtab: bool,
}

impl<'a> KernelElf<'a> {
    /// Parses `data` as an x86-64 ELF.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let file = object::File::parse(data)
            .map_err(|e| anyhow!("not a valid ELF file (truncated or corrupt?): {e}"))?;
        if file.format() != object::BinaryFormat::Elf {
            bail!("not an ELF file");
        }
        if file.architecture() != Architecture::X86_64 || !file.is_64() || !file.is_little_endian()
        {
            bail!(
                "not an x86-64 kernel (architecture {:?})",
                file.architecture()
            );
        }
        let mut symbols = HashMap::new();
        let mut has_symtab = false;
        for sym in file.symbols() {
            has_symtab = true;
            if let Ok(name) = sym.name() {
                if let Some(&wanted) = CHECKED_SYMBOLS.iter().find(|&&n| n == name) {
                    symbols.entry(wanted).or_insert(sym.address());
                }
            }
        }
        Ok(Self {
            file,
            symbols,
            has_symtab,
        })
    }

    /// Whether the image has a symbol table.
    pub fn has_symtab(&self) -> bool {
        self.has_symtab
    }

    /// The address of one of [`CHECKED_SYMBOLS`], from the symbol table.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }

    /// The section called `name`, if present.
    pub fn section(&self, name: &str) -> Result<Option<Section<'a>>> {
        let Some(s) = self.file.section_by_name(name) else {
            return Ok(None);
        };
        let data = s
            .data()
            .map_err(|e| anyhow!("section {name} lies outside the file: {e}"))?;
        Ok(Some(Section {
            addr: s.address(),
            data,
        }))
    }

    /// The executable sections with contents, as (name, section).
    pub fn code_sections(&self) -> Result<Vec<(String, Section<'a>)>> {
        let mut out = Vec::new();
        for s in self.file.sections() {
            // Allocated PROGBITS with SHF_EXECINSTR.
            if s.kind() != SectionKind::Text {
                continue;
            }
            let name = s.name().unwrap_or("?").to_owned();
            let data = s
                .data()
                .map_err(|e| anyhow!("section {name} lies outside the file: {e}"))?;
            out.push((
                name,
                Section {
                    addr: s.address(),
                    data,
                },
            ));
        }
        Ok(out)
    }

    /// The exported symbols among `wanted`, from the image's own export
    /// table (`__ksymtab`, `__ksymtab_gpl`): present in stripped images too.
    pub fn exported(&self, wanted: &[&str]) -> Result<HashMap<String, u64>> {
        let mut found = HashMap::new();
        let Some(strings) = self.section("__ksymtab_strings")? else {
            return Ok(found);
        };
        for name in ["__ksymtab", "__ksymtab_gpl"] {
            if let Some(tab) = self.section(name)? {
                found.extend(ksymtab_lookup(tab, strings, wanted));
            }
        }
        Ok(found)
    }

    /// The GNU build id and the link address of its bytes, from the note
    /// sections; `None` if the kernel has none.
    pub fn build_id(&self) -> Result<Option<(Vec<u8>, u64)>> {
        for s in self.file.sections() {
            if s.kind() != SectionKind::Note {
                continue;
            }
            let name = s.name().unwrap_or("?").to_owned();
            let data = s
                .data()
                .map_err(|e| anyhow!("section {name} lies outside the file: {e}"))?;
            let notes = parse_notes(data).map_err(|e| anyhow!("section {name}: {e}"))?;
            for note in notes {
                if note.name == b"GNU" && note.kind == NT_GNU_BUILD_ID && !note.desc.is_empty() {
                    return Ok(Some((
                        note.desc.to_vec(),
                        s.address() + note.desc_offset as u64,
                    )));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of entry_SYSCALL_64 in the project's release kernel.
    const PROJECT_ENTRY: [u8; 11] = [
        0x0f, 0x01, 0xf8, 0x65, 0x48, 0x89, 0x25, 0xc9, 0xff, 0xc6, 0x00,
    ];

    #[test]
    fn fingerprint_finds_the_project_kernel_entry() {
        // entry_SYSCALL_64 = ffffffff81000040, cpu_tss_rw = ffffffff81c70000,
        // sp2 at +0x14.
        let base = 0xffff_ffff_8100_0000;
        let mut text = vec![0xcc; 0x40];
        text.extend_from_slice(&PROJECT_ENTRY);
        text.extend_from_slice(&[0x90; 32]);
        assert_eq!(
            find_syscall_entry(&text, base, 0xffff_ffff_81c7_0014),
            vec![0xffff_ffff_8100_0040]
        );
        // Another target: no match.
        assert!(find_syscall_entry(&text, base, 0xffff_ffff_81c7_0000).is_empty());
        // Cut short: no match, no panic.
        assert!(find_syscall_entry(&text[..0x40 + 10], base, 0xffff_ffff_81c7_0014).is_empty());
        assert!(find_syscall_entry(&[], base, 0).is_empty());
    }

    #[test]
    fn fingerprint_includes_endbr64_and_negative_displacements() {
        let base = 0xffff_ffff_8100_0000u64;
        let mut text = vec![0x90; 0x100];
        // endbr64 at 0x80, swapgs at 0x84, target 0x20 bytes *before*.
        text[0x80..0x84].copy_from_slice(&ENDBR64);
        text[0x84..0x87].copy_from_slice(&SWAPGS);
        text[0x87..0x8b].copy_from_slice(&MOV_RSP_TO_GS_RIP);
        let next = base + 0x84 + 11;
        let target = base + 0x20;
        let disp = (target as i64 - next as i64) as i32;
        text[0x8b..0x8f].copy_from_slice(&disp.to_le_bytes());
        assert_eq!(find_syscall_entry(&text, base, target), vec![base + 0x80]);
        // A second copy is a second match (the caller refuses that).
        let mut twice = text.clone();
        twice.extend_from_slice(&text);
        let second_next = base + 0x100 + 0x84 + 11;
        let disp2 = (target as i64 - second_next as i64) as i32;
        twice[0x18b..0x18f].copy_from_slice(&disp2.to_le_bytes());
        assert_eq!(
            find_syscall_entry(&twice, base, target),
            vec![base + 0x80, base + 0x180]
        );
        // swapgs followed by something else is not it.
        let mut other = text.clone();
        other[0x88] = 0x8b;
        assert!(find_syscall_entry(&other, base, target).is_empty());
    }

    const REAL: &[u8] = b"Linux version 7.3.4+deb13-amd64 (debian-kernel@lists.debian.org) (gcc 14.2.0, GNU ld 2.44) #1 SMP PREEMPT_DYNAMIC Debian 7.3.4-1~bpo13+1 (2026-11-15)\n";
    const PLACEHOLDER: &[u8] = b"Linux version 7.3.4+deb13-amd64 (debian-kernel@lists.debian.org) (gcc 14.2.0, GNU ld 2.44) # SMP PREEMPT_DYNAMIC Debian 7.3.4-1~bpo13+1 (2026-11-15)\n";

    fn rodata(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = b"\0\0junk\0".to_vec();
        for p in parts {
            out.extend_from_slice(p);
            out.extend_from_slice(b"\0\x01\x02");
        }
        out
    }

    #[test]
    fn the_real_banner_is_chosen_over_the_placeholder() {
        let data = rodata(&[PLACEHOLDER, b"%s version %s (x)\n", REAL]);
        let found = find_banners(&data);
        assert_eq!(found.len(), 2);
        assert!(is_placeholder_banner(found[0].1));
        assert!(!is_placeholder_banner(found[1].1));
        let at = choose_banner(&found).unwrap();
        assert_eq!(&data[at..at + REAL.len()], REAL);
    }

    #[test]
    fn banner_search_rejects_partial_and_ambiguous_ones() {
        // No newline before the NUL, or no NUL at all: not a banner.
        assert!(find_banners(b"Linux version 7.3 (x) #1\0").is_empty());
        assert!(find_banners(b"Linux version 7.3 (x) #1\n").is_empty());
        assert!(find_banners(b"Linux version \x01bad\n\0").is_empty());
        let err = choose_banner(&[]).unwrap_err().to_string();
        assert!(err.contains("no \"Linux version ...\" banner"), "{err}");
        // Two different real banners.
        let other = b"Linux version 7.2.0 (a@b) (gcc) #2 SMP\n";
        let data = rodata(&[REAL, other]);
        let err = choose_banner(&find_banners(&data)).unwrap_err().to_string();
        assert!(err.contains("2 different"), "{err}");
        // The same text twice: the later one.
        let data = rodata(&[REAL, REAL]);
        let found = find_banners(&data);
        assert_eq!(choose_banner(&found).unwrap(), found[1].0);
        // Only a placeholder: taken.
        let data = rodata(&[PLACEHOLDER]);
        let found = find_banners(&data);
        assert_eq!(choose_banner(&found).unwrap(), found[0].0);
    }

    #[test]
    fn notes_parse_with_offsets() {
        let mut data = Vec::new();
        let mut note = |name: &[u8], kind: u32, desc: &[u8]| {
            data.extend_from_slice(&(name.len() as u32).to_le_bytes());
            data.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            data.extend_from_slice(&kind.to_le_bytes());
            data.extend_from_slice(name);
            data.resize(data.len().div_ceil(4) * 4, 0);
            data.extend_from_slice(desc);
            data.resize(data.len().div_ceil(4) * 4, 0);
        };
        note(b"Linux\0", 6, b"7.3.4\0");
        note(b"GNU\0", 3, &[0xb3, 0x99, 0x7c, 0x9b, 0xf9]);
        let notes = parse_notes(&data).unwrap();
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].name, b"Linux");
        assert_eq!(notes[1].name, b"GNU");
        assert_eq!(notes[1].kind, 3);
        assert_eq!(notes[1].desc_offset, 12 + 8 + 8 + 12 + 4);
        assert_eq!(notes[1].desc, &[0xb3, 0x99, 0x7c, 0x9b, 0xf9]);
        // Cut anywhere but after a whole note (its padding may be
        // missing): an error, never a panic.
        for len in 1..data.len() {
            let whole = (26..=28).contains(&len) || len >= 49;
            assert_eq!(parse_notes(&data[..len]).is_ok(), whole, "{len}");
        }
    }

    #[test]
    fn ksymtab_entries_are_relative() {
        let strings = Section {
            addr: 0xffff_ffff_82a8_8000,
            data: b"\0this_cpu_off\0current_task\0",
        };
        let tab_addr = 0xffff_ffff_82a5_0000u64;
        let mut tab = Vec::new();
        for (i, (value, name)) in [
            (0xffff_ffff_83f4_d030u64, 1u64),
            (0xffff_ffff_83f4_d018, 14),
        ]
        .into_iter()
        .enumerate()
        {
            let entry = tab_addr + 12 * i as u64;
            tab.extend_from_slice(&((value.wrapping_sub(entry)) as i32).to_le_bytes());
            let name_addr = strings.addr + name;
            tab.extend_from_slice(&((name_addr.wrapping_sub(entry + 4)) as i32).to_le_bytes());
            tab.extend_from_slice(&0i32.to_le_bytes());
        }
        let tab_section = Section {
            addr: tab_addr,
            data: &tab,
        };
        let found = ksymtab_lookup(tab_section, strings, &["current_task", "cpu_tss_rw"]);
        assert_eq!(found.len(), 1);
        assert_eq!(found["current_task"], 0xffff_ffff_83f4_d018);
        // Names outside the strings, or a table of another layout: nothing.
        let far = Section {
            addr: 0x1000,
            ..strings
        };
        assert!(ksymtab_lookup(tab_section, far, &["current_task"]).is_empty());
        let odd = Section {
            addr: tab_addr,
            data: &tab[..20],
        };
        assert!(ksymtab_lookup(odd, strings, &["current_task"]).is_empty());
    }

    #[test]
    fn non_elf_input_is_refused() {
        assert!(KernelElf::parse(b"hello").is_err());
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        assert!(KernelElf::parse(&elf).is_err());
    }
}
