//! The write-ahead file's format, as pure functions. An append is durable once its record is here and
//! fsynced; tiles are published from it later. Layout:
//!
//! ```text
//! header:  "TLOGWAL1" ‖ base index u64 BE ‖ CRC-32 of the preceding 16 bytes, u32 BE
//! record:  length u16 BE ‖ entry ‖ CRC-32(index u64 BE ‖ length ‖ entry), u32 BE
//! ```
//!
//! Record `i` (counting from 0) holds entry `base + i`; its checksum covers that index, so a record
//! cannot be read at another position. Decoding stops at the first incomplete or corrupt record: what a
//! crash mid-write leaves, which recovery truncates away.

/// The header's magic bytes.
pub const MAGIC: &[u8; 8] = b"TLOGWAL1";
/// The header's length in bytes.
pub const HEADER_LEN: usize = 20;

/// The header of a write-ahead file whose first record is entry `base`.
pub fn encode_header(base: u64) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&base.to_be_bytes());
    let crc = crc32fast::hash(&h);
    h.extend_from_slice(&crc.to_be_bytes());
    h
}

/// Appends the record of entry `index` to `out`; the entry must fit a u16 length.
pub fn encode_record(index: u64, entry: &[u8], out: &mut Vec<u8>) -> bool {
    let Ok(len) = u16::try_from(entry.len()) else {
        return false;
    };
    let mut crc = crc32fast::Hasher::new();
    crc.update(&index.to_be_bytes());
    crc.update(&len.to_be_bytes());
    crc.update(entry);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(entry);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    true
}

/// What a write-ahead file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalContents {
    /// The index of the first record's entry.
    pub base: u64,
    /// The entries of the complete, intact records, in order.
    pub entries: Vec<Vec<u8>>,
    /// The byte offset where each entry's record starts.
    pub offsets: Vec<u64>,
    /// The length of the valid prefix: header and intact records.
    pub valid_len: u64,
    /// Bytes after the valid prefix (a torn or corrupt tail) that recovery cuts away.
    pub torn_bytes: u64,
}

/// Why a write-ahead file cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalError {
    /// The header is missing or damaged (it is written atomically, so this is not a crash).
    #[error("the write-ahead file's header is damaged")]
    BadHeader,
}

/// Decodes a write-ahead file, stopping at the first incomplete or corrupt record.
pub fn decode(bytes: &[u8]) -> Result<WalContents, WalError> {
    let header = bytes.get(..HEADER_LEN).ok_or(WalError::BadHeader)?;
    if &header[..8] != MAGIC || crc32fast::hash(&header[..16]).to_be_bytes() != header[16..20] {
        return Err(WalError::BadHeader);
    }
    let mut base_bytes = [0u8; 8];
    base_bytes.copy_from_slice(&header[8..16]);
    let base = u64::from_be_bytes(base_bytes);
    let mut pos = HEADER_LEN;
    let mut entries = Vec::new();
    let mut offsets = Vec::new();
    while let Some(len_bytes) = bytes.get(pos..pos + 2) {
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let Some(entry) = bytes.get(pos + 2..pos + 2 + len) else {
            break;
        };
        let Some(crc_bytes) = bytes.get(pos + 2 + len..pos + 6 + len) else {
            break;
        };
        let index = base + entries.len() as u64;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&index.to_be_bytes());
        crc.update(len_bytes);
        crc.update(entry);
        if crc.finalize().to_be_bytes() != crc_bytes {
            break;
        }
        offsets.push(pos as u64);
        entries.push(entry.to_vec());
        pos += len + 6;
    }
    Ok(WalContents {
        base,
        entries,
        offsets,
        valid_len: pos as u64,
        torn_bytes: (bytes.len() - pos) as u64,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn file(base: u64, entries: &[&[u8]]) -> Vec<u8> {
        let mut f = encode_header(base);
        for (i, e) in entries.iter().enumerate() {
            assert!(encode_record(base + i as u64, e, &mut f));
        }
        f
    }

    #[test]
    fn intact_files_decode_whole() {
        let f = file(7, &[b"a", b"", b"ccc"]);
        let c = decode(&f).unwrap();
        assert_eq!(c.base, 7);
        assert_eq!(c.entries, vec![b"a".to_vec(), vec![], b"ccc".to_vec()]);
        assert_eq!(c.offsets, vec![20, 27, 33]);
        assert_eq!((c.valid_len, c.torn_bytes), (f.len() as u64, 0));
    }

    /// Every way a crash or a bad sector can end the file: decoding keeps exactly the intact records
    /// before it.
    #[test]
    fn decoding_stops_at_the_first_torn_or_corrupt_record() {
        let f = file(0, &[b"first", b"second", b"third"]);
        let two = decode(&f).unwrap().offsets[2] as usize;
        let mut flipped_entry = f.clone();
        flipped_entry[two + 3] ^= 1;
        let mut flipped_len = f.clone();
        flipped_len[two] ^= 0x80;
        let mut flipped_crc = f.clone();
        let last = flipped_crc.len() - 1;
        flipped_crc[last] ^= 1;
        let mut zeros = f[..two].to_vec();
        zeros.extend_from_slice(&[0u8; 64]);
        let mut swapped = file(0, &[b"first", b"second"]);
        swapped.truncate(two);
        let mut moved = encode_header(0);
        encode_record(0, b"first", &mut moved);
        encode_record(5, b"second", &mut moved);
        let cases: Vec<(&str, Vec<u8>, usize)> = vec![
            ("cut inside the checksum", f[..f.len() - 1].to_vec(), 2),
            ("cut inside the entry", f[..two + 4].to_vec(), 2),
            ("cut inside the length", f[..two + 1].to_vec(), 2),
            ("cut at a record boundary", f[..two].to_vec(), 2),
            ("a flipped entry byte", flipped_entry, 2),
            ("a flipped length bit", flipped_len, 2),
            ("a flipped checksum bit", flipped_crc, 2),
            ("a zero-filled tail", zeros, 2),
            ("a record written for another index", moved, 1),
            ("the whole file", swapped, 2),
        ];
        for (name, bytes, want) in cases {
            let c = decode(&bytes).unwrap();
            assert_eq!(c.entries.len(), want, "{name}");
            assert_eq!(c.valid_len + c.torn_bytes, bytes.len() as u64, "{name}");
            assert_eq!(decode(&bytes[..c.valid_len as usize]).unwrap().torn_bytes, 0, "{name}");
        }
    }

    #[test]
    fn damaged_headers_are_refused() {
        let f = file(3, &[b"x"]);
        for cut in [0, 5, 19] {
            assert_eq!(decode(&f[..cut]), Err(WalError::BadHeader));
        }
        let mut bad = f.clone();
        bad[9] ^= 1;
        assert_eq!(decode(&bad), Err(WalError::BadHeader));
        assert!(!encode_record(0, &vec![0u8; 65536], &mut Vec::new()));
    }
}
