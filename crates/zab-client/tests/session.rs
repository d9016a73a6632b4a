//! Scripted fake-server tests of the session client: connecting, FIFO replies, timers, reconnects,
//! expiry, auth, watches, chroot and multi. Each test plays the server by hand.

mod common;

use common::*;
use zab_client::{
    Anomaly, ClientAction, ClientConfig, ClientError, ClientInput, ConnectString, InputKind, Instant,
    MoveError, ServerIndex, SessionState, Xid,
};
use zab_tree::{
    session_password, AddWatchMode, ConnectRequest, ErrorCode, EventType, KeeperState, MultiResult, OpCode,
    Request, Response, SessionId, SetWatches, Stat, WatchEvent, WatcherType, Zxid,
};

// ---------------------------------------------------------------------------------------------
// Connecting

#[test]
fn a_new_client_connects_to_the_first_shuffled_server_and_asks_for_a_new_session() {
    let mut t = Script::new("1:2181,2:2181,3:2181", 6000);
    assert_eq!(t.client.next_deadline(), Some(Instant::ZERO));
    assert_eq!(t.client.state(), SessionState::Disconnected);
    let server = t.nth(0);
    assert_eq!(t.tick(), vec![ClientAction::Connect { server }]);
    let handshake = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid::ZERO,
        timeout_ms: 6000,
        session_id: SessionId::NONE,
        passwd: [0; 16],
        read_only: false,
    };
    assert_eq!(t.transport_up(server), vec![ClientAction::SendConnect { server, request: handshake }]);
    assert_eq!(t.accept(server, 4000), vec![ClientAction::State(SessionState::SyncConnected)]);
    assert_eq!(t.client.session_id(), SESSION);
    assert_eq!(t.client.negotiated_timeout_ms(), Some(4000));
}

#[test]
fn requests_get_increasing_xids_and_are_sent_at_once_when_connected() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (first, a) = t.submit(get_data("/a", false));
    let (second, b) = t.submit(get_data("/b", false));
    assert_eq!((first, second), (Xid(1), Xid(2)));
    assert_eq!(a, vec![ClientAction::Send { server, xid: Xid(1), request: get_data("/a", false) }]);
    assert_eq!(sends(&b), vec![(Xid(2), get_data("/b", false))]);
}

#[test]
fn requests_submitted_before_the_handshake_wait_and_go_out_in_order_after_it() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.nth(0);
    t.tick();
    assert_eq!(t.submit(get_data("/a", false)).1, vec![]);
    t.transport_up(server);
    assert_eq!(t.submit(set_data("/a", b"x")).1, vec![], "still handshaking");
    let actions = t.accept(server, 6000);
    assert_eq!(actions[0], ClientAction::State(SessionState::SyncConnected));
    assert_eq!(sends(&actions), vec![(Xid(1), get_data("/a", false)), (Xid(2), set_data("/a", b"x"))]);
}

#[test]
fn replies_complete_requests_with_the_body_and_the_zxid() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (xid, _) = t.submit(set_data("/a", b"x"));
    let stat = Stat { version: 1, ..Stat::default() };
    let actions = t.reply(server, xid, 0x1_0000_0005, ErrorCode::Ok, Some(Response::Stat(stat)));
    assert_eq!(
        actions,
        vec![ClientAction::Completed {
            xid,
            request: set_data("/a", b"x"),
            result: Ok((Response::Stat(stat), Zxid(0x1_0000_0005)))
        }]
    );
    assert_eq!(t.client.last_zxid_seen(), Zxid(0x1_0000_0005));
    let (xid, _) = t.submit(get_data("/missing", false));
    let actions = t.reply(server, xid, 0x1_0000_0005, ErrorCode::NoNode, None);
    assert_eq!(completions(&actions), vec![(xid, Err(ClientError::Server(ErrorCode::NoNode)))]);
}

// ---------------------------------------------------------------------------------------------
// FIFO and protocol errors

#[test]
fn a_reply_out_of_fifo_order_drops_the_connection_and_fails_the_pending_requests_with_connection_loss() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let server = t.connect();
    let (x1, _) = t.submit(get_data("/a", false));
    let (x2, _) = t.submit(get_data("/b", false));
    let actions = t.reply(server, x2, 9, ErrorCode::Ok, Some(Response::GetChildren { children: vec![] }));
    assert_eq!(
        actions[..2],
        [
            ClientAction::Anomaly(Anomaly::ReplyOutOfOrder { server, expected: x1, got: x2 }),
            ClientAction::Close { server },
        ]
    );
    assert_eq!(
        completions(&actions),
        vec![(x1, Err(ClientError::ConnectionLoss)), (x2, Err(ClientError::ConnectionLoss))]
    );
    assert_eq!(actions[4], ClientAction::State(SessionState::Disconnected));
    assert_eq!(actions[5], ClientAction::Connect { server: t.nth(1) }, "tries the next server");
    assert_eq!(t.client.last_zxid_seen(), Zxid::ZERO, "the stray reply's zxid is not trusted");
}

#[test]
fn a_reply_with_nothing_in_flight_drops_the_connection() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let actions = t.reply(server, Xid(5), 3, ErrorCode::Ok, None);
    assert_eq!(actions[0], ClientAction::Anomaly(Anomaly::ReplyWithoutRequest { server, xid: Xid(5) }));
    assert_eq!(actions[1], ClientAction::Close { server });
    assert_eq!(t.client.state(), SessionState::Disconnected);
}

#[test]
fn a_reply_body_of_the_wrong_shape_fails_the_request_with_connection_loss_and_drops_the_connection() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (xid, _) = t.submit(get_data("/a", true));
    let actions = t.reply(server, xid, 3, ErrorCode::Ok, Some(Response::Stat(Stat::default())));
    assert_eq!(
        actions[0],
        ClientAction::Anomaly(Anomaly::MalformedResponse { server, xid, opcode: OpCode::GetData })
    );
    assert_eq!(completions(&actions), vec![(xid, Err(ClientError::ConnectionLoss))]);
    assert!(t.client.watches().is_empty(), "a malformed reply registers no watch");
}

#[test]
fn inputs_for_a_connection_the_client_no_longer_has_are_ignored() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let first = t.connect();
    let (xid, _) = t.submit(get_data("/a", false));
    t.step(ClientInput::TransportClosed { server: first });
    let second = t.nth(1);
    assert_eq!(t.client.connection_server(), Some(second));
    let late = t.reply(first, xid, 3, ErrorCode::Ok, None);
    assert_eq!(
        late,
        vec![ClientAction::Anomaly(Anomaly::StaleInput { server: first, input: InputKind::Reply })]
    );
    let late = t.step(ClientInput::TransportClosed { server: first });
    assert_eq!(
        late,
        vec![ClientAction::Anomaly(Anomaly::StaleInput { server: first, input: InputKind::TransportClosed })]
    );
    assert_eq!(t.client.connection_server(), Some(second), "the new connection attempt is untouched");
}

#[test]
fn a_reply_before_the_handshake_is_answered_breaks_the_protocol_and_drops_the_connection() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let server = t.nth(0);
    t.tick();
    t.transport_up(server);
    let actions = t.reply(server, Xid(1), 0, ErrorCode::Ok, None);
    assert_eq!(
        actions[0],
        ClientAction::Anomaly(Anomaly::UnexpectedInput { server, input: InputKind::Reply })
    );
    assert_eq!(actions[1], ClientAction::Close { server });
    assert_eq!(actions[2], ClientAction::Connect { server: t.nth(1) });
}

#[test]
fn a_zxid_going_backwards_is_reported_and_the_larger_one_kept() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (a, _) = t.submit(get_data("/a", false));
    let (b, _) = t.submit(get_data("/a", false));
    let body = || Some(Response::GetData { data: None, stat: Stat::default() });
    t.reply(server, a, 10, ErrorCode::Ok, body());
    let actions = t.reply(server, b, 8, ErrorCode::Ok, body());
    assert_eq!(
        actions[0],
        ClientAction::Anomaly(Anomaly::ZxidWentBackwards { server, last_seen: Zxid(10), got: Zxid(8) })
    );
    assert_eq!(completions(&actions).len(), 1, "the reply itself is still delivered");
    assert_eq!(t.client.last_zxid_seen(), Zxid(10));
}

// ---------------------------------------------------------------------------------------------
// Timers

#[test]
fn ping_is_sent_after_read_timeout_over_two_of_idleness() {
    // Negotiated 3000 ms: read timeout 2000 ms, ping after 1000 ms without sending.
    let mut t = Script::new("1:2181", 3000);
    let server = t.connect();
    t.at_ms(400);
    t.submit(get_data("/a", false));
    assert_eq!(t.client.next_deadline(), Some(Instant::from_ms(1400)));
    t.at_ms(1399);
    assert_eq!(t.tick(), vec![], "an early timeout does nothing");
    t.at_ms(1400);
    assert_eq!(t.tick(), vec![ClientAction::Send { server, xid: Xid::PING, request: Request::Ping }]);
    t.reply(server, Xid::PING, 77, ErrorCode::Ok, None);
    assert_eq!(t.client.last_zxid_seen(), Zxid::ZERO, "ping replies carry no zxid the client tracks");
    assert_eq!(t.client.outstanding(), 1, "the ping reply is not matched against the request in flight");
}

#[test]
fn the_ping_interval_never_exceeds_ten_seconds() {
    let mut t = Script::new("1:2181", 60_000);
    t.connect();
    assert_eq!(t.client.next_deadline(), Some(Instant::from_ms(10_000)));
}

#[test]
fn degenerate_timeouts_still_leave_at_least_a_millisecond_between_deadlines() {
    let mut t = Script::new("1:2181,2:2181,3:2181", 2);
    assert_eq!(t.tick(), vec![ClientAction::Connect { server: t.nth(0) }]);
    assert_eq!(t.client.next_deadline(), Some(Instant::from_ms(1)), "2 ms over 3 servers");
    let server = t.nth(0);
    t.transport_up(server);
    t.accept(server, 2);
    assert_eq!(t.client.next_deadline(), Some(Instant::from_ms(1)), "read timeout 1 ms, ping interval 1 ms");
    let actions = t.fire_deadline();
    assert_eq!(actions[0], ClientAction::Close { server }, "the read timeout wins over the ping");
    assert!(t.client.next_deadline().unwrap() > t.now, "the next attempt is due later");
}

#[test]
fn read_timeout_moves_to_another_server() {
    let mut t = Script::new("1:2181,2:2181", 3000);
    let server = t.connect();
    let (xid, _) = t.submit(get_data("/a", false));
    t.at_ms(1000);
    t.tick(); // ping
    t.at_ms(1999);
    assert_eq!(t.tick(), vec![]);
    t.at_ms(2000);
    let actions = t.tick();
    assert_eq!(
        actions,
        vec![
            ClientAction::Close { server },
            ClientAction::Completed {
                xid,
                request: get_data("/a", false),
                result: Err(ClientError::ConnectionLoss)
            },
            ClientAction::State(SessionState::Disconnected),
            ClientAction::Connect { server: t.nth(1) },
        ]
    );
}

#[test]
fn hearing_from_the_server_postpones_the_read_timeout() {
    let mut t = Script::new("1:2181", 3000);
    let server = t.connect();
    t.at_ms(1000);
    t.tick();
    t.at_ms(1500);
    t.reply(server, Xid::PING, 0, ErrorCode::Ok, None);
    t.at_ms(2500);
    t.tick(); // the second ping
    assert_eq!(t.client.state(), SessionState::SyncConnected);
    assert_eq!(t.client.next_deadline(), Some(Instant::from_ms(3500)), "read timeout from 1500 ms");
    let (xid, _) = t.submit(Request::Exists { path: "/n".to_string(), watch: true });
    t.reply(server, xid, 0, ErrorCode::NoNode, None);
    // Last heard at 2500 ms by that reply; the notification at 3400 ms moves the read timeout
    // from 4500 ms to 5400 ms.
    t.at_ms(3400);
    t.notify(server, EventType::NodeCreated, "/n", 7);
    t.at_ms(3500);
    t.tick();
    t.at_ms(4500);
    assert_eq!(t.tick(), vec![ClientAction::Send { server, xid: Xid::PING, request: Request::Ping }]);
    assert_eq!(
        t.client.state(),
        SessionState::SyncConnected,
        "a notification counts as hearing from the server"
    );
}

#[test]
fn move_to_while_waiting_to_reconnect_connects_at_once_and_keeps_the_queued_requests() {
    let cs = ConnectString::parse("1:2181,2:2181,3:2181").unwrap();
    let mut t = Script::with_config(ClientConfig::new(cs, 6000, 7));
    let first = t.connect();
    t.step(ClientInput::TransportClosed { server: first });
    assert_eq!(t.client.connection_server(), None, "waiting out the reconnect delay");
    let (xid, _) = t.submit(get_data("/a", false));
    let target = t.nth(2);
    let mut out = Default::default();
    t.client.move_to(t.now, target, &mut out).unwrap();
    assert_eq!(out.actions, vec![ClientAction::Connect { server: target }]);
    t.transport_up(target);
    assert_eq!(sends(&t.accept(target, 6000)), vec![(xid, get_data("/a", false))]);
}

#[test]
fn the_connect_timeout_is_the_session_timeout_divided_by_the_number_of_servers() {
    let mut t = Script::new("1:2181,2:2181,3:2181", 3000);
    let first = t.nth(0);
    t.tick();
    assert_eq!(t.client.next_deadline(), Some(Instant::from_ms(1000)));
    t.at_ms(200);
    t.transport_up(first);
    assert_eq!(t.client.next_deadline(), Some(Instant::from_ms(1200)), "the handshake gets its own 1000 ms");
    let actions = t.fire_deadline();
    assert_eq!(
        actions,
        vec![ClientAction::Close { server: first }, ClientAction::Connect { server: t.nth(1) }]
    );
}

#[test]
fn reconnect_delays_are_drawn_from_the_seed_and_a_full_cycle_adds_the_spin_delay() {
    let cs = ConnectString::parse("1:2181,2:2181").unwrap();
    let mut config = ClientConfig::new(cs, 4000, 11);
    config.spin_delay_ms = 1000;
    let run = |config: ClientConfig| {
        let mut t = Script::with_config(config);
        let mut attempts = Vec::new();
        t.tick();
        for _ in 0..4 {
            let server = t.client.connection_server().unwrap();
            t.step(ClientInput::TransportFailed { server });
            let at = t.client.next_deadline().unwrap();
            let actions = t.fire_deadline();
            assert!(matches!(actions[..], [ClientAction::Connect { .. }]), "{actions:?}");
            attempts.push(at.as_ms());
        }
        attempts
    };
    let attempts = run(config.clone());
    assert_eq!(attempts, run(config.clone()), "same seed, same delays");
    let gaps: Vec<u64> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    // Attempt 2 (server 0 again) and attempt 4 complete a cycle: each waits at least the spin delay.
    assert!(attempts[0] < 1000, "{attempts:?}");
    assert!(gaps[0] >= 1000 && gaps[0] < 2000, "{attempts:?}");
    assert!(gaps[1] < 1000, "{attempts:?}");
    assert!(gaps[2] >= 1000, "{attempts:?}");
    let mut other = config;
    other.seed = 12;
    assert_ne!(run(other), attempts, "another seed draws other delays");
}

// ---------------------------------------------------------------------------------------------
// Reconnecting

#[test]
fn reconnect_presents_session_id_password_and_last_zxid_to_the_next_server() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let first = t.connect();
    let (xid, _) = t.submit(set_data("/a", b"1"));
    t.reply(first, xid, 0x2_0000_0010, ErrorCode::Ok, Some(Response::Stat(Stat::default())));
    let actions = t.step(ClientInput::TransportClosed { server: first });
    let second = t.nth(1);
    assert_eq!(
        actions,
        vec![ClientAction::State(SessionState::Disconnected), ClientAction::Connect { server: second }],
        "the host reported the close: no Close action"
    );
    let handshake = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid(0x2_0000_0010),
        timeout_ms: 6000,
        session_id: SESSION,
        passwd: session_password(SESSION),
        read_only: false,
    };
    assert_eq!(
        t.transport_up(second),
        vec![ClientAction::SendConnect { server: second, request: handshake }]
    );
}

#[test]
fn a_server_behind_the_client_refuses_it_and_the_client_tries_the_next_one() {
    let mut t = Script::new("1:2181,2:2181,3:2181", 6000);
    let first = t.connect();
    t.step(ClientInput::TransportClosed { server: first });
    let second = t.nth(1);
    t.transport_up(second);
    // The server is behind the client's last zxid: it closes the connection without answering.
    let actions = t.step(ClientInput::TransportClosed { server: second });
    assert_eq!(actions, vec![ClientAction::Connect { server: t.nth(2) }], "one Disconnected event only");
}

#[test]
fn a_failed_connection_attempt_fails_the_queued_requests_with_connection_loss() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let first = t.nth(0);
    t.tick();
    let (xid, _) = t.submit(get_data("/a", false));
    let actions = t.step(ClientInput::TransportFailed { server: first });
    assert_eq!(completions(&actions), vec![(xid, Err(ClientError::ConnectionLoss))]);
    assert_eq!(t.client.outstanding(), 0);
}

#[test]
fn expired_session_is_final() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let first = t.connect();
    let (in_flight, _) = t.submit(get_data("/a", true));
    t.step(ClientInput::TransportClosed { server: first });
    let (queued, _) = t.submit(get_data("/b", false));
    let second = t.nth(1);
    t.transport_up(second);
    let actions = t.accept(second, 0);
    assert_eq!(
        actions,
        vec![
            ClientAction::Close { server: second },
            ClientAction::State(SessionState::Expired),
            ClientAction::Completed {
                xid: queued,
                request: get_data("/b", false),
                result: Err(ClientError::SessionExpired)
            },
        ]
    );
    assert!(in_flight < queued, "the request in flight had already failed with ConnectionLoss");
    assert_eq!(t.client.state(), SessionState::Expired);
    assert_eq!(t.client.next_deadline(), None);
    let (xid, actions) = t.submit(get_data("/c", false));
    assert_eq!(completions(&actions), vec![(xid, Err(ClientError::SessionExpired))]);
    assert_eq!(
        t.client.move_to(t.now, first, &mut Default::default()),
        Err(MoveError::SessionEnded(SessionState::Expired))
    );
    assert_eq!(t.tick(), vec![]);
}

#[test]
fn disconnected_is_reported_once_however_many_attempts_fail() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let first = t.connect();
    let mut states = Vec::new();
    let mut actions = t.step(ClientInput::TransportClosed { server: first });
    for _ in 0..3 {
        let server = t.client.connection_server().unwrap();
        actions.extend(t.step(ClientInput::TransportFailed { server }));
    }
    let server = t.client.connection_server().unwrap();
    actions.extend(t.transport_up(server));
    actions.extend(t.accept(server, 6000));
    for action in actions {
        if let ClientAction::State(s) = action {
            states.push(s);
        }
    }
    assert_eq!(states, [SessionState::Disconnected, SessionState::SyncConnected]);
}

// ---------------------------------------------------------------------------------------------
// Auth

#[test]
fn auth_is_resent_after_reconnect_before_set_watches_and_queued_requests() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let first = t.connect();
    t.client.add_auth(t.now, "digest", b"bob:secret", &mut Default::default());
    let (xid, _) = t.submit(get_data("/w", true));
    t.reply(first, xid, 5, ErrorCode::Ok, Some(Response::GetData { data: None, stat: Stat::default() }));
    t.step(ClientInput::TransportClosed { server: first });
    let (queued, _) = t.submit(get_data("/q", false));
    let second = t.nth(1);
    t.transport_up(second);
    let actions = t.accept(second, 6000);
    let auth = Request::Auth { scheme: "digest".to_string(), auth: b"bob:secret".to_vec() };
    let watches =
        SetWatches { relative_zxid: Zxid(5), data: vec!["/w".to_string()], ..SetWatches::default() };
    assert_eq!(
        sends(&actions),
        vec![
            (Xid::AUTH, auth),
            (Xid::SET_WATCHES, Request::SetWatches(watches)),
            (queued, get_data("/q", false)),
        ]
    );
}

#[test]
fn auth_is_sent_at_once_when_connected_and_its_reply_is_not_fifo_matched() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (xid, _) = t.submit(get_data("/a", false));
    let mut out = Default::default();
    t.client.add_auth(t.now, "digest", b"a:b", &mut out);
    let auth = Request::Auth { scheme: "digest".to_string(), auth: b"a:b".to_vec() };
    assert_eq!(out.actions, vec![ClientAction::Send { server, xid: Xid::AUTH, request: auth }]);
    assert_eq!(t.reply(server, Xid::AUTH, 0, ErrorCode::Ok, None), vec![]);
    assert_eq!(completions(&t.reply(server, xid, 1, ErrorCode::NoNode, None)).len(), 1);
}

#[test]
fn auth_failed_is_final_and_what_was_already_sent_is_indeterminate() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (sent_before, _) = t.submit(set_data("/a", b"1"));
    t.client.add_auth(t.now, "nosuch", b"x", &mut Default::default());
    let (sent_after, _) = t.submit(get_data("/a", false));
    let actions = t.reply(server, Xid::AUTH, 0, ErrorCode::AuthFailed, None);
    assert_eq!(actions[..2], [ClientAction::Close { server }, ClientAction::State(SessionState::AuthFailed)]);
    assert_eq!(
        completions(&actions),
        vec![(sent_before, Err(ClientError::ConnectionLoss)), (sent_after, Err(ClientError::ConnectionLoss))],
        "the auth reply may have overtaken the write's: its outcome is unknown"
    );
    let (xid, actions) = t.submit(get_data("/a", false));
    assert_eq!(completions(&actions), vec![(xid, Err(ClientError::AuthFailed))]);
}

// ---------------------------------------------------------------------------------------------
// Watches

#[test]
fn a_watch_is_registered_only_when_the_request_that_sets_it_succeeds() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (a, _) = t.submit(get_data("/a", true));
    let (b, _) = t.submit(get_data("/b", true));
    assert!(t.client.watches().is_empty(), "nothing before the replies");
    t.reply(server, a, 2, ErrorCode::Ok, Some(Response::GetData { data: None, stat: Stat::default() }));
    t.reply(server, b, 2, ErrorCode::NoNode, None);
    assert_eq!(t.client.watches().data.iter().collect::<Vec<_>>(), ["/a"]);
    assert!(t
        .notify(server, EventType::NodeDataChanged, "/a", 3)
        .contains(&ClientAction::Watch { event: WatchEvent::node(EventType::NodeDataChanged, "/a") }));
}

#[test]
fn exists_on_a_missing_node_registers_an_exist_watch_that_node_created_fires() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (xid, _) = t.submit(Request::Exists { path: "/n".to_string(), watch: true });
    let actions = t.reply(server, xid, 2, ErrorCode::NoNode, None);
    assert_eq!(completions(&actions), vec![(xid, Err(ClientError::Server(ErrorCode::NoNode)))]);
    assert_eq!(t.client.watches().exist.iter().collect::<Vec<_>>(), ["/n"]);
    let actions = t.notify(server, EventType::NodeCreated, "/n", 3);
    assert_eq!(actions, vec![ClientAction::Watch { event: WatchEvent::node(EventType::NodeCreated, "/n") }]);
    assert!(t.client.watches().is_empty());
}

#[test]
fn a_fired_one_shot_watch_is_dropped_and_a_second_event_is_reported_as_unwatched() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (xid, _) = t.submit(Request::GetChildren { path: "/p".to_string(), watch: true });
    t.reply(server, xid, 2, ErrorCode::Ok, Some(Response::GetChildren { children: vec![] }));
    let event = WatchEvent::node(EventType::NodeChildrenChanged, "/p");
    assert_eq!(
        t.notify(server, EventType::NodeChildrenChanged, "/p", 3),
        vec![ClientAction::Watch { event: event.clone() }]
    );
    assert_eq!(
        t.notify(server, EventType::NodeChildrenChanged, "/p", 4),
        vec![ClientAction::Anomaly(Anomaly::UnwatchedNotification { server, event })]
    );
    assert_eq!(t.client.last_zxid_seen(), Zxid(4), "notifications advance the last zxid seen");
    assert_eq!(
        t.client.state(),
        SessionState::SyncConnected,
        "an unwatched event does not drop the connection"
    );
}

#[test]
fn watch_events_are_delivered_before_the_reply_that_follows_them() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (w, _) = t.submit(get_data("/a", true));
    t.reply(server, w, 2, ErrorCode::Ok, Some(Response::GetData { data: None, stat: Stat::default() }));
    let (s, _) = t.submit(set_data("/a", b"v"));
    let mut actions = t.notify(server, EventType::NodeDataChanged, "/a", 3);
    actions.extend(t.reply(server, s, 3, ErrorCode::Ok, Some(Response::Stat(Stat::default()))));
    assert!(
        matches!(actions[..], [ClientAction::Watch { .. }, ClientAction::Completed { .. }]),
        "{actions:?}"
    );
}

#[test]
fn persistent_recursive_watches_survive_firing_and_cover_descendants() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (xid, _) =
        t.submit(Request::AddWatch { path: "/r".to_string(), mode: AddWatchMode::PersistentRecursive });
    t.reply(server, xid, 2, ErrorCode::Ok, None);
    for (zxid, path) in [(3, "/r/a"), (4, "/r/a/b"), (5, "/r")] {
        let actions = t.notify(server, EventType::NodeCreated, path, zxid);
        assert_eq!(
            actions,
            vec![ClientAction::Watch { event: WatchEvent::node(EventType::NodeCreated, path) }]
        );
    }
    assert!(matches!(
        t.notify(server, EventType::NodeChildrenChanged, "/r", 6)[..],
        [ClientAction::Anomaly(Anomaly::UnwatchedNotification { .. })]
    ));
}

#[test]
fn set_watches_after_reconnect_lists_the_registered_watches_with_the_last_zxid() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let first = t.connect();
    let data = Some(Response::GetData { data: None, stat: Stat::default() });
    let (a, _) = t.submit(get_data("/d", true));
    let (b, _) = t.submit(Request::Exists { path: "/e".to_string(), watch: true });
    let (c, _) = t.submit(Request::GetChildren2 { path: "/c".to_string(), watch: true });
    let (d, _) = t.submit(Request::AddWatch { path: "/p".to_string(), mode: AddWatchMode::Persistent });
    let (e, _) =
        t.submit(Request::AddWatch { path: "/r".to_string(), mode: AddWatchMode::PersistentRecursive });
    t.reply(first, a, 0x10, ErrorCode::Ok, data);
    t.reply(first, b, 0x11, ErrorCode::NoNode, None);
    t.reply(
        first,
        c,
        0x12,
        ErrorCode::Ok,
        Some(Response::GetChildren2 { children: vec![], stat: Stat::default() }),
    );
    t.reply(first, d, 0x13, ErrorCode::Ok, None);
    t.reply(first, e, 0x14, ErrorCode::Ok, None);
    t.step(ClientInput::TransportClosed { server: first });
    let second = t.nth(1);
    t.transport_up(second);
    let actions = t.accept(second, 6000);
    let expected = SetWatches {
        relative_zxid: Zxid(0x14),
        data: vec!["/d".to_string()],
        exist: vec!["/e".to_string()],
        child: vec!["/c".to_string()],
        persistent: vec!["/p".to_string()],
        persistent_recursive: vec!["/r".to_string()],
    };
    assert_eq!(sends(&actions), vec![(Xid::SET_WATCHES, Request::SetWatches(expected))]);
    // The setWatches reply is matched in FIFO order before the next request's.
    let (xid, _) = t.submit(get_data("/x", false));
    let notified = t.notify(second, EventType::NodeDataChanged, "/d", 0x15);
    assert!(matches!(notified[..], [ClientAction::Watch { .. }]));
    assert_eq!(t.reply(second, Xid::SET_WATCHES, 0x15, ErrorCode::Ok, None), vec![]);
    assert_eq!(completions(&t.reply(second, xid, 0x15, ErrorCode::NoNode, None)).len(), 1);
}

#[test]
fn no_set_watches_is_sent_when_the_client_holds_no_watch() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let first = t.connect();
    t.step(ClientInput::TransportClosed { server: first });
    let second = t.nth(1);
    t.transport_up(second);
    assert_eq!(t.accept(second, 6000), vec![ClientAction::State(SessionState::SyncConnected)]);
}

#[test]
fn remove_watches_removes_locally_and_yields_the_watch_removed_events() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (a, _) = t.submit(get_data("/a", true));
    let (b, _) = t.submit(Request::GetChildren { path: "/a".to_string(), watch: true });
    t.reply(server, a, 2, ErrorCode::Ok, Some(Response::GetData { data: None, stat: Stat::default() }));
    t.reply(server, b, 2, ErrorCode::Ok, Some(Response::GetChildren { children: vec![] }));
    let remove = Request::RemoveWatches { path: "/a".to_string(), watcher_type: WatcherType::Children };
    let (xid, _) = t.submit(remove.clone());
    let actions = t.reply(server, xid, 2, ErrorCode::Ok, None);
    let removed = WatchEvent::node(EventType::ChildWatchRemoved, "/a");
    assert_eq!(
        actions,
        vec![
            ClientAction::Watch { event: removed },
            ClientAction::Completed { xid, request: remove.clone(), result: Ok((Response::Empty, Zxid(2))) },
        ]
    );
    assert_eq!(t.client.watches().data.len(), 1, "the data watch stays");
    assert!(t.client.watches().child.is_empty());
    // Removing it again: the client holds none, whatever the server says.
    let (xid, _) = t.submit(remove);
    let actions = t.reply(server, xid, 2, ErrorCode::Ok, None);
    assert_eq!(completions(&actions), vec![(xid, Err(ClientError::Server(ErrorCode::NoWatcher)))]);
}

#[test]
fn check_watches_reports_without_removing() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (a, _) = t.submit(get_data("/a", true));
    t.reply(server, a, 2, ErrorCode::Ok, Some(Response::GetData { data: None, stat: Stat::default() }));
    let check = |wt| Request::CheckWatches { path: "/a".to_string(), watcher_type: wt };
    let (xid, _) = t.submit(check(WatcherType::Data));
    assert_eq!(completions(&t.reply(server, xid, 2, ErrorCode::Ok, None)), vec![(xid, Ok(Response::Empty))]);
    let (xid, _) = t.submit(check(WatcherType::Children));
    assert_eq!(
        completions(&t.reply(server, xid, 2, ErrorCode::Ok, None)),
        vec![(xid, Err(ClientError::Server(ErrorCode::NoWatcher)))]
    );
    assert_eq!(t.client.watches().data.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Chroot

#[test]
fn chroot_is_applied_and_stripped() {
    let mut t = Script::new("1:2181/app", 6000);
    let server = t.connect();
    let (c, actions) = t.submit(create("/x"));
    assert_eq!(sends(&actions), vec![(c, create("/app/x"))]);
    let actions = t.reply(server, c, 2, ErrorCode::Ok, Some(Response::Create { path: "/app/x".to_string() }));
    assert_eq!(completions(&actions), vec![(c, Ok(Response::Create { path: "/x".to_string() }))]);
    let (s, actions) = t.submit(Request::Sync { path: "/".to_string() });
    assert_eq!(sends(&actions), vec![(s, Request::Sync { path: "/app".to_string() })]);
    let actions = t.reply(server, s, 2, ErrorCode::Ok, Some(Response::Sync { path: "/app".to_string() }));
    assert_eq!(completions(&actions), vec![(s, Ok(Response::Sync { path: "/".to_string() }))]);
    // Watch events come back without the chroot, and setWatches carries it again.
    let (w, _) = t.submit(get_data("/x", true));
    t.reply(server, w, 2, ErrorCode::Ok, Some(Response::GetData { data: None, stat: Stat::default() }));
    let (w2, _) = t.submit(get_data("/y", true));
    t.reply(server, w2, 2, ErrorCode::Ok, Some(Response::GetData { data: None, stat: Stat::default() }));
    assert_eq!(t.client.watches().data.iter().collect::<Vec<_>>(), ["/x", "/y"]);
    let actions = t.notify(server, EventType::NodeDeleted, "/app/x", 3);
    assert_eq!(actions, vec![ClientAction::Watch { event: WatchEvent::node(EventType::NodeDeleted, "/x") }]);
    t.step(ClientInput::TransportClosed { server });
    let again = t.client.connection_server().unwrap();
    t.transport_up(again);
    let watches =
        SetWatches { relative_zxid: Zxid(3), data: vec!["/app/y".to_string()], ..Default::default() };
    assert_eq!(sends(&t.accept(again, 6000)), vec![(Xid::SET_WATCHES, Request::SetWatches(watches))]);
}

#[test]
fn chroot_applies_to_every_op_of_a_multi_and_to_created_paths_in_its_results() {
    let mut t = Script::new("1:2181/app", 6000);
    let server = t.connect();
    let multi = Request::Multi(vec![create("/a"), Request::Check { path: "/b".to_string(), version: 1 }]);
    let (xid, actions) = t.submit(multi);
    let sent =
        Request::Multi(vec![create("/app/a"), Request::Check { path: "/app/b".to_string(), version: 1 }]);
    assert_eq!(sends(&actions), vec![(xid, sent)]);
    let results = vec![MultiResult::Create { path: "/app/a".to_string(), stat: None }, MultiResult::Check];
    let actions = t.reply(server, xid, 2, ErrorCode::Ok, Some(Response::Multi(results)));
    let stripped = vec![MultiResult::Create { path: "/a".to_string(), stat: None }, MultiResult::Check];
    assert_eq!(completions(&actions), vec![(xid, Ok(Response::Multi(stripped)))]);
}

// ---------------------------------------------------------------------------------------------
// Multi

#[test]
fn multi_failure_surfaces_the_first_error_with_per_op_results() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let multi = Request::Multi(vec![
        create("/a"),
        Request::Check { path: "/b".to_string(), version: 3 },
        Request::Delete { path: "/c".to_string(), version: -1 },
    ]);
    let (xid, _) = t.submit(multi);
    let results = vec![
        MultiResult::Error { code: ErrorCode::Ok },
        MultiResult::Error { code: ErrorCode::BadVersion },
        MultiResult::Error { code: ErrorCode::RuntimeInconsistency },
    ];
    let actions = t.reply(server, xid, 9, ErrorCode::Ok, Some(Response::Multi(results.clone())));
    assert_eq!(
        completions(&actions),
        vec![(xid, Err(ClientError::MultiFailed { first_error: ErrorCode::BadVersion, results }))]
    );
    assert_eq!(t.client.last_zxid_seen(), Zxid(9), "a failed multi still consumed a zxid the client saw");
}

// ---------------------------------------------------------------------------------------------
// Application calls

#[test]
fn invalid_paths_are_refused_without_being_sent() {
    let mut t = Script::new("1:2181", 6000);
    t.connect();
    let (xid, actions) = t.submit(get_data("a", false));
    assert_eq!(
        completions(&actions),
        vec![(
            xid,
            Err(ClientError::InvalidPath {
                path: "a".to_string(),
                reason: "path must start with '/'".to_string()
            })
        )]
    );
    let (_, actions) = t.submit(Request::Multi(vec![create("/ok"), create("/bad/")]));
    assert!(matches!(completions(&actions)[..], [(_, Err(ClientError::InvalidPath { .. }))]));
    let sequential = Request::Create {
        path: "/dir/".to_string(),
        data: None,
        acl: zab_tree::OPEN_ACL_UNSAFE.to_vec(),
        flags: 2,
        kind: zab_tree::CreateKind::Create,
    };
    let (xid, actions) = t.submit(sequential.clone());
    assert_eq!(sends(&actions), vec![(xid, sequential)], "a sequential create may end with '/'");
}

#[test]
fn connection_internal_requests_cannot_be_submitted() {
    let mut t = Script::new("1:2181", 6000);
    t.connect();
    let (xid, actions) = t.submit(Request::Ping);
    assert_eq!(completions(&actions), vec![(xid, Err(ClientError::NotSubmittable(OpCode::Ping)))]);
    let (_, actions) = t.submit(Request::Auth { scheme: "digest".to_string(), auth: vec![] });
    assert_eq!(sends(&actions), vec![]);
}

#[test]
fn close_ends_the_session_once_its_reply_arrives() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (xid, actions) = {
        let mut out = Default::default();
        let xid = t.client.close(t.now, &mut out);
        (xid, out.actions)
    };
    assert_eq!(sends(&actions), vec![(xid, Request::CloseSession)]);
    let (late, actions) = t.submit(get_data("/a", false));
    assert_eq!(completions(&actions), vec![(late, Err(ClientError::SessionClosed))]);
    let actions = t.reply(server, xid, 4, ErrorCode::Ok, None);
    assert_eq!(
        actions,
        vec![
            ClientAction::Completed {
                xid,
                request: Request::CloseSession,
                result: Ok((Response::Empty, Zxid(4)))
            },
            ClientAction::Close { server },
            ClientAction::State(SessionState::Closed),
        ]
    );
    assert_eq!(t.client.next_deadline(), None);
}

#[test]
fn close_completes_with_connection_loss_if_the_connection_drops_first_and_does_not_reconnect() {
    let mut t = Script::new("1:2181,2:2181", 6000);
    let server = t.connect();
    let xid = t.client.close(t.now, &mut Default::default());
    let actions = t.step(ClientInput::TransportClosed { server });
    assert_eq!(
        actions,
        vec![
            ClientAction::Completed {
                xid,
                request: Request::CloseSession,
                result: Err(ClientError::ConnectionLoss)
            },
            ClientAction::State(SessionState::Closed),
        ]
    );
    assert_eq!(t.client.connection_server(), None);
}

#[test]
fn move_to_drops_the_connection_and_connects_to_the_chosen_server_at_once() {
    let mut t = Script::new("1:2181,2:2181,3:2181", 6000);
    let first = t.connect();
    let (xid, _) = t.submit(get_data("/a", false));
    let target = t.nth(2);
    let mut out = Default::default();
    t.client.move_to(t.now, target, &mut out).unwrap();
    assert_eq!(
        out.actions,
        vec![
            ClientAction::Close { server: first },
            ClientAction::Completed {
                xid,
                request: get_data("/a", false),
                result: Err(ClientError::ConnectionLoss)
            },
            ClientAction::State(SessionState::Disconnected),
            ClientAction::Connect { server: target },
        ]
    );
    // If that server fails, the round robin goes on after it.
    let actions = t.step(ClientInput::TransportFailed { server: target });
    assert_eq!(actions, vec![ClientAction::Connect { server: t.nth(0) }]);
    assert_eq!(
        t.client.move_to(t.now, ServerIndex(3), &mut Default::default()),
        Err(MoveError::UnknownServer { server: ServerIndex(3), count: 3 })
    );
}

#[test]
fn watch_removed_events_carry_the_connected_state() {
    let mut t = Script::new("1:2181", 6000);
    let server = t.connect();
    let (a, _) = t.submit(Request::AddWatch { path: "/p".to_string(), mode: AddWatchMode::Persistent });
    t.reply(server, a, 2, ErrorCode::Ok, None);
    let (xid, _) =
        t.submit(Request::RemoveWatches { path: "/p".to_string(), watcher_type: WatcherType::Any });
    let actions = t.reply(server, xid, 2, ErrorCode::Ok, None);
    let event = WatchEvent {
        event_type: EventType::PersistentWatchRemoved,
        state: KeeperState::SyncConnected,
        path: "/p".to_string(),
    };
    assert_eq!(actions[0], ClientAction::Watch { event });
}
