//! The network: FIFO connections with drawn latency, partitions, clogs, delay spikes and resets.
//!
//! ZAB assumes one FIFO stream per pair of servers, so the model is connection-based. Every
//! [`LinkId`] is one connection between two [`Addr`]esses with a queue per direction. A message
//! sent at `now` is due at `now + latency`, but never before the message ahead of it on the same
//! direction: a live connection never reorders. Messages on *different* connections interleave
//! freely, and a reset loses what was in flight, which is the only loss and the only reordering
//! the model has.
//!
//! A direction is *held* while a partition blocks it or either end is clogged: its queue keeps the
//! messages in order (as TCP buffers them while retransmitting) and releases them after
//! [`Network::release_held`]. The host's own timeouts (syncLimit, the client's read timeout)
//! decide when to give up on a held connection and reset it, as the real server does.
//!
//! The network does not own the event queue: `send` and `release_held` return the instant at which
//! the host must call [`Network::wake`] for a direction, and `wake` delivers at most one message.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::rng::Latency;
use crate::time::SimTime;

/// An endpoint: a server (by its id) or a workload client (by its slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Addr {
    Server(u64),
    Client(u32),
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Server(id) => write!(f, "s{id}"),
            Addr::Client(c) => write!(f, "c{c}"),
        }
    }
}

/// Which kind of connection a link is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Channel {
    /// Server to server, carrying quorum packets (one per pair).
    Quorum,
    /// Server to server, carrying election notifications (one per pair).
    Election,
    /// Client to server session connection.
    Client,
}

/// A connection, numbered from 0 in the order they were opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LinkId(pub u64);

/// One direction of a link: 0 is from `a` to `b` (the opener to the acceptor), 1 the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dir {
    pub link: LinkId,
    pub reverse: bool,
}

/// What a wake-up found.
#[derive(Debug, PartialEq)]
pub enum Wake<M> {
    /// Deliver `msg` from `from` to `to` now; if `next` is set, wake this direction again then.
    Deliver { from: Addr, to: Addr, msg: M, next: Option<SimTime> },
    /// Nothing to deliver now; if `next` is set, wake this direction again then.
    Idle { next: Option<SimTime> },
}

/// Counters for benchmarks and status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    /// Messages lost to resets (in flight or sent on a closed link).
    pub lost: u64,
    pub resets: u64,
}

/// The simulated network.
pub struct Network<M> {
    links: Vec<Link<M>>,
    pairs: BTreeMap<(Channel, Addr, Addr), LinkId>,
    /// Directed pairs that cannot talk: `(from, to)`.
    blocked: BTreeSet<(Addr, Addr)>,
    clogged: BTreeSet<Addr>,
    /// Extra latency per endpoint until an instant (delay spikes, slow nodes).
    extra: BTreeMap<Addr, (SimTime, Latency)>,
    latency: Latency,
    pub stats: NetStats,
}

struct Link<M> {
    chan: Channel,
    a: Addr,
    b: Addr,
    open: bool,
    queues: [VecDeque<(SimTime, M)>; 2],
    /// The instant of the latest wake-up scheduled per direction, to avoid scheduling duplicates.
    wake_at: [Option<SimTime>; 2],
}

impl<M> Network<M> {
    /// A network whose messages take `latency` to cross.
    pub fn new(latency: Latency) -> Network<M> {
        Network {
            links: Vec::new(),
            pairs: BTreeMap::new(),
            blocked: BTreeSet::new(),
            clogged: BTreeSet::new(),
            extra: BTreeMap::new(),
            latency,
            stats: NetStats::default(),
        }
    }

    /// Opens a connection from `a` to `b`. For `Quorum` and `Election` channels there is at most
    /// one open link per unordered pair; opening again resets the old one first (returned second).
    pub fn open(&mut self, chan: Channel, a: Addr, b: Addr) -> (LinkId, Option<LinkId>) {
        let replaced = if chan == Channel::Client {
            None
        } else {
            let old = self.pair_link(chan, a, b);
            if let Some(old) = old {
                self.reset(old);
            }
            old
        };
        let id = LinkId(self.links.len() as u64);
        self.links.push(Link {
            chan,
            a,
            b,
            open: true,
            queues: [VecDeque::new(), VecDeque::new()],
            wake_at: [None, None],
        });
        if chan != Channel::Client {
            self.pairs.insert(pair_key(chan, a, b), id);
        }
        (id, replaced)
    }

    /// The open server-to-server link of `chan` between `a` and `b`, if any.
    pub fn pair_link(&self, chan: Channel, a: Addr, b: Addr) -> Option<LinkId> {
        self.pairs.get(&pair_key(chan, a, b)).copied().filter(|l| self.links[l.0 as usize].open)
    }

    /// The endpoints `(opener, acceptor)` and channel of a link.
    pub fn ends(&self, link: LinkId) -> (Addr, Addr, Channel) {
        let l = &self.links[link.0 as usize];
        (l.a, l.b, l.chan)
    }

    pub fn is_open(&self, link: LinkId) -> bool {
        self.links[link.0 as usize].open
    }

    /// Queues `msg` from `from` on `link`. Returns when to wake the direction, if a wake-up is
    /// needed; a message on a closed link is lost (`None`).
    pub fn send(
        &mut self,
        now: SimTime,
        link: LinkId,
        from: Addr,
        msg: M,
        rng: &mut impl Rng,
    ) -> Option<SimTime> {
        self.stats.sent += 1;
        let delay = self.draw_latency(now, from, rng);
        let l = &mut self.links[link.0 as usize];
        if !l.open {
            self.stats.lost += 1;
            return None;
        }
        let reverse = from == l.b;
        assert!(reverse || from == l.a, "{from} is not an end of link {link:?}");
        let q = &mut l.queues[usize::from(reverse)];
        let floor = q.back().map_or(SimTime::ZERO, |(t, _)| *t);
        let at = now.plus_ns(delay).max(floor);
        q.push_back((at, msg));
        if q.len() == 1 {
            return self.schedule(Dir { link, reverse }, at);
        }
        None
    }

    /// Called at a wake-up instant for `dir`: delivers the head message if it is due and the
    /// direction is not held.
    pub fn wake(&mut self, now: SimTime, dir: Dir) -> Wake<M> {
        let held = self.is_held(dir);
        let l = &mut self.links[dir.link.0 as usize];
        let i = usize::from(dir.reverse);
        if l.wake_at[i].is_some_and(|t| t <= now) {
            l.wake_at[i] = None;
        }
        let (from, to) = if dir.reverse { (l.b, l.a) } else { (l.a, l.b) };
        if held || !l.open {
            return Wake::Idle { next: None };
        }
        let due = l.queues[i].front().map(|(t, _)| *t);
        match due {
            None => Wake::Idle { next: None },
            Some(at) if at > now => Wake::Idle { next: self.schedule(dir, at) },
            Some(_) => {
                let (_, msg) = l.queues[i].pop_front().expect("head exists");
                let next_at = l.queues[i].front().map(|(t, _)| (*t).max(now));
                self.stats.delivered += 1;
                let next = next_at.and_then(|t| self.schedule(dir, t));
                Wake::Deliver { from, to, msg, next }
            }
        }
    }

    /// Resets a link: in-flight messages are lost and the link closes. Returns its two ends (the
    /// host tells both that the connection is gone), or `None` if it was already closed.
    pub fn reset(&mut self, link: LinkId) -> Option<(Addr, Addr)> {
        let l = &mut self.links[link.0 as usize];
        if !l.open {
            return None;
        }
        l.open = false;
        let lost = l.queues[0].len() + l.queues[1].len();
        l.queues = [VecDeque::new(), VecDeque::new()];
        l.wake_at = [None, None];
        self.stats.lost += lost as u64;
        self.stats.resets += 1;
        Some((l.a, l.b))
    }

    /// Every open link with `addr` at one end, in opening order.
    pub fn links_of(&self, addr: Addr) -> Vec<LinkId> {
        (0..self.links.len())
            .filter(|&i| {
                let l = &self.links[i];
                l.open && (l.a == addr || l.b == addr)
            })
            .map(|i| LinkId(i as u64))
            .collect()
    }

    /// Whether a message from `from` would currently get through to `to`.
    pub fn can_reach(&self, from: Addr, to: Addr) -> bool {
        !self.blocked.contains(&(from, to)) && !self.clogged.contains(&from) && !self.clogged.contains(&to)
    }

    /// Blocks `from → to` (one way).
    pub fn block(&mut self, from: Addr, to: Addr) {
        self.blocked.insert((from, to));
    }

    /// Holds all traffic to and from `addr` until it is unclogged.
    pub fn clog(&mut self, addr: Addr) {
        self.clogged.insert(addr);
    }

    /// Removes the blocks between `a` and `b` in both directions.
    pub fn unblock_pair(&mut self, a: Addr, b: Addr) {
        self.blocked.remove(&(a, b));
        self.blocked.remove(&(b, a));
    }

    /// Removes every block involving `addr`.
    pub fn unblock_all_of(&mut self, addr: Addr) {
        self.blocked.retain(|&(x, y)| x != addr && y != addr);
    }

    pub fn unclog(&mut self, addr: Addr) {
        self.clogged.remove(&addr);
    }

    /// Removes every partition and clog.
    pub fn heal(&mut self) {
        self.blocked.clear();
        self.clogged.clear();
    }

    /// Adds `latency` to every message sent by or to `addr` until `until`.
    pub fn add_delay(&mut self, addr: Addr, until: SimTime, latency: Latency) {
        self.extra.insert(addr, (until, latency));
    }

    /// After a heal or unclog: every direction that has queued messages and is no longer held gets
    /// a wake-up; its head is due no sooner than one drawn latency from now (TCP retransmission).
    /// Returns the wake-ups to schedule.
    pub fn release_held(&mut self, now: SimTime, rng: &mut impl Rng) -> Vec<(Dir, SimTime)> {
        let mut wakes = Vec::new();
        for i in 0..self.links.len() {
            for reverse in [false, true] {
                let dir = Dir { link: LinkId(i as u64), reverse };
                let l = &self.links[i];
                if !l.open || l.queues[usize::from(reverse)].is_empty() || self.is_held(dir) {
                    continue;
                }
                let delay = self.latency.sample(rng);
                let l = &mut self.links[i];
                let head = l.queues[usize::from(reverse)].front_mut().expect("non-empty");
                head.0 = head.0.max(now.plus_ns(delay));
                let at = head.0;
                l.wake_at[usize::from(reverse)] = None;
                if let Some(t) = self.schedule(dir, at) {
                    wakes.push((dir, t));
                }
            }
        }
        wakes
    }

    /// Messages queued on open links (in flight or held).
    pub fn in_flight(&self) -> usize {
        self.links.iter().filter(|l| l.open).map(|l| l.queues[0].len() + l.queues[1].len()).sum()
    }

    fn is_held(&self, dir: Dir) -> bool {
        let l = &self.links[dir.link.0 as usize];
        let (from, to) = if dir.reverse { (l.b, l.a) } else { (l.a, l.b) };
        !self.can_reach(from, to)
    }

    fn schedule(&mut self, dir: Dir, at: SimTime) -> Option<SimTime> {
        let slot = &mut self.links[dir.link.0 as usize].wake_at[usize::from(dir.reverse)];
        match *slot {
            Some(t) if t <= at => None,
            _ => {
                *slot = Some(at);
                Some(at)
            }
        }
    }

    fn draw_latency(&mut self, now: SimTime, from: Addr, rng: &mut impl Rng) -> u64 {
        let base = self.latency.sample(rng);
        match self.extra.get(&from) {
            Some((until, extra)) if *until > now => base.saturating_add(extra.sample(rng)),
            _ => base,
        }
    }
}

fn pair_key(chan: Channel, a: Addr, b: Addr) -> (Channel, Addr, Addr) {
    if a <= b {
        (chan, a, b)
    } else {
        (chan, b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const S1: Addr = Addr::Server(1);
    const S2: Addr = Addr::Server(2);

    /// Drives a network to quiescence with a tiny local queue; returns (time, from, msg) delivered.
    fn drain(net: &mut Network<u32>, wakes: &mut Vec<(SimTime, Dir)>) -> Vec<(SimTime, Addr, u32)> {
        let mut out = Vec::new();
        while !wakes.is_empty() {
            wakes.sort_by_key(|(t, d)| (*t, *d));
            let (now, dir) = wakes.remove(0);
            match net.wake(now, dir) {
                Wake::Deliver { from, msg, next, .. } => {
                    out.push((now, from, msg));
                    wakes.extend(next.map(|t| (t, dir)));
                }
                Wake::Idle { next } => wakes.extend(next.map(|t| (t, dir))),
            }
        }
        out
    }

    fn send_all(
        net: &mut Network<u32>,
        link: LinkId,
        from: Addr,
        msgs: std::ops::Range<u32>,
    ) -> Vec<(SimTime, Dir)> {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let reverse = net.ends(link).1 == from;
        let mut wakes = Vec::new();
        for m in msgs {
            let now = SimTime(u64::from(m) * 10);
            wakes.extend(net.send(now, link, from, m, &mut rng).map(|t| (t, Dir { link, reverse })));
        }
        wakes
    }

    fn long_tail() -> Latency {
        Latency::LongTail { min_ns: 1, max_ns: 100, tail: crate::rng::Ratio::new(1, 3), tail_factor_max: 100 }
    }

    #[test]
    fn a_live_connection_delivers_in_send_order_despite_long_tail_latency() {
        let mut net = Network::new(long_tail());
        let (link, _) = net.open(Channel::Quorum, S1, S2);
        let mut wakes = send_all(&mut net, link, S1, 0..200);
        let got: Vec<u32> = drain(&mut net, &mut wakes).into_iter().map(|(_, _, m)| m).collect();
        assert_eq!(got, (0..200).collect::<Vec<_>>());
        assert_eq!(net.stats.delivered, 200);
    }

    #[test]
    fn messages_on_different_connections_can_overtake_each_other() {
        let mut net = Network::new(long_tail());
        let (l12, _) = net.open(Channel::Quorum, S1, S2);
        let (l13, _) = net.open(Channel::Quorum, S1, Addr::Server(3));
        let mut wakes = send_all(&mut net, l12, S1, 0..50);
        wakes.extend(send_all(&mut net, l13, S1, 100..150));
        let got: Vec<u32> = drain(&mut net, &mut wakes).into_iter().map(|(_, _, m)| m).collect();
        let mut sorted = got.clone();
        sorted.sort();
        assert_ne!(got, sorted, "two links interleave out of global send order");
    }

    #[test]
    fn a_reset_loses_in_flight_messages_and_closes_the_link() {
        let mut net = Network::new(Latency::Fixed { ns: 1_000 });
        let (link, _) = net.open(Channel::Quorum, S1, S2);
        let mut wakes = send_all(&mut net, link, S1, 0..5);
        assert_eq!(net.reset(link), Some((S1, S2)));
        assert_eq!(net.reset(link), None);
        assert!(drain(&mut net, &mut wakes).is_empty());
        assert_eq!(net.stats.lost, 5);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(net.send(SimTime(0), link, S1, 9, &mut rng), None);
    }

    #[test]
    fn a_partition_holds_messages_in_order_until_released() {
        let mut net = Network::new(Latency::Fixed { ns: 5 });
        let (link, _) = net.open(Channel::Quorum, S1, S2);
        net.block(S1, S2);
        let mut wakes = send_all(&mut net, link, S1, 0..10);
        assert!(drain(&mut net, &mut wakes).is_empty());
        assert_eq!(net.in_flight(), 10);
        net.heal();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut wakes: Vec<_> =
            net.release_held(SimTime(1_000), &mut rng).into_iter().map(|(d, t)| (t, d)).collect();
        let got = drain(&mut net, &mut wakes);
        assert_eq!(got.iter().map(|g| g.2).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
        assert!(got.iter().all(|g| g.0 >= SimTime(1_005)), "held data arrives after the heal");
    }

    #[test]
    fn a_one_way_block_holds_only_that_direction() {
        let mut net = Network::new(Latency::Fixed { ns: 5 });
        let (link, _) = net.open(Channel::Quorum, S1, S2);
        net.block(S1, S2);
        assert!(!net.can_reach(S1, S2));
        assert!(net.can_reach(S2, S1));
        let mut wakes = send_all(&mut net, link, S2, 0..3);
        assert_eq!(drain(&mut net, &mut wakes).len(), 3);
    }

    #[test]
    fn a_clogged_node_neither_sends_nor_receives_until_unclogged() {
        let mut net: Network<u32> = Network::new(Latency::Fixed { ns: 5 });
        net.clog(S2);
        assert!(!net.can_reach(S1, S2) && !net.can_reach(S2, S1));
        net.unclog(S2);
        assert!(net.can_reach(S1, S2));
    }

    #[test]
    fn reopening_a_server_pair_resets_the_previous_connection() {
        let mut net: Network<u32> = Network::new(Latency::Fixed { ns: 5 });
        let (first, none) = net.open(Channel::Quorum, S1, S2);
        assert_eq!(none, None);
        let (second, replaced) = net.open(Channel::Quorum, S2, S1);
        assert_eq!(replaced, Some(first));
        assert!(!net.is_open(first));
        assert_eq!(net.pair_link(Channel::Quorum, S1, S2), Some(second));
        assert_eq!(net.links_of(S1), vec![second]);
    }

    #[test]
    fn a_delay_spike_adds_latency_until_it_ends() {
        let mut net: Network<u32> = Network::new(Latency::Fixed { ns: 5 });
        let (link, _) = net.open(Channel::Quorum, S1, S2);
        net.add_delay(S1, SimTime(100), Latency::Fixed { ns: 1_000 });
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(net.send(SimTime(0), link, S1, 1, &mut rng), Some(SimTime(1_005)));
        net.reset(link);
        let (link, _) = net.open(Channel::Quorum, S1, S2);
        assert_eq!(net.send(SimTime(200), link, S1, 2, &mut rng), Some(SimTime(205)));
    }

    proptest::proptest! {
        #[test]
        fn fifo_holds_under_any_sequence_of_blocks_and_heals(
            ops in proptest::collection::vec(0u8..4, 1..100), seed: u64,
        ) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut net = Network::new(long_tail());
            let (link, _) = net.open(Channel::Client, Addr::Client(0), S1);
            let mut wakes: Vec<(SimTime, Dir)> = Vec::new();
            let mut delivered = Vec::new();
            let mut now = SimTime(0);
            for (i, op) in ops.iter().enumerate() {
                now = now.plus_ns(37);
                match op {
                    0 | 1 => {
                        let dir = Dir { link, reverse: false };
                        wakes.extend(net.send(now, link, Addr::Client(0), i as u32, &mut rng).map(|t| (t, dir)));
                    }
                    2 => net.block(Addr::Client(0), S1),
                    _ => {
                        net.heal();
                        wakes.extend(net.release_held(now, &mut rng).into_iter().map(|(d, t)| (t, d)));
                    }
                }
                wakes.sort();
                while wakes.first().is_some_and(|(t, _)| *t <= now) {
                    let (t, d) = wakes.remove(0);
                    match net.wake(t, d) {
                        Wake::Deliver { msg, next, .. } => { delivered.push(msg); wakes.extend(next.map(|n| (n, d))); }
                        Wake::Idle { next } => wakes.extend(next.map(|n| (n, d))),
                    }
                    wakes.sort();
                }
            }
            let mut sorted = delivered.clone();
            sorted.sort();
            proptest::prop_assert_eq!(delivered, sorted);
        }
    }
}
