//! A small deterministic network of `Election` engines for the election tests.
//!
//! Every notification is encoded to bytes, held in flight for a random delay (or dropped), and
//! decoded at its destination, all driven by one seeded `ChaCha8Rng`; events at the same instant
//! run in a fixed order (deliveries by send order, then election timers by server id, then the
//! role tick). The same seed therefore replays the same run, message for message.
//!
//! Because an election alone does not guarantee that everyone picks the same leader (a server can
//! finalize on a vote that a message it never received would have overturned), the network also
//! plays a minimal stand-in for the ZAB roles that follow an election, as the replica would:
//! every `TICK_MS` a follower or observer whose leader is not leading gives up (after
//! `GRACE_MS`) and starts a new round; a leader without a quorum of followers does the same; a
//! leader with a quorum establishes a new epoch, and its learners synchronize (adopting the
//! leader's last zxid and the new epoch, and calling `update_peer_epoch`).

#![allow(dead_code)] // each test file uses a different part of the harness

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zab_core::election::{Decision, Election, ElectionSend, Notification, Outcome, PeerState, Vote};
use zab_core::{Epoch, ServerId};
use zab_tree::Zxid;

/// How often the role stand-in looks at decided servers.
pub const TICK_MS: u64 = 500;
/// How long a decided server waits for its role to work out before it looks for a leader again.
pub const GRACE_MS: u64 = 2_000;

/// What a server has on disk when it starts.
#[derive(Clone, Copy, Debug)]
pub struct Server {
    pub id: u64,
    pub last_logged: Option<Zxid>,
    pub current_epoch: u32,
    pub observer: bool,
}

impl Server {
    pub fn voter(id: u64, last_logged: Option<Zxid>, current_epoch: u32) -> Server {
        Server { id, last_logged, current_epoch, observer: false }
    }

    pub fn observer(id: u64, last_logged: Option<Zxid>, current_epoch: u32) -> Server {
        Server { id, last_logged, current_epoch, observer: true }
    }
}

/// Message loss and delay.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    pub drop_percent: u32,
    pub delay_ms_min: u64,
    pub delay_ms_max: u64,
}

impl Faults {
    /// Nothing lost; every message arrives within 150 ms, well inside the 200 ms finalize wait.
    pub const RELIABLE: Faults = Faults { drop_percent: 0, delay_ms_min: 1, delay_ms_max: 150 };
}

pub struct Node {
    pub spec: Server,
    pub election: Election,
    pub alive: bool,
    pub last_logged: Option<Zxid>,
    pub current_epoch: Epoch,
    /// The replica's role as the election engine is told it.
    pub role: PeerState,
    pub leader: Option<ServerId>,
    pub decided_at_ms: u64,
    /// As leader: the epoch it established. As learner: the epoch it synchronized into.
    pub epoch_established: Option<Epoch>,
    /// The (peer epoch, last zxid, id) order key this server had when it last began an election
    /// round: what its own LOOKING votes were compared against.
    pub round_key: (Epoch, Option<Zxid>, ServerId),
}

/// One decision, as it happened.
#[derive(Clone, Debug)]
pub struct Decided {
    pub at_ms: u64,
    pub server: ServerId,
    pub outcome: Outcome,
    /// Every voter's order key as of its latest election round (see [`Node::round_key`]). A
    /// voter that cast its vote and then synchronized into a newer epoch under another leader
    /// still counts with the key it voted with: its vote can be in the decider's tally.
    pub voter_keys: Vec<(Epoch, Option<Zxid>, ServerId)>,
}

struct Packet {
    from: ServerId,
    to: ServerId,
    bytes: Vec<u8>,
}

pub struct Net {
    pub now_ms: u64,
    rng: ChaCha8Rng,
    faults: Faults,
    pub voters: BTreeSet<ServerId>,
    pub nodes: BTreeMap<ServerId, Node>,
    /// In-flight packets by (delivery time, send sequence number).
    in_flight: BTreeMap<(u64, u64), Packet>,
    sent: u64,
    pub delivered: u64,
    pub dropped: u64,
    next_tick_ms: u64,
    pub decisions: Vec<Decided>,
    /// One line per delivery and decision, when enabled (golden transcripts).
    pub transcript: Option<Vec<String>>,
    #[cfg(feature = "mutations")]
    mutation: Option<zab_core::Mutation>,
}

impl Net {
    pub fn new(seed: u64, faults: Faults, servers: &[Server]) -> Net {
        let voters: BTreeSet<ServerId> =
            servers.iter().filter(|s| !s.observer).map(|s| ServerId(s.id)).collect();
        let nodes = servers
            .iter()
            .map(|&spec| {
                let node = Node {
                    spec,
                    election: Election::new(ServerId(spec.id), voters.clone(), spec.observer),
                    alive: false,
                    last_logged: spec.last_logged,
                    current_epoch: Epoch(spec.current_epoch),
                    role: PeerState::Looking,
                    leader: None,
                    decided_at_ms: 0,
                    epoch_established: None,
                    round_key: (Epoch(spec.current_epoch), spec.last_logged, ServerId(spec.id)),
                };
                (ServerId(spec.id), node)
            })
            .collect();
        Net {
            now_ms: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            faults,
            voters,
            nodes,
            in_flight: BTreeMap::new(),
            sent: 0,
            delivered: 0,
            dropped: 0,
            next_tick_ms: TICK_MS,
            decisions: Vec::new(),
            transcript: None,
            #[cfg(feature = "mutations")]
            mutation: None,
        }
    }

    /// Applies `mutation` to every server's election, now and after restarts.
    #[cfg(feature = "mutations")]
    pub fn set_mutation(&mut self, mutation: zab_core::Mutation) {
        self.mutation = Some(mutation);
        for node in self.nodes.values_mut() {
            node.election.set_mutation(mutation, true);
        }
    }

    pub fn record_transcript(&mut self) {
        self.transcript = Some(Vec::new());
    }

    /// Boots (or, after a crash, reboots with a fresh process) server `id`: it starts LOOKING.
    pub fn start(&mut self, id: u64) {
        let sid = ServerId(id);
        let voters = self.voters.clone();
        let node = self.nodes.get_mut(&sid).expect("unknown server");
        node.election = Election::new(sid, voters, node.spec.observer);
        #[cfg(feature = "mutations")]
        if let Some(m) = self.mutation {
            node.election.set_mutation(m, true);
        }
        node.alive = true;
        self.look_again(sid);
    }

    pub fn start_all(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().map(|s| s.0).collect();
        for id in ids {
            self.start(id);
        }
    }

    /// Server `id`'s role ends (or its round is abandoned) without a restart: it begins its next
    /// round, keeping its logical clock.
    pub fn abandon_round(&mut self, id: u64) {
        self.look_again(ServerId(id));
    }

    /// Stops server `id`; messages to it are lost until it is started again.
    pub fn crash(&mut self, id: u64) {
        let node = self.nodes.get_mut(&ServerId(id)).expect("unknown server");
        node.alive = false;
        node.role = PeerState::Looking;
        node.leader = None;
        node.epoch_established = None;
    }

    /// Runs events until `done` holds (checked after every event) or `limit_ms` passes.
    /// Returns whether `done` was reached.
    pub fn run_until(&mut self, limit_ms: u64, mut done: impl FnMut(&Net) -> bool) -> bool {
        while self.now_ms <= limit_ms {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    /// Runs until the ensemble is stable (see [`Net::stable_leader`]) or `limit_ms` passes.
    pub fn run_until_stable(&mut self, limit_ms: u64) -> Option<ServerId> {
        self.run_until(limit_ms, |net| net.stable_leader().is_some());
        self.stable_leader()
    }

    /// The leader, if every live server has decided on the same live leader, that leader has
    /// established its epoch, and every live learner has synchronized with it.
    pub fn stable_leader(&self) -> Option<ServerId> {
        let mut live = self.nodes.values().filter(|n| n.alive);
        let leader = live.next()?.leader?;
        let leader_node = self.nodes.get(&leader)?;
        if !leader_node.alive || leader_node.role != PeerState::Leading {
            return None;
        }
        let epoch = leader_node.epoch_established?;
        let all_agree = self.nodes.values().filter(|n| n.alive).all(|n| {
            n.leader == Some(leader) && n.epoch_established == Some(epoch) && n.role != PeerState::Looking
        });
        all_agree.then_some(leader)
    }

    /// Order key of a server's own initial vote: (current epoch, last logged zxid, id).
    pub fn key_of(&self, id: u64) -> (Epoch, Option<Zxid>, ServerId) {
        let node = &self.nodes[&ServerId(id)];
        (node.current_epoch, node.last_logged, ServerId(id))
    }

    pub fn role(&self, id: u64) -> PeerState {
        self.nodes[&ServerId(id)].role
    }

    pub fn leader_of(&self, id: u64) -> Option<ServerId> {
        self.nodes[&ServerId(id)].leader
    }

    fn step(&mut self) {
        let next_packet = self.in_flight.keys().next().map(|&(at, _)| at);
        let next_timer = self
            .nodes
            .values()
            .filter(|n| n.alive && n.role == PeerState::Looking)
            .filter_map(|n| n.election.next_deadline().map(|at| (at, n.spec.id)))
            .min();
        let next =
            [next_packet, next_timer.map(|(at, _)| at), Some(self.next_tick_ms)].into_iter().flatten().min();
        let at = next.expect("the tick is always pending");
        self.now_ms = self.now_ms.max(at);
        if next_packet == Some(at) {
            let (_, packet) = self.in_flight.pop_first().expect("a packet is due");
            self.deliver(packet);
        } else if let Some((timer_at, id)) = next_timer.filter(|&(t, _)| t == at) {
            let sid = ServerId(id);
            let mut out = Vec::new();
            let outcome = self.node_mut(sid).election.on_timeout(timer_at, &mut out);
            self.transmit(sid, out);
            if let Some(outcome) = outcome {
                self.apply(sid, outcome);
            }
        } else {
            self.next_tick_ms += TICK_MS;
            self.tick();
        }
    }

    fn deliver(&mut self, packet: Packet) {
        let Packet { from, to, bytes } = packet;
        let now = self.now_ms;
        let node = self.nodes.get_mut(&to).expect("packet to unknown server");
        if !node.alive {
            self.dropped += 1;
            return;
        }
        self.delivered += 1;
        let n = Notification::decode(from, &bytes).expect("the network carries only what was encoded");
        if let Some(lines) = &mut self.transcript {
            lines.push(format!("{now:>6} {from}->{to} {}", describe(&n)));
        }
        let role = node.role;
        let mut out = Vec::new();
        let outcome = node.election.on_notification(now, from, n, role, &mut out);
        self.transmit(to, out);
        if let Some(outcome) = outcome {
            assert_eq!(role, PeerState::Looking, "{to} decided while {role:?}");
            self.apply(to, outcome);
        }
    }

    fn transmit(&mut self, from: ServerId, sends: Vec<ElectionSend>) {
        for ElectionSend { to, n } in sends {
            assert_eq!(n.sender, from);
            if self.rng.gen_range(0..100) < self.faults.drop_percent {
                self.dropped += 1;
                continue;
            }
            let delay = self.rng.gen_range(self.faults.delay_ms_min..=self.faults.delay_ms_max);
            self.sent += 1;
            self.in_flight.insert((self.now_ms + delay, self.sent), Packet { from, to, bytes: n.encode() });
        }
    }

    fn apply(&mut self, sid: ServerId, outcome: Outcome) {
        let voter_keys = self.voters.iter().map(|v| self.nodes[v].round_key).collect();
        self.decisions.push(Decided { at_ms: self.now_ms, server: sid, outcome, voter_keys });
        if let Some(lines) = &mut self.transcript {
            lines.push(format!(
                "{:>6} {sid} decides {:?} on {} in round {}",
                self.now_ms, outcome.decision, outcome.vote, outcome.round
            ));
        }
        let now = self.now_ms;
        let node = self.node_mut(sid);
        node.role = match outcome.decision {
            Decision::Lead => PeerState::Leading,
            Decision::Follow(_) => PeerState::Following,
            Decision::Observe(_) => PeerState::Observing,
        };
        node.leader = Some(outcome.leader());
        node.decided_at_ms = now;
        node.epoch_established = None;
    }

    /// The role stand-in (see the module doc), for each live decided server in id order.
    fn tick(&mut self) {
        let ids: Vec<ServerId> = self.nodes.keys().copied().collect();
        let quorum = self.voters.len() / 2 + 1;
        for sid in ids {
            let node = &self.nodes[&sid];
            if !node.alive || node.role == PeerState::Looking {
                continue;
            }
            let waited_ms = self.now_ms - node.decided_at_ms;
            let leader = node.leader.expect("a decided server has a leader");
            if node.role == PeerState::Leading {
                let followers = self
                    .nodes
                    .values()
                    .filter(|n| n.alive && n.role == PeerState::Following && n.leader == Some(sid))
                    .count();
                if followers + 1 < quorum {
                    if node.epoch_established.is_some() || waited_ms >= GRACE_MS {
                        self.look_again(sid);
                    }
                } else if node.epoch_established.is_none() {
                    let epoch = self
                        .nodes
                        .values()
                        .filter(|n| n.alive && (n.leader == Some(sid)))
                        .map(|n| n.current_epoch)
                        .max()
                        .expect("the leader follows itself");
                    let epoch = Epoch(epoch.0 + 1);
                    let node = self.node_mut(sid);
                    node.current_epoch = epoch;
                    node.epoch_established = Some(epoch);
                    node.election.update_peer_epoch(epoch);
                }
            } else {
                let leading = self.nodes.get(&leader).filter(|l| l.alive && l.role == PeerState::Leading);
                match leading {
                    Some(l) => {
                        if let (Some(epoch), None) = (l.epoch_established, node.epoch_established) {
                            let last_logged = l.last_logged;
                            let node = self.node_mut(sid);
                            node.last_logged = last_logged;
                            node.current_epoch = epoch;
                            node.epoch_established = Some(epoch);
                            node.election.update_peer_epoch(epoch);
                        }
                    }
                    None if node.epoch_established.is_some() || waited_ms >= GRACE_MS => self.look_again(sid),
                    None => {}
                }
            }
        }
    }

    fn look_again(&mut self, sid: ServerId) {
        let now = self.now_ms;
        let node = self.node_mut(sid);
        node.role = PeerState::Looking;
        node.leader = None;
        node.epoch_established = None;
        let (last_logged, epoch) = (node.last_logged, node.current_epoch);
        node.round_key = (epoch, last_logged, sid);
        let mut out = Vec::new();
        node.election.start_round(now, last_logged, epoch, &mut out);
        self.transmit(sid, out);
    }

    fn node_mut(&mut self, sid: ServerId) -> &mut Node {
        self.nodes.get_mut(&sid).expect("unknown server")
    }
}

fn describe(n: &Notification) -> String {
    let vote = match n.vote {
        Some(Vote { leader, zxid: Some(z), peer_epoch }) => format!("({leader}, {z}, e{peer_epoch})"),
        Some(Vote { leader, zxid: None, peer_epoch }) => format!("({leader}, -1, e{peer_epoch})"),
        None => "(nobody)".to_string(),
    };
    format!("{:?} {vote} r{}", n.state, n.round)
}
