// SPDX-License-Identifier: GPL-2.0

//! Kernel image inputs: a vmlinux ELF as is, a raw BTF blob, or a
//! compressed kernel (bzImage/vmlinuz) whose embedded vmlinux is found and
//! decompressed the way the kernel's scripts/extract-vmlinux does it: try
//! every place that starts with a known compression magic until one
//! decompresses to an ELF file. A bzImage's own setup header, which says
//! where its payload is, is tried first.
//!
//! gzip (flate2), xz and lzma (liblzma) and zstd (ruzstd) are
//! decompressed; bzip2, lz4 and lzo images are recognised and refused with
//! a hint.

use super::btf;
use anyhow::bail;
use anyhow::Result;
use std::io;
use std::io::Read;

/// Largest decompressed kernel accepted (a vmlinux is tens of MB).
pub const DECOMPRESSED_MAX: u64 = 1 << 30;

/// Memory limit for the xz and lzma decoders.
const LZMA_MEMLIMIT: u64 = 1 << 30;

/// The ELF magic.
pub const ELF_MAGIC: [u8; 4] = *b"\x7fELF";

/// A compression format of kernel images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (CONFIG_KERNEL_GZIP).
    Gzip,
    /// xz (CONFIG_KERNEL_XZ).
    Xz,
    /// zstd (CONFIG_KERNEL_ZSTD).
    Zstd,
    /// lzma (CONFIG_KERNEL_LZMA).
    Lzma,
    /// bzip2 (CONFIG_KERNEL_BZIP2).
    Bzip2,
    /// lz4 legacy frames (CONFIG_KERNEL_LZ4).
    Lz4,
    /// lzo (CONFIG_KERNEL_LZO).
    Lzo,
}

/// Every format, with its magic (as scripts/extract-vmlinux has them), in
/// the order they are tried: the strong magics first, lzma's weak one
/// last.
pub const FORMATS: [(Compression, &[u8]); 7] = [
    (Compression::Gzip, b"\x1f\x8b\x08"),
    (Compression::Xz, b"\xfd7zXZ\x00"),
    (Compression::Zstd, b"\x28\xb5\x2f\xfd"),
    (Compression::Bzip2, b"BZh"),
    (Compression::Lz4, b"\x02\x21\x4c\x18"),
    (Compression::Lzo, b"\x89LZO"),
    (Compression::Lzma, b"\x5d\x00\x00\x00"),
];

impl Compression {
    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Lzma => "lzma",
            Self::Bzip2 => "bzip2",
            Self::Lz4 => "lz4",
            Self::Lzo => "lzo",
        }
    }

    /// The magic bytes a stream of this format starts with.
    pub fn magic(self) -> &'static [u8] {
        FORMATS
            .iter()
            .find(|(c, _)| *c == self)
            .map_or(&[], |(_, m)| m)
    }

    /// Whether leaktrace decompresses this format.
    pub fn supported(self) -> bool {
        matches!(self, Self::Gzip | Self::Xz | Self::Zstd | Self::Lzma)
    }

    /// The format whose magic `bytes` start with.
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        FORMATS
            .iter()
            .find(|(_, magic)| bytes.starts_with(magic))
            .map(|(c, _)| *c)
    }

    /// A decoder of this format reading `input`, or `None` if unsupported.
    fn decoder<'a>(self, input: &'a [u8]) -> io::Result<Option<Box<dyn Read + 'a>>> {
        Ok(Some(match self {
            Self::Gzip => Box::new(flate2::read::GzDecoder::new(input)),
            Self::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(LZMA_MEMLIMIT, 0)
                    .map_err(io::Error::other)?;
                Box::new(liblzma::read::XzDecoder::new_stream(input, stream))
            }
            Self::Lzma => {
                let stream = liblzma::stream::Stream::new_lzma_decoder(LZMA_MEMLIMIT)
                    .map_err(io::Error::other)?;
                Box::new(liblzma::read::XzDecoder::new_stream(input, stream))
            }
            Self::Zstd => match ruzstd::decoding::StreamingDecoder::new(input) {
                Ok(d) => Box::new(d),
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            },
            Self::Bzip2 | Self::Lz4 | Self::Lzo => return Ok(None),
        }))
    }
}

/// What an attempt to decompress at one offset gave.
#[derive(Debug)]
pub enum Attempt {
    /// An ELF file.
    Elf(Vec<u8>),
    /// Not an ELF file (a false magic, or another payload): try elsewhere.
    /// Holds why, when decompression failed before the first bytes.
    NotElf(Option<String>),
    /// The format is not supported.
    Unsupported,
    /// The stream starts like an ELF file but is corrupt, truncated, or
    /// too large.
    Broken(String),
}

/// Decompresses `input` (a stream of `format`) if it holds an ELF file.
pub fn decompress(format: Compression, input: &[u8]) -> Attempt {
    let mut reader = match format.decoder(input) {
        Ok(Some(r)) => r,
        Ok(None) => return Attempt::Unsupported,
        Err(e) => return Attempt::NotElf(Some(e.to_string())),
    };
    let mut head = [0u8; 4];
    if let Err(e) = reader.read_exact(&mut head) {
        // Some decoders (zstd with a window larger than the kernel) give
        // nothing before the end of the stream.
        return Attempt::NotElf(Some(e.to_string()));
    }
    if head != ELF_MAGIC {
        return Attempt::NotElf(None);
    }
    let mut out = head.to_vec();
    match reader.take(DECOMPRESSED_MAX).read_to_end(&mut out) {
        Ok(_) if out.len() as u64 >= DECOMPRESSED_MAX => Attempt::Broken(format!(
            "too large: more than {} MiB decompressed",
            DECOMPRESSED_MAX >> 20
        )),
        Ok(_) => Attempt::Elf(out),
        Err(e) => Attempt::Broken(format!("corrupt or truncated: {e}")),
    }
}

/// Where the embedded vmlinux came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extracted {
    /// Its compression.
    pub format: Compression,
    /// Offset of the compressed stream in the image.
    pub offset: usize,
}

/// The payload of a bzImage per its setup header (boot protocol 2.08 or
/// later), as an offset into `image`.
pub fn bzimage_payload(image: &[u8]) -> Option<usize> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(image.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(image.get(at..at + 4)?.try_into().ok()?));
    if image.get(0x202..0x206)? != b"HdrS" || u16_at(0x206)? < 0x0208 {
        return None;
    }
    let setup_sects = match *image.get(0x1f1)? {
        0 => 4,
        n => usize::from(n),
    };
    let payload = (setup_sects + 1) * 512 + u32_at(0x248)? as usize;
    let length = u32_at(0x24c)? as usize;
    (length > 0 && payload < image.len()).then_some(payload)
}

/// All places in `image` where a stream of `format` may start.
fn magic_offsets(image: &[u8], format: Compression) -> impl Iterator<Item = usize> + '_ {
    let magic = format.magic();
    image
        .windows(magic.len())
        .enumerate()
        .filter(move |(_, w)| *w == magic)
        .map(|(i, _)| i)
}

/// Finds and decompresses the vmlinux ELF inside a compressed kernel
/// image.
pub fn extract_vmlinux(image: &[u8]) -> Result<(Vec<u8>, Extracted)> {
    let mut broken: Option<(Extracted, String)> = None;
    let mut unsupported: Option<(Compression, usize)> = None;
    let mut tried = Vec::new();
    // `exact`: the stream is known to be there (the bzImage header says
    // so), so a decoding error is the image's fault.
    let mut attempt = |offset: usize, format: Compression, exact: bool| -> Option<Vec<u8>> {
        let tail = image.get(offset..)?;
        match decompress(format, tail) {
            Attempt::Elf(elf) => Some(elf),
            Attempt::NotElf(Some(why)) if exact => {
                let why = format!("corrupt or truncated: {why}");
                broken.get_or_insert((Extracted { format, offset }, why));
                None
            }
            Attempt::NotElf(_) => None,
            Attempt::Unsupported => {
                unsupported.get_or_insert((format, offset));
                None
            }
            Attempt::Broken(why) => {
                broken.get_or_insert((Extracted { format, offset }, why));
                None
            }
        }
    };
    // The bzImage header says where the payload is.
    if let Some(offset) = bzimage_payload(image) {
        if let Some(format) = image.get(offset..).and_then(Compression::detect) {
            tried.push(offset);
            if let Some(elf) = attempt(offset, format, true) {
                return Ok((elf, Extracted { format, offset }));
            }
        }
    }
    for (format, _) in FORMATS {
        for offset in magic_offsets(image, format) {
            if tried.contains(&offset) {
                continue;
            }
            if let Some(elf) = attempt(offset, format, false) {
                return Ok((elf, Extracted { format, offset }));
            }
        }
    }
    if let Some((at, why)) = broken {
        let payload = if tried.contains(&at.offset) {
            " (the bzImage payload)"
        } else {
            ""
        };
        bail!(
            "the {}-compressed kernel at offset {}{payload} is {why}",
            at.format.name(),
            at.offset
        );
    }
    if let Some((format, offset)) = unsupported {
        bail!(
            "the kernel looks {}-compressed (magic at offset {offset}), which leaktrace does not \
             decompress: extract the vmlinux with the kernel's scripts/extract-vmlinux and pass that",
            format.name()
        );
    }
    bail!(
        "neither an ELF file (vmlinux), a BTF blob, nor a compressed kernel image \
         (no gzip, xz, zstd or lzma stream that decompresses to an ELF file)"
    )
}

/// A kernel image input, classified.
#[derive(Debug)]
pub enum Input {
    /// A vmlinux ELF, and where it was extracted from if it was compressed.
    Elf(Vec<u8>, Option<Extracted>),
    /// A raw BTF blob.
    Btf(Vec<u8>),
}

/// Classifies `bytes`: an ELF file, a BTF blob, or a compressed kernel
/// (decompressed here).
pub fn classify(bytes: Vec<u8>) -> Result<Input> {
    if bytes.starts_with(&ELF_MAGIC) {
        return Ok(Input::Elf(bytes, None));
    }
    if btf::is_btf(&bytes) {
        return Ok(Input::Btf(bytes));
    }
    if bytes.is_empty() {
        bail!("the file is empty");
    }
    let (elf, from) = extract_vmlinux(&bytes)?;
    Ok(Input::Elf(elf, Some(from)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Something that starts like an ELF file.
    fn payload() -> Vec<u8> {
        // 1 MiB, compressible enough to be quick, varied enough to make
        // several blocks in every format.
        let mut p = ELF_MAGIC.to_vec();
        p.extend(
            (0..1u32 << 20)
                .map(|i| ((i.wrapping_mul(2_654_435_761) >> 29) as u8) ^ (i >> 12) as u8),
        );
        p
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn lzma(data: &[u8]) -> Vec<u8> {
        // A 16 MiB dictionary, as the kernel's `lzma -9` has a 64 MiB one:
        // the size's low bytes are zero, which the magic relies on.
        let mut opts = liblzma::stream::LzmaOptions::new_preset(6).unwrap();
        opts.dict_size(1 << 24);
        let stream = liblzma::stream::Stream::new_lzma_encoder(&opts).unwrap();
        let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    /// A fake image: junk (with false magics), the stream, junk.
    fn image(stream: &[u8]) -> Vec<u8> {
        let mut img =
            b"MZ junk \x1f\x8b\x08 not gzip \x28\xb5\x2f\xfd nor zstd \x5d\x00\x00\x00 ".to_vec();
        img.extend_from_slice(stream);
        img.extend_from_slice(b"\x00\x10\x00\x00 trailing relocs");
        img
    }

    #[test]
    fn every_supported_format_is_found_and_decompressed() {
        let p = payload();
        for (format, stream) in [
            (Compression::Gzip, gzip(&p)),
            (Compression::Xz, xz(&p)),
            (Compression::Zstd, zstd(&p)),
            (Compression::Lzma, lzma(&p)),
        ] {
            assert_eq!(Compression::detect(&stream), Some(format), "{format:?}");
            let img = image(&stream);
            let (elf, from) = extract_vmlinux(&img).unwrap();
            assert_eq!(elf, p, "{format:?}");
            assert_eq!(from.format, format);
            assert_eq!(&img[from.offset..from.offset + 4], &stream[..4]);
            match classify(img).unwrap() {
                Input::Elf(elf, Some(f)) => {
                    assert_eq!(elf, p);
                    assert_eq!(f.format, format);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_compressed_non_elf_is_not_a_kernel() {
        let err = extract_vmlinux(&image(&gzip(b"just text, no ELF here"))).unwrap_err();
        assert!(err.to_string().contains("neither an ELF file"), "{err}");
    }

    #[test]
    fn truncated_streams_are_reported_as_such() {
        let p = payload();
        for stream in [gzip(&p), xz(&p), zstd(&p)] {
            let cut = &stream[..stream.len() / 2];
            let mut img = b"junk ".to_vec();
            img.extend_from_slice(cut);
            let err = extract_vmlinux(&img).unwrap_err().to_string();
            assert!(err.contains("at offset 5 is corrupt or truncated"), "{err}");
        }
    }

    #[test]
    fn unsupported_formats_get_a_hint() {
        let mut img = b"junk ".to_vec();
        img.extend_from_slice(b"\x02\x21\x4c\x18 lz4 data");
        let err = extract_vmlinux(&img).unwrap_err().to_string();
        assert!(err.contains("lz4-compressed"), "{err}");
        assert!(err.contains("extract-vmlinux"), "{err}");
    }

    #[test]
    fn bzimage_header_points_at_the_payload() {
        let p = payload();
        let stream = zstd(&p);
        // setup_sects 2: protected-mode code at 3 * 512; payload 0x100 in.
        let mut img = vec![0u8; 3 * 512 + 0x100];
        img[0x1f1] = 2;
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        img[0x248..0x24c].copy_from_slice(&0x100u32.to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&(stream.len() as u32).to_le_bytes());
        img.extend_from_slice(&stream);
        assert_eq!(bzimage_payload(&img), Some(3 * 512 + 0x100));
        let (elf, from) = extract_vmlinux(&img).unwrap();
        assert_eq!(elf, p);
        assert_eq!(from.offset, 3 * 512 + 0x100);
        // Truncated within the payload: said so, whatever the format
        // gives before its end.
        let cut = &img[..img.len() - stream.len() / 2];
        let err = extract_vmlinux(cut).unwrap_err().to_string();
        assert!(
            err.contains("(the bzImage payload) is corrupt or truncated"),
            "{err}"
        );
        // Old protocol or no header: no payload field.
        img[0x206..0x208].copy_from_slice(&0x0207u16.to_le_bytes());
        assert_eq!(bzimage_payload(&img), None);
        assert_eq!(bzimage_payload(b"short"), None);
    }

    #[test]
    fn classify_tells_elf_btf_and_garbage_apart() {
        assert!(matches!(classify(payload()).unwrap(), Input::Elf(_, None)));
        assert!(matches!(
            classify(vec![0x9f, 0xeb, 1, 0]).unwrap(),
            Input::Btf(_)
        ));
        assert!(classify(Vec::new())
            .unwrap_err()
            .to_string()
            .contains("empty"));
        let err = classify(b"random garbage".to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("neither an ELF file"), "{err}");
    }
}
