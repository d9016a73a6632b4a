//! Porcupine kv logs: one map per line, `{:process 0, :type :invoke, :f :get, :key "5", :value nil}`.

use super::{At, ParseError};
use crate::edn::{Edn, Reader};
use crate::history::{History, HistoryBuilder};
use crate::models::KvOp;

/// Reads a Porcupine kv log. Every call completes (`:type` is `:invoke` or `:ok`); a get's
/// value comes from its completion. Positions are line numbers.
pub fn parse_porcupine_kv(text: &str, file: &str) -> Result<History<KvOp>, ParseError> {
    let mut builder = HistoryBuilder::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = At { file, line: i + 1 };
        let mut reader = Reader::new(line);
        let map = reader.read().map_err(|e| at.edn(e))?.unwrap_or(Edn::Nil);
        if let Some(extra) = reader.read().map_err(|e| at.edn(e))? {
            return Err(at.error(format!("expected one map per line, found {} after it", extra.kind())));
        }
        let process = match at.field(&map, "process")? {
            Edn::Int(p) => *p as u64,
            other => return Err(at.error(format!("expected an integer :process, found {other}"))),
        };
        let kind = at.keyword(&map, "type")?;
        let f = at.keyword(&map, "f")?;
        let key = match at.field(&map, "key")? {
            Edn::Str(k) => k.clone(),
            other => return Err(at.error(format!("expected a string :key, found {other}"))),
        };
        let value = match at.field(&map, "value")? {
            Edn::Nil => None,
            Edn::Str(v) => Some(v.clone()),
            other => return Err(at.error(format!("expected nil or a string :value, found {other}"))),
        };
        let position = (i + 1) as u64;
        match kind {
            "invoke" => {
                let op = match (f, value) {
                    ("get", _) => KvOp::Get { key, value: None },
                    ("put", Some(value)) => KvOp::Put { key, value },
                    ("append", Some(value)) => KvOp::Append { key, value },
                    _ => {
                        return Err(
                            at.error(format!("expected :get, or :put/:append with a string, found :{f}"))
                        )
                    }
                };
                builder.invoke(process, op, position).map_err(|e| at.history(e))?;
            }
            "ok" => {
                let op = builder.complete(process, position).map_err(|e| at.history(e))?;
                match (op, f) {
                    (KvOp::Get { value: got, .. }, "get") => *got = value,
                    (KvOp::Put { .. }, "put") | (KvOp::Append { .. }, "append") => {}
                    (op, f) => {
                        return Err(at.error(format!("completion :{f} does not match invocation {op}")))
                    }
                }
            }
            other => return Err(at.error(format!("expected :type :invoke or :ok, found :{other}"))),
        }
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_takes_its_value_from_the_completion() {
        let text = "{:process 0, :type :invoke, :f :get, :key \"5\", :value nil}\n\
                    {:process 0, :type :ok, :f :get, :key \"5\", :value \"x\"}\n";
        let h = parse_porcupine_kv(text, "kv.txt").unwrap();
        assert_eq!(h.ops[0].op, KvOp::Get { key: "5".into(), value: Some("x".into()) });
        assert_eq!((h.ops[0].call_at, h.ops[0].return_at), (1, Some(2)));
    }

    #[test]
    fn bad_lines_are_reported_with_their_line() {
        let e = parse_porcupine_kv("\n{:process 0, :type :invoke, :f :put, :key 5, :value \"x\"}", "kv.txt")
            .unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (2, "kv.txt"));
        assert!(e.message.contains("string :key"), "{e}");
        let e = parse_porcupine_kv("{:process 0 :type", "kv.txt").unwrap_err();
        assert!(e.message.contains("never closed"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "[{}:, a-z0-9\"\\n]{0,300}") {
            let _ = parse_porcupine_kv(&text, "p.txt");
        }
    }
}
