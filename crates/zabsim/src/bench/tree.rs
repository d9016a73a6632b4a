//! `zabsim bench tree`: how fast the data tree applies committed txns, per workload, with the
//! leader's prepare step excluded (apply only: what every follower does) and included (prepare +
//! apply + dropping the change record: what a standalone leader does per write).
//!
//! Every write carries a 64-byte value; nodes are spread over 100 parents. The running digest is
//! maintained on every apply, as in a real replica. Each figure is the median of several runs on
//! a fresh copy of the starting tree; txn generation and tree cloning are outside the timings.

// Printing the markdown section is what this benchmark is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use zab_tree::proto::CreateKind;
use zab_tree::{
    AuthIds, DataTree, PrepContext, Preparer, Request, SessionId, SessionStatus, TreeConfig, Txn, Zxid,
    OPEN_ACL_UNSAFE,
};

const PARENTS: usize = 100;
const VALUE_BYTES: usize = 64;
const MULTI_OPS: usize = 10;

pub fn run(quick: bool) -> u8 {
    let (txns, reps) = if quick { (10_000, 1) } else { (100_000, 5) };
    let base = base_tree();
    let filled = fill(&base, txns);

    let creates: Vec<Request> = (0..txns).map(|i| create(&node_path(i))).collect();
    let sets: Vec<Request> = (0..txns).map(|i| set(&node_path(i))).collect();
    let deletes: Vec<Request> = (0..txns).map(|i| delete(&node_path(i))).collect();
    let multis: Vec<Request> = (0..txns / MULTI_OPS)
        .map(|m| {
            let paths: Vec<String> = (0..MULTI_OPS / 2).map(|k| node_path(m * MULTI_OPS + k)).collect();
            Request::Multi(paths.iter().map(|p| create(p)).chain(paths.iter().map(|p| set(p))).collect())
        })
        .collect();

    let workloads: [(&str, &DataTree, &[Request], usize); 4] = [
        ("create", &base, &creates, 1),
        ("setData", &filled, &sets, 1),
        ("delete", &filled, &deletes, 1),
        ("multi (5 creates + 5 setData)", &base, &multis, MULTI_OPS),
    ];
    println!("## Data tree apply throughput\n");
    println!(
        "`zab-tree` on one core: {txns} writes per workload ({} for multi), {VALUE_BYTES}-byte values over \
         {PARENTS} parents, digest maintained incrementally, median of {reps} run(s).\n",
        txns / MULTI_OPS
    );
    // The machine is often shared; say how busy it was so the numbers can be read in context.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let one_minute = load.split_whitespace().next().unwrap_or("?");
        println!("Load average (1 min) when the run started: {one_minute}.\n");
    }
    println!(
        "| workload | txns | apply only (txns/s) | prepare + apply (txns/s) | ops/s (prepare + apply) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, start, requests, ops_per_txn) in workloads {
        let log = prepare_log(start, requests);
        if let Some(failed) = log.iter().find(|t| t.is_error()) {
            eprintln!("bench tree: workload {name} produced an error txn: {failed:?}");
            return crate::EXIT_BAD_INPUT;
        }
        let apply_only = median(reps, || {
            let mut tree = start.clone();
            let t0 = Instant::now();
            for txn in &log {
                tree.apply(txn);
            }
            t0.elapsed()
        });
        let with_prepare = median(reps, || {
            let mut tree = start.clone();
            let mut prep = Preparer::new();
            let t0 = Instant::now();
            for (i, req) in requests.iter().enumerate() {
                let txn = prepare_one(&mut prep, &tree, start.last_processed_zxid(), i, req);
                tree.apply(&txn);
                prep.applied(txn.zxid);
            }
            t0.elapsed()
        });
        let n = requests.len() as f64;
        let rate_prepared = n / with_prepare.as_secs_f64();
        println!(
            "| {name} | {} | {:.0} | {:.0} | {:.0} |",
            requests.len(),
            n / apply_only.as_secs_f64(),
            rate_prepared,
            rate_prepared * ops_per_txn as f64
        );
    }
    println!(
        "\nFor scale: the real ZooKeeper 3.8.0 standalone server, pipelined, with fsync off, served \
         13.7k creates/s and 16.4k sets/s end to end (shared/realzk/README.md); this is the tree alone."
    );
    0
}

fn base_tree() -> DataTree {
    let mut tree = DataTree::new(TreeConfig::default());
    let mut requests = vec![create("/bench")];
    requests.extend((0..PARENTS).map(|p| create(&format!("/bench/p{p}"))));
    for txn in prepare_log(&tree.clone(), &requests) {
        tree.apply(&txn);
    }
    tree
}

fn fill(base: &DataTree, n: usize) -> DataTree {
    let mut tree = base.clone();
    let requests: Vec<Request> = (0..n).map(|i| create(&node_path(i))).collect();
    for txn in prepare_log(base, &requests) {
        tree.apply(&txn);
    }
    tree
}

/// The txns a leader would produce for `requests` against `start`, each applied before the next
/// is prepared.
fn prepare_log(start: &DataTree, requests: &[Request]) -> Vec<Txn> {
    let mut tree = start.clone();
    let mut prep = Preparer::new();
    let mut log = Vec::with_capacity(requests.len());
    for (i, req) in requests.iter().enumerate() {
        let txn = prepare_one(&mut prep, &tree, start.last_processed_zxid(), i, req);
        tree.apply(&txn);
        prep.applied(txn.zxid);
        log.push(txn);
    }
    log
}

fn prepare_one(prep: &mut Preparer, tree: &DataTree, after: Zxid, i: usize, req: &Request) -> Txn {
    let auth = AuthIds::new();
    let ctx = PrepContext {
        session: SessionId(1),
        cxid: i as i32,
        zxid: Zxid(after.0 + 1 + i as u64),
        time_ms: 1_700_000_000_000 + i as i64,
        auth: &auth,
        session_status: SessionStatus::Active,
    };
    prep.prepare(tree, &ctx, req)
}

fn node_path(i: usize) -> String {
    format!("/bench/p{}/n{i}", i % PARENTS)
}

fn create(path: &str) -> Request {
    Request::Create {
        path: path.to_string(),
        data: Some(vec![b'v'; VALUE_BYTES]),
        acl: OPEN_ACL_UNSAFE.clone(),
        flags: 0,
        kind: CreateKind::Create,
    }
}

fn set(path: &str) -> Request {
    Request::SetData { path: path.to_string(), data: Some(vec![b'w'; VALUE_BYTES]), version: -1 }
}

fn delete(path: &str) -> Request {
    Request::Delete { path: path.to_string(), version: -1 }
}

fn median(reps: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..reps).map(|_| run()).collect();
    times.sort();
    times[times.len() / 2]
}
