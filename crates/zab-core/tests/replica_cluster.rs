//! The replica driven by the deterministic harness: elections, writes through every role,
//! leader failure, standalone mode. Each test names what happens and pins the outcome.

use zab_core::harness::{ClientEvent, Cluster};
use zab_core::{marks, Epoch, Role, ServerId};
use zab_tree::{CreateKind, ErrorCode, Request, Response, SessionId, Zxid, OPEN_ACL_UNSAFE};

fn create(path: &str, data: &[u8]) -> Request {
    Request::Create {
        path: path.to_string(),
        data: Some(data.to_vec()),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        flags: 0,
        kind: CreateKind::Create,
    }
}

fn get(path: &str) -> Request {
    Request::GetData { path: path.to_string(), watch: false }
}

/// Starts a cluster and runs until one leader serves and every node serves.
fn serving_cluster(voters: u64, observers: u64) -> Cluster {
    let mut c = Cluster::new(voters, observers, |c| c);
    c.start_all();
    assert!(c.run_until(30_000, |c| c.leader().is_some() && c.all_serving()), "{}", c.status_table());
    c
}

/// Opens a session on `server` and returns the connection once the session exists.
fn session(c: &mut Cluster, server: u64) -> zab_core::ConnId {
    let conn = c.client_connect(ServerId(server), SessionId(0), Zxid(0));
    let ok =
        c.run_until(10_000, |c| matches!(c.clients[&conn].1.first(), Some(ClientEvent::Connected { .. })));
    assert!(ok, "no session on {server}: {:?}", c.clients[&conn].1);
    conn
}

/// Sends `request` and runs until its reply arrives; returns (error code, response, zxid).
fn call(
    c: &mut Cluster,
    conn: zab_core::ConnId,
    xid: i32,
    request: Request,
) -> (ErrorCode, Option<Response>, Zxid) {
    c.client_request(conn, xid, request);
    let found = |c: &Cluster| {
        c.clients[&conn].1.iter().find_map(|e| match e {
            ClientEvent::Reply { header, response } if header.xid == xid => {
                Some((header.err, response.clone(), header.zxid))
            }
            _ => None,
        })
    };
    assert!(c.run_until(10_000, |c| found(c).is_some()), "no reply to xid {xid}");
    found(c).expect("reply")
}

#[test]
fn three_voters_and_an_observer_elect_the_highest_id_when_logs_are_equal() {
    let c = serving_cluster(3, 1);
    assert_eq!(c.leader(), Some(ServerId(3)));
    let roles: Vec<Role> = (1..=4).map(|id| c.status(ServerId(id)).unwrap().role).collect();
    assert_eq!(roles, vec![Role::Following, Role::Following, Role::Leading, Role::Observing]);
    for id in 1..=4 {
        let s = c.status(ServerId(id)).unwrap();
        assert_eq!((s.accepted_epoch, s.current_epoch), (Epoch(1), Epoch(1)), "node {id}");
    }
}

#[test]
fn a_write_through_a_follower_commits_on_a_quorum_and_reaches_the_observer() {
    let mut c = serving_cluster(3, 1);
    let conn = session(&mut c, 1);
    let (err, resp, zxid) = call(&mut c, conn, 1, create("/a", b"v1"));
    assert_eq!(err, ErrorCode::Ok);
    assert_eq!(resp, Some(Response::Create { path: "/a".to_string() }));
    // Session creation was zxid (1,1); the create is (1,2).
    assert_eq!(zxid, Zxid::new(1, 2));
    c.run_for(100);
    let obs = session(&mut c, 4);
    let (err, resp, _) = call(&mut c, obs, 1, get("/a"));
    assert_eq!(err, ErrorCode::Ok);
    match resp {
        Some(Response::GetData { data, .. }) => assert_eq!(data.as_deref(), Some(&b"v1"[..])),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn leader_crash_elects_a_new_leader_in_a_higher_epoch_that_keeps_committed_writes() {
    let mut c = serving_cluster(3, 1);
    let conn = session(&mut c, 1);
    for i in 0..5 {
        let (err, _, _) = call(&mut c, conn, i + 1, create(&format!("/k{i}"), b"x"));
        assert_eq!(err, ErrorCode::Ok);
    }
    let old = c.leader().unwrap();
    c.crash(old);
    assert!(c.run_until(30_000, |c| c.leader().is_some_and(|l| l != old)), "{}", c.status_table());
    let new = c.leader().unwrap();
    assert_eq!(c.status(new).unwrap().current_epoch, Epoch(2));
    let conn2 = session(&mut c, new.0);
    for i in 0..5 {
        let (err, _, _) = call(&mut c, conn2, i + 1, get(&format!("/k{i}")));
        assert_eq!(err, ErrorCode::Ok, "/k{i} lost after failover");
    }
    // The old leader rejoins as a follower and catches up.
    assert!(c.start(old));
    assert!(c.run_until(30_000, |c| c.status(old).is_some_and(|s| s.serving)), "{}", c.status_table());
    assert_eq!(c.status(old).unwrap().role, Role::Following);
}

#[test]
fn a_standalone_server_serves_writes_and_reads_in_session_order() {
    let mut c = Cluster::new(1, 0, |c| c);
    c.start_all();
    assert_eq!(c.status(ServerId(1)).unwrap().role, Role::Standalone);
    let conn = session(&mut c, 1);
    c.client_request(conn, 1, create("/s", b"1"));
    c.client_request(conn, 2, get("/s"));
    c.run_for(1_000);
    let replies: Vec<(i32, ErrorCode)> = c.clients[&conn]
        .1
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Reply { header, .. } => Some((header.xid, header.err)),
            _ => None,
        })
        .collect();
    // The read was queued behind the write of the same session and sees it.
    assert_eq!(replies, vec![(1, ErrorCode::Ok), (2, ErrorCode::Ok)]);
}

#[test]
fn a_follower_that_missed_writes_is_brought_up_to_date_with_a_diff() {
    let mut c = serving_cluster(3, 0);
    c.crash(ServerId(1));
    let conn = session(&mut c, 3);
    for i in 0..3 {
        call(&mut c, conn, i + 1, create(&format!("/d{i}"), b"x"));
    }
    marks::expect("sync: DIFF", || {
        assert!(c.start(ServerId(1)));
        assert!(c.run_until(30_000, |c| c.status(ServerId(1)).is_some_and(|s| s.serving)));
    });
    let s1 = c.status(ServerId(1)).unwrap();
    let s3 = c.status(ServerId(3)).unwrap();
    assert_eq!(s1.last_committed, s3.last_committed);
}

#[test]
fn srvr_reports_each_role_as_the_real_server_prints_it() {
    let mut c =
        Cluster::new(3, 1, |cfg| cfg.with_settings(|s| s.four_letter_words = parse_4lw("*")).unwrap());
    c.start_all();
    // Before an election finishes nobody serves.
    let r1 = c.nodes[&ServerId(1)].replica.as_ref().unwrap();
    assert_eq!(
        r1.four_letter_word("srvr").as_deref(),
        Some("This ZooKeeper instance is not currently serving requests\n")
    );
    assert!(c.run_until(30_000, |c| c.leader().is_some() && c.all_serving()));
    let mode = |c: &Cluster, id: u64| {
        let text = c.nodes[&ServerId(id)].replica.as_ref().unwrap().four_letter_word("srvr").unwrap();
        text.lines().find(|l| l.starts_with("Mode: ")).unwrap().to_string()
    };
    assert_eq!(mode(&c, 1), "Mode: follower");
    assert_eq!(mode(&c, 3), "Mode: leader");
    assert_eq!(mode(&c, 4), "Mode: observer");
    let r3 = c.nodes[&ServerId(3)].replica.as_ref().unwrap();
    assert_eq!(r3.four_letter_word("ruok").as_deref(), Some("imok"));
    let mntr = r3.four_letter_word("mntr").unwrap();
    assert!(mntr.contains("zk_server_state\tleader\n"), "{mntr}");
    assert!(mntr.contains("zk_synced_followers\t2\n"), "{mntr}");
}

#[test]
fn four_letter_words_outside_the_whitelist_are_refused() {
    // The default whitelist holds only srvr.
    let mut c = Cluster::new(1, 0, |cfg| cfg);
    c.start_all();
    let r = c.nodes[&ServerId(1)].replica.as_ref().unwrap();
    assert!(r.four_letter_word("srvr").unwrap().contains("Mode: standalone"));
    assert_eq!(r.four_letter_word("ruok"), None);
    assert_eq!(r.four_letter_word("mntr"), None);
}

fn parse_4lw(list: &str) -> zab_core::config::FourLetterWords {
    let text = format!("dataDir=/tmp/z\n4lw.commands.whitelist={list}\n");
    let loaded =
        zab_core::ValidConfig::parse(zab_core::config::SourceText { name: "zoo.cfg", text: &text }, None)
            .expect("valid");
    loaded.config.settings().four_letter_words.clone()
}

#[test]
fn a_restarted_follower_rolls_into_a_log_file_whose_name_a_failed_creation_left_behind() {
    // A follower's first append to a new log file failed after only the file's header reached
    // the disk (the server halts at a failed write). After restarting it is synced the same
    // txns again and rolls into a new file of the same name: the stale header must not stay in
    // front of the new one, or the next restart finds a corrupt log.
    let mut c = serving_cluster(3, 0);
    c.crash(ServerId(1));
    let conn = session(&mut c, 3);
    for i in 0..3 {
        let (err, _, _) = call(&mut c, conn, i + 1, create(&format!("/d{i}"), b"x"));
        assert_eq!(err, ErrorCode::Ok);
    }
    // The follower missed every txn so far; the leader's log file is named after the first.
    let leader_disk = &c.nodes[&ServerId(3)].disk;
    let stale = leader_disk.files.keys().find(|f| f.contains("/log.")).expect("leader's log").clone();
    let disk = &mut c.nodes.get_mut(&ServerId(1)).expect("node 1").disk;
    disk.files.insert(stale.clone(), zab_core::persist::encode_log_header());

    assert!(c.start(ServerId(1)));
    assert!(c.run_until(30_000, |c| c.status(ServerId(1)).is_some_and(|s| s.serving)));
    c.flush_disk(ServerId(1));
    let synced = c.status(ServerId(1)).expect("running").last_committed;
    assert_eq!(synced, c.status(ServerId(3)).expect("leader").last_committed);
    let log = c.nodes[&ServerId(1)].disk.files.get(&stale).expect("the synced txns' log file").clone();
    assert_ne!(&log[zab_core::persist::LOG_HEADER_LEN..][..4], &zab_core::persist::encode_log_header()[..4]);

    c.crash(ServerId(1));
    assert!(c.start(ServerId(1)), "{}", c.log.join("\n"));
    assert_eq!(c.status(ServerId(1)).expect("recovered").last_committed, synced);
}

#[test]
fn a_write_still_in_flight_from_the_server_a_session_moved_away_from_fails_with_session_moved() {
    // A client's write is on its way from follower 1 to the leader when the client gives up on
    // follower 1 and reopens its session on follower 2, which revalidates it at the leader. The
    // late write must not be applied after the writes made through the new connection: the
    // leader refuses it (SessionMoved) because the session now belongs to follower 2.
    let mut c = serving_cluster(3, 0);
    let old = session(&mut c, 1);
    let Some(ClientEvent::Connected { session: id, .. }) = c.clients[&old].1.first().cloned() else {
        panic!("connected")
    };
    let (err, _, seen) = call(&mut c, old, 1, create("/a", b"first"));
    assert_eq!(err, ErrorCode::Ok);

    c.hold_link(ServerId(1), ServerId(3));
    c.client_request(
        old,
        2,
        Request::SetData { path: "/a".into(), data: Some(b"late".to_vec()), version: -1 },
    );
    c.client_close(old);
    c.run_for(100);
    let new = c.client_connect(ServerId(2), id, seen);
    assert!(c.run_until(10_000, |c| matches!(c.clients[&new].1.first(), Some(ClientEvent::Connected { .. }))));
    let set = Request::SetData { path: "/a".into(), data: Some(b"new".to_vec()), version: -1 };
    assert_eq!(call(&mut c, new, 3, set).0, ErrorCode::Ok);

    marks::expect("sessions: a write from the server a session moved away from is refused", || {
        c.release_link(ServerId(1), ServerId(3));
        c.run_for(2_000);
    });
    let (err, data, _) = call(&mut c, new, 4, get("/a"));
    assert_eq!(err, ErrorCode::Ok);
    let Some(Response::GetData { data, .. }) = data else { panic!("getData answer: {data:?}") };
    assert_eq!(data, Some(b"new".to_vec()), "the late write from the old connection was applied");
}

#[test]
fn a_follower_whose_leader_connection_resets_leaves_following_and_closes_its_clients_even_after_a_late_connect_failure(
) {
    // Follower 1 once tried to reach the leader across a partition; that attempt's failure is
    // reported only after follower 1 has long since registered with the leader on a new
    // connection. Then the live connection resets while a client's sync is on its way to the
    // leader. The sync is lost with the connection, so follower 1 must leave FOLLOWING and close
    // its client connections (the client sees ConnectionLoss and retries elsewhere) instead of
    // quietly reconnecting as if it had never reached the leader, which would leave the sync
    // unanswered on an open session forever.
    let mut c = serving_cluster(3, 0);
    let leader = c.leader().expect("leader");
    assert_eq!(leader, ServerId(3));
    let conn = session(&mut c, 1);

    marks::expect("learner: a late connect failure does not touch the live leader connection", || {
        c.input(ServerId(1), zab_core::Input::ConnectFailed { peer: leader });
    });
    assert_eq!(call(&mut c, conn, 1, get("/")).0, ErrorCode::Ok, "follower 1 stopped serving");

    c.hold_link(ServerId(1), leader);
    c.client_request(conn, 2, Request::Sync { path: "/".into() });
    c.run_for(10);
    c.reset(ServerId(1), leader);
    assert_ne!(c.status(ServerId(1)).unwrap().role, Role::Following, "follower 1 kept its role");
    assert_eq!(c.clients[&conn].1.last(), Some(&ClientEvent::Closed), "the client was not disconnected");
    c.release_link(ServerId(1), leader);
    assert!(c.run_until(30_000, |c| c.all_serving()), "{}", c.status_table());
    assert_eq!(c.status(ServerId(1)).unwrap().role, Role::Following);
}
