//! The order in which the client tries servers: the connect string's servers shuffled once with the
//! client's seeded RNG (ZooKeeper's client shuffles so that clients spread over the ensemble), then
//! visited round robin. Coming back to the server of the last successful connection (or, before the
//! first one, to the first server tried) means every server was tried once: the caller then waits
//! a spin delay before going on, so a client cut off from the whole ensemble does not spin.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::ServerIndex;

#[derive(Clone, Debug)]
pub(crate) struct HostRing {
    order: Vec<ServerIndex>,
    /// Position in `order` of the server tried last; `None` before the first attempt.
    cursor: Option<usize>,
    /// Position of the last successful connection (or of the first attempt).
    anchor: Option<usize>,
}

impl HostRing {
    pub(crate) fn new(count: usize, rng: &mut ChaCha8Rng) -> HostRing {
        assert!(count > 0, "a connect string names at least one server");
        let mut order: Vec<ServerIndex> = (0..count).map(ServerIndex).collect();
        order.shuffle(rng);
        HostRing { order, cursor: None, anchor: None }
    }

    /// The shuffled order.
    pub(crate) fn order(&self) -> &[ServerIndex] {
        &self.order
    }

    /// The next server to try, and whether reaching it completes a full cycle.
    pub(crate) fn next(&mut self) -> (ServerIndex, bool) {
        let position = self.cursor.map_or(0, |c| (c + 1) % self.order.len());
        self.cursor = Some(position);
        let cycled = self.anchor == Some(position);
        self.anchor.get_or_insert(position);
        (self.order[position], cycled)
    }

    /// Makes `server` the one tried last (the application chose it).
    pub(crate) fn point_at(&mut self, server: ServerIndex) {
        let position = self.order.iter().position(|s| *s == server).expect("server index was checked");
        self.cursor = Some(position);
        self.anchor.get_or_insert(position);
    }

    /// The server tried last is now connected.
    pub(crate) fn on_connected(&mut self) {
        self.anchor = self.cursor;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn every_server_is_tried_once_before_a_cycle_completes() {
        let mut ring = HostRing::new(3, &mut ChaCha8Rng::seed_from_u64(1));
        let tried: Vec<(ServerIndex, bool)> = (0..4).map(|_| ring.next()).collect();
        let order = ring.order().to_vec();
        assert_eq!(tried, [(order[0], false), (order[1], false), (order[2], false), (order[0], true)]);
    }

    #[test]
    fn after_a_connection_the_cycle_ends_back_at_that_server() {
        let mut ring = HostRing::new(3, &mut ChaCha8Rng::seed_from_u64(1));
        ring.next();
        ring.next();
        ring.on_connected();
        let order = ring.order().to_vec();
        assert_eq!(ring.next(), (order[2], false));
        assert_eq!(ring.next(), (order[0], false));
        assert_eq!(ring.next(), (order[1], true));
    }

    #[test]
    fn the_shuffle_depends_on_the_seed_only() {
        let order = |seed| HostRing::new(8, &mut ChaCha8Rng::seed_from_u64(seed)).order().to_vec();
        assert_eq!(order(5), order(5));
        assert!((0..20).any(|seed| order(seed) != order(5)), "some seed must give another order");
        let mut sorted = order(5);
        sorted.sort();
        assert_eq!(sorted, (0..8).map(ServerIndex).collect::<Vec<_>>());
    }
}
