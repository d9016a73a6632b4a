//! The synchronization defects of reference §5.4 (the NEWLEADER-ack family and its neighbours),
//! switched on one at a time in the deterministic harness. Each test steers the interleaving that
//! exposes one defect and shows the bad outcome with it on and the correct one with it off.
//!
//! Run with `cargo test -p zab-core --features mutations`.

#![cfg(feature = "mutations")]

use zab_core::harness::{ClientEvent, Cluster};
use zab_core::mutation::Mutation;
use zab_core::{ConnId, ServerId};
use zab_tree::{CreateKind, ErrorCode, Request, SessionId, Zxid, OPEN_ACL_UNSAFE};

const S1: ServerId = ServerId(1);
const S2: ServerId = ServerId(2);
const S3: ServerId = ServerId(3);

fn create(path: &str) -> Request {
    Request::Create {
        path: path.to_string(),
        data: Some(b"v".to_vec()),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        flags: 0,
        kind: CreateKind::Create,
    }
}

/// Three voters with `mutation` in every replica, serving; server 3 leads.
fn serving(mutation: Option<Mutation>) -> Cluster {
    let mut c = Cluster::new(3, 0, |c| c);
    c.mutation = mutation;
    c.start_all();
    assert!(c.run_until(30_000, |c| c.leader().is_some() && c.all_serving()), "{}", c.status_table());
    assert_eq!(c.leader(), Some(S3));
    c
}

fn session(c: &mut Cluster, server: ServerId) -> ConnId {
    let conn = c.client_connect(server, SessionId(0), Zxid(0));
    let ok =
        c.run_until(10_000, |c| matches!(c.clients[&conn].1.first(), Some(ClientEvent::Connected { .. })));
    assert!(ok, "no session on {server}");
    conn
}

/// Creates `path` and waits for the success reply; returns its zxid.
fn write(c: &mut Cluster, conn: ConnId, xid: i32, path: &str) -> Zxid {
    c.client_request(conn, xid, create(path));
    let reply = |c: &Cluster| {
        c.clients[&conn].1.iter().find_map(|e| match e {
            ClientEvent::Reply { header, .. } if header.xid == xid => Some((header.err, header.zxid)),
            _ => None,
        })
    };
    assert!(c.run_until(10_000, |c| reply(c).is_some()), "no reply to {path}");
    let (err, zxid) = reply(c).expect("reply");
    assert_eq!(err, ErrorCode::Ok);
    zxid
}

fn logged(c: &Cluster, line: &str) -> bool {
    c.log.iter().any(|l| l.contains(line))
}

fn has_node(c: &Cluster, id: ServerId, path: &str) -> bool {
    c.nodes[&id].replica.as_ref().is_some_and(|r| r.tree().node(path).is_some())
}

/// Server 1 misses a write, restarts, is DIFF-synced, and crashes the moment it has ACKed
/// NEWLEADER. Returns the write's zxid and the last zxid server 1's disk holds afterwards.
fn bounce_right_after_the_newleader_ack(c: &mut Cluster, xid: i32) -> (Zxid, Zxid) {
    let conn = session(c, S3);
    c.crash(S1);
    let z = write(c, conn, xid, &format!("/a{xid}"));
    c.take_log();
    c.start(S1);
    assert!(c.run_until(10_000, |c| logged(c, "1: acked NEWLEADER")), "{}", c.status_table());
    c.crash(S1);
    assert!(c.start(S1), "server 1 recovers");
    let on_disk = c.status(S1).unwrap().last_logged.expect("trusted disk");
    assert!(c.run_until(30_000, |c| c.all_serving()), "{}", c.status_table());
    (z, on_disk)
}

#[test]
fn without_a_mutation_a_newleader_ack_means_the_diff_txns_are_on_disk() {
    let mut c = serving(None);
    let (z, on_disk) = bounce_right_after_the_newleader_ack(&mut c, 1);
    assert!(on_disk >= z, "disk ends at {on_disk}, the DIFF carried {z}");
}

#[test]
fn zk3911_acks_newleader_before_the_diff_txns_are_logged() {
    let mut c = serving(Some(Mutation::Zk3911));
    let (z, on_disk) = bounce_right_after_the_newleader_ack(&mut c, 1);
    assert!(on_disk < z, "the DIFF txn {z} was on disk ({on_disk}) at the ACK");
}

#[test]
fn zk4646_acks_newleader_before_the_diff_txns_are_fsynced() {
    let mut c = serving(Some(Mutation::Zk4646));
    let (z, on_disk) = bounce_right_after_the_newleader_ack(&mut c, 1);
    assert!(on_disk < z, "the DIFF txn {z} was on disk ({on_disk}) at the ACK");
}

#[test]
fn zk4785_writes_current_epoch_and_acks_before_the_diff_txns_are_durable() {
    let mut c = serving(Some(Mutation::Zk4785));
    let (z, on_disk) = bounce_right_after_the_newleader_ack(&mut c, 1);
    assert!(on_disk < z, "the DIFF txn {z} was on disk ({on_disk}) at the ACK");
}

#[test]
fn zk3023_leaves_the_order_of_the_diff_fsync_and_the_newleader_ack_to_chance() {
    let mut c = serving(Some(Mutation::Zk3023));
    let mut outcomes = Vec::new();
    for xid in 1..=12 {
        let (z, on_disk) = bounce_right_after_the_newleader_ack(&mut c, xid);
        outcomes.push(on_disk >= z);
    }
    assert!(outcomes.contains(&true) && outcomes.contains(&false), "durable at the ACK: {outcomes:?}");
}

/// The leader logs a write its followers never make durable, then everyone restarts: the new
/// leader's first epoch must DIFF that write to both followers. Returns whether a leader gave up
/// for lack of a NEWLEADER quorum.
fn restart_with_a_leader_only_tail(mutation: Option<Mutation>) -> bool {
    let mut c = serving(mutation);
    let conn = session(&mut c, S3);
    for id in [S1, S2] {
        c.nodes.get_mut(&id).unwrap().hold_disk = true;
    }
    c.client_request(conn, 1, create("/b"));
    c.run_for(50);
    for id in [S1, S2, S3] {
        c.crash(id);
        c.nodes.get_mut(&id).unwrap().hold_disk = false;
    }
    c.take_log();
    c.start_all();
    assert!(c.run_until(120_000, |c| c.leader().is_some() && c.all_serving()), "{}", c.status_table());
    assert!(has_node(&c, S1, "/b") && has_node(&c, S2, "/b"), "the leader's history was synced");
    logged(&c, "timed out waiting for a quorum of learners")
}

#[test]
fn without_a_mutation_the_first_epoch_after_the_restart_is_established_at_once() {
    assert!(!restart_with_a_leader_only_tail(None));
}

#[test]
fn zk4685_proposal_acks_overtake_the_newleader_ack_and_the_leader_gives_up() {
    assert!(restart_with_a_leader_only_tail(Some(Mutation::Zk4685)));
}

/// Server 1 rejoins while a proposal is outstanding (server 2's disk is stalled), so the proposal
/// reaches it in the sync stream before NEWLEADER and its COMMIT after.
fn rejoin_with_a_proposal_in_flight(mutation: Option<Mutation>) -> Cluster {
    let mut c = serving(mutation);
    let conn = session(&mut c, S3);
    c.crash(S1);
    c.nodes.get_mut(&S2).unwrap().hold_disk = true;
    c.client_request(conn, 1, create("/b"));
    c.run_for(50);
    c.start(S1);
    assert!(c.run_until(10_000, |c| c.status(S1).is_some_and(|s| s.serving)), "{}", c.status_table());
    c.nodes.get_mut(&S2).unwrap().hold_disk = false;
    c.run_for(2_000);
    c
}

#[test]
fn without_a_mutation_a_commit_after_newleader_finds_its_proposal() {
    let c = rejoin_with_a_proposal_in_flight(None);
    assert!(has_node(&c, S1, "/b"));
    assert_eq!(c.nodes[&S1].replica.as_ref().unwrap().halted(), None);
}

#[test]
fn zk4394_clears_the_pending_proposals_at_newleader_and_the_commit_matches_nothing() {
    let c = rejoin_with_a_proposal_in_flight(Some(Mutation::Zk4394));
    let halted = c.nodes[&S1].replica.as_ref().unwrap().halted().unwrap_or_default().to_string();
    assert!(halted.starts_with(zab_core::messages::UNMATCHED_TXN_COMMIT), "halted: {halted:?}");
}

/// Server 1 misses an acknowledged write; everyone restarts with server 2's disk stalled, and the
/// new leader (3) crashes right after server 1 received DIFF. Returns whether the leader elected
/// next holds the write.
fn leader_dies_during_a_diff(mutation: Option<Mutation>) -> bool {
    let mut c = serving(mutation);
    let conn = session(&mut c, S3);
    c.crash(S1);
    write(&mut c, conn, 1, "/a");
    c.crash(S2);
    c.crash(S3);
    c.nodes.get_mut(&S2).unwrap().hold_disk = true;
    c.take_log();
    c.start_all();
    assert!(c.run_until(10_000, |c| logged(c, "3->1 DIFF")), "{}", c.status_table());
    c.crash(S3);
    c.nodes.get_mut(&S2).unwrap().hold_disk = false;
    assert!(c.run_until(60_000, |c| c.leader().is_some()), "{}", c.status_table());
    let leader = c.leader().unwrap();
    has_node(&c, leader, "/a")
}

#[test]
fn without_a_mutation_a_follower_that_leaves_a_diff_early_cannot_win_with_missing_txns() {
    assert!(leader_dies_during_a_diff(None));
}

#[test]
fn zk962_advertises_the_new_epoch_before_the_diff_and_loses_an_acknowledged_write() {
    assert!(!leader_dies_during_a_diff(Some(Mutation::Zk962)));
}

/// Server 1 sleeps through an election, so its currentEpoch is behind; it rejoins and is DIFF-synced
/// to a write of the new epoch, and crashes the moment that history is durable and its currentEpoch
/// write was only issued. Returns whether it restarts from its disk, after checking the premise.
fn crash_between_the_newleader_history_and_current_epoch(mutation: Option<Mutation>) -> bool {
    use zab_core::persist::{DiskOp, CURRENT_EPOCH_FILE};
    let mut c = serving(mutation);
    let old_epoch = c.status(S1).unwrap().current_epoch;
    c.crash(S1);
    c.crash(S3);
    c.start(S3);
    assert!(c.run_until(30_000, |c| c.leader().is_some_and(|l| c.status(l).unwrap().serving)));
    let leader = c.leader().expect("a leader of S2 and S3");
    let conn = session(&mut c, leader);
    let z = write(&mut c, conn, 1, "/new-epoch");
    assert!(z.epoch() > old_epoch.0, "the write {z} is in a later epoch than server 1's {old_epoch}");
    c.start(S1);
    let writing_current_epoch = |c: &Cluster| {
        c.nodes[&S1]
            .pending_io
            .iter()
            .flat_map(|(_, ops)| ops)
            .any(|op| matches!(op, DiskOp::Rename { to, .. } if to == CURRENT_EPOCH_FILE))
    };
    assert!(c.run_until(10_000, writing_current_epoch), "{}", c.status_table());
    c.crash(S1);
    let restarted = c.start(S1);
    if restarted {
        assert_eq!(c.status(S1).unwrap().last_logged, Some(z), "the synced write is on disk");
        assert_eq!(c.status(S1).unwrap().current_epoch.0, z.epoch());
        assert!(c.run_until(30_000, |c| c.all_serving()), "{}", c.status_table());
    }
    restarted
}

#[test]
fn without_a_mutation_a_learner_crashed_before_its_current_epoch_write_restarts_in_the_synced_epoch() {
    assert!(crash_between_the_newleader_history_and_current_epoch(None));
}

#[test]
fn zk1653_a_learner_crashed_before_its_current_epoch_write_refuses_its_disk() {
    assert!(!crash_between_the_newleader_history_and_current_epoch(Some(Mutation::Zk1653)));
}

#[test]
fn every_mutation_name_parses_back() {
    for m in Mutation::ALL {
        assert_eq!(Mutation::parse(m.name()), Some(*m));
        assert_eq!(Mutation::parse(&m.name().replace("ZK-", "zookeeper-")), Some(*m));
    }
}

/// Server 3 logs a write its followers never make durable, everyone restarts, and server 3 (with the
/// highest zxid) is elected and starts leading; it crashes before any follower synced, so the write
/// is never committed. Servers 1 and 2 go on without it, and server 3 rejoins as their follower and
/// is truncated. Returns whether server 3 still holds the never-committed node afterwards.
fn deposed_leader_rejoins_after_a_trunc(mutation: Option<Mutation>) -> bool {
    use zab_core::Role;
    let mut c = serving(mutation);
    let conn = session(&mut c, S3);
    for id in [S1, S2] {
        c.nodes.get_mut(&id).unwrap().hold_disk = true;
    }
    c.client_request(conn, 1, create("/uncommitted"));
    c.run_for(50);
    for id in [S1, S2, S3] {
        c.crash(id);
        c.nodes.get_mut(&id).unwrap().hold_disk = false;
    }
    c.start_all();
    let leading = |c: &Cluster| c.status(S3).is_some_and(|s| s.role == Role::Leading);
    assert!(c.run_until(30_000, leading), "{}", c.status_table());
    assert!(!c.status(S3).unwrap().serving, "server 3 crashes before it is established");
    c.flush_disk(S3);
    c.crash(S3);
    assert!(c.run_until(60_000, |c| c.leader().is_some()), "{}", c.status_table());
    let leader = c.leader().expect("server 1 or 2 leads");
    let conn = session(&mut c, leader);
    write(&mut c, conn, 2, "/later");
    c.take_log();
    assert!(c.start(S3), "server 3 recovers");
    assert!(c.run_until(30_000, |c| c.all_serving()), "{}", c.status_table());
    assert!(logged(&c, &format!("{leader}->3 TRUNC")), "server 3 is truncated");
    assert!(!has_node(&c, leader, "/uncommitted") && has_node(&c, S3, "/later"));
    has_node(&c, S3, "/uncommitted")
}

#[test]
fn without_a_mutation_a_trunc_removes_the_deposed_leaders_uncommitted_write() {
    assert!(!deposed_leader_rejoins_after_a_trunc(None));
}

#[test]
fn zk1558_the_lead_snapshot_keeps_an_uncommitted_write_through_the_trunc() {
    assert!(deposed_leader_rejoins_after_a_trunc(Some(Mutation::Zk1558)));
}

/// Server 1 falls behind the leader's in-memory history (one txn kept, txn-log sync off), so it is
/// SNAP-synced while a proposal is in flight (server 2's disk is stalled); it crashes right after
/// its NEWLEADER ACK and restarts. Returns whether server 1 holds the in-flight write once it has
/// committed and everyone is serving.
fn snap_sync_with_a_proposal_in_flight(mutation: Option<Mutation>) -> bool {
    let tune = |cfg: zab_core::ValidConfig| {
        cfg.with_settings(|s| {
            s.commit_log_count = 1;
            s.snapshot_size_factor = -1.0;
        })
        .expect("valid settings")
    };
    let mut c = Cluster::new(3, 0, tune);
    c.mutation = mutation;
    c.start_all();
    assert!(c.run_until(30_000, |c| c.leader().is_some() && c.all_serving()), "{}", c.status_table());
    let leader = c.leader().expect("a leader");
    let (lagging, stalled) = match leader {
        S1 => (S2, S3),
        S2 => (S1, S3),
        _ => (S1, S2),
    };
    let conn = session(&mut c, leader);
    c.crash(lagging);
    write(&mut c, conn, 1, "/a");
    write(&mut c, conn, 2, "/b");
    c.nodes.get_mut(&stalled).unwrap().hold_disk = true;
    c.client_request(conn, 3, create("/in-flight"));
    c.run_for(50);
    c.take_log();
    c.start(lagging);
    let acked = format!("{lagging}: acked NEWLEADER");
    assert!(c.run_until(10_000, |c| logged(c, &acked)), "{}", c.status_table());
    assert!(logged(&c, &format!("{leader}->{lagging} SNAP")), "server {lagging} is SNAP-synced");
    c.crash(lagging);
    assert!(c.start(lagging), "server {lagging} recovers");
    c.nodes.get_mut(&stalled).unwrap().hold_disk = false;
    assert!(c.run_until(30_000, |c| c.all_serving()), "{}", c.status_table());
    c.run_for(2_000);
    assert!(has_node(&c, leader, "/in-flight") && has_node(&c, stalled, "/in-flight"), "the write committed");
    has_node(&c, lagging, "/in-flight")
}

#[test]
fn without_a_mutation_a_snap_synced_follower_keeps_a_write_committed_during_its_sync() {
    assert!(snap_sync_with_a_proposal_in_flight(None));
}

#[test]
fn zk3104_newleader_ahead_of_the_backlog_loses_a_write_committed_during_the_snap() {
    assert!(!snap_sync_with_a_proposal_in_flight(Some(Mutation::Zk3104)));
}

/// Server 3 leads; both followers' packets to it are held (the links stay up, so the leader has
/// no reason to step down within syncLimit). A client of the leader sends `sync`. Returns
/// whether the sync completed while the followers were unheard, and whether it completed once
/// their packets flowed again.
fn sync_at_a_leader_whose_followers_are_unheard(mutation: Option<Mutation>) -> (bool, bool) {
    let mut c = serving(mutation);
    let conn = session(&mut c, S3);
    write(&mut c, conn, 1, "/before");
    c.hold_link(S1, S3);
    c.hold_link(S2, S3);
    c.client_request(conn, 2, Request::Sync { path: "/".to_string() });
    let answered = |c: &Cluster| {
        c.clients[&conn].1.iter().any(|e| matches!(e, ClientEvent::Reply { header, .. } if header.xid == 2))
    };
    // Well inside syncLimit (5 ticks of 2 s in the harness configuration).
    c.run_for(1_000);
    let while_unheard = answered(&c);
    c.release_link(S1, S3);
    c.release_link(S2, S3);
    let after = c.run_until(5_000, answered);
    (while_unheard, after)
}

#[test]
fn a_leader_answers_sync_only_after_a_quorum_confirms_it_still_leads() {
    assert_eq!(sync_at_a_leader_whose_followers_are_unheard(None), (false, true));
}

#[test]
fn zk1675_a_leader_answers_sync_on_its_own_even_while_no_follower_is_heard() {
    assert_eq!(sync_at_a_leader_whose_followers_are_unheard(Some(Mutation::Zk1675)), (true, true));
}
