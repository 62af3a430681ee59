// SPDX-License-Identifier: GPL-2.0

//! What a profile needs from a kernel's BTF: structure member offsets
//! (through nested and anonymous members) and the offsets of per-CPU
//! variables in the `.data..percpu` DATASEC.
//!
//! Parsing is `btf-rs`'s; [`KernelBtf::parse`] first checks the header
//! against the blob's length, so that a truncated or corrupt blob is an
//! error and never a huge allocation or a read past its end.

use super::Measure;
use super::OffsetField;
use super::OFFSET_FIELDS;
use anyhow::anyhow;
use anyhow::bail;
use anyhow::Context;
use anyhow::Result;
use btf_rs::Btf;
use btf_rs::BtfType;
use btf_rs::Struct;
use btf_rs::Type;
use leaktrace_abi::ProfileOffsets;

/// `magic` of a little-endian BTF header.
pub const BTF_MAGIC: u16 = 0xeb9f;

/// Size of the BTF header this parser knows (`struct btf_header`).
const HEADER_LEN: usize = 24;

/// Name of the per-CPU data section.
pub const PERCPU_SECTION: &str = ".data..percpu";

/// Deepest chain of typedefs/qualifiers, or of anonymous members, followed
/// before giving up (a corrupt blob could loop).
const MAX_DEPTH: usize = 32;

/// Whether `bytes` start with a (little-endian) BTF header.
pub fn is_btf(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && u16::from_le_bytes([bytes[0], bytes[1]]) == BTF_MAGIC
}

/// Checks a BTF header against the length of the blob.
fn check_header(bytes: &[u8]) -> Result<()> {
    if bytes.len() >= 2 && u16::from_be_bytes([bytes[0], bytes[1]]) == BTF_MAGIC {
        bail!("big-endian BTF: not an x86-64 kernel");
    }
    if !is_btf(bytes) {
        bail!("no BTF magic (0xeb9f)");
    }
    if bytes.len() < HEADER_LEN {
        bail!(
            "truncated BTF: {} bytes, shorter than its header",
            bytes.len()
        );
    }
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (version, flags) = (bytes[2], bytes[3]);
    if version != 1 {
        bail!("BTF version {version}, this leaktrace reads version 1");
    }
    if flags != 0 {
        bail!("BTF flags {flags:#x} are not known");
    }
    let hdr_len = word(4) as u64;
    let (type_off, type_len, str_off, str_len) = (word(8), word(12), word(16), word(20));
    if hdr_len < HEADER_LEN as u64 {
        bail!("corrupt BTF: header length {hdr_len}");
    }
    let len = bytes.len() as u64;
    let type_end = hdr_len + u64::from(type_off) + u64::from(type_len);
    let str_start = hdr_len + u64::from(str_off);
    let str_end = str_start + u64::from(str_len);
    if type_end > len || str_end > len {
        bail!(
            "truncated BTF: its header describes {} bytes, the blob has {len}",
            type_end.max(str_end)
        );
    }
    // The string section starts with the empty name and ends with a NUL.
    if str_len == 0 || bytes[str_start as usize] != 0 || bytes[str_end as usize - 1] != 0 {
        bail!("corrupt BTF: malformed string section");
    }
    Ok(())
}

/// A member found in a structure: where and how big.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// Offset in bytes from the start of the outer structure.
    pub offset: u64,
    /// Size in bytes of the member's type.
    pub size: u64,
}

/// A kernel's BTF.
pub struct KernelBtf {
    /// The parsed types.
    btf: Btf,
}

impl KernelBtf {
    /// Parses a raw BTF blob (the `.BTF` section, or
    /// `/sys/kernel/btf/vmlinux`).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        check_header(bytes)?;
        let btf = Btf::from_bytes(bytes).map_err(|e| anyhow!("corrupt BTF: {e}"))?;
        Ok(Self { btf })
    }

    /// The type with id `id`.
    fn type_by_id(&self, id: u32) -> Result<Type> {
        self.btf
            .resolve_type_by_id(id)
            .map_err(|e| anyhow!("corrupt BTF: {e}"))
    }

    /// The name of a type or member ("" for anonymous ones).
    fn name_of(&self, t: &dyn BtfType) -> Result<String> {
        match t.get_name_offset() {
            None | Some(0) => Ok(String::new()),
            Some(_) => self
                .btf
                .resolve_name(t)
                .map_err(|e| anyhow!("corrupt BTF: {e}")),
        }
    }

    /// The type a type refers to (`get_type_id`), e.g. a member's type.
    fn referred(&self, t: &dyn BtfType) -> Result<(u32, Type)> {
        let id = t
            .get_type_id()
            .ok_or_else(|| anyhow!("corrupt BTF: a type refers to no type"))?;
        Ok((id, self.type_by_id(id)?))
    }

    /// `t` without typedefs and qualifiers.
    fn strip(&self, mut t: Type) -> Result<Type> {
        for _ in 0..MAX_DEPTH {
            match &t {
                Type::Typedef(x) => t = self.referred(x)?.1,
                Type::Const(x) | Type::Volatile(x) | Type::Restrict(x) => t = self.referred(x)?.1,
                Type::TypeTag(x) => t = self.referred(x)?.1,
                _ => return Ok(t),
            }
        }
        bail!("corrupt BTF: a chain of typedefs is too long")
    }

    /// Size in bytes of a type.
    fn size_of(&self, t: Type, depth: usize) -> Result<u64> {
        if depth > MAX_DEPTH {
            bail!("corrupt BTF: types nest too deep");
        }
        Ok(match self.strip(t)? {
            Type::Int(i) => i.size() as u64,
            Type::Ptr(_) => 8,
            Type::Struct(s) | Type::Union(s) => s.size() as u64,
            Type::Enum(e) => e.size() as u64,
            Type::Enum64(e) => e.size() as u64,
            Type::Float(f) => f.size() as u64,
            Type::Array(a) => {
                let element = self.size_of(self.referred(&a)?.1, depth + 1)?;
                element
                    .checked_mul(a.len() as u64)
                    .ok_or_else(|| anyhow!("corrupt BTF: an array is too large"))?
            }
            other => bail!("a member of type kind {} has no size", other.name()),
        })
    }

    /// The member called `name` of `s`, looking through anonymous
    /// structures and unions: its bit offset from the start of `s` and its
    /// type.
    fn find_member(&self, s: &Struct, name: &str, depth: usize) -> Result<Option<(u64, Type)>> {
        if depth > MAX_DEPTH {
            bail!("corrupt BTF: anonymous members nest too deep");
        }
        for m in &s.members {
            let member_name = self.name_of(m)?;
            if member_name == name {
                if matches!(m.bitfield_size(), Some(bits) if bits != 0) {
                    bail!("`{name}` is a bitfield: the module reads whole bytes");
                }
                return Ok(Some((u64::from(m.bit_offset()), self.referred(m)?.1)));
            }
            if member_name.is_empty() {
                if let Type::Struct(inner) | Type::Union(inner) = self.strip(self.referred(m)?.1)? {
                    if let Some((offset, t)) = self.find_member(&inner, name, depth + 1)? {
                        return Ok(Some((u64::from(m.bit_offset()) + offset, t)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// The member at `path` (nested member names) of `s`.
    fn member_in(&self, s: &Struct, strukt: &str, path: &[&str]) -> Result<MemberInfo> {
        let mut current = s.clone();
        let mut bits = 0u64;
        for (i, name) in path.iter().enumerate() {
            let walked = || format!("struct {strukt}.{}", path[..=i].join("."));
            let Some((offset, t)) = self.find_member(&current, name, 0).with_context(walked)?
            else {
                bail!("{} does not exist", walked());
            };
            bits += offset;
            if !bits.is_multiple_of(8) {
                bail!("{} is not at a whole byte offset", walked());
            }
            if i + 1 == path.len() {
                let size = self.size_of(t, 0).with_context(walked)?;
                return Ok(MemberInfo {
                    offset: bits / 8,
                    size,
                });
            }
            match self.strip(t)? {
                Type::Struct(inner) | Type::Union(inner) => current = inner,
                other => bail!("{} is a {}, not a structure", walked(), other.name()),
            }
        }
        bail!("struct {strukt}: empty member path")
    }

    /// The member at `path` of `struct strukt`. If BTF holds several
    /// definitions of the structure, they must agree.
    pub fn member(&self, strukt: &str, path: &[&str]) -> Result<MemberInfo> {
        let candidates: Vec<Struct> = self
            .btf
            .resolve_types_by_name(strukt)
            .map_err(|e| anyhow!("corrupt BTF: {e}"))?
            .into_iter()
            .filter_map(|t| match t {
                Type::Struct(s) => Some(s),
                _ => None,
            })
            .collect();
        if candidates.is_empty() {
            bail!("struct {strukt} is not in the BTF");
        }
        let mut found: Option<MemberInfo> = None;
        let mut first_error = None;
        for s in &candidates {
            match self.member_in(s, strukt, path) {
                Ok(info) => match found {
                    None => found = Some(info),
                    Some(seen) if seen == info => {}
                    Some(seen) => bail!(
                        "struct {strukt} has several definitions in the BTF that disagree on \
                         {}: offset {} or {}",
                        path.join("."),
                        seen.offset,
                        info.offset
                    ),
                },
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (found, first_error) {
            (Some(info), _) => Ok(info),
            (None, Some(e)) => Err(e),
            (None, None) => bail!("struct {strukt} is not in the BTF"),
        }
    }

    /// The value of one profile offset field, checked against the size the
    /// module reads.
    pub fn field(&self, field: &OffsetField) -> Result<u32> {
        let info = self
            .member(field.strukt, field.path)
            .with_context(|| format!("offsets.{}", field.name))?;
        if let Some(size) = field.size {
            if info.size != size {
                bail!(
                    "offsets.{}: {} is {} bytes, the module reads {size}",
                    field.name,
                    field.member(),
                    info.size
                );
            }
        }
        let value = match field.measure {
            Measure::Offset => info.offset,
            Measure::Size => info.size,
        };
        u32::try_from(value)
            .with_context(|| format!("offsets.{}: {value} is too large", field.name))
    }

    /// Every [`ProfileOffsets`] field.
    pub fn offsets(&self) -> Result<ProfileOffsets> {
        let mut offsets = ProfileOffsets::default();
        for field in &OFFSET_FIELDS {
            (field.set)(&mut offsets, self.field(field)?);
        }
        Ok(offsets)
    }

    /// The offset of the per-CPU variable `var` in the `.data..percpu`
    /// section (its DATASEC), and its size.
    pub fn percpu_var(&self, var: &str) -> Result<(u32, u64)> {
        let sections = self
            .btf
            .resolve_types_by_name(PERCPU_SECTION)
            .map_err(|e| anyhow!("corrupt BTF: {e}"))?;
        let mut seen_section = false;
        for t in sections {
            let Type::Datasec(ds) = t else { continue };
            seen_section = true;
            for v in &ds.variables {
                let (_, Type::Var(decl)) = self.referred(v)? else {
                    bail!("corrupt BTF: a {PERCPU_SECTION} entry is not a variable");
                };
                if self.name_of(&decl)? == var {
                    return Ok((v.offset(), v.size() as u64));
                }
            }
        }
        if !seen_section {
            bail!("the BTF has no {PERCPU_SECTION} DATASEC (built without per-CPU variable BTF?)");
        }
        bail!("per-CPU variable {var} is not in the BTF's {PERCPU_SECTION} DATASEC")
    }
}

/// A BTF blob writer for tests: types are added in order (ids from 1),
/// names interned.
#[cfg(test)]
pub(crate) mod testing {
    /// BTF kinds used by the tests.
    pub(crate) const INT: u32 = 1;
    pub(crate) const PTR: u32 = 2;
    pub(crate) const ARRAY: u32 = 3;
    pub(crate) const STRUCT: u32 = 4;
    pub(crate) const UNION: u32 = 5;
    pub(crate) const TYPEDEF: u32 = 8;
    pub(crate) const CONST: u32 = 10;
    pub(crate) const VAR: u32 = 14;
    pub(crate) const DATASEC: u32 = 15;

    /// Builds a BTF blob.
    #[derive(Default)]
    pub(crate) struct BtfWriter {
        types: Vec<u8>,
        strings: Vec<u8>,
        count: u32,
    }

    impl BtfWriter {
        pub(crate) fn new() -> Self {
            Self {
                strings: vec![0],
                ..Self::default()
            }
        }

        fn name(&mut self, name: &str) -> u32 {
            if name.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(name.as_bytes());
            self.strings.push(0);
            off
        }

        fn words(&mut self, words: &[u32]) {
            for w in words {
                self.types.extend_from_slice(&w.to_le_bytes());
            }
        }

        fn header(
            &mut self,
            name: &str,
            kind: u32,
            kind_flag: bool,
            vlen: u32,
            size_or_type: u32,
        ) -> u32 {
            let name = self.name(name);
            let info = (kind << 24) | vlen | if kind_flag { 1 << 31 } else { 0 };
            self.words(&[name, info, size_or_type]);
            self.count += 1;
            self.count
        }

        pub(crate) fn int(&mut self, name: &str, size: u32) -> u32 {
            let id = self.header(name, INT, false, 0, size);
            self.words(&[size * 8]);
            id
        }

        pub(crate) fn refer(&mut self, kind: u32, name: &str, to: u32) -> u32 {
            self.header(name, kind, false, 0, to)
        }

        pub(crate) fn array(&mut self, element: u32, index: u32, len: u32) -> u32 {
            let id = self.header("", ARRAY, false, 0, 0);
            self.words(&[element, index, len]);
            id
        }

        /// A struct or union; members are (name, type, bit offset,
        /// bitfield size).
        pub(crate) fn composite(
            &mut self,
            kind: u32,
            name: &str,
            size: u32,
            members: &[(&str, u32, u32, u32)],
        ) -> u32 {
            let kind_flag = members.iter().any(|m| m.3 != 0);
            let id = self.header(name, kind, kind_flag, members.len() as u32, size);
            for &(m, ty, bits, bitfield) in members {
                let name = self.name(m);
                let offset = if kind_flag {
                    (bitfield << 24) | bits
                } else {
                    bits
                };
                self.words(&[name, ty, offset]);
            }
            id
        }

        pub(crate) fn var(&mut self, name: &str, ty: u32) -> u32 {
            let id = self.header(name, VAR, false, 0, ty);
            self.words(&[1]);
            id
        }

        pub(crate) fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
            let id = self.header(name, DATASEC, false, vars.len() as u32, size);
            for &(ty, offset, size) in vars {
                self.words(&[ty, offset, size]);
            }
            id
        }

        pub(crate) fn finish(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(&super::BTF_MAGIC.to_le_bytes());
            out.extend_from_slice(&[1, 0]);
            let words = [
                24u32,
                0,
                self.types.len() as u32,
                self.types.len() as u32,
                self.strings.len() as u32,
            ];
            for w in words {
                out.extend_from_slice(&w.to_le_bytes());
            }
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strings);
            out
        }
    }

    /// A small BTF with the shapes of the kernel's: a `qstr` whose `len`
    /// sits in an anonymous struct inside an anonymous union, a
    /// `sock_common` with anonymous unions, an embedded structure, an array,
    /// typedefs, a bitfield, and a per-CPU DATASEC.
    pub(crate) fn sample_btf() -> Vec<u8> {
        let mut w = BtfWriter::new();
        let u32_t = w.int("unsigned int", 4); // 1
        let u64_t = w.int("long long unsigned int", 8); // 2
        let char_t = w.int("char", 1); // 3
        let u32_td = w.refer(TYPEDEF, "u32", u32_t); // 4
        let const_char = w.refer(CONST, "", char_t); // 5
        let name_ptr = w.refer(PTR, "", const_char); // 6
                                                     // struct { u32 hash; u32 len; }
        let hash_len = w.composite(
            STRUCT,
            "",
            8,
            &[("hash", u32_td, 0, 0), ("len", u32_td, 32, 0)],
        );
        // union { struct {...}; u64 hash_len; }
        let hl_union = w.composite(
            UNION,
            "",
            8,
            &[("", hash_len, 0, 0), ("hash_len", u64_t, 0, 0)],
        );
        let qstr = w.composite(
            STRUCT,
            "qstr",
            16,
            &[("", hl_union, 0, 0), ("name", name_ptr, 64, 0)],
        );
        let void_ptr = w.refer(PTR, "", 0);
        let dentry = w.composite(
            STRUCT,
            "dentry",
            64,
            &[
                ("d_flags", u32_t, 0, 0),
                ("d_parent", void_ptr, 64, 0),
                ("d_name", qstr, 256, 0),
            ],
        );
        let comm = w.array(char_t, u32_t, 16);
        let task = w.composite(
            STRUCT,
            "task_struct",
            128,
            &[
                ("state", u32_t, 0, 0),
                ("in_execve", u32_t, 32, 1),
                ("pid", u32_t, 64, 0),
                ("comm", comm, 512, 0),
            ],
        );
        let task_ptr = w.refer(PTR, "", task);
        let _ = dentry;
        let current = w.var("current_task", task_ptr);
        let cpu_number = w.var("cpu_number", u32_t);
        w.datasec(
            ".data..percpu",
            0x20000,
            &[(cpu_number, 0x40, 4), (current, 0x14018, 8)],
        );
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn nested_and_anonymous_members_resolve() {
        let btf = KernelBtf::parse(&sample_btf()).unwrap();
        // d_name at 32, len at 4 inside the anonymous union/struct.
        assert_eq!(
            btf.member("dentry", &["d_name", "len"]).unwrap(),
            MemberInfo {
                offset: 36,
                size: 4
            }
        );
        assert_eq!(
            btf.member("dentry", &["d_name", "name"]).unwrap(),
            MemberInfo {
                offset: 40,
                size: 8
            }
        );
        assert_eq!(
            btf.member("dentry", &["d_name"]).unwrap(),
            MemberInfo {
                offset: 32,
                size: 16
            }
        );
        assert_eq!(
            btf.member("qstr", &["hash_len"]).unwrap(),
            MemberInfo { offset: 0, size: 8 }
        );
        assert_eq!(
            btf.member("task_struct", &["comm"]).unwrap(),
            MemberInfo {
                offset: 64,
                size: 16
            }
        );
        assert_eq!(btf.member("task_struct", &["pid"]).unwrap().offset, 8);
    }

    #[test]
    fn member_errors_name_the_member() {
        let btf = KernelBtf::parse(&sample_btf()).unwrap();
        let err = |s: &str, p: &[&str]| format!("{:#}", btf.member(s, p).unwrap_err());
        assert!(err("task_struct", &["in_execve"]).contains("bitfield"));
        assert!(err("task_struct", &["tgid"]).contains("struct task_struct.tgid does not exist"));
        assert!(err("inode", &["i_mode"]).contains("struct inode is not in the BTF"));
        assert!(err("dentry", &["d_parent", "x"]).contains("not a structure"));
        assert!(err("dentry", &["d_name", "nope"]).contains("dentry.d_name.nope does not exist"));
    }

    #[test]
    fn field_sizes_are_checked() {
        let btf = KernelBtf::parse(&sample_btf()).unwrap();
        let pid = super::super::offset_field("task_pid").unwrap();
        assert_eq!(btf.field(pid).unwrap(), 8);
        let comm_size = super::super::offset_field("task_comm_size").unwrap();
        assert_eq!(btf.field(comm_size).unwrap(), 16);
        // dentry.d_parent is a pointer (8 bytes); claim it must be 4.
        let mut parent = *super::super::offset_field("dentry_d_parent").unwrap();
        assert_eq!(btf.field(&parent).unwrap(), 8);
        parent.size = Some(4);
        let err = format!("{:#}", btf.field(&parent).unwrap_err());
        assert!(
            err.contains("dentry.d_parent is 8 bytes, the module reads 4"),
            "{err}"
        );
        // The sample lacks most structures.
        let err = format!("{:#}", btf.offsets().unwrap_err());
        assert!(err.contains("offsets.task_tgid"), "{err}");
    }

    #[test]
    fn percpu_variables_come_from_the_datasec() {
        let btf = KernelBtf::parse(&sample_btf()).unwrap();
        assert_eq!(btf.percpu_var("current_task").unwrap(), (0x14018, 8));
        assert_eq!(btf.percpu_var("cpu_number").unwrap(), (0x40, 4));
        let err = format!("{:#}", btf.percpu_var("cpu_tss_rw").unwrap_err());
        assert!(err.contains("cpu_tss_rw is not in"), "{err}");
        let mut w = BtfWriter::new();
        w.int("int", 4);
        let btf = KernelBtf::parse(&w.finish()).unwrap();
        let err = format!("{:#}", btf.percpu_var("current_task").unwrap_err());
        assert!(err.contains("no .data..percpu DATASEC"), "{err}");
    }

    #[test]
    fn corrupt_blobs_are_errors() {
        let good = sample_btf();
        let msg = |b: &[u8]| match KernelBtf::parse(b) {
            Ok(_) => String::from("parsed"),
            Err(e) => format!("{e:#}"),
        };
        assert!(msg(&good[..10]).contains("truncated"));
        assert!(msg(&good[..good.len() - 1]).contains("truncated"));
        assert!(msg(b"hello world, this is no BTF").contains("no BTF magic"));
        assert!(msg(&[0xeb, 0x9f, 1, 0]).contains("big-endian"));
        let mut v2 = good.clone();
        v2[2] = 2;
        assert!(msg(&v2).contains("version 2"));
        // Every truncation and every single-byte corruption is an error or
        // a parse, never a panic.
        for len in 0..good.len() {
            let _ = KernelBtf::parse(&good[..len]);
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xa5;
            if let Ok(btf) = KernelBtf::parse(&bad) {
                let _ = btf.member("dentry", &["d_name", "len"]);
                let _ = btf.percpu_var("current_task");
                let _ = btf.offsets();
            }
        }
    }
}
