//! Znode paths: validation exactly as the server does it (reference §3.1) and parent/name helpers.

use crate::ErrorCode;

/// Paths that can never be deleted (delete → BadArguments).
pub const SPECIAL_PATHS: &[&str] = &["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

/// Checks a full path with the server's rules: non-empty, starts with '/', "/" alone is valid,
/// no trailing '/', no empty component, no "." or ".." component, no NUL and no character in
/// U+0001–U+001F, U+007F–U+009F, U+D800–U+F8FF or U+FFF0–U+FFFF (characters beyond U+FFFF count as surrogates,
/// as in the server's UTF-16 strings). Any violation is
/// `BadArguments`, the code the server answers with.
pub fn validate_path(path: &str) -> Result<(), ErrorCode> {
    explain_invalid_path(path).map_or(Ok(()), |_| Err(ErrorCode::BadArguments))
}

/// Like [`validate_path`] but says which rule a bad path breaks (for error messages and tests).
pub fn explain_invalid_path(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("path must not be empty");
    }
    if !path.starts_with('/') {
        return Some("path must start with '/'");
    }
    if path == "/" {
        return None;
    }
    if path.ends_with('/') {
        return Some("path must not end with '/'");
    }
    for component in path[1..].split('/') {
        match component {
            "" => return Some("empty component ('//')"),
            "." | ".." => return Some("'.' and '..' components are not allowed"),
            _ => {}
        }
    }
    for c in path.chars() {
        let u = c as u32;
        if u == 0 {
            return Some("NUL character");
        }
        if (0x01..=0x1F).contains(&u)
            || (0x7F..=0x9F).contains(&u)
            || (0xD800..=0xF8FF).contains(&u)
            || (0xFFF0..=0xFFFF).contains(&u)
            // The server sees UTF-16: characters beyond the BMP arrive as surrogates.
            || u > 0xFFFF
        {
            return Some("forbidden character");
        }
    }
    None
}

/// The parent the server derives from the last '/': `None` when the path has no '/'.
/// The parent of "/x" and of "/" is "/". No validation: "/a//b" gives "/a/", "/a/" gives "/a".
pub fn parent_of(path: &str) -> Option<&str> {
    let slash = path.rfind('/')?;
    Some(if slash == 0 { "/" } else { &path[..slash] })
}

/// The last component of a path ("" for "/").
pub fn name_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// True if `path` is `ancestor` or lies below it.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    if ancestor == "/" {
        return path.starts_with('/');
    }
    path == ancestor || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

/// True for the nodes that cannot be deleted.
pub fn is_special(path: &str) -> bool {
    SPECIAL_PATHS.contains(&path)
}
