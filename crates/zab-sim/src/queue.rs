//! The event queue: one priority queue ordered by `(at, seq)`.
//!
//! `seq` is a global counter incremented on every push, so two events due at the same instant pop
//! in the order they were scheduled, identically on every run. Idle time costs nothing: the run
//! loop jumps straight to the next event's time.
//!
//! The heap holds only 16-byte keys: the due instant, and the sequence number packed with the
//! index of the slot that holds the event itself. Sifting moves keys, never events, however large
//! an event is, and a slot freed by a pop is reused by the next push (no allocation per event once
//! the queue has reached its working size).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// A deterministic time-ordered queue of events of type `E`.
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Key>>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    next_seq: u64,
}

/// Bits of a key's `seq_slot` that hold the slot index; the sequence number is above them.
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

/// Orders by instant, then by sequence number (the slot bits below it never decide: sequence
/// numbers are unique).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    at: u64,
    seq_slot: u64,
}

impl<E> EventQueue<E> {
    pub fn new() -> EventQueue<E> {
        EventQueue { heap: BinaryHeap::new(), slots: Vec::new(), free: Vec::new(), next_seq: 0 }
    }

    /// Schedules `event` at `at`; returns its sequence number.
    ///
    /// Panics if more than 2^24 events are pending at once or 2^40 were ever pushed (a runaway
    /// simulation, far beyond any run the simulator makes).
    pub fn push(&mut self, at: SimTime, event: E) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        assert!(seq < 1 << (64 - SLOT_BITS), "event queue: sequence numbers exhausted");
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(event);
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).ok().filter(|s| u64::from(*s) <= SLOT_MASK);
                let s = s.expect("event queue: more than 2^24 events pending");
                self.slots.push(Some(event));
                s
            }
        };
        self.heap.push(Reverse(Key { at: at.0, seq_slot: (seq << SLOT_BITS) | u64::from(slot) }));
        seq
    }

    /// Removes and returns the earliest event (ties: the one scheduled first).
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let Reverse(key) = self.heap.pop()?;
        let slot = (key.seq_slot & SLOT_MASK) as u32;
        let event = self.slots[slot as usize].take().expect("a queued key names a filled slot");
        self.free.push(slot);
        Some((SimTime(key.at), event))
    }

    /// When the earliest event is due.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse(k)| SimTime(k.at))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// How many events were ever pushed.
    pub fn pushed(&self) -> u64 {
        self.next_seq
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_in_time_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(30), "c");
        q.push(SimTime(10), "a");
        q.push(SimTime(20), "b");
        assert_eq!(q.peek_time(), Some(SimTime(10)));
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn simultaneous_events_pop_in_the_order_they_were_scheduled() {
        let mut q = EventQueue::new();
        for i in 0..100 {
            q.push(SimTime(5), i);
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
        assert_eq!(q.pushed(), 100);
        assert!(q.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn pops_are_sorted_by_time_then_insertion(times in proptest::collection::vec(0u64..20, 0..200)) {
            let mut q = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.push(SimTime(*t), i);
            }
            let popped: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(t, i)| (t.0, i)).collect();
            let mut expected: Vec<_> = times.iter().enumerate().map(|(i, t)| (*t, i)).collect();
            expected.sort();
            proptest::prop_assert_eq!(popped, expected);
        }

        /// Pops interleaved with pushes reuse freed slots; the order must still match a plain
        /// sorted list of `(time, insertion)`.
        #[test]
        fn interleaved_pushes_and_pops_match_a_sorted_model(
            steps in proptest::collection::vec(proptest::option::of(0u64..30), 0..300)
        ) {
            let mut q = EventQueue::new();
            let mut model: Vec<(u64, usize)> = Vec::new();
            for (i, step) in steps.iter().enumerate() {
                match step {
                    Some(t) => {
                        q.push(SimTime(*t), i);
                        model.push((*t, i));
                    }
                    None => {
                        model.sort();
                        let expected = (!model.is_empty()).then(|| model.remove(0));
                        proptest::prop_assert_eq!(q.pop().map(|(t, e)| (t.0, e)), expected);
                    }
                }
                proptest::prop_assert_eq!(q.len(), model.len());
                proptest::prop_assert_eq!(q.peek_time().map(|t| t.0), model.iter().min().map(|m| m.0));
            }
        }
    }
}
