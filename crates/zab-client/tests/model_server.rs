//! The client against a server built from the real data model (zab-tree's `DataTree`, `Preparer`
//! and `WatchManager`), standing in for every server of the connect string: no replication, a
//! synchronous network, and a second session that writes behind the client's back. These tests
//! check that the client and the data model agree on the protocol: reply shapes, which watches
//! exist, what setWatches fires after a reconnect.

use std::collections::VecDeque;

use proptest::prelude::*;
use zab_client::{
    Anomaly, Client, ClientAction, ClientConfig, ClientError, ClientInput, ClientOut, ConnectString, Instant,
    ServerIndex, SessionState,
};
use zab_tree::{
    session_password, AddWatchMode, AuthIds, ConnectResponse, CreateKind, DataTree, ErrorCode, EventType,
    MultiResult, PrepContext, Preparer, ReplyHeader, Request, Response, SessionId, SessionStatus, TreeConfig,
    Txn, TxnBody, WatchEvent, WatchManager, WatcherType, Zxid, OPEN_ACL_UNSAFE,
};

const CLIENT_SESSION: SessionId = SessionId(0x0100_0000_0000_0001);
const OTHER_SESSION: SessionId = SessionId(0x0100_0000_0000_0002);

/// One server over the real data model. Watchers are connection numbers.
struct ModelServer {
    tree: DataTree,
    prep: Preparer,
    watches: WatchManager<u64>,
    auth: AuthIds,
    next_counter: u32,
    /// The client's current connection number.
    conn: u64,
}

impl ModelServer {
    fn new() -> ModelServer {
        ModelServer {
            tree: DataTree::new(TreeConfig::default()),
            prep: Preparer::new(),
            watches: WatchManager::new(),
            auth: AuthIds::new(),
            next_counter: 1,
            conn: 1,
        }
    }

    /// Prepares and applies one write; returns the result and the events for the client's
    /// connection, with the txn's zxid.
    fn write(
        &mut self,
        session: SessionId,
        cxid: i32,
        request: &Request,
    ) -> (Result<Response, ErrorCode>, Vec<(WatchEvent, Zxid)>) {
        let zxid = Zxid::new(1, self.next_counter);
        self.next_counter += 1;
        let auth = self.auth.clone();
        let ctx = PrepContext {
            session,
            cxid,
            zxid,
            time_ms: 0,
            auth: &auth,
            session_status: SessionStatus::Active,
        };
        let txn = self.prep.prepare(&self.tree, &ctx, request);
        let applied = self.tree.apply(&txn);
        self.prep.applied(txn.zxid);
        let conn = self.conn;
        let events = self
            .watches
            .trigger(&applied.triggers, |_, _| true)
            .into_iter()
            .filter(|(watcher, _)| *watcher == conn)
            .map(|(_, event)| (event, txn.zxid))
            .collect();
        (applied.result, events)
    }

    /// Applies the createSession txn a leader would commit for the client's handshake.
    fn create_session(&mut self, timeout_ms: i32) {
        let zxid = Zxid::new(1, self.next_counter);
        self.next_counter += 1;
        let body = TxnBody::CreateSession { timeout_ms };
        let txn = Txn { zxid, session: CLIENT_SESSION, cxid: 0, time_ms: 0, body, digest: None };
        self.tree.apply(&txn);
        self.prep.applied(txn.zxid);
    }

    /// Answers one request of the client: the notifications it causes, then the reply.
    fn serve(
        &mut self,
        xid: i32,
        request: &Request,
    ) -> (Vec<(WatchEvent, Zxid)>, ReplyHeader, Option<Response>) {
        let conn = self.conn;
        let mut events = Vec::new();
        let result = match request {
            r if r.is_read() => {
                let result = self.tree.read(r, CLIENT_SESSION, &self.auth);
                self.watches.register_for_read(conn, r, &result);
                result
            }
            r if r.is_write() => {
                let (result, fired) = self.write(CLIENT_SESSION, xid, r);
                events = fired;
                result
            }
            Request::Sync { path } => Ok(Response::Sync { path: path.clone() }),
            Request::AddWatch { path, mode } => {
                self.watches.add_watch(path, *mode, conn);
                Ok(Response::Empty)
            }
            Request::RemoveWatches { path, watcher_type } => {
                self.watches.remove_watches(path, *watcher_type, conn).map(|()| Response::Empty)
            }
            Request::CheckWatches { path, watcher_type } => {
                self.watches.check_watches(path, *watcher_type, conn).map(|()| Response::Empty)
            }
            Request::SetWatches(w) => {
                let zxid = self.tree.last_processed_zxid();
                let fired = self.watches.set_watches(conn, w, &self.tree, |_| true);
                events = fired.into_iter().map(|e| (e, zxid)).collect();
                Ok(Response::Empty)
            }
            Request::Auth { .. } | Request::Ping => Ok(Response::Empty),
            _ => Err(ErrorCode::Unimplemented),
        };
        let zxid = self.tree.last_processed_zxid();
        match result {
            Ok(Response::Empty) => (events, ReplyHeader { xid, zxid, err: ErrorCode::Ok }, None),
            Ok(body) => (events, ReplyHeader { xid, zxid, err: ErrorCode::Ok }, Some(body)),
            Err(err) => (events, ReplyHeader { xid, zxid, err }, None),
        }
    }

    /// The client's connection ends: the server forgets its watches, as ZooKeeper does.
    fn drop_connection(&mut self) {
        self.watches.remove_watcher(self.conn);
        self.conn += 1;
    }
}

/// The client, the model server and a synchronous network between them.
struct World {
    client: Client,
    server: ModelServer,
    now: Instant,
    /// Inputs on their way to the client, in order.
    inbox: VecDeque<ClientInput>,
    /// Every action the client emitted.
    actions: Vec<ClientAction>,
    connected_to: Option<ServerIndex>,
    node_events_sent: usize,
}

impl World {
    fn new(connect_string: &str) -> World {
        let mut config = ClientConfig::new(ConnectString::parse(connect_string).unwrap(), 6000, 3);
        config.reconnect_delay_ms_max = 0;
        config.spin_delay_ms = 0;
        let mut world = World {
            client: Client::new(config).unwrap(),
            server: ModelServer::new(),
            now: Instant::ZERO,
            inbox: VecDeque::new(),
            actions: Vec::new(),
            connected_to: None,
            node_events_sent: 0,
        };
        world.run(|client, now, out| client.step(now, ClientInput::Timeout, out));
        assert_eq!(world.client.state(), SessionState::SyncConnected);
        world
    }

    /// Runs one client call, then lets the two sides talk until nothing is left in flight.
    /// Returns the actions of this round.
    fn run(&mut self, call: impl FnOnce(&mut Client, Instant, &mut ClientOut)) -> Vec<ClientAction> {
        let first = self.actions.len();
        let mut out = ClientOut::new();
        call(&mut self.client, self.now, &mut out);
        let mut pending: VecDeque<ClientAction> = out.drain().collect();
        loop {
            while let Some(action) = pending.pop_front() {
                self.serve(&action);
                self.actions.push(action);
            }
            let Some(input) = self.inbox.pop_front() else { break };
            self.client.step(self.now, input, &mut out);
            pending.extend(out.drain());
        }
        self.actions[first..].to_vec()
    }

    fn submit(&mut self, request: Request) -> Vec<ClientAction> {
        self.run(|client, now, out| {
            client.submit(now, request, out);
        })
    }

    /// Another session writes; the client's connection gets the notifications it fires.
    fn other_writes(&mut self, request: Request) -> Result<Response, ErrorCode> {
        let (result, events) = self.server.write(OTHER_SESSION, 1, &request);
        if let Some(server) = self.connected_to {
            for (event, zxid) in events {
                self.node_events_sent += 1;
                self.inbox.push_back(ClientInput::Notification { server, event, zxid });
            }
        }
        self.run(|_, _, _| {});
        result
    }

    /// The network cuts the connection; the client reconnects (to the same data) at once.
    fn cut(&mut self) -> Vec<ClientAction> {
        let server = self.connected_to.take().expect("connected");
        self.inbox.clear();
        self.server.drop_connection();
        self.run(|client, now, out| client.step(now, ClientInput::TransportClosed { server }, out))
    }

    fn serve(&mut self, action: &ClientAction) {
        match action {
            ClientAction::Connect { server } => {
                self.inbox.push_back(ClientInput::TransportConnected { server: *server });
            }
            ClientAction::SendConnect { server, request } => {
                if request.session_id == SessionId::NONE {
                    self.server.create_session(request.timeout_ms);
                }
                let response = ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: request.timeout_ms,
                    session_id: CLIENT_SESSION,
                    passwd: session_password(CLIENT_SESSION),
                    read_only: false,
                };
                self.connected_to = Some(*server);
                self.inbox.push_back(ClientInput::ConnectResponse { server: *server, response });
            }
            ClientAction::Send { server, xid, request } => {
                let (events, header, response) = self.server.serve(xid.0, request);
                for (event, zxid) in events {
                    self.node_events_sent += 1;
                    self.inbox.push_back(ClientInput::Notification { server: *server, event, zxid });
                }
                self.inbox.push_back(ClientInput::Reply { server: *server, header, response });
            }
            ClientAction::Close { .. } => {
                self.inbox.clear();
                self.server.drop_connection();
                self.connected_to = None;
            }
            _ => {}
        }
    }

    fn anomalies(&self) -> Vec<&Anomaly> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                ClientAction::Anomaly(anomaly) => Some(anomaly),
                _ => None,
            })
            .collect()
    }

    fn node_events_delivered(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| {
                matches!(a, ClientAction::Watch { event } if matches!(event.event_type,
                    EventType::NodeCreated | EventType::NodeDeleted
                    | EventType::NodeDataChanged | EventType::NodeChildrenChanged))
            })
            .count()
    }
}

fn create(path: &str, flags: i32) -> Request {
    Request::Create {
        path: path.to_string(),
        data: Some(b"v0".to_vec()),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        flags,
        kind: CreateKind::Create,
    }
}

fn set_data(path: &str, data: &[u8]) -> Request {
    Request::SetData { path: path.to_string(), data: Some(data.to_vec()), version: -1 }
}

fn results(actions: &[ClientAction]) -> Vec<Result<Response, ClientError>> {
    actions
        .iter()
        .filter_map(|a| match a {
            ClientAction::Completed { result, .. } => Some(result.clone().map(|(r, _)| r)),
            _ => None,
        })
        .collect()
}

fn watch_events(actions: &[ClientAction]) -> Vec<WatchEvent> {
    actions
        .iter()
        .filter_map(|a| match a {
            ClientAction::Watch { event } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_watch_set_through_the_client_fires_when_another_session_changes_the_node() {
    let mut w = World::new("1:2181,2:2181");
    assert!(results(&w.submit(create("/a", 0))).iter().all(Result::is_ok));
    w.submit(Request::GetData { path: "/a".to_string(), watch: true });
    w.other_writes(set_data("/a", b"v1")).unwrap();
    assert_eq!(watch_events(&w.actions), vec![WatchEvent::node(EventType::NodeDataChanged, "/a")]);
    let read = w.submit(Request::GetData { path: "/a".to_string(), watch: false });
    assert!(matches!(&results(&read)[..], [Ok(Response::GetData { data: Some(d), .. })] if d == b"v1"));
    assert_eq!(w.client.last_zxid_seen(), w.server.tree.last_processed_zxid());
    assert!(w.anomalies().is_empty(), "{:?}", w.anomalies());
}

#[test]
fn a_change_missed_while_disconnected_fires_through_set_watches_on_reconnect() {
    let mut w = World::new("1:2181,2:2181");
    w.submit(create("/a", 0));
    w.submit(Request::GetData { path: "/a".to_string(), watch: true });
    w.submit(Request::Exists { path: "/new".to_string(), watch: true });
    let server = w.connected_to.unwrap();
    w.server.drop_connection();
    w.connected_to = None;
    // While the client is cut off, another session changes both nodes.
    w.other_writes(set_data("/a", b"v1")).unwrap();
    w.other_writes(create("/new", 0)).unwrap();
    assert!(watch_events(&w.actions).is_empty());
    let actions = w.run(|client, now, out| client.step(now, ClientInput::TransportClosed { server }, out));
    assert_eq!(
        watch_events(&actions),
        vec![
            WatchEvent::node(EventType::NodeDataChanged, "/a"),
            WatchEvent::node(EventType::NodeCreated, "/new")
        ]
    );
    assert!(w.client.watches().is_empty(), "both one-shot watches fired");
    assert!(w.anomalies().is_empty(), "{:?}", w.anomalies());
}

#[test]
fn chroot_works_end_to_end_with_sequential_and_ephemeral_nodes() {
    let mut w = World::new("1:2181/app");
    w.other_writes(create("/app", 0)).unwrap();
    let actions = w.submit(create("/job-", 3));
    assert_eq!(results(&actions), vec![Ok(Response::Create { path: "/job-0000000000".to_string() })]);
    let actions = w.submit(Request::GetEphemerals { prefix: "/".to_string() });
    assert_eq!(results(&actions), vec![Ok(Response::Ephemerals(vec!["/job-0000000000".to_string()]))]);
    w.submit(Request::GetChildren { path: "/".to_string(), watch: true });
    w.other_writes(create("/app/other", 0)).unwrap();
    assert_eq!(watch_events(&w.actions), vec![WatchEvent::node(EventType::NodeChildrenChanged, "/")]);
    assert!(w.anomalies().is_empty(), "{:?}", w.anomalies());
}

#[test]
fn a_failed_multi_on_the_real_data_model_surfaces_its_first_error() {
    let mut w = World::new("1:2181");
    w.submit(create("/a", 0));
    let multi = Request::Multi(vec![
        create("/b", 0),
        Request::Check { path: "/a".to_string(), version: 5 },
        Request::Delete { path: "/a".to_string(), version: -1 },
    ]);
    let actions = w.submit(multi);
    let expected = vec![
        MultiResult::Error { code: ErrorCode::Ok },
        MultiResult::Error { code: ErrorCode::BadVersion },
        MultiResult::Error { code: ErrorCode::RuntimeInconsistency },
    ];
    assert_eq!(
        results(&actions),
        vec![Err(ClientError::MultiFailed { first_error: ErrorCode::BadVersion, results: expected })]
    );
}

#[test]
fn closing_the_session_removes_its_ephemerals() {
    let mut w = World::new("1:2181");
    w.submit(create("/e", 1));
    let actions = w.run(|client, now, out| {
        client.close(now, out);
    });
    assert!(matches!(&results(&actions)[..], [Ok(Response::Empty)]), "{actions:?}");
    assert_eq!(w.client.state(), SessionState::Closed);
    let probe = w.server.tree.read(
        &Request::Exists { path: "/e".to_string(), watch: false },
        OTHER_SESSION,
        &AuthIds::new(),
    );
    assert_eq!(probe, Err(ErrorCode::NoNode));
}

// ---------------------------------------------------------------------------------------------
// Random workloads

const PATHS: &[&str] = &["/a", "/a/b", "/c"];

#[derive(Clone, Debug)]
enum Op {
    Client(Request),
    Other(Request),
    Cut,
    Move(usize),
}

fn path() -> impl Strategy<Value = String> {
    (0..PATHS.len()).prop_map(|i| PATHS[i].to_string())
}

fn write() -> impl Strategy<Value = Request> {
    prop_oneof![
        (path(), 0..4i32).prop_map(|(p, flags)| create(&p, flags)),
        path().prop_map(|p| Request::Delete { path: p, version: -1 }),
        path().prop_map(|p| set_data(&p, b"x")),
    ]
}

fn watcher_type() -> impl Strategy<Value = WatcherType> {
    prop_oneof![
        Just(WatcherType::Children),
        Just(WatcherType::Data),
        Just(WatcherType::Any),
        Just(WatcherType::Persistent),
        Just(WatcherType::PersistentRecursive),
    ]
}

fn client_request() -> impl Strategy<Value = Request> {
    prop_oneof![
        3 => write(),
        2 => path().prop_map(|path| Request::GetData { path, watch: true }),
        2 => path().prop_map(|path| Request::Exists { path, watch: true }),
        2 => path().prop_map(|path| Request::GetChildren { path, watch: true }),
        1 => path().prop_map(|path| Request::AddWatch { path, mode: AddWatchMode::Persistent }),
        1 => path().prop_map(|path| Request::AddWatch { path, mode: AddWatchMode::PersistentRecursive }),
        1 => (path(), watcher_type()).prop_map(|(path, watcher_type)| Request::RemoveWatches { path, watcher_type }),
        1 => (path(), watcher_type()).prop_map(|(path, watcher_type)| Request::CheckWatches { path, watcher_type }),
        1 => prop::collection::vec(write(), 0..3).prop_map(Request::Multi),
        1 => path().prop_map(|path| Request::Sync { path }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => client_request().prop_map(Op::Client),
        4 => write().prop_map(Op::Other),
        1 => Just(Op::Cut),
        1 => (0..3usize).prop_map(Op::Move),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The client's watch registry and the server's watch manager agree: every notification the
    /// server sends is one the client expects and delivers, across reconnects and setWatches.
    #[test]
    fn against_the_real_data_model_every_notification_is_expected_and_no_protocol_error_occurs(
        chrooted in any::<bool>(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut w = World::new(if chrooted { "1:2181,2:2181,3:2181/app" } else { "1:2181,2:2181,3:2181" });
        if chrooted {
            w.other_writes(create("/app", 0)).unwrap();
        }
        let root = if chrooted { "/app" } else { "" };
        for op in ops {
            let by_client = matches!(op, Op::Client(_));
            match op {
                Op::Client(request) => {
                    w.submit(request);
                }
                Op::Other(request) => {
                    let request = match request {
                        Request::Create { path, data, acl, flags, kind } => {
                            Request::Create { path: format!("{root}{path}"), data, acl, flags: flags & 2, kind }
                        }
                        Request::Delete { path, version } => Request::Delete { path: format!("{root}{path}"), version },
                        Request::SetData { path, data, version } => {
                            Request::SetData { path: format!("{root}{path}"), data, version }
                        }
                        other => other,
                    };
                    let _ = w.other_writes(request);
                }
                Op::Cut => {
                    w.cut();
                }
                Op::Move(server) => {
                    w.run(|client, now, out| client.move_to(now, ServerIndex(server), out).unwrap());
                }
            }
            prop_assert_eq!(w.client.state(), SessionState::SyncConnected);
            prop_assert!(w.anomalies().is_empty(), "{:?}", w.anomalies());
            prop_assert_eq!(w.node_events_delivered(), w.node_events_sent);
            prop_assert_eq!(w.client.outstanding(), 0);
            // Every reply carries the server's last zxid; another session's write is seen only by
            // the next reply or through a notification.
            prop_assert!(w.client.last_zxid_seen() <= w.server.tree.last_processed_zxid());
            if by_client {
                prop_assert_eq!(w.client.last_zxid_seen(), w.server.tree.last_processed_zxid());
            }
        }
    }
}
