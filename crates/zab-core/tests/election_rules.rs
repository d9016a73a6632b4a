//! Fast leader election, rule by rule (reference §2.2–§2.4). Each test drives one `Election` by
//! hand and, where the rule has a dedicated branch, asserts that its coverage mark was hit.

use std::collections::BTreeSet;

use proptest::prelude::*;
use zab_core::election::{
    vote_beats, Decision, Election, ElectionSend, Notification, Outcome, PeerState, Vote, FINALIZE_WAIT_MS,
    MAX_NOTIFICATION_INTERVAL_MS, NOTIFICATION_VERSION,
};
use zab_core::{marks, Epoch, ServerId};
use zab_tree::Zxid;

const LOOKING: PeerState = PeerState::Looking;
const FOLLOWING: PeerState = PeerState::Following;
const LEADING: PeerState = PeerState::Leading;

fn sid(id: u64) -> ServerId {
    ServerId(id)
}

fn voters(ids: &[u64]) -> BTreeSet<ServerId> {
    ids.iter().map(|&id| ServerId(id)).collect()
}

fn zxid(epoch: u32, counter: u32) -> Option<Zxid> {
    Some(Zxid::new(epoch, counter))
}

fn vote(leader: u64, zxid: Option<Zxid>, peer_epoch: u32) -> Vote {
    Vote { leader: ServerId(leader), zxid, peer_epoch: Epoch(peer_epoch) }
}

fn note(state: PeerState, sender: u64, vote: Vote, round: u64) -> Notification {
    Notification { state, vote: Some(vote), round, sender: ServerId(sender), version: NOTIFICATION_VERSION }
}

/// An election for `me` among `ids`, already in round 1 with last logged zxid (1, `counter`).
fn looking(me: u64, ids: &[u64], counter: u32) -> Election {
    let mut e = Election::new(sid(me), voters(ids), false);
    e.start_round(0, zxid(1, counter), Epoch(1), &mut Vec::new());
    e
}

/// Feeds `n` (from its sender) to `e`, whose replica is in `my_state`; returns the sends and outcome.
fn feed(
    e: &mut Election,
    now_ms: u64,
    n: Notification,
    my_state: PeerState,
) -> (Vec<ElectionSend>, Option<Outcome>) {
    let mut out = Vec::new();
    let outcome = e.on_notification(now_ms, n.sender, n, my_state, &mut out);
    (out, outcome)
}

fn destinations(out: &[ElectionSend]) -> Vec<u64> {
    out.iter().map(|s| s.to.0).collect()
}

// ---- starting a round ------------------------------------------------------------------------

#[test]
fn a_round_starts_by_proposing_myself_to_every_other_voter_in_ascending_order() {
    let mut e = Election::new(sid(3), voters(&[5, 1, 3, 2, 4]), false);
    let mut out = Vec::new();
    e.start_round(1_000, zxid(2, 9), Epoch(2), &mut out);
    assert_eq!(destinations(&out), [1, 2, 4, 5]);
    for send in &out {
        assert_eq!(send.n, note(LOOKING, 3, vote(3, zxid(2, 9), 2), 1));
    }
    assert_eq!(e.round(), 1);
    assert!(e.is_looking());
    assert_eq!(e.next_deadline(), Some(1_200));
}

#[test]
fn every_new_round_increments_the_logical_clock() {
    let mut e = looking(1, &[1, 2, 3], 4);
    e.start_round(500, zxid(1, 4), Epoch(1), &mut Vec::new());
    assert_eq!(e.round(), 2);
}

#[test]
fn an_observer_proposes_nobody_and_still_tells_the_voters() {
    let mut e = Election::new(sid(9), voters(&[1, 2, 3]), true);
    let mut out = Vec::new();
    e.start_round(0, zxid(1, 4), Epoch(1), &mut out);
    assert_eq!(destinations(&out), [1, 2, 3]);
    assert!(out.iter().all(|s| s.n.vote.is_none()));
    assert_eq!(e.proposal(), None);
}

#[test]
fn a_server_missing_from_the_voter_set_behaves_as_an_observer() {
    let mut e = Election::new(sid(7), voters(&[1, 2, 3]), false);
    e.start_round(0, zxid(1, 4), Epoch(1), &mut Vec::new());
    assert_eq!(e.proposal(), None);
}

#[test]
fn a_single_voter_ensemble_elects_itself_after_the_finalize_wait() {
    let mut e = Election::new(sid(1), voters(&[1]), false);
    let mut out = Vec::new();
    e.start_round(0, zxid(1, 1), Epoch(1), &mut out);
    assert!(out.is_empty());
    assert!(e.is_finalizing());
    assert_eq!(e.on_timeout(FINALIZE_WAIT_MS - 1, &mut out), None);
    let outcome = e.on_timeout(FINALIZE_WAIT_MS, &mut out).unwrap();
    assert_eq!(outcome.decision, Decision::Lead);
    assert_eq!(outcome.round, 1);
}

#[test]
fn notifications_before_the_first_round_are_dropped_without_reply() {
    let mut e = Election::new(sid(1), voters(&[1, 2, 3]), false);
    marks::expect("election: notification before the first round dropped", || {
        let (out, outcome) = feed(&mut e, 0, note(LOOKING, 2, vote(2, zxid(1, 1), 1), 1), LOOKING);
        assert!(out.is_empty());
        assert_eq!(outcome, None);
    });
}

// ---- LOOKING senders ------------------------------------------------------------------------

#[test]
fn a_better_vote_in_my_round_is_adopted_and_rebroadcast() {
    let mut e = looking(1, &[1, 2, 3], 5);
    marks::expect("election: better vote adopted", || {
        let (out, _) = feed(&mut e, 10, note(LOOKING, 2, vote(2, zxid(1, 6), 1), 1), LOOKING);
        assert_eq!(destinations(&out), [2, 3]);
        assert!(out.iter().all(|s| s.n.vote == Some(vote(2, zxid(1, 6), 1)) && s.n.round == 1));
    });
    assert_eq!(e.proposal(), Some(vote(2, zxid(1, 6), 1)));
}

#[test]
fn a_worse_vote_in_my_round_changes_nothing_and_sends_nothing() {
    let mut e = looking(2, &[1, 2, 3], 5);
    let (out, outcome) = feed(&mut e, 10, note(LOOKING, 1, vote(1, zxid(1, 6), 0), 1), LOOKING);
    assert!(out.is_empty());
    assert_eq!(outcome, None);
    assert_eq!(e.proposal(), Some(vote(2, zxid(1, 5), 1)));
}

#[test]
fn a_higher_round_is_joined_with_the_better_of_the_senders_vote_and_my_initial_vote() {
    let mut e = looking(1, &[1, 2, 3, 4, 5], 5);
    // In round 1 I was persuaded to vote for 5.
    feed(&mut e, 10, note(LOOKING, 5, vote(5, zxid(1, 9), 1), 1), LOOKING);
    assert_eq!(e.proposal().unwrap().leader, sid(5));
    // Round 4 arrives carrying a vote worse than my own initial vote: I go back to my initial vote,
    // not to the vote I had adopted in the old round.
    marks::expect("election: higher round adopted", || {
        let (out, _) = feed(&mut e, 20, note(LOOKING, 2, vote(2, zxid(1, 3), 1), 4), LOOKING);
        assert_eq!(destinations(&out), [2, 3, 4, 5]);
        assert!(out.iter().all(|s| s.n.round == 4 && s.n.vote == Some(vote(1, zxid(1, 5), 1))));
    });
    assert_eq!(e.round(), 4);
    // A higher round carrying a better vote adopts it.
    feed(&mut e, 30, note(LOOKING, 3, vote(3, zxid(1, 7), 1), 6), LOOKING);
    assert_eq!((e.round(), e.proposal()), (6, Some(vote(3, zxid(1, 7), 1))));
}

#[test]
fn votes_from_an_abandoned_round_do_not_count_in_the_new_one() {
    let mut e = looking(1, &[1, 2, 3, 4, 5], 5);
    feed(&mut e, 0, note(LOOKING, 4, vote(5, zxid(1, 9), 1), 1), LOOKING);
    // Round 2 brings the same vote from server 2: {1, 2} agree in round 2, and 4 spoke in round 1,
    // so there is no quorum of three yet.
    feed(&mut e, 0, note(LOOKING, 2, vote(5, zxid(1, 9), 1), 2), LOOKING);
    assert!(!e.is_finalizing());
    feed(&mut e, 0, note(LOOKING, 5, vote(5, zxid(1, 9), 1), 2), LOOKING);
    assert!(e.is_finalizing());
}

#[test]
fn a_looking_peer_in_an_older_round_gets_my_proposal_at_once_and_is_otherwise_ignored() {
    let mut e = looking(1, &[1, 2, 3], 5);
    e.start_round(0, zxid(1, 5), Epoch(1), &mut Vec::new());
    marks::expect("election: lower round answered with my proposal", || {
        marks::expect("election: lower round ignored", || {
            let (out, _) = feed(&mut e, 10, note(LOOKING, 3, vote(3, zxid(1, 8), 1), 1), LOOKING);
            assert_eq!(out, [ElectionSend { to: sid(3), n: note(LOOKING, 1, vote(1, zxid(1, 5), 1), 2) }]);
        })
    });
    assert_eq!(e.proposal(), Some(vote(1, zxid(1, 5), 1)), "a better vote from an old round is not adopted");
}

#[test]
fn a_vote_for_a_non_voter_is_ignored() {
    let mut e = looking(1, &[1, 2, 3], 5);
    marks::expect("election: vote for a non-voter ignored", || {
        let (out, _) = feed(&mut e, 10, note(LOOKING, 2, vote(9, zxid(5, 5), 5), 1), LOOKING);
        assert!(out.is_empty());
    });
    assert_eq!(e.proposal().unwrap().leader, sid(1));
}

#[test]
fn a_notification_resets_the_notification_timeout() {
    let mut e = looking(1, &[1, 2, 3], 5);
    assert_eq!(e.next_deadline(), Some(200));
    feed(&mut e, 150, note(LOOKING, 2, vote(1, zxid(1, 5), 1), 9), LOOKING);
    assert_eq!(e.next_deadline(), Some(350));
}

// ---- uninitialized databases (ZOOKEEPER-261) ------------------------------------------------

#[test]
fn a_server_with_an_uninitialized_database_ignores_looking_votes() {
    let mut e = Election::new(sid(1), voters(&[1, 2, 3]), false);
    e.start_round(0, None, Epoch(0), &mut Vec::new());
    marks::expect("election: uninitialized database ignores looking votes", || {
        let (out, _) = feed(&mut e, 10, note(LOOKING, 2, vote(2, zxid(1, 6), 1), 3), LOOKING);
        assert!(out.is_empty());
    });
    assert_eq!((e.round(), e.proposal()), (1, Some(vote(1, None, 0))));
}

#[test]
fn a_vote_from_an_uninitialized_database_is_ignored() {
    let mut e = looking(2, &[1, 2, 3], 5);
    marks::expect("election: vote from uninitialized database ignored", || {
        // Server 1 votes for itself with zxid -1; were it counted, {1, 2}... would never agree
        // anyway, so check that even a vote for *me* with zxid -1 does not make a quorum.
        feed(&mut e, 10, note(LOOKING, 1, vote(2, None, 1), 1), LOOKING);
    });
    assert!(!e.is_finalizing());
    // The same vote with a real zxid does.
    feed(&mut e, 10, note(LOOKING, 1, vote(2, zxid(1, 5), 1), 1), LOOKING);
    assert!(e.is_finalizing());
}

#[test]
fn a_server_with_an_uninitialized_database_joins_an_established_ensemble() {
    let mut e = Election::new(sid(1), voters(&[1, 2, 3]), false);
    e.start_round(0, None, Epoch(0), &mut Vec::new());
    let leader = vote(3, zxid(4, 2), 4);
    feed(&mut e, 10, note(FOLLOWING, 2, leader, 6), LOOKING);
    let (_, outcome) = feed(&mut e, 20, note(LEADING, 3, leader, 6), LOOKING);
    assert_eq!(outcome.unwrap().decision, Decision::Follow(sid(3)));
}

// ---- quorum and the finalize wait --------------------------------------------------------------

#[test]
fn a_quorum_for_my_proposal_decides_after_a_quiet_finalize_wait() {
    let mut e = looking(3, &[1, 2, 3], 9);
    let outcome = marks::expect("election: quorum agrees, finalize wait", || {
        let (_, outcome) = feed(&mut e, 50, note(LOOKING, 1, vote(3, zxid(1, 9), 1), 1), LOOKING);
        outcome
    });
    assert_eq!(outcome, None, "the decision waits out the finalize period");
    assert_eq!(e.next_deadline(), Some(50 + FINALIZE_WAIT_MS));
    assert_eq!(e.on_timeout(249, &mut Vec::new()), None);
    let outcome = e.on_timeout(250, &mut Vec::new()).unwrap();
    assert_eq!(outcome, Outcome { decision: Decision::Lead, vote: vote(3, zxid(1, 9), 1), round: 1 });
    assert!(!e.is_looking());
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn a_follower_decides_to_follow_the_agreed_leader() {
    let mut e = looking(1, &[1, 2, 3], 5);
    feed(&mut e, 0, note(LOOKING, 3, vote(3, zxid(1, 9), 1), 1), LOOKING);
    assert!(e.is_finalizing());
    let outcome = e.on_timeout(FINALIZE_WAIT_MS, &mut Vec::new()).unwrap();
    assert_eq!(outcome.decision, Decision::Follow(sid(3)));
    assert_eq!(outcome.leader(), sid(3));
}

#[test]
fn votes_that_differ_in_any_field_do_not_form_a_looking_quorum() {
    // Each differs from my proposal (3, 0x100000009, 1) in one field and is worse, so not adopted.
    for other in [vote(3, zxid(1, 8), 1), vote(3, zxid(1, 9), 0), vote(2, zxid(1, 9), 1)] {
        let mut e = looking(3, &[1, 2, 3], 9);
        feed(&mut e, 0, note(LOOKING, 1, other, 1), LOOKING);
        assert!(!e.is_finalizing(), "{other} must not agree with (3, 0x100000009, 1)");
    }
}

#[test]
fn anything_but_a_better_vote_during_the_finalize_wait_is_discarded_and_restarts_the_quiet_period() {
    let mut e = looking(3, &[1, 2, 3, 4, 5], 9);
    feed(&mut e, 0, note(LOOKING, 1, vote(3, zxid(1, 9), 1), 1), LOOKING);
    feed(&mut e, 0, note(LOOKING, 2, vote(3, zxid(1, 9), 1), 1), LOOKING);
    assert!(e.is_finalizing());
    // A worse vote in a *higher* round would normally move me to that round; here it is dropped.
    let (out, _) = feed(&mut e, 150, note(LOOKING, 4, vote(4, zxid(1, 1), 1), 7), LOOKING);
    assert!(out.is_empty());
    assert_eq!(e.round(), 1);
    assert_eq!(e.next_deadline(), Some(150 + FINALIZE_WAIT_MS));
    assert_eq!(e.on_timeout(349, &mut Vec::new()), None);
    assert_eq!(e.on_timeout(350, &mut Vec::new()).unwrap().decision, Decision::Lead);
}

#[test]
fn a_better_vote_during_the_finalize_wait_resumes_the_election() {
    let mut e = looking(2, &[1, 2, 3], 5);
    feed(&mut e, 0, note(LOOKING, 1, vote(2, zxid(1, 5), 1), 1), LOOKING);
    assert!(e.is_finalizing());
    marks::expect("election: finalize wait resumed by a better vote", || {
        let (out, outcome) = feed(&mut e, 100, note(LOOKING, 3, vote(3, zxid(1, 6), 1), 1), LOOKING);
        assert_eq!(outcome, None);
        assert_eq!(destinations(&out), [1, 3], "the adopted vote is rebroadcast");
    });
    assert_eq!(e.proposal(), Some(vote(3, zxid(1, 6), 1)));
    // {2, 3} now agree on 3: a new finalize wait, ending in following 3.
    assert!(e.is_finalizing());
    assert_eq!(e.on_timeout(300, &mut Vec::new()).unwrap().decision, Decision::Follow(sid(3)));
}

// ---- notification timeout -----------------------------------------------------------------------

#[test]
fn a_silent_notification_timeout_retransmits_and_doubles_up_to_sixty_seconds() {
    let mut e = looking(1, &[1, 2, 3], 5);
    let mut now = 0;
    let mut intervals = Vec::new();
    marks::expect("election: notification timeout retransmits", || {
        for _ in 0..12 {
            let deadline = e.next_deadline().unwrap();
            assert_eq!(e.on_timeout(deadline - 1, &mut Vec::new()), None, "nothing happens early");
            let mut out = Vec::new();
            assert_eq!(e.on_timeout(deadline, &mut out), None);
            assert_eq!(destinations(&out), [2, 3]);
            intervals.push(deadline - now);
            now = deadline;
        }
    });
    assert_eq!(
        intervals,
        [200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200, 60_000, 60_000, 60_000]
    );
    assert_eq!(MAX_NOTIFICATION_INTERVAL_MS, 60_000);
}

#[test]
fn a_new_round_starts_again_from_the_minimum_notification_timeout() {
    let mut e = looking(1, &[1, 2, 3], 5);
    e.on_timeout(200, &mut Vec::new());
    e.on_timeout(600, &mut Vec::new());
    e.start_round(1_000, zxid(1, 5), Epoch(1), &mut Vec::new());
    assert_eq!(e.next_deadline(), Some(1_200));
}

// ---- FOLLOWING / LEADING senders ---------------------------------------------------------------

#[test]
fn established_votes_in_my_round_decide_when_the_leader_says_it_leads() {
    let mut e = looking(1, &[1, 2, 3], 5);
    let leader = vote(3, zxid(1, 9), 1);
    let outcome = marks::expect("election: decided in round by established votes", || {
        // One LEADING vote is not a quorum of three, and my own LOOKING vote (for myself) differs.
        assert_eq!(feed(&mut e, 0, note(LEADING, 3, leader, 1), LOOKING).1, None);
        feed(&mut e, 0, note(FOLLOWING, 2, leader, 1), LOOKING).1
    });
    assert_eq!(outcome, Some(Outcome { decision: Decision::Follow(sid(3)), vote: leader, round: 1 }));
}

#[test]
fn a_newcomer_joins_an_established_ensemble_through_out_of_election_votes() {
    let mut e = looking(4, &[1, 2, 3, 4, 5], 2);
    // The ensemble decided in round 7; its members' votes differ in zxid and round (they joined at
    // different times) but agree on (leader, peer epoch).
    let outcome = marks::expect("election: decided out of election", || {
        assert_eq!(feed(&mut e, 0, note(FOLLOWING, 1, vote(3, zxid(5, 1), 6), 7), LOOKING).1, None);
        assert_eq!(feed(&mut e, 0, note(FOLLOWING, 2, vote(3, zxid(5, 4), 6), 9), LOOKING).1, None);
        feed(&mut e, 0, note(LEADING, 3, vote(3, zxid(5, 7), 6), 7), LOOKING).1
    });
    let outcome = outcome.unwrap();
    assert_eq!(outcome.decision, Decision::Follow(sid(3)));
    assert_eq!(outcome.round, 7);
    assert_eq!(e.round(), 7, "the newcomer takes the ensemble's round");
}

#[test]
fn established_votes_for_a_different_peer_epoch_do_not_agree() {
    let mut e = looking(4, &[1, 2, 3, 4, 5], 2);
    feed(&mut e, 0, note(FOLLOWING, 1, vote(3, zxid(5, 1), 5), 7), LOOKING);
    feed(&mut e, 0, note(FOLLOWING, 2, vote(3, zxid(5, 1), 6), 7), LOOKING);
    let (_, outcome) = feed(&mut e, 0, note(LEADING, 3, vote(3, zxid(5, 1), 6), 7), LOOKING);
    assert_eq!(outcome, None, "only two of five agree on (3, epoch 6)");
}

#[test]
fn across_protocol_versions_established_votes_agree_on_the_leader_alone() {
    let mut e = looking(4, &[1, 2, 3, 4, 5], 2);
    let mut old = note(FOLLOWING, 1, vote(3, zxid(5, 1), 5), 7);
    old.version = 0;
    feed(&mut e, 0, old, LOOKING);
    feed(&mut e, 0, note(FOLLOWING, 2, vote(3, zxid(5, 1), 6), 7), LOOKING);
    let (_, outcome) = feed(&mut e, 0, note(LEADING, 3, vote(3, zxid(5, 1), 6), 7), LOOKING);
    assert_eq!(outcome.unwrap().decision, Decision::Follow(sid(3)));
}

#[test]
fn a_quorum_of_followers_is_not_enough_without_word_from_the_leader_itself() {
    let mut e = looking(4, &[1, 2, 3, 4, 5], 2);
    let dead_leader = vote(3, zxid(5, 1), 6);
    marks::expect("election: check leader refused", || {
        for follower in [1, 2, 5] {
            let (_, outcome) = feed(&mut e, 0, note(FOLLOWING, follower, dead_leader, 7), LOOKING);
            assert_eq!(outcome, None);
        }
    });
    let (_, outcome) = feed(&mut e, 0, note(LEADING, 3, dead_leader, 7), LOOKING);
    assert_eq!(outcome.unwrap().decision, Decision::Follow(sid(3)));
}

#[test]
fn a_leader_vote_that_says_following_does_not_satisfy_check_leader() {
    let mut e = looking(4, &[1, 2, 3, 4, 5], 2);
    let v = vote(3, zxid(5, 1), 6);
    for sender in [1, 2, 3] {
        let (_, outcome) = feed(&mut e, 0, note(FOLLOWING, sender, v, 7), LOOKING);
        assert_eq!(outcome, None);
    }
}

#[test]
fn i_do_not_rejoin_as_leader_of_an_ensemble_from_an_older_round() {
    let mut e = looking(3, &[1, 2, 3], 9);
    e.start_round(0, zxid(1, 9), Epoch(1), &mut Vec::new());
    marks::expect("election: check leader refused", || {
        feed(&mut e, 0, note(FOLLOWING, 1, vote(3, zxid(1, 9), 1), 1), LOOKING);
        let (_, outcome) = feed(&mut e, 0, note(FOLLOWING, 2, vote(3, zxid(1, 9), 1), 1), LOOKING);
        assert_eq!(outcome, None);
    });
}

#[test]
fn followers_of_me_in_my_current_round_make_me_lead() {
    let mut e = looking(3, &[1, 2, 3], 9);
    // My own LOOKING vote in this round is identical in all four fields, so it counts with 1's.
    let (_, outcome) = feed(&mut e, 0, note(FOLLOWING, 1, vote(3, zxid(1, 9), 1), 1), LOOKING);
    assert_eq!(outcome.unwrap().decision, Decision::Lead);
}

#[test]
fn an_observing_sender_is_ignored() {
    let mut e = looking(1, &[1, 2, 3], 5);
    marks::expect("election: observing sender ignored", || {
        let (out, outcome) =
            feed(&mut e, 0, note(PeerState::Observing, 2, vote(3, zxid(9, 9), 9), 1), LOOKING);
        assert!(out.is_empty());
        assert_eq!(outcome, None);
    });
}

// ---- observers ----------------------------------------------------------------------------------

#[test]
fn an_observer_decides_to_observe_through_established_votes() {
    let mut e = Election::new(sid(9), voters(&[1, 2, 3]), true);
    e.start_round(0, zxid(1, 1), Epoch(1), &mut Vec::new());
    let leader = vote(2, zxid(1, 4), 1);
    feed(&mut e, 0, note(FOLLOWING, 1, leader, 3), LOOKING);
    let outcome = marks::expect("election: observer decided to observe", || {
        feed(&mut e, 0, note(LEADING, 2, leader, 3), LOOKING).1
    });
    assert_eq!(outcome.unwrap().decision, Decision::Observe(sid(2)));
}

#[test]
fn an_observer_adopts_looking_votes_and_observes_once_a_voter_quorum_agrees() {
    let mut e = Election::new(sid(9), voters(&[1, 2, 3]), true);
    e.start_round(0, zxid(1, 1), Epoch(1), &mut Vec::new());
    let v = vote(3, zxid(1, 4), 1);
    feed(&mut e, 0, note(LOOKING, 1, v, 1), LOOKING);
    assert_eq!(e.proposal(), Some(v));
    assert!(!e.is_finalizing(), "the observer's own vote does not count");
    feed(&mut e, 0, note(LOOKING, 3, v, 1), LOOKING);
    assert!(e.is_finalizing());
    assert_eq!(e.on_timeout(FINALIZE_WAIT_MS, &mut Vec::new()).unwrap().decision, Decision::Observe(sid(3)));
}

// ---- answering peers (the receiver side) -------------------------------------------------------

#[test]
fn a_non_voter_gets_my_current_vote_at_once_and_nothing_else_happens() {
    let mut e = looking(1, &[1, 2, 3], 5);
    let observer = Notification { state: LOOKING, vote: None, round: 4, sender: sid(9), version: 2 };
    marks::expect("election: non-voter answered with current vote", || {
        let (out, _) = feed(&mut e, 0, observer, LOOKING);
        // Before any decision, my current vote is my start-up vote; the round is my logical clock.
        assert_eq!(out, [ElectionSend { to: sid(9), n: note(LOOKING, 1, vote(1, zxid(1, 5), 1), 1) }]);
    });
    assert_eq!(e.round(), 1, "a non-voter's higher round is not joined");
}

#[test]
fn while_not_looking_i_answer_looking_voters_with_my_decided_vote_and_round() {
    let mut e = looking(3, &[1, 2, 3], 9);
    feed(&mut e, 0, note(LOOKING, 1, vote(3, zxid(1, 9), 1), 1), LOOKING);
    let decided = e.on_timeout(FINALIZE_WAIT_MS, &mut Vec::new()).unwrap();
    marks::expect("election: looking peer answered with decided vote", || {
        let (out, outcome) = feed(&mut e, 900, note(LOOKING, 2, vote(2, zxid(1, 2), 1), 5), LEADING);
        assert_eq!(outcome, None);
        assert_eq!(out, [ElectionSend { to: sid(2), n: note(LEADING, 3, decided.vote, 1) }]);
    });
    // Non-LOOKING senders get no answer.
    let (out, _) = feed(&mut e, 900, note(FOLLOWING, 2, decided.vote, 1), LEADING);
    assert!(out.is_empty());
}

#[test]
fn after_sync_the_advertised_vote_carries_the_new_epoch() {
    let mut e = looking(1, &[1, 2, 3], 5);
    feed(&mut e, 0, note(LOOKING, 3, vote(3, zxid(1, 9), 1), 1), LOOKING);
    e.on_timeout(FINALIZE_WAIT_MS, &mut Vec::new()).unwrap();
    e.update_peer_epoch(Epoch(2));
    let (out, _) = feed(&mut e, 900, note(LOOKING, 2, vote(2, zxid(1, 2), 1), 5), FOLLOWING);
    assert_eq!(out[0].n.vote, Some(vote(3, zxid(1, 9), 2)));
    assert_eq!(out[0].n.state, FOLLOWING);
}

#[test]
fn looking_replica_between_rounds_drops_notifications() {
    let mut e = looking(3, &[1, 2, 3], 9);
    feed(&mut e, 0, note(LOOKING, 1, vote(3, zxid(1, 9), 1), 1), LOOKING);
    e.on_timeout(FINALIZE_WAIT_MS, &mut Vec::new()).unwrap();
    marks::expect("election: notification between rounds dropped", || {
        let (out, outcome) = feed(&mut e, 900, note(LOOKING, 2, vote(2, zxid(1, 2), 1), 5), LOOKING);
        assert!(out.is_empty());
        assert_eq!(outcome, None);
    });
}

// ---- the total order (reference §2.2) ----------------------------------------------------------

#[test]
fn peer_epoch_outranks_zxid_which_outranks_server_id() {
    let all = voters(&[1, 2, 3]);
    assert!(vote_beats(&vote(1, zxid(1, 1), 2), Some(&vote(3, zxid(9, 9), 1)), &all));
    assert!(vote_beats(&vote(1, zxid(1, 2), 1), Some(&vote(3, zxid(1, 1), 1)), &all));
    assert!(vote_beats(&vote(3, zxid(1, 1), 1), Some(&vote(1, zxid(1, 1), 1)), &all));
    assert!(!vote_beats(&vote(3, zxid(1, 1), 1), Some(&vote(3, zxid(1, 1), 1)), &all));
    assert!(vote_beats(&vote(1, zxid(0, 0), 0), Some(&vote(3, None, 0)), &all), "any zxid beats -1");
    assert!(vote_beats(&vote(1, None, 0), None, &all), "anyone beats nobody");
    assert!(
        !vote_beats(&vote(7, zxid(9, 9), 9), Some(&vote(1, zxid(1, 1), 1)), &all),
        "non-voters never win"
    );
}

fn arb_vote() -> impl Strategy<Value = Vote> {
    (1u64..6, proptest::option::of((0u32..3, 0u32..3)), 0u32..3).prop_map(|(leader, z, e)| Vote {
        leader: ServerId(leader),
        zxid: z.map(|(epoch, counter)| Zxid::new(epoch, counter)),
        peer_epoch: Epoch(e),
    })
}

proptest! {
    #[test]
    fn vote_order_is_a_strict_total_order_on_voter_candidates(a in arb_vote(), b in arb_vote(), c in arb_vote()) {
        let all = voters(&[1, 2, 3, 4, 5]);
        prop_assert!(!vote_beats(&a, Some(&a), &all));
        if a != b {
            prop_assert!(vote_beats(&a, Some(&b), &all) != vote_beats(&b, Some(&a), &all));
        }
        if vote_beats(&a, Some(&b), &all) && vote_beats(&b, Some(&c), &all) {
            prop_assert!(vote_beats(&a, Some(&c), &all));
        }
    }

    #[test]
    fn a_candidate_outside_the_voter_set_never_wins(a in arb_vote(), b in arb_vote()) {
        let some = voters(&[1, 2, 3]);
        if !some.contains(&a.leader) {
            prop_assert!(!vote_beats(&a, Some(&b), &some));
            prop_assert!(!vote_beats(&a, None, &some));
        }
    }
}

// ---- peer input is data --------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Event {
    Receive(Notification),
    Timeout(u64),
    /// The replica's role ends (or a decided round is abandoned): a new round starts.
    Restart,
    Sync(u32),
}

fn arb_notification() -> impl Strategy<Value = Notification> {
    let state = prop_oneof![
        Just(PeerState::Looking),
        Just(PeerState::Following),
        Just(PeerState::Leading),
        Just(PeerState::Observing)
    ];
    let zxid = proptest::option::of((0u32..3, 0u32..4).prop_map(|(e, c)| Zxid::new(e, c)));
    let vote = (0u64..8, zxid, 0u32..3).prop_map(|(l, z, e)| Vote {
        leader: ServerId(l),
        zxid: z,
        peer_epoch: Epoch(e),
    });
    let round = prop_oneof![0u64..4, Just(i64::MAX as u64)];
    (state, proptest::option::of(vote), round, 0u64..8, prop_oneof![Just(0u32), Just(2u32)]).prop_map(
        |(state, vote, round, sender, version)| Notification {
            state,
            vote,
            round,
            sender: ServerId(sender),
            version,
        },
    )
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        8 => arb_notification().prop_map(Event::Receive),
        2 => (0u64..400).prop_map(Event::Timeout),
        1 => Just(Event::Restart),
        1 => (0u32..4).prop_map(Event::Sync),
    ]
}

proptest! {
    /// Whatever peers send, in whatever order, the engine never panics, only ever talks to voters
    /// and to whoever wrote to it, never proposes or elects a non-voter, and decides only while
    /// LOOKING.
    #[test]
    fn arbitrary_peer_input_never_breaks_the_engine(
        me in 1u64..6,
        observer in any::<bool>(),
        uninitialized in any::<bool>(),
        events in proptest::collection::vec(arb_event(), 0..120),
    ) {
        let all = voters(&[1, 2, 3, 4, 5]);
        let mut e = Election::new(sid(me), all.clone(), observer);
        let last_logged = if uninitialized { None } else { zxid(1, 2) };
        let mut role = LOOKING;
        let mut now = 0;
        e.start_round(now, last_logged, Epoch(1), &mut Vec::new());
        for event in events {
            let mut out = Vec::new();
            let mut allowed_to = all.clone();
            let outcome = match event {
                Event::Receive(n) => {
                    allowed_to.insert(n.sender);
                    e.on_notification(now, n.sender, n, role, &mut out)
                }
                Event::Timeout(after) => {
                    now += after;
                    e.on_timeout(now, &mut out)
                }
                Event::Restart => {
                    role = LOOKING;
                    e.start_round(now, last_logged, Epoch(1), &mut out);
                    None
                }
                Event::Sync(epoch) => {
                    e.update_peer_epoch(Epoch(epoch));
                    None
                }
            };
            for send in &out {
                prop_assert!(allowed_to.contains(&send.to) && send.to != sid(me), "send to {}", send.to);
                prop_assert_eq!(send.n.sender, sid(me));
            }
            if let Some(p) = e.proposal() {
                prop_assert!(all.contains(&p.leader), "proposes non-voter {}", p.leader);
            }
            if e.is_finalizing() {
                prop_assert!(e.proposal().is_some());
            }
            if let Some(o) = outcome {
                prop_assert_eq!(role, LOOKING, "decided while {:?}", role);
                prop_assert!(all.contains(&o.leader()));
                prop_assert!(!e.is_looking() && e.next_deadline().is_none());
                prop_assert!(o.decision != Decision::Lead || (!observer && o.leader() == sid(me)));
                prop_assert!(!matches!(o.decision, Decision::Observe(_)) || observer);
                role = match o.decision {
                    Decision::Lead => LEADING,
                    Decision::Follow(_) => FOLLOWING,
                    Decision::Observe(_) => PeerState::Observing,
                };
            }
        }
    }
}

#[test]
fn a_notification_claiming_to_come_from_myself_is_ignored() {
    let mut e = looking(2, &[1, 2, 3], 5);
    marks::expect("election: notification from myself ignored", || {
        let (out, outcome) = feed(&mut e, 0, note(LOOKING, 2, vote(3, zxid(1, 9), 1), 0), LOOKING);
        assert!(out.is_empty());
        assert_eq!(outcome, None);
    });
    assert_eq!(e.proposal(), Some(vote(2, zxid(1, 5), 1)));
}

#[test]
fn in_my_round_established_votes_agree_on_the_leader_alone() {
    // Java records same-round FOLLOWING/LEADING votes without their version, and its vote
    // comparison then looks at the leader only: members reporting different peer epochs still
    // count together. (Out of election, the peer epoch must match; see above.)
    let mut e = looking(4, &[1, 2, 3, 4, 5], 2);
    assert_eq!(feed(&mut e, 0, note(FOLLOWING, 1, vote(3, zxid(5, 1), 5), 1), LOOKING).1, None);
    assert_eq!(feed(&mut e, 0, note(FOLLOWING, 2, vote(3, zxid(5, 2), 6), 1), LOOKING).1, None);
    let outcome = marks::expect("election: decided in round by established votes", || {
        feed(&mut e, 0, note(LEADING, 3, vote(3, zxid(5, 3), 7), 1), LOOKING).1
    });
    assert_eq!(
        outcome.unwrap(),
        Outcome { decision: Decision::Follow(sid(3)), vote: vote(3, zxid(5, 3), 7), round: 1 }
    );
}
