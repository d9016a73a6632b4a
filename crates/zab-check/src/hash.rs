//! Deterministic hashing: the same input hashes the same way in every run and on every machine
//! of the same word size, so searches (and their step counts) are reproducible.

use std::hash::{Hash, Hasher};

/// A finaliser that spreads every input bit over the whole output word (the splitmix64 mix).
pub(crate) fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Hashes any `Hash` value with [`StableHasher`].
pub(crate) fn stable_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = StableHasher(0);
    value.hash(&mut h);
    h.finish()
}

/// A small, fast, seedless hasher. Not for adversarial input: the memo and intern tables that use
/// it compare full keys, so collisions only cost time.
pub(crate) struct StableHasher(u64);

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" + "" and "a" + "b" apart once the tails are padded.
            self.write_u64(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(23) ^ v).wrapping_mul(0x2127_599b_f432_5c37);
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        mix64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_equal_and_close_strings_differ() {
        assert_eq!(stable_hash("abc"), stable_hash("abc"));
        assert_ne!(stable_hash("abc"), stable_hash("abd"));
        assert_ne!(stable_hash(&("ab", "")), stable_hash(&("a", "b")));
    }

    #[test]
    fn mix_is_not_the_identity_and_spreads_neighbours() {
        assert_ne!(mix64(1), 1);
        assert!((mix64(1) ^ mix64(2)).count_ones() > 10);
    }
}
