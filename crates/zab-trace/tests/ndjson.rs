//! The NDJSON trace format: round trips, and clear errors for bad input.

use zab_trace::{parse_trace, CloseReason, Event, Header, Outcome, Phase, Record, Role, TraceWriter};
use zab_tree::{ErrorCode, Request};

const HEADER: &str =
    "{\"format\":\"zabsim-trace\",\"version\":1,\"seed\":1,\"profile\":\"p\",\"commit\":\"c\",\"plan\":null}";

fn sample_events() -> Vec<Event> {
    vec![
        Event::Role {
            node: 1,
            role: Role::Leading,
            phase: Phase::Broadcast,
            accepted_epoch: 2,
            current_epoch: 2,
            last_logged: Some(0x2_0000_0003),
            committed: 0x2_0000_0003,
        },
        Event::Committed { node: 1, zxid: 0x2_0000_0004, acks: vec![1, 3] },
        Event::Invoke {
            client: 0,
            session: 0x100,
            xid: 7,
            server: 2,
            op: Request::Delete { path: "/a".to_string(), version: -1 },
        },
        Event::Complete {
            client: 0,
            session: 0x100,
            xid: 7,
            zxid: Some(0x2_0000_0004),
            result: Outcome::Err { code: ErrorCode::NoNode },
        },
        Event::Complete { client: 1, session: 0x101, xid: 3, zxid: None, result: Outcome::ConnectionLoss },
        Event::SessionClosed { node: 1, session: 0x101, zxid: 0x2_0000_0005, reason: CloseReason::Expired },
        Event::Partition { groups: vec![vec![1], vec![2, 3]], oneway: false },
    ]
}

#[test]
fn a_written_trace_reads_back_identically() {
    let header = Header::new(42, "swarm", "abc123", serde_json::json!({"voters": 3}));
    let mut w = TraceWriter::new(Vec::new(), &header).unwrap();
    for (i, ev) in sample_events().iter().enumerate() {
        assert_eq!(w.write(i as u64 * 1000, ev).unwrap(), i as u64);
    }
    let bytes = w.finish().unwrap();
    let trace = parse_trace(std::str::from_utf8(&bytes).unwrap(), "t.ndjson").unwrap();
    assert_eq!(trace.header, header);
    let expected: Vec<Record> = sample_events()
        .into_iter()
        .enumerate()
        .map(|(i, ev)| Record { i: i as u64, t: i as u64 * 1000, ev })
        .collect();
    assert_eq!(trace.records, expected);
}

#[test]
fn a_missing_header_is_an_error_on_line_1() {
    let err = parse_trace("{\"i\":0,\"t\":0,\"ev\":\"Heal\"}\n", "x.ndjson").unwrap_err();
    assert_eq!(err.line, 1);
    assert!(err.message.contains("header"), "{err}");
    let err = parse_trace("", "empty.ndjson").unwrap_err();
    assert!(err.to_string().starts_with("empty.ndjson:1:"), "{err}");
}

#[test]
fn a_wrong_format_or_version_is_refused() {
    let h =
        "{\"format\":\"other\",\"version\":1,\"seed\":1,\"profile\":\"p\",\"commit\":\"c\",\"plan\":null}\n";
    assert!(parse_trace(h, "f").unwrap_err().message.contains("format"));
    let h = HEADER.replace("\"version\":1", "\"version\":99") + "\n";
    assert!(parse_trace(&h, "f").unwrap_err().message.contains("version 99"));
}

#[test]
fn a_malformed_record_names_its_line_and_what_was_expected() {
    let header = HEADER;
    let text =
        format!("{header}\n{{\"i\":0,\"t\":5,\"ev\":\"Heal\"}}\n{{\"i\":1,\"t\":6,\"ev\":\"Crash\"}}\n");
    let err = parse_trace(&text, "bad.ndjson").unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("bad.ndjson", 3));
    assert!(err.message.contains("node"), "{err}");
}

#[test]
fn record_indices_must_be_consecutive() {
    let header = HEADER;
    let text =
        format!("{header}\n{{\"i\":0,\"t\":5,\"ev\":\"Heal\"}}\n\n{{\"i\":2,\"t\":6,\"ev\":\"Heal\"}}\n");
    let err = parse_trace(&text, "gap.ndjson").unwrap_err();
    assert_eq!(err.line, 4);
    assert!(err.message.contains("expected 1"), "{err}");
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse_trace(&text, "fuzz.ndjson");
    }

    #[test]
    fn arbitrary_lines_after_a_valid_header_never_panic(lines in proptest::collection::vec("\\PC{0,120}", 0..6)) {
        let header = HEADER;
        let text = format!("{header}\n{}", lines.join("\n"));
        let _ = parse_trace(&text, "fuzz.ndjson");
    }
}
