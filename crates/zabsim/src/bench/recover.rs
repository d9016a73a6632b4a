//! `zabsim bench recover`: how fast a server's disk is written and read back — log records
//! encoded, a log file scanned (length check, CRC-32C, txn decode), and a whole restart
//! (`recover_disk`: newest snapshot, every log file, replay of the txns above the snapshot,
//! epoch files).
//!
//! The history is `TXNS` creates and setData txns with 64-byte values, as a leader prepares them;
//! the disk holds a snapshot taken halfway and the log split into files of 10,000 records, as a
//! replica that snapshots every 10,000 txns leaves it. Generation is outside the timings; each
//! figure is the median of several runs.

// Printing the markdown section is what this benchmark is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use zab_core::persist::{
    encode_epoch, encode_log_header, encode_log_record, encode_snapshot, log_file_name, recover_disk_with,
    scan_log, snapshot_file_name, DiskImage, RecoverOptions, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE,
};
use zab_core::Epoch;
use zab_tree::proto::CreateKind;
use zab_tree::{
    AuthIds, DataTree, PrepContext, Preparer, Request, SessionId, SessionStatus, Txn, Zxid, OPEN_ACL_UNSAFE,
};

const VALUE_BYTES: usize = 64;
const RECORDS_PER_FILE: usize = 10_000;

pub fn run(quick: bool) -> u8 {
    let (count, reps) = if quick { (20_000, 1) } else { (200_000, 5) };
    let txns = history(count);
    let half = count / 2;
    let snapshot_tree = {
        let mut tree = DataTree::default();
        for txn in &txns[..half] {
            tree.apply(txn);
        }
        tree
    };
    let disk = disk_image(&txns, &snapshot_tree);
    let log_bytes: usize =
        disk.files.iter().filter(|(name, _)| name.contains("/log.")).map(|(_, bytes)| bytes.len()).sum();
    let snapshot_bytes =
        disk.file(&snapshot_file_name(snapshot_tree.last_processed_zxid())).map_or(0, <[u8]>::len);

    let encode = median(reps, || {
        let mut out = encode_log_header();
        for txn in &txns {
            out.extend(encode_log_record(txn));
        }
        std::hint::black_box(out);
    });
    let one_file = disk.file(&log_file_name(txns[0].zxid)).unwrap_or_default().to_vec();
    let scan = median(reps, || {
        let scanned = scan_log("log", &one_file).map(|s| s.records.len());
        std::hint::black_box(scanned.ok());
    });
    let options = RecoverOptions::default();
    let mut replayed = 0;
    let recover = median(reps, || match recover_disk_with(&disk, &options) {
        Ok(r) => replayed = r.replayed.len(),
        Err(e) => eprintln!("bench recover: recovery failed: {e}"),
    });
    if replayed != count - half {
        eprintln!("bench recover: replayed {replayed} txns, expected {}", count - half);
        return crate::EXIT_BAD_INPUT;
    }

    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    println!("## Disk encoding and recovery\n");
    println!(
        "`zab-core::persist` on one core: {count} txns (creates and setData, {VALUE_BYTES}-byte values), \
         {:.1} MiB of log in {} files of {RECORDS_PER_FILE} records, a {:.1} MiB snapshot after {half} txns; \
         median of {reps} run(s).\n",
        mib(log_bytes),
        count.div_ceil(RECORDS_PER_FILE),
        mib(snapshot_bytes)
    );
    println!("| step | time | throughput |");
    println!("| --- | ---: | ---: |");
    println!(
        "| encode {count} log records | {} | {:.0} records/s, {:.0} MiB/s |",
        ms(encode),
        count as f64 / encode.as_secs_f64(),
        mib(log_bytes) / encode.as_secs_f64()
    );
    let file_records = RECORDS_PER_FILE.min(count);
    println!(
        "| scan one log file ({file_records} records: check word, CRC-32C, decode) | {} | {:.0} records/s, \
         {:.0} MiB/s |",
        ms(scan),
        file_records as f64 / scan.as_secs_f64(),
        mib(one_file.len()) / scan.as_secs_f64()
    );
    println!(
        "| recover_disk (load snapshot, scan {count} records, replay {replayed}) | {} | {:.0} records/s |",
        ms(recover),
        count as f64 / recover.as_secs_f64()
    );
    crate::EXIT_PASS
}

fn history(count: usize) -> Vec<Txn> {
    let mut tree = DataTree::default();
    let mut prep = Preparer::new();
    let auth = AuthIds::new();
    let mut txns = Vec::with_capacity(count);
    for i in 0..count {
        // Create a node, then update it on every other txn, so the tree keeps growing.
        let path = format!("/n{}", i / 2);
        let request = if i % 2 == 0 {
            Request::Create {
                path,
                data: Some(vec![1; VALUE_BYTES]),
                acl: OPEN_ACL_UNSAFE.clone(),
                flags: 0,
                kind: CreateKind::Create,
            }
        } else {
            Request::SetData { path, data: Some(vec![2; VALUE_BYTES]), version: -1 }
        };
        let counter = u32::try_from(i + 1).expect("fewer than 2^32 txns");
        let ctx = PrepContext {
            session: SessionId(1),
            cxid: i as i32,
            zxid: Zxid::new(1, counter),
            time_ms: 1_000,
            auth: &auth,
            session_status: SessionStatus::Active,
        };
        let txn = prep.prepare(&tree, &ctx, &request);
        tree.apply(&txn);
        prep.applied(txn.zxid);
        txns.push(txn);
    }
    txns
}

fn disk_image(txns: &[Txn], snapshot_tree: &DataTree) -> DiskImage {
    let mut disk = DiskImage::initialized();
    disk.files
        .insert(snapshot_file_name(snapshot_tree.last_processed_zxid()), encode_snapshot(snapshot_tree));
    for chunk in txns.chunks(RECORDS_PER_FILE) {
        let mut bytes = encode_log_header();
        for txn in chunk {
            bytes.extend(encode_log_record(txn));
        }
        disk.files.insert(log_file_name(chunk[0].zxid), bytes);
    }
    disk.files.insert(ACCEPTED_EPOCH_FILE.to_string(), encode_epoch(Epoch(1)));
    disk.files.insert(CURRENT_EPOCH_FILE.to_string(), encode_epoch(Epoch(1)));
    disk
}

fn median(reps: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
