//! The hash table's pure parts: the key hash and the bucket count. The chains
//! themselves run through the entries (`store.rs`).

/// The key hash. Eight bytes per step (a multiply-rotate mix, as in FxHash), then
/// a final fold of the high bits: keys are short host names, and collisions only
/// cost a full key comparison. The hash only has to agree with itself: a zone is
/// reused across reloads by the same module file only (nginx matches zones by the
/// module's tag, an address in the loaded file).
pub(super) fn hash(key: &[u8]) -> u32 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    (h ^ (h >> 32)) as u32
}

/// Buckets for a zone of `zone_bytes`: about one per 256 bytes, a power of two,
/// at least 64.
pub(crate) fn buckets_for(zone_bytes: usize) -> usize {
    (zone_bytes / 256).next_power_of_two().max(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_count_is_a_power_of_two_of_about_one_per_256_bytes() {
        assert_eq!(buckets_for(0), 64);
        assert_eq!(buckets_for(32 * 1024), 128);
        assert_eq!(buckets_for(64 << 20), 262_144);
        assert_eq!(buckets_for(64 * 1024 + 1), 256);
    }

    #[test]
    fn hash_reads_every_byte_of_the_key() {
        // Keys that differ in one byte at every position, in the 8-byte
        // chunks and in the tail, and keys that differ only in length.
        let base = b"h0000000001.example.com".to_vec();
        for i in 0..base.len() {
            let mut k = base.clone();
            k[i] ^= 1;
            assert_ne!(hash(&k), hash(&base), "byte {i}");
        }
        assert_ne!(hash(b"ab"), hash(b"ab\0"));
        assert_ne!(hash(b""), hash(b"\0"));
    }
}
