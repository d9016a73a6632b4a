//! A small EDN reader: enough of the format for Knossos and Porcupine histories, strict about
//! everything it accepts.
//!
//! Supported: `nil`, `true`, `false`, integers (optional sign, optional `N` suffix), floats,
//! strings with escapes (`\" \\ \n \t \r \b \f \uXXXX`), characters (`\a`, `\newline`, ...),
//! keywords, symbols, lists, vectors, maps, sets, tagged values (`#inst "..."`), the discard
//! form `#_`, `;` comments, and commas as whitespace. Errors carry line and column; no input
//! makes the reader panic (nesting is limited to [`MAX_DEPTH`]).

use std::fmt;

/// Deepest nesting accepted, so hostile input cannot overflow the stack.
pub const MAX_DEPTH: usize = 256;

/// An EDN value.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string, escapes resolved.
    Str(String),
    /// A character literal.
    Char(char),
    /// A keyword, without its leading `:`.
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// `( ... )`
    List(Vec<Edn>),
    /// `[ ... ]`
    Vector(Vec<Edn>),
    /// `{ ... }`, entries in source order.
    Map(Vec<(Edn, Edn)>),
    /// `#{ ... }`
    Set(Vec<Edn>),
    /// `#tag value`
    Tagged(String, Box<Edn>),
}

impl Edn {
    /// The value stored under keyword `key` if this is a map.
    pub fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => {
                entries.iter().find(|(k, _)| matches!(k, Edn::Keyword(name) if name == key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The elements if this is a list or a vector.
    pub fn as_seq(&self) -> Option<&[Edn]> {
        match self {
            Edn::List(items) | Edn::Vector(items) => Some(items),
            _ => None,
        }
    }

    /// A short description of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Edn::Nil => "nil",
            Edn::Bool(_) => "a boolean",
            Edn::Int(_) => "an integer",
            Edn::Float(_) => "a float",
            Edn::Str(_) => "a string",
            Edn::Char(_) => "a character",
            Edn::Keyword(_) => "a keyword",
            Edn::Symbol(_) => "a symbol",
            Edn::List(_) => "a list",
            Edn::Vector(_) => "a vector",
            Edn::Map(_) => "a map",
            Edn::Set(_) => "a set",
            Edn::Tagged(..) => "a tagged value",
        }
    }
}

impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn seq(f: &mut fmt::Formatter<'_>, open: &str, items: &[Edn], close: &str) -> fmt::Result {
            f.write_str(open)?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{item}")?;
            }
            f.write_str(close)
        }
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Int(i) => write!(f, "{i}"),
            Edn::Float(x) => write!(f, "{x:?}"),
            Edn::Str(s) => write!(f, "{s:?}"),
            Edn::Char(c) => write!(f, "\\{c}"),
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::Symbol(s) => f.write_str(s),
            Edn::List(items) => seq(f, "(", items, ")"),
            Edn::Vector(items) => seq(f, "[", items, "]"),
            Edn::Set(items) => seq(f, "#{", items, "}"),
            Edn::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                f.write_str("}")
            }
            Edn::Tagged(tag, value) => write!(f, "#{tag} {value}"),
        }
    }
}

/// A syntax error, 1-based line and column (in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdnError {
    /// Line of the offending character.
    pub line: usize,
    /// Column of the offending character.
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for EdnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for EdnError {}

/// Reads every top-level value of `text`.
pub fn parse_all(text: &str) -> Result<Vec<Edn>, EdnError> {
    let mut reader = Reader::new(text);
    let mut out = Vec::new();
    while let Some(value) = reader.read()? {
        out.push(value);
    }
    Ok(out)
}

/// A cursor over EDN text that reads one value at a time.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    column: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Reader { text, pos: 0, line: 1, column: 1 }
    }

    /// The line of the next unread character.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Skips whitespace, commas and comments, then returns the next character without
    /// consuming it.
    pub fn peek_after_whitespace(&mut self) -> Result<Option<char>, EdnError> {
        self.skip_whitespace()?;
        Ok(self.peek())
    }

    /// Consumes one character (after whitespace) if it is `c`.
    pub fn eat(&mut self, c: char) -> Result<bool, EdnError> {
        if self.peek_after_whitespace()? == Some(c) {
            self.bump();
            return Ok(true);
        }
        Ok(false)
    }

    /// Reads the next value, or `None` at the end of the text.
    pub fn read(&mut self) -> Result<Option<Edn>, EdnError> {
        self.skip_whitespace()?;
        if self.peek().is_none() {
            return Ok(None);
        }
        self.value(0).map(Some)
    }

    fn error(&self, message: impl Into<String>) -> EdnError {
        EdnError { line: self.line, column: self.column, message: message.into() }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_whitespace(&mut self) -> Result<(), EdnError> {
        self.skip_whitespace_at(0)
    }

    /// `depth` counts enclosing collections and `#_` forms: `#_ #_ a b` nests too.
    fn skip_whitespace_at(&mut self, depth: usize) -> Result<(), EdnError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("values nested deeper than {MAX_DEPTH}")));
        }
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() || c == ',' => {
                    self.bump();
                }
                Some(';') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                Some('#') if self.peek_second() == Some('_') => {
                    self.bump();
                    self.bump();
                    self.skip_whitespace_at(depth + 1)?;
                    if self.peek().is_none() {
                        return Err(self.error("expected a value after #_, found the end of the text"));
                    }
                    self.value(depth + 1)?;
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Edn, EdnError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("values nested deeper than {MAX_DEPTH}")));
        }
        self.skip_whitespace_at(depth)?;
        let Some(c) = self.peek() else {
            return Err(self.error("expected a value, found the end of the text"));
        };
        match c {
            '(' => {
                self.bump();
                Ok(Edn::List(self.items(')', depth)?))
            }
            '[' => {
                self.bump();
                Ok(Edn::Vector(self.items(']', depth)?))
            }
            '{' => {
                self.bump();
                let items = self.items('}', depth)?;
                if items.len() % 2 != 0 {
                    return Err(self.error("a map needs an even number of forms (key value pairs)"));
                }
                let mut entries = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Ok(Edn::Map(entries))
            }
            '#' => {
                self.bump();
                match self.peek() {
                    Some('{') => {
                        self.bump();
                        Ok(Edn::Set(self.items('}', depth)?))
                    }
                    Some(c) if c.is_alphabetic() => {
                        let tag = self.token();
                        let value = self.value(depth + 1)?;
                        Ok(Edn::Tagged(tag, Box::new(value)))
                    }
                    _ => Err(self.error("expected #{, #_ or a tag after #")),
                }
            }
            '"' => self.string(),
            '\\' => self.character(),
            ')' | ']' | '}' => Err(self.error(format!("unexpected closing {c:?}"))),
            _ => self.atom(),
        }
    }

    /// Reads up to `close`; the opening character was just consumed.
    fn items(&mut self, close: char, depth: usize) -> Result<Vec<Edn>, EdnError> {
        let (line, column) = (self.line, self.column.saturating_sub(1).max(1));
        let mut items = Vec::new();
        loop {
            self.skip_whitespace_at(depth + 1)?;
            match self.peek() {
                None => {
                    return Err(EdnError {
                        line,
                        column,
                        message: format!("collection opened here is never closed with {close:?}"),
                    })
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(_) => items.push(self.value(depth + 1)?),
            }
        }
    }

    fn string(&mut self) -> Result<Edn, EdnError> {
        let (line, column) = (self.line, self.column);
        self.bump();
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(EdnError { line, column, message: "string is never closed".into() });
            };
            match c {
                '"' => return Ok(Edn::Str(out)),
                '\\' => {
                    let escaped = match self.bump() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('u') => self.unicode_escape()?,
                        Some(other) => return Err(self.error(format!("unknown string escape \\{other}"))),
                        None => {
                            return Err(EdnError { line, column, message: "string is never closed".into() })
                        }
                    };
                    out.push(escaped);
                }
                _ => out.push(c),
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, EdnError> {
        let mut code = 0u32;
        for _ in 0..4 {
            let digit = self.bump().and_then(|c| c.to_digit(16));
            let Some(d) = digit else {
                return Err(self.error("expected 4 hex digits after \\u"));
            };
            code = code * 16 + d;
        }
        char::from_u32(code).ok_or_else(|| self.error(format!("\\u{code:04x} is not a character")))
    }

    fn character(&mut self) -> Result<Edn, EdnError> {
        self.bump();
        let name = self.token_allowing_first_delimiter();
        let c = match name.as_str() {
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            _ if name.starts_with('u') && name.len() == 5 => u32::from_str_radix(&name[1..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| self.error(format!("bad character literal \\{name}")))?,
            _ => {
                let mut chars = name.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => c,
                    _ => return Err(self.error(format!("bad character literal \\{name}"))),
                }
            }
        };
        Ok(Edn::Char(c))
    }

    fn token(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| !is_delimiter(c)) {
            self.bump();
        }
        self.text[start..self.pos].to_string()
    }

    fn token_allowing_first_delimiter(&mut self) -> String {
        let start = self.pos;
        if self.bump().is_none() {
            return String::new();
        }
        while self.peek().is_some_and(|c| !is_delimiter(c)) {
            self.bump();
        }
        self.text[start..self.pos].to_string()
    }

    fn atom(&mut self) -> Result<Edn, EdnError> {
        let (line, column) = (self.line, self.column);
        let token = self.token();
        let err = |message: String| EdnError { line, column, message };
        if token.is_empty() {
            let found = self.peek().map_or("the end".to_string(), |c| format!("{c:?}"));
            return Err(err(format!("expected a value, found {found}")));
        }
        if let Some(name) = token.strip_prefix(':') {
            if name.is_empty() || name.starts_with(':') {
                return Err(err(format!("bad keyword {token:?}")));
            }
            return Ok(Edn::Keyword(name.to_string()));
        }
        match token.as_str() {
            "nil" => return Ok(Edn::Nil),
            "true" => return Ok(Edn::Bool(true)),
            "false" => return Ok(Edn::Bool(false)),
            _ => {}
        }
        let first = token.chars().next().unwrap_or(' ');
        let second = token.chars().nth(1);
        let numeric = first.is_ascii_digit()
            || ((first == '-' || first == '+') && second.is_some_and(|c| c.is_ascii_digit()));
        if numeric {
            let digits = token.strip_suffix('N').unwrap_or(&token);
            if let Ok(i) = digits.parse::<i64>() {
                return Ok(Edn::Int(i));
            }
            let float = token.strip_suffix('M').unwrap_or(&token);
            if float.chars().any(|c| matches!(c, '.' | 'e' | 'E')) {
                if let Ok(x) = float.parse::<f64>() {
                    return Ok(Edn::Float(x));
                }
            }
            return Err(err(format!("bad number {token:?} (integers must fit in 64 bits)")));
        }
        Ok(Edn::Symbol(token))
    }
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(k: &str) -> Edn {
        Edn::Keyword(k.into())
    }

    #[test]
    fn reads_a_knossos_operation_map_with_commas_and_missing_commas() {
        let v = parse_all("{:process 22  :type :invoke, :f :read, :value nil}").unwrap();
        assert_eq!(
            v,
            [Edn::Map(vec![
                (kw("process"), Edn::Int(22)),
                (kw("type"), kw("invoke")),
                (kw("f"), kw("read")),
                (kw("value"), Edn::Nil),
            ])]
        );
        assert_eq!(v[0].get("process"), Some(&Edn::Int(22)));
    }

    #[test]
    fn strings_may_hold_text_that_looks_like_edn() {
        let v = parse_all(r#"[{:error "bad #{1 2} and #[x] \"quoted\" \\ \u0041"}]"#).unwrap();
        let s = v[0].as_seq().unwrap()[0].get("error").unwrap();
        assert_eq!(s, &Edn::Str("bad #{1 2} and #[x] \"quoted\" \\ A".into()));
    }

    #[test]
    fn comments_discards_sets_tags_and_numbers() {
        let v =
            parse_all("; head\n(1 -2 +3 4N 1.5 #_ skipped #{:a} #inst \"x\" \\a \\newline sym true) ; tail")
                .unwrap();
        assert_eq!(
            v,
            [Edn::List(vec![
                Edn::Int(1),
                Edn::Int(-2),
                Edn::Int(3),
                Edn::Int(4),
                Edn::Float(1.5),
                Edn::Set(vec![kw("a")]),
                Edn::Tagged("inst".into(), Box::new(Edn::Str("x".into()))),
                Edn::Char('a'),
                Edn::Char('\n'),
                Edn::Symbol("sym".into()),
                Edn::Bool(true),
            ])]
        );
    }

    #[test]
    fn errors_name_line_column_and_what_was_expected() {
        let e = parse_all("[1 2\n 3").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("never closed"), "{e}");
        let e = parse_all("{:a 1\n :b}").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("even number"), "{e}");
        let e = parse_all("[1 ]]").unwrap_err();
        assert!(e.message.contains("unexpected closing"), "{e}");
        let e = parse_all("99999999999999999999").unwrap_err();
        assert!(e.message.contains("64 bits"), "{e}");
        let e = parse_all("\"abc").unwrap_err();
        assert!(e.message.contains("never closed"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for text in ["[".repeat(100_000), "#_".repeat(100_000), "#t ".repeat(100_000)] {
            let e = parse_all(&text).unwrap_err();
            assert!(e.message.contains("nested deeper"), "{e}");
        }
    }

    #[test]
    fn display_round_trips_through_the_reader() {
        let text = r#"[{:a "x\"y", :b (1 2.5 nil)} #{:k} \c sym]"#;
        let v = parse_all(text).unwrap();
        assert_eq!(parse_all(&v[0].to_string()).unwrap(), v);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse_all(&text);
        }

        #[test]
        fn edn_like_text_never_panics(text in "[\\[\\]{}()#_:;\",\\\\ a-z0-9\\n.+-]{0,200}") {
            let _ = parse_all(&text);
        }
    }
}
