//! Golden transcripts: whole session lifecycles, one line per input and per action, with the times
//! and the seeded reconnect delays pinned. A change in behaviour shows up as a diff here; on a
//! mismatch the test prints the new transcript. Read it line by line before pasting it in.

use std::fmt::Write as _;

use zab_client::{
    Client, ClientAction, ClientConfig, ClientInput, ClientOut, ConnectString, Instant, ServerIndex, Xid,
};
use zab_tree::{
    session_password, ConnectResponse, ErrorCode, EventType, ReplyHeader, Request, Response, SessionId, Stat,
    WatchEvent, Zxid,
};

const SESSION: SessionId = SessionId(0x0100_0000_0000_0007);

/// One line of a script: at `ms`, do this.
enum Step {
    Timeout,
    Up,
    Failed,
    Closed,
    Accept(i32),
    Reply { xid: i32, zxid: u64, err: ErrorCode, body: Option<Response> },
    Notify(EventType, &'static str, u64),
    Submit(Request),
    Close,
}

/// Runs `script` (each step addressed to the client's current connection) and renders it.
fn transcript(config: ClientConfig, script: Vec<(u64, Step)>) -> String {
    let mut client = Client::new(config).unwrap();
    let mut out = ClientOut::new();
    let mut text = String::new();
    for (ms, step) in script {
        let now = Instant::from_ms(ms);
        let server = client.connection_server().unwrap_or(ServerIndex(usize::MAX));
        let label = match &step {
            Step::Timeout => "timeout".to_string(),
            Step::Up => format!("transport up {server}"),
            Step::Failed => format!("transport failed {server}"),
            Step::Closed => format!("transport closed {server}"),
            Step::Accept(timeout_ms) => format!("connect response timeout={timeout_ms}"),
            Step::Reply { xid, zxid, err, .. } => format!("reply xid={xid} zxid={:#x} {}", zxid, err.name()),
            Step::Notify(event_type, path, zxid) => format!("notify {event_type:?} {path} zxid={zxid:#x}"),
            Step::Submit(request) => format!("submit {}", request_text(request)),
            Step::Close => "close".to_string(),
        };
        let response = |timeout_ms| ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id: SESSION,
            passwd: session_password(SESSION),
            read_only: false,
        };
        match step {
            Step::Timeout => client.step(now, ClientInput::Timeout, &mut out),
            Step::Up => client.step(now, ClientInput::TransportConnected { server }, &mut out),
            Step::Failed => client.step(now, ClientInput::TransportFailed { server }, &mut out),
            Step::Closed => client.step(now, ClientInput::TransportClosed { server }, &mut out),
            Step::Accept(timeout_ms) => {
                let input = ClientInput::ConnectResponse { server, response: response(timeout_ms) };
                client.step(now, input, &mut out)
            }
            Step::Reply { xid, zxid, err, body } => {
                let header = ReplyHeader { xid, zxid: Zxid(zxid), err };
                client.step(now, ClientInput::Reply { server, header, response: body }, &mut out)
            }
            Step::Notify(event_type, path, zxid) => {
                let input = ClientInput::Notification {
                    server,
                    event: WatchEvent::node(event_type, path),
                    zxid: Zxid(zxid),
                };
                client.step(now, input, &mut out)
            }
            Step::Submit(request) => {
                client.submit(now, request, &mut out);
            }
            Step::Close => {
                client.close(now, &mut out);
            }
        }
        let deadline = client.next_deadline().map_or("none".to_string(), |d| format!("{}ms", d.as_ms()));
        writeln!(text, "@{ms}ms {label}  [next deadline {deadline}]").unwrap();
        for action in out.drain() {
            writeln!(text, "    {}", action_text(&action)).unwrap();
        }
    }
    text
}

fn request_text(request: &Request) -> String {
    match request {
        Request::GetData { path, watch } => format!("getData {path}{}", if *watch { " watch" } else { "" }),
        Request::GetChildren { path, watch } => {
            format!("getChildren {path}{}", if *watch { " watch" } else { "" })
        }
        Request::SetData { path, .. } => format!("setData {path}"),
        Request::SetWatches(w) => format!(
            "setWatches relative={:#x} data={:?} exist={:?} child={:?}",
            w.relative_zxid.0, w.data, w.exist, w.child
        ),
        other => format!("{:?}", other.opcode()),
    }
}

fn action_text(action: &ClientAction) -> String {
    match action {
        ClientAction::Connect { server } => format!("connect {server}"),
        ClientAction::SendConnect { server, request } => format!(
            "handshake {server} session={} last_zxid={:#x} timeout={}",
            request.session_id, request.last_zxid_seen.0, request.timeout_ms
        ),
        ClientAction::Send { server, xid, request } => {
            format!("send {server} {xid}: {}", request_text(request))
        }
        ClientAction::Close { server } => format!("close {server}"),
        ClientAction::Completed { xid, result, .. } => match result {
            Ok((_, zxid)) => format!("completed {xid} ok zxid={:#x}", zxid.0),
            Err(error) => format!("completed {xid} {error:?}"),
        },
        ClientAction::Watch { event } => format!("watch {:?} {}", event.event_type, event.path),
        ClientAction::State(state) => format!("state {state:?}"),
        ClientAction::Anomaly(anomaly) => format!("anomaly {anomaly:?}"),
    }
}

fn check(actual: &str, expected: &str) {
    if actual.trim() != expected.trim() {
        panic!("transcript changed; the new one is:\n{actual}");
    }
}

fn get(path: &str, watch: bool) -> Step {
    Step::Submit(Request::GetData { path: path.to_string(), watch })
}

fn ok(xid: i32, zxid: u64, body: Response) -> Step {
    Step::Reply { xid, zxid, err: ErrorCode::Ok, body: Some(body) }
}

fn data() -> Response {
    Response::GetData { data: None, stat: Stat::default() }
}

#[test]
fn a_session_rides_out_a_silent_server_reconnects_with_its_watches_and_finally_expires() {
    // ZooKeeper's default delays: reconnect delay below 1000 ms, spin 1000 ms, drawn from seed 7.
    let config = ClientConfig::new(ConnectString::parse("1:2181,2:2181,3:2181").unwrap(), 3000, 7);
    let script = vec![
        (0, Step::Timeout),
        (5, Step::Up),
        (9, Step::Accept(3000)),
        (10, get("/a", true)),
        (12, ok(1, 0x1_0000_0002, data())),
        (20, Step::Submit(Request::GetChildren { path: "/".to_string(), watch: true })),
        (22, ok(2, 0x1_0000_0002, Response::GetChildren { children: vec!["a".to_string()] })),
        (500, Step::Notify(EventType::NodeDataChanged, "/a", 0x1_0000_0003)),
        (1020, Step::Timeout),
        (1021, Step::Reply { xid: Xid::PING.0, zxid: 0x1_0000_0003, err: ErrorCode::Ok, body: None }),
        (2020, Step::Timeout),
        // The server goes silent: no ping reply. The read timeout (2000 ms) runs from 1021 ms.
        (2500, get("/a", false)),
        (3021, Step::Timeout),
        (3100, Step::Timeout),
        (3725, Step::Timeout),
        (3730, Step::Failed),
        (4456, Step::Timeout),
        (4461, Step::Failed),
        (6000, Step::Timeout),
        (6062, Step::Timeout),
        (6067, Step::Up),
        (6072, Step::Accept(3000)),
        (6073, Step::Reply { xid: Xid::SET_WATCHES.0, zxid: 0x1_0000_0004, err: ErrorCode::Ok, body: None }),
        (6074, Step::Notify(EventType::NodeChildrenChanged, "/", 0x1_0000_0004)),
        (6100, Step::Closed),
        (6100, get("/b", false)),
        (6459, Step::Timeout),
        (6460, Step::Up),
        (6461, Step::Accept(0)),
        (6462, get("/c", false)),
    ];
    let expected = r#"
@0ms timeout  [next deadline 1000ms]
    connect server#1
@5ms transport up server#1  [next deadline 1005ms]
    handshake server#1 session=0x0 last_zxid=0x0 timeout=3000
@9ms connect response timeout=3000  [next deadline 1009ms]
    state SyncConnected
@10ms submit getData /a watch  [next deadline 1010ms]
    send server#1 xid 1: getData /a watch
@12ms reply xid=1 zxid=0x100000002 Ok  [next deadline 1010ms]
    completed xid 1 ok zxid=0x100000002
@20ms submit getChildren / watch  [next deadline 1020ms]
    send server#1 xid 2: getChildren / watch
@22ms reply xid=2 zxid=0x100000002 Ok  [next deadline 1020ms]
    completed xid 2 ok zxid=0x100000002
@500ms notify NodeDataChanged /a zxid=0x100000003  [next deadline 1020ms]
    watch NodeDataChanged /a
@1020ms timeout  [next deadline 2020ms]
    send server#1 xid -2: Ping
@1021ms reply xid=-2 zxid=0x100000003 Ok  [next deadline 2020ms]
@2020ms timeout  [next deadline 3020ms]
    send server#1 xid -2: Ping
@2500ms submit getData /a  [next deadline 3021ms]
    send server#1 xid 3: getData /a
@3021ms timeout  [next deadline 3725ms]
    close server#1
    completed xid 3 ConnectionLoss
    state Disconnected
@3100ms timeout  [next deadline 3725ms]
@3725ms timeout  [next deadline 4725ms]
    connect server#2
@3730ms transport failed server#2  [next deadline 4456ms]
@4456ms timeout  [next deadline 5456ms]
    connect server#0
@4461ms transport failed server#0  [next deadline 6062ms]
@6000ms timeout  [next deadline 6062ms]
@6062ms timeout  [next deadline 7062ms]
    connect server#1
@6067ms transport up server#1  [next deadline 7067ms]
    handshake server#1 session=0x100000000000007 last_zxid=0x100000003 timeout=3000
@6072ms connect response timeout=3000  [next deadline 7072ms]
    state SyncConnected
    send server#1 xid -8: setWatches relative=0x100000003 data=[] exist=[] child=["/"]
@6073ms reply xid=-8 zxid=0x100000004 Ok  [next deadline 7072ms]
@6074ms notify NodeChildrenChanged / zxid=0x100000004  [next deadline 7072ms]
    watch NodeChildrenChanged /
@6100ms transport closed server#1  [next deadline 6459ms]
    state Disconnected
@6100ms submit getData /b  [next deadline 6459ms]
@6459ms timeout  [next deadline 7459ms]
    connect server#2
@6460ms transport up server#2  [next deadline 7460ms]
    handshake server#2 session=0x100000000000007 last_zxid=0x100000004 timeout=3000
@6461ms connect response timeout=0  [next deadline none]
    close server#2
    state Expired
    completed xid 4 SessionExpired
@6462ms submit getData /c  [next deadline none]
    completed xid 5 SessionExpired
"#;
    check(&transcript(config, script), expected);
}

#[test]
fn a_close_waits_for_its_reply_and_ends_the_session() {
    let mut config = ClientConfig::new(ConnectString::parse("1:2181/app").unwrap(), 4000, 1);
    config.reconnect_delay_ms_max = 0;
    let script = vec![
        (0, Step::Timeout),
        (1, Step::Up),
        (2, Step::Accept(4000)),
        (3, Step::Submit(Request::SetData { path: "/x".to_string(), data: None, version: -1 })),
        (4, Step::Close),
        (5, get("/late", false)),
        (6, ok(1, 0x2_0000_0001, Response::Stat(Stat::default()))),
        (7, Step::Reply { xid: 2, zxid: 0x2_0000_0002, err: ErrorCode::Ok, body: None }),
    ];
    let expected = r#"
@0ms timeout  [next deadline 4000ms]
    connect server#0
@1ms transport up server#0  [next deadline 4001ms]
    handshake server#0 session=0x0 last_zxid=0x0 timeout=4000
@2ms connect response timeout=4000  [next deadline 1335ms]
    state SyncConnected
@3ms submit setData /x  [next deadline 1336ms]
    send server#0 xid 1: setData /app/x
@4ms close  [next deadline 1337ms]
    send server#0 xid 2: CloseSession
@5ms submit getData /late  [next deadline 1337ms]
    completed xid 3 SessionClosed
@6ms reply xid=1 zxid=0x200000001 Ok  [next deadline 1337ms]
    completed xid 1 ok zxid=0x200000001
@7ms reply xid=2 zxid=0x200000002 Ok  [next deadline none]
    completed xid 2 ok zxid=0x200000002
    close server#0
    state Closed
"#;
    check(&transcript(config, script), expected);
}
