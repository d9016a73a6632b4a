//! Purpose-built open-addressing tables for the search: the memo of visited configurations, the
//! state interner, and the transition cache. All store full keys (a fingerprint match is
//! confirmed by comparing the key), probe linearly, grow at half load, and report their heap
//! bytes so the search can stop at a memory budget.

use std::hash::Hash;

use crate::hash::{mix64, stable_hash};

/// Set of visited configurations (bitset of linearized operations, interned state).
///
/// The bitset's first `a_words` words hold the completed operations in invocation order: at
/// any point of the search they read as a run of all-ones words (everything long finished), a
/// short window, then zero words (not invoked yet). Only the window is stored, with its
/// offset, followed by the remaining words (open operations, few). On a 20,000-operation
/// history that is a few words per configuration instead of 313.
pub(crate) struct Memo {
    a_words: usize,
    /// `0` = empty; otherwise the high 32 bits hold the top of the entry's hash (a cheap
    /// pre-check that avoids touching the entry) and the low 32 bits `entry + 1`.
    slots: Vec<u64>,
    hashes: Vec<u64>,
    states: Vec<u32>,
    /// Entry `e`'s key is `data[starts[e]..starts[e + 1]]`: the window offset, then the window
    /// words, then the open operations' words.
    starts: Vec<u32>,
    data: Vec<u64>,
}

impl Memo {
    /// A memo for bitsets whose first `a_words` words hold completed operations.
    pub(crate) fn new(a_words: usize) -> Self {
        Memo {
            a_words,
            slots: vec![0; 1024],
            hashes: Vec::new(),
            states: Vec::new(),
            starts: vec![0],
            data: Vec::new(),
        }
    }

    /// Inserts the configuration; returns false if it was already present.
    pub(crate) fn insert(&mut self, hash: u64, state: u32, bits: &[u64]) -> bool {
        if (self.states.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let (completed, open) = bits.split_at(self.a_words);
        let lo = completed.iter().position(|&w| w != u64::MAX).unwrap_or(completed.len());
        let hi = completed.iter().rposition(|&w| w != 0).map_or(lo, |i| (i + 1).max(lo));
        let window = &completed[lo..hi];
        let mask = self.slots.len() - 1;
        let tag = hash & 0xffff_ffff_0000_0000;
        let mut i = (hash as usize) & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                let entry = self.states.len();
                self.hashes.push(hash);
                self.states.push(state);
                self.data.push(lo as u64);
                self.data.extend_from_slice(window);
                self.data.extend_from_slice(open);
                self.starts.push(self.data.len() as u32);
                self.slots[i] = tag | (entry as u64 + 1);
                return true;
            }
            if slot & 0xffff_ffff_0000_0000 == tag {
                let entry = (slot & 0xffff_ffff) as usize - 1;
                let key = &self.data[self.starts[entry] as usize..self.starts[entry + 1] as usize];
                if self.states[entry] == state
                    && key.len() == 1 + window.len() + open.len()
                    && key[0] == lo as u64
                    && key[1..=window.len()] == *window
                    && key[1 + window.len()..] == *open
                {
                    return false;
                }
            }
            i = (i + 1) & mask;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.slots.capacity() * 8
            + self.hashes.capacity() * 8
            + self.states.capacity() * 4
            + self.starts.capacity() * 4
            + self.data.capacity() * 8
    }

    /// The bytes the table would hold right after its next growth.
    pub(crate) fn bytes_after_growth(&self) -> usize {
        self.bytes() + self.slots.len() * 8
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![0u64; size];
        for (entry, &hash) in self.hashes.iter().enumerate() {
            let mut i = (hash as usize) & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = (hash & 0xffff_ffff_0000_0000) | (entry as u64 + 1);
        }
        self.slots = slots;
    }
}

/// Every distinct model state, stored once and named by a small integer. Its byte count sees
/// only the states' inline size, not heap data they own (strings, maps).
pub(crate) struct Interner<S> {
    states: Vec<S>,
    hashes: Vec<u64>,
    slots: Vec<u32>,
}

impl<S: Hash + Eq> Interner<S> {
    pub(crate) fn new() -> Self {
        Interner { states: Vec::new(), hashes: Vec::new(), slots: vec![0; 64] }
    }

    pub(crate) fn intern(&mut self, state: S) -> u32 {
        if (self.states.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let hash = stable_hash(&state);
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                let id = self.states.len() as u32;
                self.states.push(state);
                self.hashes.push(hash);
                self.slots[i] = id + 1;
                return id;
            }
            let id = slot - 1;
            if self.hashes[id as usize] == hash && self.states[id as usize] == state {
                return id;
            }
            i = (i + 1) & mask;
        }
    }

    pub(crate) fn get(&self, id: u32) -> &S {
        &self.states[id as usize]
    }

    pub(crate) fn bytes(&self) -> usize {
        self.states.capacity() * std::mem::size_of::<S>()
            + self.hashes.capacity() * 8
            + self.slots.capacity() * 4
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![0u32; size];
        for (id, &hash) in self.hashes.iter().enumerate() {
            let mut i = (hash as usize) & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = id as u32 + 1;
        }
        self.slots = slots;
    }
}

/// Cache of model steps: (operation, state) → the interned next states.
///
/// Direct-mapped and lossy: a new pair evicts whatever shared its slot. Models with few states
/// (registers, locks) see nearly every step answered from here; models whose states rarely
/// repeat (kv values that grow by appends) pay one probe per step instead of a growing table.
/// Successor lists live in an append-only arena, so indices handed out stay valid even after
/// their slot is evicted (the search keeps them to try the remaining successors later).
pub(crate) struct Transitions {
    /// Key `(op << 32) | state`, or `u64::MAX` when empty.
    keys: Vec<u64>,
    /// `(start << 32) | len` into `next`.
    values: Vec<u64>,
    next: Vec<u32>,
}

/// Most slots in the transition cache (a power of two): 1 MiB of keys and values.
const TRANSITION_SLOTS_MAX: usize = 1 << 16;

impl Transitions {
    /// A cache sized for a part of `ops` operations: small parts keep it in the fastest caches.
    pub(crate) fn for_ops(ops: usize) -> Self {
        let slots = (ops.saturating_mul(16)).next_power_of_two().clamp(256, TRANSITION_SLOTS_MAX);
        Transitions { keys: vec![u64::MAX; slots], values: vec![0; slots], next: Vec::new() }
    }

    /// The cached successors as `(start, len)` into [`Transitions::successor`], if known.
    #[inline]
    pub(crate) fn lookup(&self, op: u32, state: u32) -> Option<(u32, u32)> {
        let key = (u64::from(op) << 32) | u64::from(state);
        let i = (mix64(key) as usize) & (self.keys.len() - 1);
        if self.keys[i] == key {
            let v = self.values[i];
            return Some(((v >> 32) as u32, v as u32));
        }
        None
    }

    pub(crate) fn store(&mut self, op: u32, state: u32, successors: &[u32]) -> (u32, u32) {
        let start = self.next.len() as u32;
        self.next.extend_from_slice(successors);
        let key = (u64::from(op) << 32) | u64::from(state);
        let i = (mix64(key) as usize) & (self.keys.len() - 1);
        self.keys[i] = key;
        self.values[i] = (u64::from(start) << 32) | successors.len() as u64;
        (start, successors.len() as u32)
    }

    #[inline]
    pub(crate) fn successor(&self, index: u32) -> u32 {
        self.next[index as usize]
    }

    pub(crate) fn bytes(&self) -> usize {
        self.keys.capacity() * 8 + self.values.capacity() * 8 + self.next.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_keys_differ_by_window_position_and_open_words() {
        let mut memo = Memo::new(3);
        // Same window contents at different offsets are different sets.
        assert!(memo.insert(1, 0, &[u64::MAX, 5, 0, 0]));
        assert!(memo.insert(1, 0, &[5, 0, 0, 0]));
        assert!(memo.insert(1, 0, &[u64::MAX, 5, 0, 1]));
        assert!(memo.insert(1, 0, &[u64::MAX, u64::MAX, u64::MAX, 0]));
        assert!(memo.insert(1, 0, &[0, 0, 0, 0]));
        assert!(!memo.insert(1, 0, &[u64::MAX, 5, 0, 1]));
        assert!(!memo.insert(1, 0, &[5, 0, 0, 0]));
        assert!(!memo.insert(1, 0, &[u64::MAX, u64::MAX, u64::MAX, 0]));
        assert!(!memo.insert(1, 0, &[0, 0, 0, 0]));
        assert_eq!(memo.len(), 5);
    }

    #[test]
    fn memo_tells_new_configurations_from_seen_ones_even_when_hashes_collide() {
        let mut memo = Memo::new(1);
        assert!(memo.insert(7, 0, &[1, 0]));
        assert!(!memo.insert(7, 0, &[1, 0]));
        // Same hash, different key: both must be kept (a collision must not merge them).
        assert!(memo.insert(7, 1, &[1, 0]));
        assert!(memo.insert(7, 0, &[3, 0]));
        for i in 0..5000u64 {
            assert!(memo.insert(mix64(i), 2, &[i, 1]));
        }
        assert!(!memo.insert(7, 0, &[3, 0]));
        assert!(!memo.insert(mix64(4321), 2, &[4321, 1]));
        assert_eq!(memo.len(), 5003);
    }

    #[test]
    fn interner_gives_equal_states_the_same_id() {
        let mut interner = Interner::new();
        let a = interner.intern("a".to_string());
        let b = interner.intern("b".to_string());
        for i in 0..1000 {
            interner.intern(format!("s{i}"));
        }
        assert_eq!(interner.intern("a".to_string()), a);
        assert_ne!(a, b);
        assert_eq!(interner.get(b), "b");
    }

    #[test]
    fn transitions_answer_recent_steps_and_keep_evicted_successor_lists_readable() {
        let mut t = Transitions::for_ops(1000);
        let kept = t.store(42, 0, &[42, 43]);
        for op in 0..300u32 {
            t.store(op, op % 7, &[op, op + 1]);
        }
        t.store(5, 9, &[]);
        let (start, len) = t.lookup(42, 0).expect("stored");
        assert_eq!((t.successor(start), t.successor(start + 1), len), (42, 43, 2));
        assert_eq!(t.lookup(5, 9).map(|(_, len)| len), Some(0));
        assert_eq!(t.lookup(42, 1), None);
        // However many pairs evict it, a list handed out earlier stays intact.
        for op in 0..(4 * TRANSITION_SLOTS_MAX as u32) {
            t.store(op, 1, &[op]);
        }
        assert_eq!((t.successor(kept.0), t.successor(kept.0 + 1)), (42, 43));
    }
}
