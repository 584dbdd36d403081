//! Zip archives made by hand for the hostile-file tests: parts whose headers can say
//! anything (a size, a flag, a method), and deflate streams of zeros written bit by bit,
//! so a bomb of hundreds of MiB takes no time to make.

use std::io::{Cursor, Read};

/// The parts of a zip archive, in order.
pub fn parts(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
    (0..archive.len())
        .map(|index| {
            let mut part = archive.by_index(index).expect("a part");
            let mut data = Vec::new();
            part.read_to_end(&mut data).expect("the part inflates");
            (part.name().expect("a name").to_string(), data)
        })
        .collect()
}

/// The parts of a zip archive (an .xlsx, say), each stored as it is.
pub fn stored_parts(bytes: &[u8]) -> Vec<RawPart> {
    parts(bytes)
        .into_iter()
        .map(|(name, data)| RawPart::stored(&name, data))
        .collect()
}

/// Bits into bytes, least significant first, as deflate packs them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    count: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.count;
        self.count += count;
        while self.count >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.count -= 8;
        }
    }

    /// A Huffman code, which deflate packs most significant bit first.
    fn code(&mut self, code: u32, length: u32) {
        self.put(code.reverse_bits() >> (32 - length), length);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A raw deflate stream of `1 + 258 * matches` zero bytes, written directly: one
/// fixed-Huffman block holding a literal zero, then `matches` copies of 258 bytes from
/// one byte back. 200 MiB of zeros take 1.3 MB and no time to make.
pub fn deflated_zeros(matches: usize) -> (Vec<u8>, u64) {
    let mut bits = Bits::default();
    bits.put(1, 1); // the last block
    bits.put(1, 2); // fixed Huffman codes
    bits.code(0x30, 8); // literal 0
    for _ in 0..matches {
        bits.code(0xC5, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1 (code 0)
    }
    bits.code(0, 7); // end of block
    (bits.finish(), 1 + 258 * matches as u64)
}

/// The CRC-32 of `length` zero bytes.
pub fn crc32_of_zeros(length: u64) -> u32 {
    let zeros = vec![0u8; 1 << 20];
    let mut crc = 0;
    let mut left = length;
    while left > 0 {
        let take = left.min(zeros.len() as u64) as usize;
        crc = crc32(crc, &zeros[..take]);
        left -= take as u64;
    }
    crc
}

/// One part of an archive written byte by byte, so its headers can say anything.
pub struct RawPart {
    pub name: String,
    /// 0 stored, 8 deflated.
    pub method: u16,
    pub flags: u16,
    pub crc: u32,
    /// The bytes as they sit in the archive.
    pub data: Vec<u8>,
    /// The uncompressed size the local header and the central directory declare.
    pub declared: u32,
}

impl RawPart {
    pub fn stored(name: &str, data: Vec<u8>) -> RawPart {
        RawPart {
            name: name.to_owned(),
            method: 0,
            flags: 0,
            crc: crc32(0, &data),
            declared: data.len() as u32,
            data,
        }
    }
}

/// A zip archive of `parts`, headers exactly as given.
pub fn raw_zip(parts: &[RawPart]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for part in parts {
        let offset = out.len() as u32;
        let name = part.name.as_bytes();
        let mut local = Vec::new();
        local.extend(0x0403_4b50u32.to_le_bytes());
        local.extend(20u16.to_le_bytes()); // version needed
        local.extend(part.flags.to_le_bytes());
        local.extend(part.method.to_le_bytes());
        local.extend(0u16.to_le_bytes()); // time
        local.extend(0x0021u16.to_le_bytes()); // 1980-01-01
        local.extend(part.crc.to_le_bytes());
        local.extend((part.data.len() as u32).to_le_bytes());
        local.extend(part.declared.to_le_bytes());
        local.extend((name.len() as u16).to_le_bytes());
        local.extend(0u16.to_le_bytes()); // extra
        local.extend(name);
        out.extend(&local);
        out.extend(&part.data);

        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes()); // made by
        central.extend(&local[4..30]);
        central.extend(0u16.to_le_bytes()); // comment
        central.extend(0u16.to_le_bytes()); // disk
        central.extend(0u16.to_le_bytes()); // internal attributes
        central.extend(0u32.to_le_bytes()); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name);
    }
    let central_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend((parts.len() as u16).to_le_bytes());
    out.extend((parts.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(central_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// The CRC-32 of zip archives, for tests that write archives byte by byte.
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (n, slot) in table.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        table
    });
    let mut c = !crc;
    for byte in data {
        c = table[((c ^ u32::from(*byte)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}
