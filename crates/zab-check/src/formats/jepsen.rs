//! Jepsen etcd logs: `INFO  jepsen.util - 3 :invoke :cas [1 4]` (fields separated by tabs or spaces).

use super::{At, ParseError};
use crate::history::{History, HistoryBuilder};
use crate::models::{RegisterOp, Value};

/// Reads a Jepsen etcd log (one register, read / write / cas).
///
/// Conventions: only lines whose second field is `jepsen.util` are events; fields split on
/// any whitespace. `:fail :cas` is a cas that ran and returned false; `:fail :read` has an
/// unknown result and constrains nothing; `:fail :write` did not happen; `:info` leaves the
/// operation open to the end with an unknown result.
pub fn parse_jepsen_etcd(text: &str, file: &str) -> Result<History<RegisterOp>, ParseError> {
    let mut builder = HistoryBuilder::new();
    for (i, line) in text.lines().enumerate() {
        let at = At { file, line: i + 1 };
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"jepsen.util") {
            continue;
        }
        if fields.len() < 7 || fields[2] != "-" {
            return Err(at.error(format!(
                "expected `LEVEL jepsen.util - PROCESS TYPE FUNCTION ARGUMENT`, found {line:?}"
            )));
        }
        let process: u64 = fields[3]
            .parse()
            .map_err(|_| at.error(format!("expected a process id, found {:?}", fields[3])))?;
        let arg = Argument::parse(&fields[6..].join(" "), at)?;
        let position = (i + 1) as u64;
        match (fields[4], fields[5]) {
            (":invoke", f) => {
                let op = match (f, arg) {
                    (":read", _) => RegisterOp::Read { value: None },
                    (":write", Argument::Value(value)) => RegisterOp::Write { value },
                    (":cas", Argument::Pair(from, to)) => RegisterOp::Cas { from, to, succeeded: None },
                    _ => {
                        return Err(
                            at.error(format!("expected :read, :write v or :cas [a b], found {f} {arg}"))
                        )
                    }
                };
                builder.invoke(process, op, position).map_err(|e| at.history(e))?;
            }
            (":ok", f) => {
                let op = builder.complete(process, position).map_err(|e| at.history(e))?;
                match (op, f, arg) {
                    (RegisterOp::Read { value }, ":read", Argument::Value(v)) => *value = Some(v),
                    (RegisterOp::Write { .. }, ":write", _) => {}
                    (RegisterOp::Cas { succeeded, .. }, ":cas", _) => *succeeded = Some(true),
                    (op, f, arg) => {
                        return Err(at.error(format!("completion {f} {arg} does not match invocation {op}")))
                    }
                }
            }
            (":fail", f) => {
                if let Some(RegisterOp::Write { .. }) = builder.pending(process) {
                    builder.discard(process).map_err(|e| at.history(e))?;
                    continue;
                }
                let op = builder.complete(process, position).map_err(|e| at.history(e))?;
                match (op, f) {
                    (RegisterOp::Cas { succeeded, .. }, ":cas") => *succeeded = Some(false),
                    (RegisterOp::Read { .. }, ":read") => {}
                    (op, f) => return Err(at.error(format!("completion {f} does not match invocation {op}"))),
                }
            }
            (":info", _) => {
                builder.abandon(process).map_err(|e| at.history(e))?;
            }
            (kind, _) => {
                return Err(at.error(format!("expected :invoke, :ok, :fail or :info, found {kind:?}")))
            }
        }
    }
    Ok(builder.finish())
}

#[derive(Clone, Copy, Debug)]
enum Argument {
    Value(Value),
    Pair(Value, Value),
    TimedOut,
}

impl std::fmt::Display for Argument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Argument::Value(v) => write!(f, "{v}"),
            Argument::Pair(a, b) => write!(f, "[{a} {b}]"),
            Argument::TimedOut => f.write_str(":timed-out"),
        }
    }
}

impl Argument {
    fn parse(text: &str, at: At<'_>) -> Result<Self, ParseError> {
        let value = |s: &str| -> Result<Value, ParseError> {
            if s == "nil" {
                return Ok(Value::Nil);
            }
            s.parse()
                .map(Value::Int)
                .map_err(|_| at.error(format!("expected nil or an integer, found {s:?}")))
        };
        if text == ":timed-out" {
            return Ok(Argument::TimedOut);
        }
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            let parts: Vec<&str> = inner.split_whitespace().collect();
            return match parts[..] {
                [a, b] => Ok(Argument::Pair(value(a)?, value(b)?)),
                _ => Err(at.error(format!("expected a pair [from to], found {text:?}"))),
            };
        }
        value(text).map(Argument::Value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n\
                       INFO  jepsen.util - 3\t:fail\t:cas\t[1 4]\n\
                       WARN  jepsen.core - something else\n\
                       INFO  jepsen.util - 4   :invoke   :read   nil\n\
                       INFO  jepsen.util - 4   :ok   :read   2\n\
                       INFO  jepsen.util - 7\t:invoke\t:write\t5\n\
                       INFO  jepsen.util - 7\t:info\t:write\t:timed-out\n\
                       INFO  jepsen.util - 8\t:invoke\t:read\tnil\n\
                       INFO  jepsen.util - 8\t:fail\t:read\t:timed-out\n";

    #[test]
    fn a_failed_cas_ran_and_returned_false_and_a_timed_out_write_stays_open() {
        let h = parse_jepsen_etcd(LOG, "t.log").unwrap();
        assert_eq!(h.ops.len(), 4);
        let cas = RegisterOp::Cas { from: Value::Int(1), to: Value::Int(4), succeeded: Some(false) };
        assert_eq!((h.ops[0].op, h.ops[0].call_at, h.ops[0].return_at), (cas, 1, Some(2)));
        assert_eq!(h.ops[1].op, RegisterOp::Read { value: Some(Value::Int(2)) });
        assert_eq!((h.ops[2].op, h.ops[2].return_at), (RegisterOp::Write { value: Value::Int(5) }, None));
        assert_eq!((h.ops[3].op, h.ops[3].return_at), (RegisterOp::Read { value: None }, Some(9)));
    }

    #[test]
    fn bad_lines_name_the_file_the_line_and_what_was_expected() {
        let e = parse_jepsen_etcd("INFO jepsen.util - x :invoke :read nil\n", "a.log").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("a.log", 1));
        assert!(e.message.contains("process id"), "{e}");
        let e = parse_jepsen_etcd("\nINFO jepsen.util - 1 :ok :read 3\n", "a.log").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("never invoked"), "{e}");
        let e = parse_jepsen_etcd("INFO jepsen.util - 1 :invoke :cas [1]\n", "a.log").unwrap_err();
        assert!(e.message.contains("pair"), "{e}");
        let e = parse_jepsen_etcd("INFO jepsen.util - 1 :invoke :read\n", "a.log").unwrap_err();
        assert!(e.message.contains("expected `LEVEL"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec(
            "(INFO jepsen\\.util - )?[0-9x]{0,2}[ \t]+(:invoke|:ok|:fail|:info|:x)[ \t](:read|:write|:cas|:y) \
             (nil|[0-9]|\\[[0-9] [0-9]\\]|\\[|:timed-out|)",
            0..20,
        )) {
            let _ = parse_jepsen_etcd(&lines.join("\n"), "p.log");
        }
    }
}
