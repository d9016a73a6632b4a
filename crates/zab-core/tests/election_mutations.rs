//! The historical election defects (reference §5.1) that `Election::set_mutation` switches on:
//! each test shows the correct behaviour and the defect's different behaviour side by side.
//! Run with `cargo test -p zab-core --features mutations`.

#![cfg(feature = "mutations")]

mod election_net;

use std::collections::BTreeSet;

use election_net::{Faults, Net, Server};
use zab_core::election::{Decision, Election, Notification, Outcome, PeerState, Vote, NOTIFICATION_VERSION};
use zab_core::{Epoch, Mutation, ServerId};
use zab_tree::Zxid;

fn zxid(epoch: u32, counter: u32) -> Option<Zxid> {
    Some(Zxid::new(epoch, counter))
}

fn vote(leader: u64, zxid: Option<Zxid>, peer_epoch: u32) -> Vote {
    Vote { leader: ServerId(leader), zxid, peer_epoch: Epoch(peer_epoch) }
}

fn note(state: PeerState, sender: u64, vote: Vote, round: u64) -> Notification {
    Notification { state, vote: Some(vote), round, sender: ServerId(sender), version: NOTIFICATION_VERSION }
}

fn election(me: u64, voters: &[u64], mutation: Option<Mutation>) -> Election {
    let voters: BTreeSet<ServerId> = voters.iter().map(|&v| ServerId(v)).collect();
    let mut e = Election::new(ServerId(me), voters, false);
    if let Some(m) = mutation {
        e.set_mutation(m, true);
    }
    e
}

fn feed(e: &mut Election, n: Notification, my_state: PeerState) -> (Vec<Notification>, Option<Outcome>) {
    let mut out = Vec::new();
    let outcome = e.on_notification(0, n.sender, n, my_state, &mut out);
    (out.into_iter().map(|s| s.n).collect(), outcome)
}

// ---- ZOOKEEPER-261 -------------------------------------------------------------------------------

/// Three voters. Transactions up to (2, 5) were committed by {1, 3}; 2 lags at (2, 3). Then 3's
/// data directory is wiped and 1 goes down. Electing 2 now would lose committed transactions.
fn wiped_ensemble() -> [Server; 3] {
    [Server::voter(1, zxid(2, 5), 2), Server::voter(2, zxid(2, 3), 2), Server::voter(3, None, 0)]
}

#[test]
fn zk261_correct_a_wiped_server_cannot_help_a_lagging_server_win() {
    for seed in 0..5 {
        let mut net = Net::new(seed, Faults::RELIABLE, &wiped_ensemble());
        net.start(2);
        net.start(3);
        net.run_until(120_000, |_| false);
        assert!(net.decisions.is_empty(), "seed {seed}: {:?}", net.decisions);
    }
}

#[test]
fn zk261_mutated_a_wiped_server_votes_as_zxid_zero_and_elects_the_lagging_server() {
    for seed in 0..5 {
        let mut net = Net::new(seed, Faults::RELIABLE, &wiped_ensemble());
        net.set_mutation(Mutation::Zk261);
        net.start(2);
        net.start(3);
        assert_eq!(net.run_until_stable(120_000), Some(ServerId(2)), "seed {seed}");
        let leader = net.decisions.iter().find(|d| d.outcome.decision == Decision::Lead).unwrap();
        assert!(leader.outcome.vote.zxid < zxid(2, 5), "the leader lacks committed transactions");
    }
}

#[test]
fn zk261_mutated_the_wiped_server_advertises_zxid_zero() {
    let mut out = Vec::new();
    let mut e = election(3, &[1, 2, 3], Some(Mutation::Zk261));
    e.start_round(0, None, Epoch(0), &mut out);
    assert_eq!(out[0].n.vote, Some(vote(3, Some(Zxid::ZERO), 0)));
    let mut out = Vec::new();
    let mut e = election(3, &[1, 2, 3], None);
    e.start_round(0, None, Epoch(0), &mut out);
    assert_eq!(out[0].n.vote, Some(vote(3, None, 0)));
}

// ---- ZOOKEEPER-1732 / 1805: comparing established votes ---------------------------------------

/// A newcomer hears from an established ensemble whose members decided at different times: their
/// votes agree on (leader 3, peer epoch 6) but not on zxid or round.
fn hear_established_members(e: &mut Election) -> Option<Outcome> {
    let mut outcome = None;
    for n in [
        note(PeerState::Following, 1, vote(3, zxid(5, 1), 6), 7),
        note(PeerState::Following, 2, vote(3, zxid(5, 4), 6), 9),
        note(PeerState::Leading, 3, vote(3, zxid(5, 7), 6), 8),
    ] {
        outcome = outcome.or(feed(e, n, PeerState::Looking).1);
    }
    outcome
}

#[test]
fn zk1732_correct_a_newcomer_joins_members_that_agree_on_leader_and_epoch() {
    let mut e = election(4, &[1, 2, 3, 4, 5], None);
    e.start_round(0, zxid(5, 2), Epoch(6), &mut Vec::new());
    assert_eq!(hear_established_members(&mut e).map(|o| o.decision), Some(Decision::Follow(ServerId(3))));
}

#[test]
fn zk1732_mutated_a_newcomer_comparing_all_fields_stays_looking() {
    let mut e = election(4, &[1, 2, 3, 4, 5], Some(Mutation::Zk1732));
    e.start_round(0, zxid(5, 2), Epoch(6), &mut Vec::new());
    assert_eq!(hear_established_members(&mut e), None);
    assert!(e.is_looking());
}

/// A natural history in which an established ensemble's votes differ in round: servers 1 and 3
/// abandon two rounds while the others are finalizing round 1 on server 2's vote. A finalizing
/// server discards round-3 messages that carry no better vote and decides in round 1, while
/// servers that saw round 3 first elect the same leader there; for these seeds the four members
/// end up split two and two between rounds 1 and 3 (asserted), so no three of them have
/// identical votes. Returns the network once the ensemble {1, 2, 3, 4} is stable.
fn ensemble_split_across_rounds(seed: u64) -> Net {
    let servers: Vec<Server> = (1..=5).map(|i| Server::voter(i, zxid(1, (i * 7 % 5) as u32), 1)).collect();
    let mut net = Net::new(seed, Faults { drop_percent: 10, delay_ms_min: 1, delay_ms_max: 300 }, &servers);
    for id in 1..=4 {
        net.start(id);
    }
    net.run_until(120, |_| false);
    for id in [1, 1, 3, 3] {
        net.abandon_round(id);
    }
    assert_eq!(net.run_until_stable(600_000), Some(ServerId(2)), "seed {seed}");
    let mut rounds: Vec<u64> =
        (1..=4).map(|id| net.nodes[&ServerId(id)].election.current_vote().unwrap().round).collect();
    rounds.sort();
    assert_eq!(rounds, [1, 1, 3, 3], "seed {seed} no longer splits the members' rounds two and two");
    net
}

#[test]
fn zk1732_correct_a_newcomer_joins_members_that_decided_in_different_rounds() {
    for seed in [54, 193, 210, 404] {
        let mut net = ensemble_split_across_rounds(seed);
        net.start(5);
        assert_eq!(net.run_until_stable(net.now_ms + 300_000), Some(ServerId(2)), "seed {seed}");
    }
}

#[test]
fn zk1732_mutated_a_newcomer_never_joins_members_that_decided_in_different_rounds() {
    for seed in [54, 193, 210, 404] {
        let mut net = ensemble_split_across_rounds(seed);
        net.set_mutation(Mutation::Zk1732);
        net.start(5);
        let joined = net.run_until(net.now_ms + 300_000, |n| n.role(5) != PeerState::Looking);
        assert!(!joined, "seed {seed}: the newcomer joined despite the defect");
        // The ensemble itself stays healthy the whole time: the newcomer is simply locked out.
        assert_eq!(net.role(2), PeerState::Leading);
        for id in [1, 3, 4] {
            assert_eq!((net.role(id), net.leader_of(id)), (PeerState::Following, Some(ServerId(2))));
        }
    }
}

// ---- ZOOKEEPER-1732: updateElectionVote ----------------------------------------------------------

/// Server 1 decided to follow 3 in epoch 1, then synchronized into epoch 2.
fn synced_follower(mutation: Option<Mutation>) -> Election {
    let mut e = election(1, &[1, 2, 3], mutation);
    e.start_round(0, zxid(1, 5), Epoch(1), &mut Vec::new());
    feed(&mut e, note(PeerState::Looking, 3, vote(3, zxid(1, 9), 1), 1), PeerState::Looking);
    e.on_timeout(200, &mut Vec::new()).expect("decided");
    e.update_peer_epoch(Epoch(2));
    e
}

#[test]
fn zk1732_correct_a_synced_member_advertises_the_new_epoch() {
    let mut e = synced_follower(None);
    let (replies, _) =
        feed(&mut e, note(PeerState::Looking, 2, vote(2, zxid(1, 1), 1), 4), PeerState::Following);
    assert_eq!(replies[0].vote, Some(vote(3, zxid(1, 9), 2)));
}

#[test]
fn zk1732_mutated_a_synced_member_keeps_advertising_the_election_epoch() {
    let mut e = synced_follower(Some(Mutation::Zk1732b));
    let (replies, _) =
        feed(&mut e, note(PeerState::Looking, 2, vote(2, zxid(1, 1), 1), 4), PeerState::Following);
    assert_eq!(replies[0].vote, Some(vote(3, zxid(1, 9), 1)));
}
