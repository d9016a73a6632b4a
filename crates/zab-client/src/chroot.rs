//! Chroot: the client sees the subtree under the chroot as its whole tree. Paths are prefixed on the
//! way to the server and stripped on the way back (created paths, sync paths, ephemerals, watch
//! events), as ZooKeeper's client does.

use zab_tree::{MultiResult, Request, Response, SetWatches};

/// A chroot, or none. Cheap to clone; every method is the identity without a chroot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Chroot(Option<String>);

impl Chroot {
    /// `root` must be a valid path other than "/" (the connect string parser guarantees it).
    pub(crate) fn new(root: Option<String>) -> Chroot {
        Chroot(root)
    }

    /// The server's name for a client path.
    pub(crate) fn to_server(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_string(),
            Some(root) if path == "/" || path.is_empty() => root.clone(),
            Some(root) => format!("{root}{path}"),
        }
    }

    /// The client's name for a server path, or `None` if the path lies outside the chroot.
    pub(crate) fn to_client(&self, path: &str) -> Option<String> {
        let Some(root) = &self.0 else { return Some(path.to_string()) };
        match path.strip_prefix(root.as_str()) {
            Some("") => Some("/".to_string()),
            Some(rest) if rest.starts_with('/') => Some(rest.to_string()),
            _ => None,
        }
    }

    /// Like [`Chroot::to_client`], keeping a path outside the chroot as the server wrote it (a reply
    /// must still reach the application; the server only sends such paths if it misbehaves).
    fn to_client_or_keep(&self, path: String) -> String {
        self.to_client(&path).unwrap_or(path)
    }

    /// The request as the server must see it.
    pub(crate) fn request_to_server(&self, request: &Request) -> Request {
        if self.0.is_none() {
            return request.clone();
        }
        let p = |path: &String| self.to_server(path);
        match request {
            Request::Create { path, data, acl, flags, kind } => Request::Create {
                path: p(path),
                data: data.clone(),
                acl: acl.clone(),
                flags: *flags,
                kind: *kind,
            },
            Request::Delete { path, version } => Request::Delete { path: p(path), version: *version },
            Request::Exists { path, watch } => Request::Exists { path: p(path), watch: *watch },
            Request::GetData { path, watch } => Request::GetData { path: p(path), watch: *watch },
            Request::SetData { path, data, version } => {
                Request::SetData { path: p(path), data: data.clone(), version: *version }
            }
            Request::GetAcl { path } => Request::GetAcl { path: p(path) },
            Request::SetAcl { path, acl, version } => {
                Request::SetAcl { path: p(path), acl: acl.clone(), version: *version }
            }
            Request::GetChildren { path, watch } => Request::GetChildren { path: p(path), watch: *watch },
            Request::GetChildren2 { path, watch } => Request::GetChildren2 { path: p(path), watch: *watch },
            Request::GetAllChildrenNumber { path } => Request::GetAllChildrenNumber { path: p(path) },
            Request::GetEphemerals { prefix } => Request::GetEphemerals { prefix: p(prefix) },
            Request::Check { path, version } => Request::Check { path: p(path), version: *version },
            Request::Multi(ops) => Request::Multi(ops.iter().map(|op| self.request_to_server(op)).collect()),
            Request::Sync { path } => Request::Sync { path: p(path) },
            Request::AddWatch { path, mode } => Request::AddWatch { path: p(path), mode: *mode },
            Request::RemoveWatches { path, watcher_type } => {
                Request::RemoveWatches { path: p(path), watcher_type: *watcher_type }
            }
            Request::CheckWatches { path, watcher_type } => {
                Request::CheckWatches { path: p(path), watcher_type: *watcher_type }
            }
            Request::SetWatches(w) => Request::SetWatches(SetWatches {
                relative_zxid: w.relative_zxid,
                data: w.data.iter().map(p).collect(),
                exist: w.exist.iter().map(p).collect(),
                child: w.child.iter().map(p).collect(),
                persistent: w.persistent.iter().map(p).collect(),
                persistent_recursive: w.persistent_recursive.iter().map(p).collect(),
            }),
            Request::DeleteContainer { path } => Request::DeleteContainer { path: p(path) },
            Request::Auth { .. } | Request::CloseSession | Request::Ping => request.clone(),
        }
    }

    /// The response as the application must see it: paths the server created or echoed are
    /// stripped, and ephemerals outside the chroot (a prefix match can reach them: "/app" is a
    /// string prefix of "/apple") are left out.
    pub(crate) fn response_to_client(&self, response: Response) -> Response {
        if self.0.is_none() {
            return response;
        }
        match response {
            Response::Create { path } => Response::Create { path: self.to_client_or_keep(path) },
            Response::Create2 { path, stat } => {
                Response::Create2 { path: self.to_client_or_keep(path), stat }
            }
            Response::Sync { path } => Response::Sync { path: self.to_client_or_keep(path) },
            Response::Ephemerals(paths) => {
                Response::Ephemerals(paths.iter().filter_map(|path| self.to_client(path)).collect())
            }
            Response::Multi(results) => Response::Multi(
                results
                    .into_iter()
                    .map(|result| match result {
                        MultiResult::Create { path, stat } => {
                            MultiResult::Create { path: self.to_client_or_keep(path), stat }
                        }
                        other => other,
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_both_ways_under_a_chroot() {
        let c = Chroot::new(Some("/app".to_string()));
        assert_eq!(c.to_server("/"), "/app");
        assert_eq!(c.to_server("/a/b"), "/app/a/b");
        assert_eq!(c.to_client("/app").as_deref(), Some("/"));
        assert_eq!(c.to_client("/app/a").as_deref(), Some("/a"));
        assert_eq!(c.to_client("/apple"), None);
        assert_eq!(c.to_client("/other"), None);
    }

    #[test]
    fn without_a_chroot_everything_is_the_identity() {
        let c = Chroot::new(None);
        assert_eq!(c.to_server("/a"), "/a");
        assert_eq!(c.to_client("/a").as_deref(), Some("/a"));
        let req = Request::Sync { path: "/a".to_string() };
        assert_eq!(c.request_to_server(&req), req);
    }

    #[test]
    fn ephemerals_outside_the_chroot_are_left_out() {
        let c = Chroot::new(Some("/app".to_string()));
        let r =
            c.response_to_client(Response::Ephemerals(vec!["/app/e".to_string(), "/apple/e".to_string()]));
        assert_eq!(r, Response::Ephemerals(vec!["/e".to_string()]));
    }
}
