//! The Java-properties syntax of `zoo.cfg`, as `java.util.Properties.load` reads it and as
//! ZooKeeper then trims it:
//! - lines end at `\n`, `\r` or `\r\n`; a line whose first non-blank character is `#` or `!` is a
//!   comment; blank lines are skipped;
//! - a line ending in an odd number of backslashes continues on the next line (whose leading
//!   blanks are dropped);
//! - the key ends at the first unescaped `=`, `:` or blank; blanks around one `=` or `:` are
//!   skipped; the rest of the line is the value;
//! - escapes `\t \n \r \f \uXXXX`, and `\` before any other character stands for that character;
//! - ZooKeeper trims keys and values (every character up to U+0020 at both ends).

/// One `key=value` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// 1-based line where the entry starts.
    pub line: u32,
    pub key: String,
    pub value: String,
}

/// A line that cannot be read as an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: u32,
    pub message: String,
}

/// Splits `text` into entries, in file order, and the lines that could not be read.
pub(crate) fn lex(text: &str) -> (Vec<Entry>, Vec<LexError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let lines = natural_lines(text);
    let mut index = 0;
    while index < lines.len() {
        let start_line = lines[index].0;
        let first = skip_blanks(lines[index].1);
        index += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::from(first);
        while ends_with_odd_backslashes(&logical) && index < lines.len() {
            logical.pop();
            logical.push_str(skip_blanks(lines[index].1));
            index += 1;
        }
        if ends_with_odd_backslashes(&logical) {
            // A continuation at the end of the file continues with nothing.
            logical.pop();
        }
        match split_entry(&logical) {
            Ok((key, value)) => {
                let key = java_trim(&key).to_string();
                let value = java_trim(&value).to_string();
                if key.is_empty() {
                    errors.push(LexError {
                        line: start_line,
                        message: format!("expected key=value, got an entry without a key: {:?}", logical),
                    });
                } else {
                    entries.push(Entry { line: start_line, key, value });
                }
            }
            Err(message) => errors.push(LexError { line: start_line, message }),
        }
    }
    (entries, errors)
}

/// Escapes `key` so that [`lex`] reads it back unchanged.
pub(crate) fn escape_key(key: &str) -> String {
    let mut out = String::new();
    for (index, c) in key.chars().enumerate() {
        match c {
            '=' | ':' | ' ' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '!' if index == 0 => {
                out.push('\\');
                out.push(c);
            }
            _ => push_escaped_char(&mut out, c),
        }
    }
    out
}

/// Escapes `value` so that [`lex`] reads it back unchanged (values are trimmed, so only inner
/// blanks survive anyway).
pub(crate) fn escape_value(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else {
            push_escaped_char(&mut out, c);
        }
    }
    out
}

/// Java's `String.trim`: drops every character up to U+0020 at both ends.
pub(crate) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn push_escaped_char(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\u{c}' => out.push_str("\\f"),
        c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push(c),
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{c}'
}

fn skip_blanks(s: &str) -> &str {
    s.trim_start_matches(is_blank)
}

/// (1-based line number, content without the terminator).
fn natural_lines(text: &str) -> Vec<(u32, &str)> {
    let mut lines = Vec::new();
    let mut number: u32 = 1;
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        lines.push((number, &rest[..end]));
        number = number.saturating_add(1);
        rest = &rest[end..];
        if rest.starts_with("\r\n") {
            rest = &rest[2..];
        } else if !rest.is_empty() {
            rest = &rest[1..];
        }
    }
    lines
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits a logical line into an unescaped key and value.
fn split_entry(line: &str) -> Result<(String, String), String> {
    let mut chars = line.chars().peekable();
    let mut key_raw = String::new();
    // The key runs to the first unescaped separator; escapes are kept raw and decoded below.
    while let Some(&c) = chars.peek() {
        if c == '\\' {
            key_raw.push(c);
            chars.next();
            if let Some(escaped) = chars.next() {
                key_raw.push(escaped);
            }
            continue;
        }
        if c == '=' || c == ':' || is_blank(c) {
            break;
        }
        key_raw.push(c);
        chars.next();
    }
    let rest: String = chars.collect();
    let mut rest = skip_blanks(&rest);
    if rest.starts_with('=') || rest.starts_with(':') {
        rest = skip_blanks(&rest[1..]);
    }
    Ok((unescape(&key_raw)?, unescape(rest)?))
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        format!("expected a \\uXXXX escape with 4 hex digits, got \"\\u{hex}\"")
                    })?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(u32, String, String)> {
        let (entries, errors) = lex(text);
        assert_eq!(errors, vec![]);
        entries.into_iter().map(|e| (e.line, e.key, e.value)).collect()
    }

    fn e(line: u32, key: &str, value: &str) -> (u32, String, String) {
        (line, key.to_string(), value.to_string())
    }

    #[test]
    fn separators_are_equals_colon_or_blanks_with_blanks_around_them_skipped() {
        let text = "a=1\nb = 2\nc:3\nd 4\n  e\t=\t5  \nf==6\n";
        assert_eq!(
            entries(text),
            vec![
                e(1, "a", "1"),
                e(2, "b", "2"),
                e(3, "c", "3"),
                e(4, "d", "4"),
                e(5, "e", "5"),
                e(6, "f", "=6")
            ]
        );
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_and_line_numbers_count_every_terminator() {
        let text = "# one\n\n   ! two\r\nk=v\rl=w\r\n";
        assert_eq!(entries(text), vec![e(4, "k", "v"), e(5, "l", "w")]);
    }

    #[test]
    fn a_trailing_odd_backslash_continues_the_entry_on_the_next_line() {
        let text = "k=a,\\\n    b\nescaped=c\\\\\nnext=d\n";
        assert_eq!(entries(text), vec![e(1, "k", "a,b"), e(3, "escaped", "c\\"), e(4, "next", "d")]);
    }

    #[test]
    fn escapes_decode_in_keys_and_values() {
        let text = "a\\=b\\:c=x\\ty\\u0041\\z\n";
        assert_eq!(entries(text), vec![e(1, "a=b:c", "x\tyAz")]);
    }

    #[test]
    fn a_malformed_unicode_escape_is_an_error_on_its_line() {
        let (entries, errors) = lex("ok=1\nbad=\\u12\n");
        assert_eq!(entries.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("\\uXXXX"), "{}", errors[0].message);
    }

    #[test]
    fn escaping_round_trips_awkward_keys_and_values() {
        for (key, value) in [("#a b=c:d\\", "x \\ y\t\u{1}z"), ("!k", "=v"), ("k", "a\nb")] {
            let text = format!("{}={}\n", escape_key(key), escape_value(value));
            assert_eq!(entries(&text), vec![e(1, key, value)], "text {text:?}");
        }
    }
}
