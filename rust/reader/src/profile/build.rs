// SPDX-License-Identifier: GPL-2.0

//! `leaktrace profile build`: a [`KernelProfile`] from a kernel image.
//!
//! Every value comes from the image itself, so that stripped distribution
//! kernels work (Documentation/introspection.rst, "Profiles"):
//!
//! - offsets: BTF ([`KernelBtf::offsets`]);
//! - `current_task`: the `.data..percpu` section's address plus the
//!   variable's offset in BTF's `.data..percpu` DATASEC (checked against
//!   the kernel's export table, `__ksymtab`, which keeps it);
//! - `entry_syscall`: the one place in executable code where `swapgs` is
//!   followed by `mov %rsp, %gs:cpu_tss_rw+sp2` ([`find_syscall_entry`]);
//! - `linux_banner`: the banner string in `.rodata` ([`choose_banner`]);
//! - the build id: the GNU build id note.
//!
//! Where the image has a symbol table (an unstripped vmlinux), its values
//! are used and the image-only method is checked against them: a
//! disagreement is reported as a note.

use super::btf::KernelBtf;
use super::btf::PERCPU_SECTION;
use super::elf::choose_banner;
use super::elf::find_banners;
use super::elf::find_syscall_entry;
use super::elf::KernelElf;
use super::hex_address;
use super::image;
use super::image::Input;
use super::release_of_banner;
use super::KernelProfile;
use anyhow::bail;
use anyhow::Context;
use anyhow::Result;
use leaktrace_abi::ProfileOffsets;
use leaktrace_abi::PROFILE_BANNER_MAX;

/// What to say when a profile is asked of a raw BTF blob.
pub const RAW_BTF_MESSAGE: &str = "a raw BTF blob gives structure offsets only, not the addresses \
     and banner a profile needs: pass the kernel image (vmlinux, bzImage or vmlinuz), or use \
     --offsets-only to print the offsets";

/// A built profile and what was learnt on the way (for standard error).
#[derive(Debug)]
pub struct Built<T> {
    /// The result.
    pub value: T,
    /// How the input was read and each value found, one line each.
    pub notes: Vec<String>,
}

/// Describes where the ELF came from.
fn origin_note(from: Option<image::Extracted>, elf: &[u8]) -> String {
    let mib = elf.len() as f64 / f64::from(1 << 20);
    match from {
        None => format!("input: vmlinux ELF ({mib:.1} MiB)"),
        Some(x) => format!(
            "input: compressed kernel, {} stream at offset {} holds a {mib:.1} MiB vmlinux",
            x.format.name(),
            x.offset
        ),
    }
}

/// The kernel's BTF, from its `.BTF` section.
fn elf_btf(elf: &KernelElf) -> Result<KernelBtf> {
    let Some(section) = elf.section(".BTF")? else {
        bail!(
            "the kernel has no .BTF section (built without CONFIG_DEBUG_INFO_BTF): \
             leaktrace needs its BTF for the structure offsets"
        );
    };
    KernelBtf::parse(section.data).context("the kernel's .BTF section")
}

/// Only the structure offsets, from any input (`--offsets-only`).
pub fn build_offsets(bytes: Vec<u8>) -> Result<Built<ProfileOffsets>> {
    match image::classify(bytes)? {
        Input::Btf(blob) => Ok(Built {
            value: KernelBtf::parse(&blob)?.offsets()?,
            notes: vec![format!("input: raw BTF ({} bytes)", blob.len())],
        }),
        Input::Elf(data, from) => {
            let elf = KernelElf::parse(&data)?;
            let offsets = elf_btf(&elf)?.offsets()?;
            Ok(Built {
                value: offsets,
                notes: vec![origin_note(from, &data)],
            })
        }
    }
}

/// A whole profile from a kernel image (vmlinux, or a compressed kernel).
pub fn build_profile(bytes: Vec<u8>) -> Result<Built<KernelProfile>> {
    let (data, from) = match image::classify(bytes)? {
        Input::Btf(_) => bail!("{RAW_BTF_MESSAGE}"),
        Input::Elf(data, from) => (data, from),
    };
    let mut notes = vec![origin_note(from, &data)];
    let elf = KernelElf::parse(&data)?;
    if !elf.has_symtab() {
        notes.push("no symbol table: every address comes from sections and BTF".into());
    }
    let btf = elf_btf(&elf)?;
    let offsets = btf.offsets()?;

    // Per-CPU variables: their link address is the section's plus their
    // offset in it (x86-64 per-CPU variables are not zero-based in 7.x).
    let Some(percpu) = elf.section(PERCPU_SECTION)? else {
        bail!("the kernel has no {PERCPU_SECTION} section");
    };
    if percpu.addr < 0xffff_8000_0000_0000 {
        bail!(
            "the kernel's {PERCPU_SECTION} section is at {}: zero-based per-CPU variables \
             (older kernels) are not supported",
            hex_address(percpu.addr)
        );
    }
    let percpu_var = |name: &str| -> Result<u64> {
        let (offset, _) = btf.percpu_var(name)?;
        if u64::from(offset) >= percpu.data.len() as u64 {
            bail!("per-CPU variable {name} lies outside the {PERCPU_SECTION} section");
        }
        Ok(percpu.addr + u64::from(offset))
    };
    let mut current_task = percpu_var("current_task")?;
    notes.push(format!(
        "current_task: {} ({PERCPU_SECTION} at {} + DATASEC offset)",
        hex_address(current_task),
        hex_address(percpu.addr)
    ));
    let exported = elf.exported(&["current_task", "cpu_tss_rw"])?;
    match exported.get("current_task") {
        Some(&addr) if addr == current_task => {
            notes.push("current_task: matches the kernel's export table (__ksymtab)".into())
        }
        Some(&addr) => notes.push(format!(
            "warning: the export table (__ksymtab) puts current_task at {}, BTF at {}",
            hex_address(addr),
            hex_address(current_task)
        )),
        None => {}
    }
    if let Some(sym) = elf.symbol("current_task") {
        if sym == current_task {
            notes.push("current_task: matches the symbol table".into());
        } else {
            notes.push(format!(
                "warning: the symbol table puts current_task at {}, BTF at {}: using the symbol",
                hex_address(sym),
                hex_address(current_task)
            ));
            current_task = sym;
        }
    }

    // entry_SYSCALL_64: swapgs; mov %rsp, %gs:cpu_tss_rw+sp2.
    let tss = percpu_var("cpu_tss_rw")?;
    let sp2 = btf
        .member("tss_struct", &["x86_tss", "sp2"])
        .context("cpu_tss_rw.x86_tss.sp2")?
        .offset;
    let target = tss + sp2;
    if let Some(&addr) = exported.get("cpu_tss_rw") {
        if addr != tss {
            notes.push(format!(
                "warning: the export table (__ksymtab) puts cpu_tss_rw at {}, BTF at {}",
                hex_address(addr),
                hex_address(tss)
            ));
        }
    }
    if let Some(sym) = elf.symbol("cpu_tss_rw") {
        if sym != tss {
            notes.push(format!(
                "warning: the symbol table puts cpu_tss_rw at {}, BTF at {}",
                hex_address(sym),
                hex_address(tss)
            ));
        }
    }
    let mut found = Vec::new();
    for (name, code) in elf.code_sections()? {
        for addr in find_syscall_entry(code.data, code.addr, target) {
            found.push((name.clone(), addr));
        }
    }
    let entry_syscall = match (elf.symbol("entry_SYSCALL_64"), found.as_slice()) {
        (None, [(section, addr)]) => {
            notes.push(format!(
                "entry_syscall: {} found by fingerprint in {section} \
                 (swapgs; mov %rsp,%gs:{}, cpu_tss_rw.x86_tss.sp2)",
                hex_address(*addr),
                hex_address(target)
            ));
            *addr
        }
        (None, []) => bail!(
            "entry_SYSCALL_64 not found: no `swapgs; mov %rsp,%gs:{}` (cpu_tss_rw.x86_tss.sp2) \
             in the kernel's code, and no symbol table",
            hex_address(target)
        ),
        (None, many) => {
            let at: Vec<String> = many.iter().map(|(_, a)| hex_address(*a)).collect();
            bail!(
                "entry_SYSCALL_64 is ambiguous: its fingerprint matches {} places ({})",
                many.len(),
                at.join(", ")
            )
        }
        (Some(sym), [(section, addr)]) if *addr == sym => {
            notes.push(format!(
                "entry_syscall: {} found by fingerprint in {section}; matches the symbol table",
                hex_address(sym)
            ));
            sym
        }
        (Some(sym), other) => {
            let at: Vec<String> = other.iter().map(|(_, a)| hex_address(*a)).collect();
            notes.push(format!(
                "warning: entry_syscall: the symbol table says {}, the fingerprint found [{}]: \
                 using the symbol",
                hex_address(sym),
                at.join(", ")
            ));
            sym
        }
    };

    // linux_banner: the banner string in .rodata.
    let Some(rodata) = elf.section(".rodata")? else {
        bail!("the kernel has no .rodata section");
    };
    let banners = find_banners(rodata.data);
    let searched = choose_banner(&banners).map(|at| rodata.addr + at as u64);
    let linux_banner = match (elf.symbol("linux_banner"), searched) {
        (None, Ok(addr)) => {
            notes.push(format!(
                "linux_banner: {} found in .rodata",
                hex_address(addr)
            ));
            addr
        }
        (None, Err(e)) => return Err(e),
        (Some(sym), Ok(addr)) if sym == addr => {
            notes.push(format!(
                "linux_banner: {} found in .rodata; matches the symbol table",
                hex_address(sym)
            ));
            sym
        }
        (Some(sym), searched) => {
            let searched = match searched {
                Ok(addr) => hex_address(addr),
                Err(e) => e.to_string(),
            };
            notes.push(format!(
                "warning: linux_banner: the symbol table says {}, the .rodata search {searched}: \
                 using the symbol",
                hex_address(sym)
            ));
            sym
        }
    };
    let banner_bytes = linux_banner
        .checked_sub(rodata.addr)
        .and_then(|at| banners.iter().find(|(off, _)| *off as u64 == at))
        .map(|(_, text)| *text);
    let Some(banner_bytes) = banner_bytes else {
        bail!(
            "linux_banner at {} is not a complete \"Linux version\" string in .rodata",
            hex_address(linux_banner)
        );
    };
    let mut end = banner_bytes.len().min(PROFILE_BANNER_MAX);
    let banner = loop {
        match std::str::from_utf8(&banner_bytes[..end]) {
            Ok(text) => break text.to_owned(),
            Err(e) => end = e.valid_up_to(),
        }
    };
    let Some(release) = release_of_banner(&banner).map(str::to_owned) else {
        bail!("the banner names no release: {banner:?}");
    };

    let (build_id, build_id_addr) = match elf.build_id()? {
        Some((id, addr)) => {
            notes.push(format!(
                "build id: {} at {}",
                super::hex_bytes(&id),
                hex_address(addr)
            ));
            (id, Some(addr))
        }
        None => {
            notes.push("no GNU build id note: the module checks the banner only".into());
            (Vec::new(), None)
        }
    };

    let profile = KernelProfile {
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
    Ok(Built {
        value: profile,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_btf_gives_offsets_only() {
        let blob = super::super::btf::testing::sample_btf();
        let err = build_profile(blob.clone()).unwrap_err().to_string();
        assert!(err.contains("--offsets-only"), "{err}");
        // The sample BTF lacks most structures: the error names the first.
        let err = format!("{:#}", build_offsets(blob).unwrap_err());
        assert!(err.contains("offsets.task_tgid"), "{err}");
    }

    #[test]
    fn garbage_and_truncated_inputs_are_errors() {
        for input in [Vec::new(), b"garbage".to_vec(), b"\x7fELF\x02\x01".to_vec()] {
            assert!(build_profile(input.clone()).is_err());
            assert!(build_offsets(input).is_err());
        }
    }
}
