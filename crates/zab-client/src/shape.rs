//! Which reply body each successful request must carry. A body of another shape is a protocol
//! error (ZooKeeper's client fails to deserialize it and drops the connection).

use zab_tree::{CreateKind, MultiResult, Request, Response};

/// The body of a successful reply to `request`, if `response` has the shape the request calls for.
/// Requests whose reply has no body accept both `None` and `Response::Empty`.
pub(crate) fn fit(request: &Request, response: Option<Response>) -> Option<Response> {
    if has_empty_reply(request) {
        return match response {
            None | Some(Response::Empty) => Some(Response::Empty),
            Some(_) => None,
        };
    }
    let response = response?;
    let fits = match (request, &response) {
        (Request::Create { kind: CreateKind::Create, .. }, Response::Create { .. }) => true,
        (
            Request::Create {
                kind: CreateKind::Create2 | CreateKind::Container | CreateKind::Ttl(_), ..
            },
            Response::Create2 { .. },
        ) => true,
        (Request::Exists { .. } | Request::SetData { .. } | Request::SetAcl { .. }, Response::Stat(_)) => {
            true
        }
        (Request::GetData { .. }, Response::GetData { .. }) => true,
        (Request::GetAcl { .. }, Response::GetAcl { .. }) => true,
        (Request::GetChildren { .. }, Response::GetChildren { .. }) => true,
        (Request::GetChildren2 { .. }, Response::GetChildren2 { .. }) => true,
        (Request::GetAllChildrenNumber { .. }, Response::AllChildrenNumber(_)) => true,
        (Request::GetEphemerals { .. }, Response::Ephemerals(_)) => true,
        (Request::Sync { .. }, Response::Sync { .. }) => true,
        (Request::Multi(ops), Response::Multi(results)) => {
            ops.len() == results.len() && ops.iter().zip(results).all(|(op, r)| op_result_fits(op, r))
        }
        _ => false,
    };
    fits.then_some(response)
}

fn has_empty_reply(request: &Request) -> bool {
    matches!(
        request,
        Request::Delete { .. }
            | Request::Check { .. }
            | Request::AddWatch { .. }
            | Request::RemoveWatches { .. }
            | Request::CheckWatches { .. }
            | Request::SetWatches(_)
            | Request::Auth { .. }
            | Request::DeleteContainer { .. }
            | Request::CloseSession
            | Request::Ping
    )
}

fn op_result_fits(op: &Request, result: &MultiResult) -> bool {
    matches!(
        (op, result),
        (_, MultiResult::Error { .. })
            | (Request::Create { .. }, MultiResult::Create { .. })
            | (Request::Delete { .. }, MultiResult::Delete)
            | (Request::SetData { .. }, MultiResult::SetData { .. })
            | (Request::Check { .. }, MultiResult::Check)
    )
}

#[cfg(test)]
mod tests {
    use zab_tree::{ErrorCode, Stat};

    use super::*;

    #[test]
    fn a_body_of_the_wrong_shape_does_not_fit() {
        let get = Request::GetData { path: "/a".to_string(), watch: false };
        assert_eq!(fit(&get, Some(Response::Stat(Stat::default()))), None);
        assert_eq!(fit(&get, None), None);
        let delete = Request::Delete { path: "/a".to_string(), version: -1 };
        assert_eq!(fit(&delete, None), Some(Response::Empty));
        assert_eq!(fit(&delete, Some(Response::Sync { path: "/a".to_string() })), None);
    }

    #[test]
    fn multi_results_must_match_the_ops_one_for_one() {
        let multi = Request::Multi(vec![
            Request::Delete { path: "/a".to_string(), version: -1 },
            Request::Check { path: "/b".to_string(), version: 0 },
        ]);
        let ok =
            Response::Multi(vec![MultiResult::Delete, MultiResult::Error { code: ErrorCode::BadVersion }]);
        assert_eq!(fit(&multi, Some(ok.clone())), Some(ok));
        assert_eq!(fit(&multi, Some(Response::Multi(vec![MultiResult::Delete]))), None);
        assert_eq!(fit(&multi, Some(Response::Multi(vec![MultiResult::Check, MultiResult::Check]))), None);
    }
}
