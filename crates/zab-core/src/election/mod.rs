//! Fast leader election (FLE) as a sans-IO state machine.
//!
//! The replica owns one [`Election`] for its whole life and drives it like this:
//!
//! 1. When it becomes LOOKING (at start-up, or when a leading/following/observing role ends), it
//!    calls [`Election::start_round`] with its last logged zxid and current epoch. The election
//!    moves to the next round, proposes its initial vote, and appends one [`ElectionSend`] per
//!    other voter to `out`.
//! 2. Every notification that arrives on the election port is decoded with
//!    [`Notification::decode`] and passed to [`Election::on_notification`] together with the
//!    replica's current role, whatever it is: while LOOKING it drives the election; otherwise it
//!    only answers LOOKING peers (and non-voters) with the vote this server decided on, so that
//!    they can join the ensemble.
//! 3. When `now_ms` reaches [`Election::next_deadline`], the replica calls [`Election::on_timeout`].
//! 4. After each call, the replica transmits the appended sends in order (they are grouped per call
//!    in ascending [`ServerId`]) and, if the call returned an [`Outcome`], takes up that role.
//! 5. Once synchronized with the leader in a new epoch, it calls [`Election::update_peer_epoch`] so
//!    that the vote it advertises to newcomers carries the ensemble's current epoch.
//!
//! The engine never reads a clock: time is the `now_ms` argument (milliseconds on any fixed
//! origin), and its only timer is the single deadline it reports. It owns no randomness and its
//! outputs depend only on its inputs, so a simulator replays it exactly.
//!
//! Behaviour follows reference §2 (the Java `FastLeaderElection` loop and its receiver thread), with
//! one deliberate change of form: a server does not send notifications to itself. Its own vote is
//! recorded directly in the round's vote set, which is what its looped-back message would do.

mod notification;

use std::collections::{BTreeMap, BTreeSet};

use zab_tree::Zxid;

use crate::ids::{Epoch, ServerId};
use crate::marks;

pub use notification::{vote_beats, DecodeError, Notification, PeerState, Vote, NOTIFICATION_VERSION};

/// Quiet period after a quorum agrees before the decision stands (`finalizeWait`).
pub const FINALIZE_WAIT_MS: u64 = 200;
/// First notification timeout of a round (`minNotificationInterval`).
pub const MIN_NOTIFICATION_INTERVAL_MS: u64 = 200;
/// Cap of the doubling notification timeout (`maxNotificationInterval`).
pub const MAX_NOTIFICATION_INTERVAL_MS: u64 = 60_000;

/// One notification to transmit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionSend {
    /// The destination server.
    pub to: ServerId,
    /// What to send it.
    pub n: Notification,
}

/// The end of an election: the role to take up and the vote that decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What this server does next.
    pub decision: Decision,
    /// The final vote, which this server advertises until its next round.
    pub vote: Vote,
    /// The round in which the vote was decided (a server that joins an established ensemble takes
    /// the round of the ensemble's votes).
    pub round: u64,
}

impl Outcome {
    /// The elected leader.
    pub fn leader(&self) -> ServerId {
        self.vote.leader
    }
}

/// The role an election ends in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// This server is the leader.
    Lead,
    /// Follow this leader (this server is a voter).
    Follow(ServerId),
    /// Observe this leader (this server is an observer).
    Observe(ServerId),
}

/// The vote a server advertises outside its current round, with the round it was decided in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentVote {
    /// The decided (or start-up) vote; its peer epoch moves with [`Election::update_peer_epoch`].
    pub vote: Vote,
    /// The round in which it was decided; 0 for the start-up vote.
    pub round: u64,
}

/// The election state machine of one server. See the module documentation for how to drive it.
#[derive(Clone, Debug)]
pub struct Election {
    me: ServerId,
    voters: BTreeSet<ServerId>,
    /// False for observers and for servers outside the voter set: they never propose themselves
    /// and never count toward a quorum.
    is_voter: bool,
    /// Java's `logicalclock`: the current (or last) election round.
    round: u64,
    phase: Phase,
    /// This round's initial vote: myself when I am a voter, nobody otherwise.
    initial: Option<Vote>,
    /// The vote I currently propose.
    proposal: Option<Vote>,
    /// False while my database is uninitialized: I then ignore LOOKING notifications entirely
    /// (ZOOKEEPER-261) and can only join an established ensemble.
    my_db_initialized: bool,
    /// This round's votes by sender (`recvset`), including my own.
    recvset: BTreeMap<ServerId, Ballot>,
    /// Votes of servers that are already in an established ensemble (`outofelection`).
    out_of_election: BTreeMap<ServerId, Ballot>,
    /// The current notification timeout; doubles on each expiry up to the cap.
    notification_interval_ms: u64,
    /// The vote answered to LOOKING peers and non-voters (Java's `currentVote`): the last decided
    /// vote, or my start-up vote before the first decision.
    current: Option<CurrentVote>,
    /// Historical defects switched on (reference §5.1): `Zk1732`, `Zk1732b`, `Zk261`.
    #[cfg(feature = "mutations")]
    mutations: BTreeSet<crate::mutation::Mutation>,
}

impl Election {
    /// An election engine for server `me` among `voters` (the voting members of the ensemble).
    /// An observer passes `is_observer = true`; a server missing from `voters` is treated as one.
    pub fn new(me: ServerId, mut voters: BTreeSet<ServerId>, is_observer: bool) -> Election {
        if is_observer {
            // An observer is never a voter, whatever list it was given: it can neither be voted
            // for nor decide to lead.
            voters.remove(&me);
        }
        let is_voter = !is_observer && voters.contains(&me);
        Election {
            me,
            voters,
            is_voter,
            round: 0,
            phase: Phase::NotStarted,
            initial: None,
            proposal: None,
            my_db_initialized: false,
            recvset: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            notification_interval_ms: MIN_NOTIFICATION_INTERVAL_MS,
            current: None,
            #[cfg(feature = "mutations")]
            mutations: BTreeSet::new(),
        }
    }

    /// Switches a historical defect on or off (only the election's own, `ZK-1732`, `ZK-1732b` and
    /// `ZK-261`, change anything here). Only with the `mutations` feature; a replica forwards its
    /// own switches here.
    #[cfg(feature = "mutations")]
    pub fn set_mutation(&mut self, mutation: crate::mutation::Mutation, on: bool) {
        if on {
            self.mutations.insert(mutation);
        } else {
            self.mutations.remove(&mutation);
        }
    }

    /// Begins a new round: round += 1, forget the previous round's votes, propose my initial vote
    /// (myself with `my_last_logged` and `my_current_epoch`, or nobody for a non-voter), and send
    /// it to every other voter. `my_last_logged` is `None` when the database is uninitialized.
    pub fn start_round(
        &mut self,
        now_ms: u64,
        my_last_logged: Option<Zxid>,
        my_current_epoch: Epoch,
        out: &mut Vec<ElectionSend>,
    ) {
        let mut my_last_logged = my_last_logged;
        if mutated!(self, Zk261) && my_last_logged.is_none() {
            my_last_logged = Some(Zxid::ZERO);
        }
        let my_vote = Vote { leader: self.me, zxid: my_last_logged, peer_epoch: my_current_epoch };
        if self.current.is_none() {
            self.current = Some(CurrentVote { vote: my_vote, round: 0 });
        }
        self.round += 1;
        self.my_db_initialized = my_last_logged.is_some();
        self.initial = if self.is_voter { Some(my_vote) } else { None };
        self.proposal = self.initial;
        self.recvset.clear();
        self.out_of_election.clear();
        self.notification_interval_ms = MIN_NOTIFICATION_INTERVAL_MS;
        self.phase = Phase::Polling { deadline_ms: now_ms.saturating_add(self.notification_interval_ms) };
        self.broadcast(out);
        self.record_my_vote();
        self.check_round_quorum(now_ms);
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
    }

    /// Handles one notification that arrived from `from` (the connection's peer, which is what
    /// counts: `n.sender` is ignored). `my_state` is the replica's current role. While the replica
    /// is LOOKING this runs one step of the round and may decide it; in any role it answers peers
    /// that need my vote: non-voters, LOOKING peers when I am not LOOKING, and LOOKING peers in an
    /// older round.
    pub fn on_notification(
        &mut self,
        now_ms: u64,
        from: ServerId,
        n: Notification,
        my_state: PeerState,
        out: &mut Vec<ElectionSend>,
    ) -> Option<Outcome> {
        let outcome = self.receive(now_ms, from, n, my_state, out);
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
        outcome
    }

    /// Panics, naming this server, its round and phase, if the engine's state is inconsistent.
    /// Runs after every input in builds with debug assertions; hosts may call it too.
    pub fn check_invariants(&self) {
        let context = || format!("election on {} in round {} ({:?})", self.me, self.round, self.phase);
        if let Some(proposal) = self.proposal {
            assert!(
                self.voters.contains(&proposal.leader),
                "{}: proposes non-voter {}",
                context(),
                proposal.leader
            );
        }
        assert!(self.is_voter || self.initial.is_none(), "{}: a non-voter proposes itself", context());
        if let Phase::Finalizing { .. } = self.phase {
            assert!(self.proposal.is_some(), "{}: finalizing without a proposal", context());
        }
        for (sid, ballot) in self.recvset.iter().chain(&self.out_of_election) {
            assert!(self.voters.contains(sid), "{}: recorded a vote from non-voter {sid}", context());
            assert!(
                self.voters.contains(&ballot.vote.leader),
                "{}: recorded a vote for a non-voter",
                context()
            );
        }
        assert!(
            self.is_voter || !self.recvset.contains_key(&self.me),
            "{}: a non-voter counted its own vote",
            context()
        );
        assert!(
            self.my_db_initialized || !self.recvset.contains_key(&self.me),
            "{}: an uninitialized database counted its own vote",
            context()
        );
        if self.phase != Phase::NotStarted {
            // The round may be anything a decided ensemble reported (even 0 from a peer): only a
            // current vote is required once the engine has started.
            assert!(self.current.is_some(), "{}: running without a current vote", context());
        }
        assert!(
            (MIN_NOTIFICATION_INTERVAL_MS..=MAX_NOTIFICATION_INTERVAL_MS)
                .contains(&self.notification_interval_ms),
            "{}: notification interval {} ms out of range",
            context(),
            self.notification_interval_ms
        );
    }

    fn receive(
        &mut self,
        now_ms: u64,
        from: ServerId,
        n: Notification,
        my_state: PeerState,
        out: &mut Vec<ElectionSend>,
    ) -> Option<Outcome> {
        let Some(current) = self.current else {
            // Nothing to answer with before the first round; the peer will retransmit.
            marks::hit("election: notification before the first round dropped");
            return None;
        };
        if from == self.me {
            // My own vote is recorded directly, never looped back; a message that claims to come
            // from me is a misrouted or misconfigured peer, and answering it would talk to myself.
            marks::hit("election: notification from myself ignored");
            return None;
        }
        // The receiver side (reference §2.4) answers before the election loop sees anything.
        if !self.voters.contains(&from) {
            marks::hit("election: non-voter answered with current vote");
            self.send_to(from, my_state, Some(current.vote), self.round, out);
            return None;
        }
        if my_state != PeerState::Looking {
            if n.state == PeerState::Looking {
                marks::hit("election: looking peer answered with decided vote");
                self.send_to(from, my_state, Some(current.vote), current.round, out);
            }
            return None;
        }
        if !matches!(self.phase, Phase::Polling { .. } | Phase::Finalizing { .. }) {
            // LOOKING but between rounds: the next `start_round` begins afresh anyway.
            marks::hit("election: notification between rounds dropped");
            return None;
        }
        if n.state == PeerState::Looking && n.round < self.round {
            marks::hit("election: lower round answered with my proposal");
            self.send_to(from, PeerState::Looking, self.proposal, self.round, out);
        }
        // The election loop (reference §2.3). During the finalize wait only a better vote is looked
        // at; anything else is discarded and restarts the quiet period.
        if let Phase::Finalizing { .. } = self.phase {
            let better = n.vote.is_some_and(|v| vote_beats(&v, self.proposal.as_ref(), &self.voters));
            if !better {
                self.phase = Phase::Finalizing { deadline_ms: now_ms.saturating_add(FINALIZE_WAIT_MS) };
                return None;
            }
            marks::hit("election: finalize wait resumed by a better vote");
        }
        self.phase = Phase::Polling { deadline_ms: now_ms.saturating_add(self.notification_interval_ms) };
        self.handle_in_loop(now_ms, from, &n, out)
    }

    /// Handles the expiry of [`Election::next_deadline`]: retransmits my vote to every other voter
    /// after a silent notification timeout (doubling the timeout), or decides after a quiet
    /// finalize wait. Calls before the deadline do nothing.
    ///
    /// Java retransmits only if its connection manager has delivered everything and otherwise
    /// reconnects to everyone; connections belong to the host here, so the engine always
    /// retransmits and the host sends over whatever connections it has (or opens them).
    pub fn on_timeout(&mut self, now_ms: u64, out: &mut Vec<ElectionSend>) -> Option<Outcome> {
        let outcome = self.expire(now_ms, out);
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
        outcome
    }

    fn expire(&mut self, now_ms: u64, out: &mut Vec<ElectionSend>) -> Option<Outcome> {
        match self.phase {
            Phase::Polling { deadline_ms } if now_ms >= deadline_ms => {
                marks::hit("election: notification timeout retransmits");
                self.broadcast(out);
                self.notification_interval_ms =
                    (self.notification_interval_ms * 2).min(MAX_NOTIFICATION_INTERVAL_MS);
                self.phase =
                    Phase::Polling { deadline_ms: now_ms.saturating_add(self.notification_interval_ms) };
                None
            }
            Phase::Finalizing { deadline_ms } if now_ms >= deadline_ms => {
                let vote = self.proposal.unwrap_or_else(|| {
                    panic!("election on {}: finalizing round {} without a proposal", self.me, self.round)
                });
                Some(self.decide(vote, self.round))
            }
            _ => None,
        }
    }

    /// When [`Election::on_timeout`] next has work to do, if ever.
    pub fn next_deadline(&self) -> Option<u64> {
        match self.phase {
            Phase::Polling { deadline_ms } | Phase::Finalizing { deadline_ms } => Some(deadline_ms),
            Phase::NotStarted | Phase::Decided => None,
        }
    }

    /// Records the epoch this server synchronized into, so the vote it advertises to newcomers
    /// carries it (ZOOKEEPER-1732's `updateElectionVote`). Call after sync with the leader.
    pub fn update_peer_epoch(&mut self, epoch: Epoch) {
        if mutated!(self, Zk1732b) {
            return;
        }
        if let Some(current) = &mut self.current {
            current.vote.peer_epoch = epoch;
        }
    }

    /// Whether a round is running (the replica should be LOOKING).
    pub fn is_looking(&self) -> bool {
        matches!(self.phase, Phase::Polling { .. } | Phase::Finalizing { .. })
    }

    /// The current (or last) round.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// The vote I propose in the current round (`None`: nobody, for a non-voter).
    pub fn proposal(&self) -> Option<Vote> {
        self.proposal
    }

    /// The vote I answer LOOKING peers with: the last decided one, or my start-up vote (`None`
    /// before the first round).
    pub fn current_vote(&self) -> Option<CurrentVote> {
        self.current
    }

    /// This server's id.
    pub fn me(&self) -> ServerId {
        self.me
    }

    /// Whether a quorum agrees and the engine is waiting out the finalize quiet period.
    pub fn is_finalizing(&self) -> bool {
        matches!(self.phase, Phase::Finalizing { .. })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// `start_round` has not been called yet.
    NotStarted,
    /// LOOKING, waiting for notifications until the notification timeout.
    Polling { deadline_ms: u64 },
    /// LOOKING with a quorum agreeing on my proposal; decide unless something arrives in time.
    Finalizing { deadline_ms: u64 },
    /// The round decided; the replica is in the decided role.
    Decided,
}

/// A vote as recorded from one sender, with what Java's `Vote.equals` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ballot {
    vote: Vote,
    round: u64,
    state: PeerState,
    version: u32,
}

impl Election {
    /// One iteration of the election loop for a notification from a voter.
    fn handle_in_loop(
        &mut self,
        now_ms: u64,
        from: ServerId,
        n: &Notification,
        out: &mut Vec<ElectionSend>,
    ) -> Option<Outcome> {
        let Some(vote) = n.vote.filter(|v| self.voters.contains(&v.leader)) else {
            marks::hit("election: vote for a non-voter ignored");
            return None;
        };
        let ballot = Ballot { vote, round: n.round, state: n.state, version: n.version };
        match n.state {
            PeerState::Looking => {
                self.handle_looking(now_ms, from, ballot, out);
                None
            }
            PeerState::Observing => {
                marks::hit("election: observing sender ignored");
                None
            }
            PeerState::Following | PeerState::Leading => self.handle_established(from, ballot),
        }
    }

    fn handle_looking(&mut self, now_ms: u64, sender: ServerId, ballot: Ballot, out: &mut Vec<ElectionSend>) {
        if !self.my_db_initialized {
            marks::hit("election: uninitialized database ignores looking votes");
            return;
        }
        if ballot.vote.zxid.is_none() {
            marks::hit("election: vote from uninitialized database ignored");
            return;
        }
        if ballot.round > self.round {
            marks::hit("election: higher round adopted");
            self.round = ballot.round;
            self.recvset.clear();
            self.proposal = if vote_beats(&ballot.vote, self.initial.as_ref(), &self.voters) {
                Some(ballot.vote)
            } else {
                self.initial
            };
            self.broadcast(out);
            self.record_my_vote();
        } else if ballot.round < self.round {
            marks::hit("election: lower round ignored");
            return;
        } else if vote_beats(&ballot.vote, self.proposal.as_ref(), &self.voters) {
            marks::hit("election: better vote adopted");
            self.proposal = Some(ballot.vote);
            self.broadcast(out);
            self.record_my_vote();
        }
        self.recvset.insert(sender, ballot);
        self.check_round_quorum(now_ms);
    }

    /// A FOLLOWING or LEADING sender: it already belongs to an ensemble. Join it if a quorum of
    /// this round's votes, or of established members' votes, agrees and the leader is really leading.
    fn handle_established(&mut self, sender: ServerId, ballot: Ballot) -> Option<Outcome> {
        if ballot.round == self.round {
            // Java records these in the round's vote set without their protocol version (as 0)
            // but compares against the notification with its version, so between current-version
            // servers this check agrees on the leader alone. Reproduced as is.
            self.recvset.insert(sender, Ballot { version: 0, ..ballot });
            if self.has_quorum(&self.recvset, &ballot) {
                if self.check_leader(&self.recvset, ballot.vote.leader, ballot.round) {
                    marks::hit("election: decided in round by established votes");
                    return Some(self.decide(ballot.vote, ballot.round));
                }
                marks::hit("election: check leader refused");
            }
        }
        self.out_of_election.insert(sender, ballot);
        if self.has_quorum(&self.out_of_election, &ballot) {
            if self.check_leader(&self.out_of_election, ballot.vote.leader, ballot.round) {
                marks::hit("election: decided out of election");
                self.round = ballot.round;
                return Some(self.decide(ballot.vote, ballot.round));
            }
            marks::hit("election: check leader refused");
        }
        None
    }

    /// Enters the finalize wait if a quorum of this round's votes equals my proposal.
    fn check_round_quorum(&mut self, now_ms: u64) {
        let Some(proposal) = self.proposal else { return };
        let target = Ballot { vote: proposal, round: self.round, state: PeerState::Looking, version: 0 };
        if self.has_quorum(&self.recvset, &target) {
            marks::hit("election: quorum agrees, finalize wait");
            self.phase = Phase::Finalizing { deadline_ms: now_ms.saturating_add(FINALIZE_WAIT_MS) };
        }
    }

    /// Do the voters whose recorded ballot agrees with `target` form a strict majority?
    fn has_quorum(&self, votes: &BTreeMap<ServerId, Ballot>, target: &Ballot) -> bool {
        let agreeing = votes
            .iter()
            .filter(|(sid, ballot)| self.voters.contains(sid) && self.ballots_agree(ballot, target))
            .count();
        agreeing > self.voters.len() / 2
    }

    /// Java's `Vote.equals`. If either side is LOOKING all four fields must match; between
    /// established members only (leader, peer epoch) count, because their zxids and rounds may
    /// legitimately differ (ZOOKEEPER-1805), and only the leader counts across protocol versions.
    fn ballots_agree(&self, a: &Ballot, b: &Ballot) -> bool {
        let all_fields = a.vote == b.vote && a.round == b.round;
        if a.state == PeerState::Looking || b.state == PeerState::Looking {
            return all_fields;
        }
        if mutated!(self, Zk1732) {
            return all_fields;
        }
        if (a.version > 0) != (b.version > 0) {
            return a.vote.leader == b.vote.leader;
        }
        a.vote.leader == b.vote.leader && a.vote.peer_epoch == b.vote.peer_epoch
    }

    /// `checkLeader`: never join a leader that is not known to be leading. Someone else must have
    /// told me it is LEADING; if the leader is me, the votes must be from my own current round.
    fn check_leader(&self, votes: &BTreeMap<ServerId, Ballot>, leader: ServerId, round: u64) -> bool {
        if leader == self.me {
            self.round == round
        } else {
            votes.get(&leader).is_some_and(|b| b.state == PeerState::Leading)
        }
    }

    fn decide(&mut self, vote: Vote, round: u64) -> Outcome {
        let decision = if vote.leader == self.me {
            Decision::Lead
        } else if self.is_voter {
            Decision::Follow(vote.leader)
        } else {
            marks::hit("election: observer decided to observe");
            Decision::Observe(vote.leader)
        };
        assert!(
            self.voters.contains(&vote.leader),
            "election on {}: deciding round {round} for non-voter leader {}",
            self.me,
            vote.leader
        );
        self.current = Some(CurrentVote { vote, round });
        self.phase = Phase::Decided;
        Outcome { decision, vote, round }
    }

    /// Records my own vote as if my looped-back notification had arrived: only a voter with an
    /// initialized database, proposing a voter with a known zxid, counts.
    fn record_my_vote(&mut self) {
        let Some(vote) = self.proposal else { return };
        if self.is_voter
            && self.my_db_initialized
            && vote.zxid.is_some()
            && self.voters.contains(&vote.leader)
        {
            let ballot =
                Ballot { vote, round: self.round, state: PeerState::Looking, version: NOTIFICATION_VERSION };
            self.recvset.insert(self.me, ballot);
        }
    }

    /// Sends my proposal to every voter but me, in ascending id order.
    fn broadcast(&self, out: &mut Vec<ElectionSend>) {
        for &to in self.voters.iter().filter(|&&sid| sid != self.me) {
            self.send_to(to, PeerState::Looking, self.proposal, self.round, out);
        }
    }

    fn send_to(
        &self,
        to: ServerId,
        state: PeerState,
        vote: Option<Vote>,
        round: u64,
        out: &mut Vec<ElectionSend>,
    ) {
        let n = Notification { state, vote, round, sender: self.me, version: NOTIFICATION_VERSION };
        out.push(ElectionSend { to, n });
    }

    #[cfg(feature = "mutations")]
    fn mutation_on(&self, mutation: crate::mutation::Mutation) -> bool {
        self.mutations.contains(&mutation)
    }
}
