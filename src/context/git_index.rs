//! File sizes from the git index, so the analysis of a checkout does not `stat` every file.
//!
//! On the machines we run on a `stat` costs several times what the walk spends per file, and the
//! walk is the baseline the analysis is held to. Git already recorded the size of every tracked
//! file in `.git/index` when it checked the tree out; one read of that file answers for all of
//! them. Files the index does not know (untracked, or an index we cannot use) are `stat`ed. A
//! `.git` gitfile is followed to the git dir it names.
//!
//! The size is as of the last checkout or `git add`: exact for the fresh clone a job analyses;
//! for a tracked file edited since and not added, the analysis reports its size at checkout.
//!
//! Supported: index versions 2, 3 and 4 (prefix-compressed paths), SHA-1 object names. Anything
//! else (a split index, SHA-256, a damaged file) makes [`IndexSizes::load`] return `None`.

use std::path::{Path, PathBuf};

#[cfg(test)]
mod tests;

/// The git dir of the checkout at `root`: `.git`, or where a `.git` gitfile points (a job's clone
/// keeps its git dir beside the work tree). Only sizes and ignore rules are read from it.
pub(super) fn git_dir(root: &Path) -> PathBuf {
    let dot_git = root.join(".git");
    if !dot_git.is_file() {
        return dot_git;
    }
    std::fs::read_to_string(&dot_git)
        .ok()
        .and_then(|text| text.strip_prefix("gitdir:").map(|target| root.join(target.trim())))
        .unwrap_or(dot_git)
}

/// Index files larger than this are not read (about two million entries).
const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;
/// Fixed part of an entry: ctime, mtime, dev, ino, mode, uid, gid, size (40 bytes), SHA-1 (20),
/// flags (2).
const ENTRY_FIXED: usize = 62;
const SHA1_BYTES: usize = 20;

/// Sizes of the regular files of stage 0, by path: an open-addressing hash table, because this
/// is asked once per file of the walk and must cost far less than the `stat` it replaces.
#[derive(Debug)]
pub(super) struct IndexSizes {
    /// All paths, back to back.
    paths: Vec<u8>,
    /// `(start, end, size)` into `paths`.
    entries: Vec<(u32, u32, u32)>,
    /// Slots holding an entry's position + 1 (0 = empty); a power of two long.
    slots: Vec<u32>,
}

impl IndexSizes {
    /// Reads the index of the checkout at `root`; `None` when there is none or it cannot be used.
    pub(super) fn load(root: &Path) -> Option<Self> {
        let file = git_dir(root).join("index");
        let metadata = std::fs::metadata(&file).ok()?;
        if !metadata.is_file() || metadata.len() > MAX_INDEX_BYTES {
            return None;
        }
        parse(&std::fs::read(&file).ok()?)
    }

    /// The recorded size of the file at `relative` (`/`-separated bytes).
    pub(super) fn size_of(&self, relative: &[u8]) -> Option<u64> {
        let mask = self.slots.len() - 1;
        let mut slot = (path_hash(relative) as usize) & mask;
        loop {
            let index = self.slots[slot];
            if index == 0 {
                return None;
            }
            let (start, end, size) = self.entries[index as usize - 1];
            if &self.paths[start as usize..end as usize] == relative {
                return Some(u64::from(size));
            }
            slot = (slot + 1) & mask;
        }
    }

    fn new(paths: Vec<u8>, entries: Vec<(u32, u32, u32)>) -> Option<Self> {
        let capacity = (entries.len() * 2).max(16).checked_next_power_of_two()?;
        let mut slots = vec![0u32; capacity];
        let mask = capacity - 1;
        for (position, &(start, end, _)) in entries.iter().enumerate() {
            let mut slot = (path_hash(&paths[start as usize..end as usize]) as usize) & mask;
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = u32::try_from(position + 1).ok()?;
        }
        Some(Self { paths, entries, slots })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

fn be_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes: [u8; 2] = data.get(at..at + 2)?.try_into().ok()?;
    Some(u16::from_be_bytes(bytes))
}

fn parse(data: &[u8]) -> Option<IndexSizes> {
    if data.get(..4)? != b"DIRC" {
        return None;
    }
    let version = be_u32(data, 4)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = be_u32(data, 8)? as usize;
    let body_end = data.len().checked_sub(SHA1_BYTES)?;
    let mut paths: Vec<u8> = Vec::with_capacity(count.saturating_mul(32).min(data.len()));
    let mut entries = Vec::with_capacity(count.min(data.len() / ENTRY_FIXED));
    let mut previous: Vec<u8> = Vec::new();
    let mut pos = 12;
    for _ in 0..count {
        let mode = be_u32(data, pos + 24)?;
        let size = be_u32(data, pos + 36)?;
        let flags = be_u16(data, pos + 60)?;
        let mut name_at = pos + ENTRY_FIXED;
        if flags & 0x4000 != 0 {
            if version < 3 {
                return None;
            }
            name_at += 2;
        }
        let name_len = usize::from(flags & 0x0FFF);
        let name: &[u8];
        let next;
        if version == 4 {
            let (strip, after) = varint(data, name_at)?;
            let nul = after + data.get(after..body_end)?.iter().position(|b| *b == 0)?;
            let keep = previous.len().checked_sub(strip)?;
            previous.truncate(keep);
            previous.extend_from_slice(&data[after..nul]);
            name = &previous;
            next = nul + 1;
        } else {
            let nul = name_at + data.get(name_at..body_end)?.iter().position(|b| *b == 0)?;
            name = &data[name_at..nul];
            // Entries are padded with 1 to 8 NULs to a multiple of eight bytes.
            next = pos + ((nul - pos + 8) & !7);
        }
        if name.is_empty() || (name_len < 0x0FFF && name.len() != name_len) {
            return None;
        }
        let stage = (flags >> 12) & 0b11;
        let kind = mode >> 12;
        // Regular files only (mode 0b1000 in the type bits): the walk skips symlinks and gitlinks.
        // A size of 0 is also what `git add -N` records and what a 4 GiB file wraps to: stat those.
        if stage == 0 && kind == 0b1000 && size != 0 {
            let start = u32::try_from(paths.len()).ok()?;
            paths.extend_from_slice(name);
            let end = u32::try_from(paths.len()).ok()?;
            entries.push((start, end, size));
        }
        pos = next;
        if pos > body_end {
            return None;
        }
    }
    // A split index keeps part of its entries in another file; we would miss them.
    while pos + 8 <= body_end {
        let signature = data.get(pos..pos + 4)?;
        if signature == b"link" {
            return None;
        }
        let length = be_u32(data, pos + 4)? as usize;
        pos = pos.checked_add(8 + length)?;
    }
    IndexSizes::new(paths, entries)
}

/// A fast non-cryptographic hash (FxHash's multiply-rotate over eight bytes at a time): paths are
/// not attacker-chosen in a way that matters here, and a collision only costs a probe.
fn path_hash(bytes: &[u8]) -> u64 {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut hash: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    hash = (hash.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(SEED);
    // Fold the high bits in: the table uses the low ones.
    hash ^ (hash >> 29)
}

/// Git's offset varint (as in pack files' OFS_DELTA): returns the value and the position after it.
fn varint(data: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut byte = *data.get(at)?;
    at += 1;
    let mut value = usize::from(byte & 0x7F);
    while byte & 0x80 != 0 {
        byte = *data.get(at)?;
        at += 1;
        value = value.checked_add(1)?.checked_shl(7)? | usize::from(byte & 0x7F);
    }
    Some((value, at))
}
