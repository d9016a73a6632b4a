//! A scripted fake server: each test plays the server's side by hand and checks the client's
//! actions one call at a time.

#![allow(dead_code)] // each test binary uses a different part of the harness

use zab_client::{
    Client, ClientAction, ClientConfig, ClientInput, ClientOut, ConnectString, Instant, ServerIndex, Xid,
};
use zab_tree::{
    session_password, ConnectResponse, ErrorCode, EventType, ReplyHeader, Request, Response, SessionId,
    WatchEvent, Zxid,
};

pub const SESSION: SessionId = SessionId(0x0100_0000_0000_0042);

pub struct Script {
    pub client: Client,
    pub now: Instant,
    out: ClientOut,
}

impl Script {
    /// A client with no random reconnect delay and no spin delay, so that timings in tests are
    /// exact; tests about those delays build their own configuration.
    pub fn new(connect_string: &str, session_timeout_ms: u32) -> Script {
        let mut config =
            ClientConfig::new(ConnectString::parse(connect_string).unwrap(), session_timeout_ms, 7);
        config.reconnect_delay_ms_max = 0;
        config.spin_delay_ms = 0;
        Script::with_config(config)
    }

    pub fn with_config(config: ClientConfig) -> Script {
        Script { client: Client::new(config).unwrap(), now: Instant::ZERO, out: ClientOut::new() }
    }

    /// The n-th server in the order the client tries them.
    pub fn nth(&self, n: usize) -> ServerIndex {
        self.client.server_order()[n]
    }

    pub fn at_ms(&mut self, ms: u64) -> &mut Script {
        self.now = Instant::from_ms(ms);
        self
    }

    pub fn step(&mut self, input: ClientInput) -> Vec<ClientAction> {
        self.client.step(self.now, input, &mut self.out);
        self.out.drain().collect()
    }

    pub fn tick(&mut self) -> Vec<ClientAction> {
        self.step(ClientInput::Timeout)
    }

    /// Moves the clock to the client's next deadline and fires it.
    pub fn fire_deadline(&mut self) -> Vec<ClientAction> {
        self.now = self.client.next_deadline().expect("a deadline");
        self.tick()
    }

    pub fn submit(&mut self, request: Request) -> (Xid, Vec<ClientAction>) {
        let xid = self.client.submit(self.now, request, &mut self.out);
        (xid, self.out.drain().collect())
    }

    /// Opens the transport to `server` (the client must have asked for it) and returns the
    /// client's actions, which start with the handshake.
    pub fn transport_up(&mut self, server: ServerIndex) -> Vec<ClientAction> {
        self.step(ClientInput::TransportConnected { server })
    }

    pub fn accept(&mut self, server: ServerIndex, timeout_ms: i32) -> Vec<ClientAction> {
        let response = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id: SESSION,
            passwd: session_password(SESSION),
            read_only: false,
        };
        self.step(ClientInput::ConnectResponse { server, response })
    }

    /// Drives a fresh client through its first connection to the first server of its order;
    /// returns that server.
    pub fn connect(&mut self) -> ServerIndex {
        let server = self.nth(0);
        assert_eq!(self.tick(), vec![ClientAction::Connect { server }]);
        self.transport_up(server);
        let timeout = self.client.config().session_timeout_ms as i32;
        self.accept(server, timeout);
        server
    }

    pub fn reply(
        &mut self,
        server: ServerIndex,
        xid: Xid,
        zxid: u64,
        err: ErrorCode,
        response: Option<Response>,
    ) -> Vec<ClientAction> {
        let header = ReplyHeader { xid: xid.0, zxid: Zxid(zxid), err };
        self.step(ClientInput::Reply { server, header, response })
    }

    pub fn notify(
        &mut self,
        server: ServerIndex,
        event_type: EventType,
        path: &str,
        zxid: u64,
    ) -> Vec<ClientAction> {
        let event = WatchEvent::node(event_type, path);
        self.step(ClientInput::Notification { server, event, zxid: Zxid(zxid) })
    }
}

pub fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData { path: path.to_string(), watch }
}

pub fn set_data(path: &str, data: &[u8]) -> Request {
    Request::SetData { path: path.to_string(), data: Some(data.to_vec()), version: -1 }
}

pub fn create(path: &str) -> Request {
    Request::Create {
        path: path.to_string(),
        data: None,
        acl: zab_tree::OPEN_ACL_UNSAFE.to_vec(),
        flags: 0,
        kind: zab_tree::CreateKind::Create,
    }
}

/// The `Send` actions, as (xid, request).
pub fn sends(actions: &[ClientAction]) -> Vec<(Xid, Request)> {
    actions
        .iter()
        .filter_map(|a| match a {
            ClientAction::Send { xid, request, .. } => Some((*xid, request.clone())),
            _ => None,
        })
        .collect()
}

/// The `Completed` actions, as (xid, result code or Ok).
pub fn completions(actions: &[ClientAction]) -> Vec<(Xid, Result<Response, zab_client::ClientError>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            ClientAction::Completed { xid, result, .. } => {
                Some((*xid, result.clone().map(|(response, _)| response)))
            }
            _ => None,
        })
        .collect()
}
