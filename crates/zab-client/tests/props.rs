//! Properties: the connect-string parser is total and round-trips; any interleaving of transport
//! events, server messages (well-formed or not) and application calls leaves the client panic-free
//! with strictly increasing xids, one completion per request and a monotonic last zxid.

use std::collections::{BTreeSet, VecDeque};

use proptest::prelude::*;
use zab_client::{
    Client, ClientAction, ClientConfig, ClientError, ClientInput, ClientOut, ConnectString, Instant,
    ServerAddress, ServerIndex, Xid,
};
use zab_tree::{
    session_password, AddWatchMode, ConnectResponse, CreateKind, ErrorCode, EventType, MultiResult,
    ReplyHeader, Request, Response, SessionId, Stat, WatchEvent, WatcherType, Zxid,
};

// ---------------------------------------------------------------------------------------------
// Connect strings

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9.\\-_]{0,12}",
        "[0-9]{1,3}",
        "[0-9a-f]{1,4}(:[0-9a-f]{0,4}){1,5}", // IPv6, printed in brackets
    ]
}

fn connect_string() -> impl Strategy<Value = ConnectString> {
    let server = (host(), 1u16..=u16::MAX).prop_map(|(host, port)| ServerAddress { host, port });
    let chroot = prop::option::of(
        prop::collection::vec("[a-z0-9_]{1,6}", 1..4).prop_map(|c| format!("/{}", c.join("/"))),
    );
    (prop::collection::vec(server, 1..6), chroot)
        .prop_map(|(servers, chroot)| ConnectString { servers, chroot })
}

proptest! {
    #[test]
    fn the_connect_string_parser_never_panics_and_what_it_accepts_prints_back_the_same(
        text in "[a-z0-9:,/\\[\\]. \\-]{0,40}"
    ) {
        if let Ok(parsed) = ConnectString::parse(&text) {
            prop_assert!(!parsed.servers.is_empty());
            prop_assert_eq!(ConnectString::parse(&parsed.to_string()), Ok(parsed));
        }
    }

    #[test]
    fn the_connect_string_parser_never_panics_on_any_unicode(text in "\\PC{0,30}") {
        let _ = ConnectString::parse(&text);
    }

    #[test]
    fn printed_connect_strings_round_trip(cs in connect_string()) {
        prop_assert_eq!(ConnectString::parse(&cs.to_string()), Ok(cs));
    }
}

// ---------------------------------------------------------------------------------------------
// Random interleavings

const PATHS: &[&str] = &["/a", "/a/b", "/c", "/"];

#[derive(Clone, Debug)]
enum Op {
    Advance(u16),
    Timeout,
    TransportUp {
        other: Option<usize>,
    },
    TransportFailed {
        other: Option<usize>,
    },
    TransportClosed {
        other: Option<usize>,
    },
    Accept {
        expired: bool,
        timeout_ms: u16,
    },
    /// Whatever moves the client towards a session: fire its deadline, open the transport it asked
    /// for, or accept its handshake.
    Progress,
    /// Jump to the client's deadline and fire it: afterwards the next deadline lies later.
    FireDeadline,
    /// A reply to the oldest request in flight; `fits` picks a body of the right shape.
    ReplyHead {
        err: ErrorCode,
        fits: bool,
        zxid: u8,
    },
    ReplyXid {
        xid: i32,
        zxid: u8,
    },
    ReplyPing,
    ReplyAuth {
        failed: bool,
    },
    Notify {
        event_type: EventType,
        path: usize,
        zxid: u8,
    },
    Submit(Request),
    Close,
    MoveTo(usize),
    AddAuth,
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![9 => (0..PATHS.len()).prop_map(|i| PATHS[i].to_string()), 1 => Just("bad".to_string())]
}

fn request() -> impl Strategy<Value = Request> {
    let leaf = prop_oneof![
        3 => (path(), any::<bool>()).prop_map(|(path, watch)| Request::GetData { path, watch }),
        3 => (path(), any::<bool>()).prop_map(|(path, watch)| Request::Exists { path, watch }),
        3 => (path(), any::<bool>()).prop_map(|(path, watch)| Request::GetChildren { path, watch }),
        3 => path().prop_map(|path| Request::SetData { path, data: Some(vec![1]), version: -1 }),
        3 => path().prop_map(|path| Request::Delete { path, version: -1 }),
        3 => (path(), 0..4i32).prop_map(|(path, flags)| Request::Create {
            path,
            data: None,
            acl: vec![],
            flags,
            kind: CreateKind::Create2
        }),
        3 => path().prop_map(|path| Request::Sync { path }),
        3 => path().prop_map(|path| Request::AddWatch { path, mode: AddWatchMode::PersistentRecursive }),
        3 => path().prop_map(|path| Request::RemoveWatches { path, watcher_type: WatcherType::Any }),
        1 => Just(Request::Ping),
    ];
    prop_oneof![
        8 => leaf,
        1 => prop::collection::vec(path().prop_map(|path| Request::Check { path, version: 0 }), 0..3)
            .prop_map(Request::Multi),
    ]
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        6 => Just(ErrorCode::Ok),
        1 => Just(ErrorCode::NoNode),
        1 => Just(ErrorCode::NoWatcher),
        1 => Just(ErrorCode::SessionMoved),
    ]
}

fn event_type() -> impl Strategy<Value = EventType> {
    prop_oneof![
        Just(EventType::NodeCreated),
        Just(EventType::NodeDeleted),
        Just(EventType::NodeDataChanged),
        Just(EventType::NodeChildrenChanged),
        Just(EventType::None),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let other = prop::option::weighted(0.2, 0..4usize);
    prop_oneof![
        3 => (0..1500u16).prop_map(Op::Advance),
        3 => Just(Op::Timeout),
        1 => other.clone().prop_map(|other| Op::TransportUp { other }),
        1 => other.clone().prop_map(|other| Op::TransportFailed { other }),
        1 => other.prop_map(|other| Op::TransportClosed { other }),
        1 => (prop::bool::weighted(0.1), prop_oneof![0..6u16, 0..8000u16])
            .prop_map(|(expired, timeout_ms)| Op::Accept { expired, timeout_ms }),
        14 => (error_code(), prop::bool::weighted(0.97), any::<u8>())
            .prop_map(|(err, fits, zxid)| Op::ReplyHead { err, fits, zxid }),
        1 => (-10..10i32, any::<u8>()).prop_map(|(xid, zxid)| Op::ReplyXid { xid, zxid }),
        1 => Just(Op::ReplyPing),
        1 => prop::bool::weighted(0.1).prop_map(|failed| Op::ReplyAuth { failed }),
        4 => (event_type(), 0..PATHS.len(), any::<u8>())
            .prop_map(|(event_type, path, zxid)| Op::Notify { event_type, path, zxid }),
        12 => request().prop_map(Op::Submit),
        6 => Just(Op::Progress),
        2 => Just(Op::FireDeadline),
        1 => prop::bool::weighted(0.2).prop_map(|close| if close { Op::Close } else { Op::Timeout }),
        1 => (0..4usize).prop_map(Op::MoveTo),
        1 => Just(Op::AddAuth),
    ]
}

/// A body of the shape `request` calls for, echoing its (server) paths.
fn fitting_body(request: &Request) -> Option<Response> {
    let stat = Stat::default();
    Some(match request {
        Request::GetData { .. } => Response::GetData { data: None, stat },
        Request::Exists { .. } | Request::SetData { .. } | Request::SetAcl { .. } => Response::Stat(stat),
        Request::GetChildren { .. } => Response::GetChildren { children: vec!["x".to_string()] },
        Request::Create { path, .. } => Response::Create2 { path: path.clone(), stat },
        Request::Sync { path } => Response::Sync { path: path.clone() },
        Request::Multi(ops) => Response::Multi(ops.iter().map(|_| MultiResult::Check).collect()),
        _ => return None,
    })
}

/// What the test knows of the connection the client is using: the xids it sent, in order.
#[derive(Default)]
struct FakeServer {
    in_flight: VecDeque<(Xid, Request)>,
}

struct Run {
    client: Client,
    now: Instant,
    chroot: Option<String>,
    server: FakeServer,
    submitted: BTreeSet<Xid>,
    completed: BTreeSet<Xid>,
    last_sent_xid: Option<Xid>,
    sent: BTreeSet<Xid>,
    last_zxid: Zxid,
    /// The client sent its handshake on the current connection and waits for the answer.
    awaiting_handshake: bool,
}

impl Run {
    fn absorb(&mut self, out: &mut ClientOut) -> Result<(), TestCaseError> {
        let ended = self.client.state().is_final();
        for action in out.drain() {
            match action {
                ClientAction::Send { xid, request, .. } => {
                    if xid.0 > 0 {
                        self.sent.insert(xid);
                        if let Some(last) = self.last_sent_xid {
                            prop_assert!(xid > last, "xid {xid:?} sent after {last:?}");
                        }
                        self.last_sent_xid = Some(xid);
                    }
                    if xid.0 > 0 || xid == Xid::SET_WATCHES {
                        self.server.in_flight.push_back((xid, request));
                    }
                }
                ClientAction::Connect { .. } | ClientAction::Close { .. } => {
                    self.server.in_flight.clear();
                    self.awaiting_handshake = false;
                }
                ClientAction::Completed { xid, result, .. } => {
                    prop_assert!(self.submitted.contains(&xid), "completion of unknown {xid:?}");
                    prop_assert!(self.completed.insert(xid), "{xid:?} completed twice");
                    // A checker relies on this: only ConnectionLoss leaves the outcome open; any
                    // other failure the client makes up concerns a request it never sent.
                    let answered = matches!(
                        result,
                        Ok(_) | Err(ClientError::Server(_) | ClientError::MultiFailed { .. })
                    );
                    let made_up = !answered && result != Err(ClientError::ConnectionLoss);
                    prop_assert!(!made_up || !self.sent.contains(&xid), "{xid:?} was sent, yet {result:?}");
                    prop_assert!(!answered || self.sent.contains(&xid), "{xid:?} answered but never sent");
                }
                ClientAction::SendConnect { request, .. } => {
                    self.awaiting_handshake = true;
                    prop_assert!(!ended, "handshake after the session ended");
                    prop_assert_eq!(request.last_zxid_seen, self.client.last_zxid_seen());
                }
                ClientAction::State(_) => self.awaiting_handshake = false,
                ClientAction::Watch { .. } | ClientAction::Anomaly(_) => {}
            }
        }
        prop_assert!(self.client.last_zxid_seen() >= self.last_zxid, "last zxid seen went backwards");
        self.last_zxid = self.client.last_zxid_seen();
        prop_assert_eq!(self.client.outstanding(), self.submitted.len() - self.completed.len());
        prop_assert_eq!(self.client.next_deadline().is_none(), self.client.state().is_final());
        Ok(())
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        let mut out = ClientOut::new();
        let current = self.client.connection_server();
        let target = |other: Option<usize>| other.map(ServerIndex).or(current).unwrap_or(ServerIndex(0));
        let mut input = |client: &mut Client, now, input| client.step(now, input, &mut out);
        // A server talks on a connection only once it has answered the handshake; other timings are
        // covered by `ReplyXid`, `TransportUp` and `Accept`.
        let connected = self.client.state() == zab_client::SessionState::SyncConnected;
        let server_message =
            matches!(op, Op::ReplyHead { .. } | Op::Notify { .. } | Op::ReplyPing | Op::ReplyAuth { .. });
        if server_message && !connected {
            return Ok(());
        }
        match op {
            Op::Advance(ms) => self.now = self.now.plus_ms(u64::from(ms)),
            Op::FireDeadline => {
                if let Some(at) = self.client.next_deadline() {
                    self.now = self.now.max(at);
                    input(&mut self.client, self.now, ClientInput::Timeout);
                    let next = self.client.next_deadline();
                    prop_assert!(
                        next.is_none_or(|n| n > self.now),
                        "deadline {next:?} not after {:?}",
                        self.now
                    );
                }
            }
            Op::Progress => {
                let progress = match (self.client.connection_server(), self.awaiting_handshake) {
                    (None, _) => ClientInput::Timeout,
                    (Some(_), _) if connected => ClientInput::Timeout,
                    (Some(server), false) => ClientInput::TransportConnected { server },
                    (Some(server), true) => ClientInput::ConnectResponse {
                        server,
                        response: ConnectResponse {
                            protocol_version: 0,
                            timeout_ms: 4000,
                            session_id: SessionId(0x42),
                            passwd: session_password(SessionId(0x42)),
                            read_only: false,
                        },
                    },
                };
                if progress == ClientInput::Timeout && !connected {
                    self.now = self.now.max(self.client.next_deadline().unwrap_or(self.now));
                }
                input(&mut self.client, self.now, progress)
            }
            Op::Timeout => input(&mut self.client, self.now, ClientInput::Timeout),
            Op::TransportUp { other } => {
                input(&mut self.client, self.now, ClientInput::TransportConnected { server: target(other) })
            }
            Op::TransportFailed { other } => {
                input(&mut self.client, self.now, ClientInput::TransportFailed { server: target(other) })
            }
            Op::TransportClosed { other } => {
                input(&mut self.client, self.now, ClientInput::TransportClosed { server: target(other) })
            }
            Op::Accept { expired, timeout_ms } => {
                let session = SessionId(0x42);
                let response = ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: if expired { 0 } else { i32::from(timeout_ms) + 1 },
                    session_id: session,
                    passwd: session_password(session),
                    read_only: false,
                };
                input(
                    &mut self.client,
                    self.now,
                    ClientInput::ConnectResponse { server: target(None), response },
                )
            }
            Op::ReplyHead { err, fits, zxid } => {
                let (xid, body) = match self.server.in_flight.pop_front() {
                    Some((xid, request)) if fits && err == ErrorCode::Ok => (xid, fitting_body(&request)),
                    Some((xid, _)) => (xid, None),
                    None => (Xid(1), None),
                };
                let zxid = Zxid(self.last_zxid.0 + u64::from(zxid % 4));
                let header = ReplyHeader { xid: xid.0, zxid, err };
                let reply = ClientInput::Reply { server: target(None), header, response: body };
                input(&mut self.client, self.now, reply)
            }
            Op::ReplyXid { xid, zxid } => {
                let header = ReplyHeader { xid, zxid: Zxid(u64::from(zxid)), err: ErrorCode::Ok };
                input(
                    &mut self.client,
                    self.now,
                    ClientInput::Reply { server: target(None), header, response: None },
                )
            }
            Op::ReplyPing | Op::ReplyAuth { .. } => {
                let (xid, err) = match op {
                    Op::ReplyAuth { failed: true } => (Xid::AUTH, ErrorCode::AuthFailed),
                    Op::ReplyAuth { failed: false } => (Xid::AUTH, ErrorCode::Ok),
                    _ => (Xid::PING, ErrorCode::Ok),
                };
                let header = ReplyHeader { xid: xid.0, zxid: Zxid(1), err };
                input(
                    &mut self.client,
                    self.now,
                    ClientInput::Reply { server: target(None), header, response: None },
                )
            }
            Op::Notify { event_type, path, zxid } => {
                let path = match &self.chroot {
                    Some(root) if PATHS[path] == "/" => root.clone(),
                    Some(root) => format!("{root}{}", PATHS[path]),
                    None => PATHS[path].to_string(),
                };
                let event = WatchEvent::node(event_type, &path);
                let zxid = Zxid(self.last_zxid.0 + u64::from(zxid % 3));
                input(
                    &mut self.client,
                    self.now,
                    ClientInput::Notification { server: target(None), event, zxid },
                )
            }
            Op::Submit(request) => {
                let xid = self.client.submit(self.now, request, &mut out);
                prop_assert!(self.submitted.insert(xid), "xid {xid:?} handed out twice");
            }
            Op::Close => {
                let xid = self.client.close(self.now, &mut out);
                prop_assert!(self.submitted.insert(xid), "xid {xid:?} handed out twice");
            }
            Op::MoveTo(server) => {
                let allowed = server < 3 && !self.client.state().is_final();
                let result = self.client.move_to(self.now, ServerIndex(server), &mut out);
                prop_assert_eq!(result.is_ok(), allowed);
            }
            Op::AddAuth => self.client.add_auth(self.now, "digest", b"u:p", &mut out),
        }
        self.absorb(&mut out)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_random_interleaving_of_inputs_never_panics_and_keeps_xids_strictly_increasing(
        seed in any::<u64>(),
        chrooted in any::<bool>(),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let text = if chrooted { "1:2181,2:2181,3:2181/app" } else { "1:2181,2:2181,3:2181" };
        let config = ClientConfig::new(ConnectString::parse(text).unwrap(), 4000, seed);
        let mut run = Run {
            client: Client::new(config).unwrap(),
            now: Instant::ZERO,
            chroot: chrooted.then(|| "/app".to_string()),
            server: FakeServer::default(),
            submitted: BTreeSet::new(),
            completed: BTreeSet::new(),
            last_sent_xid: None,
            sent: BTreeSet::new(),
            last_zxid: Zxid::ZERO,
            awaiting_handshake: false,
        };
        for op in ops {
            run.apply(op)?;
        }
        // Whatever happened, closing and losing the connection answers every request.
        let mut out = ClientOut::new();
        if !run.client.state().is_final() {
            let xid = run.client.close(run.now, &mut out);
            run.submitted.insert(xid);
            // The close waits for a connection; the one it gets fails at once.
            for _ in 0..3 {
                if let Some(server) = run.client.connection_server() {
                    run.client.step(run.now, ClientInput::TransportClosed { server }, &mut out);
                } else if let Some(at) = run.client.next_deadline() {
                    run.now = run.now.max(at);
                    run.client.step(run.now, ClientInput::Timeout, &mut out);
                }
            }
            prop_assert!(run.client.state().is_final(), "still {:?}", run.client.state());
        }
        run.absorb(&mut out)?;
        prop_assert_eq!(run.client.outstanding(), 0);
    }
}
