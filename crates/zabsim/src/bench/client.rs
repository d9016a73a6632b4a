//! `zabsim bench client`: what the sans-IO session client costs the simulator per request, per
//! watch event and per reconnect. A scripted in-process server answers at once, so the figures
//! are the client's own work: building actions, FIFO matching, chroot mapping, watch bookkeeping.
//! Each figure is the median of several runs.

// Printing the markdown section is what this benchmark is for.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use zab_client::{Client, ClientAction, ClientConfig, ClientInput, ClientOut, ConnectString, ServerIndex};
use zab_tree::{
    session_password, ConnectResponse, ErrorCode, EventType, ReplyHeader, Request, Response, SessionId, Stat,
    WatchEvent, Zxid,
};

const SESSION: SessionId = SessionId(0x0100_0000_0000_0001);

pub fn run(quick: bool) -> u8 {
    let (ops, reps) = if quick { (20_000, 1) } else { (500_000, 5) };
    let watches = if quick { 1_000 } else { 10_000 };
    println!("## Session client cost\n");
    println!(
        "`zab-client` on one core against a scripted server that answers at once: {ops} requests per \
         row, median of {reps} run(s). Time per operation includes producing and draining the actions.\n"
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let one_minute = load.split_whitespace().next().unwrap_or("?");
        println!("Load average (1 min) when the run started: {one_minute}.\n");
    }
    println!("| workload | operations | ns/op | ops/s |");
    println!("| --- | ---: | ---: | ---: |");
    let rows: [(&str, Option<&str>, usize); 3] = [
        ("getData, one request in flight", None, 1),
        ("getData under chroot /app, one in flight", Some("/app"), 1),
        ("setData, 100 requests in flight", None, 100),
    ];
    for (name, chroot, depth) in rows {
        let time = median(reps, || round_trips(chroot, ops, depth));
        row(name, ops, time);
    }
    let events = ops / 10;
    let time = median(reps, || persistent_watch_events(events));
    row("notification to a persistent recursive watch", events, time);
    let reconnects = if quick { 20 } else { 100 };
    let time = median(reps, || reconnects_with_watches(watches, reconnects));
    row(&format!("reconnect + setWatches with {watches} watches"), reconnects, time);
    0
}

fn row(name: &str, ops: usize, time: Duration) {
    let ns = time.as_nanos() as f64 / ops as f64;
    println!("| {name} | {ops} | {ns:.0} | {:.0} |", 1e9 / ns);
}

fn median(reps: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..reps).map(|_| run()).collect();
    times.sort();
    times[times.len() / 2]
}

/// A client connected to server 0 with everything drained.
fn connected(chroot: Option<&str>) -> (Client, ClientOut, ServerIndex) {
    let text = format!("1:2181{}", chroot.unwrap_or(""));
    let mut config = ClientConfig::new(ConnectString::parse(&text).expect("valid connect string"), 30_000, 1);
    // Reconnect at once (to the same, only server): the benchmark times the client, not its delays.
    config.reconnect_delay_ms_max = 0;
    config.spin_delay_ms = 0;
    let mut client = Client::new(config).expect("valid config");
    let mut out = ClientOut::new();
    let now = zab_client::Instant::ZERO;
    let server = ServerIndex(0);
    client.step(now, ClientInput::Timeout, &mut out);
    client.step(now, ClientInput::TransportConnected { server }, &mut out);
    client.step(now, ClientInput::ConnectResponse { server, response: accept() }, &mut out);
    out.actions.clear();
    (client, out, server)
}

fn accept() -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout_ms: 30_000,
        session_id: SESSION,
        passwd: session_password(SESSION),
        read_only: false,
    }
}

/// `ops` requests, `depth` submitted before their replies come back.
fn round_trips(chroot: Option<&str>, ops: usize, depth: usize) -> Duration {
    let (mut client, mut out, server) = connected(chroot);
    let now = zab_client::Instant::ZERO;
    let write = depth > 1;
    let mut sent = Vec::with_capacity(depth);
    let start = Instant::now();
    let mut done = 0;
    let mut zxid = 1;
    while done < ops {
        for _ in 0..depth {
            let request = if write {
                Request::SetData { path: "/a".to_string(), data: Some(vec![0; 64]), version: -1 }
            } else {
                Request::GetData { path: "/a".to_string(), watch: false }
            };
            sent.push(client.submit(now, request, &mut out));
        }
        out.actions.clear();
        for xid in sent.drain(..) {
            let header = ReplyHeader { xid: xid.0, zxid: Zxid(zxid), err: ErrorCode::Ok };
            let response = if write {
                zxid += 1;
                Response::Stat(Stat::default())
            } else {
                Response::GetData { data: Some(vec![0; 64]), stat: Stat::default() }
            };
            client.step(now, ClientInput::Reply { server, header, response: Some(response) }, &mut out);
            debug_assert!(matches!(out.actions[..], [ClientAction::Completed { result: Ok(_), .. }]));
            out.actions.clear();
        }
        done += depth;
    }
    start.elapsed()
}

fn persistent_watch_events(events: usize) -> Duration {
    let (mut client, mut out, server) = connected(None);
    let now = zab_client::Instant::ZERO;
    let add = Request::AddWatch { path: "/r".to_string(), mode: zab_tree::AddWatchMode::PersistentRecursive };
    let xid = client.submit(now, add, &mut out);
    let header = ReplyHeader { xid: xid.0, zxid: Zxid(1), err: ErrorCode::Ok };
    client.step(now, ClientInput::Reply { server, header, response: None }, &mut out);
    out.actions.clear();
    let start = Instant::now();
    for i in 0..events {
        let event = WatchEvent::node(EventType::NodeDataChanged, "/r/a/b/c");
        client.step(now, ClientInput::Notification { server, event, zxid: Zxid(2 + i as u64) }, &mut out);
        debug_assert!(matches!(out.actions[..], [ClientAction::Watch { .. }]));
        out.actions.clear();
    }
    start.elapsed()
}

/// Each round: the connection drops, the client reconnects and sends setWatches for `watches`
/// data watches.
fn reconnects_with_watches(watches: usize, rounds: usize) -> Duration {
    let (mut client, mut out, server) = connected(None);
    let now = zab_client::Instant::ZERO;
    for i in 0..watches {
        let xid = client.submit(now, Request::GetData { path: format!("/w/{i:06}"), watch: true }, &mut out);
        let header = ReplyHeader { xid: xid.0, zxid: Zxid(1), err: ErrorCode::Ok };
        let response = Response::GetData { data: None, stat: Stat::default() };
        client.step(now, ClientInput::Reply { server, header, response: Some(response) }, &mut out);
    }
    out.actions.clear();
    let start = Instant::now();
    for _ in 0..rounds {
        client.step(now, ClientInput::TransportClosed { server }, &mut out);
        client.step(now, ClientInput::TransportConnected { server }, &mut out);
        client.step(now, ClientInput::ConnectResponse { server, response: accept() }, &mut out);
        let batches = out
            .actions
            .iter()
            .filter(|a| matches!(a, ClientAction::Send { request: Request::SetWatches(_), .. }))
            .count();
        for _ in 0..batches {
            let header =
                ReplyHeader { xid: zab_client::Xid::SET_WATCHES.0, zxid: Zxid(1), err: ErrorCode::Ok };
            client.step(now, ClientInput::Reply { server, header, response: None }, &mut out);
        }
        out.actions.clear();
    }
    start.elapsed()
}
