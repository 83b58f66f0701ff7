//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT. Their
//! rows and parsers are in `protocol/command/connection.rs`.
//!
//! These shape the session (protocol version, authentication, name) and the client
//! registry; they never touch the data.

use bytes::Bytes;

use super::{help, listing};
use crate::protocol::command::{
    validate_client_name, ClientAttr, ClientCommand, ClientKill, ClientKillFilter, ClientType,
    ConnectionCommand,
};
use crate::protocol::{Reply, RespVersion};
use crate::server::clients::ClientInfo;
use crate::server::dispatch::Context;
use crate::server::session::{ClusterFlags, Session};
use crate::server::shared::Shared;

/// The Redis version Cairn reports: clients enable features (RESP3, CLIENT SETINFO) by it.
pub const REDIS_VERSION: &str = "7.2.0";
/// Cairn's own version, reported beside it.
pub const CAIRN_VERSION: &str = env!("CARGO_PKG_VERSION");

fn simple(text: &'static str) -> Reply {
    Reply::Simple(Bytes::from_static(text.as_bytes()))
}

fn bulk(text: impl Into<String>) -> Reply {
    Reply::Bulk(Bytes::from(text.into()))
}

/// Runs a connection command.
pub(crate) fn run(cx: &mut Context, command: ConnectionCommand) -> Reply {
    let (shared, session) = (cx.shared, &mut *cx.session);
    match command {
        ConnectionCommand::Ping { message } => ping(session, message),
        ConnectionCommand::Echo { message } => Reply::Bulk(message),
        ConnectionCommand::Hello {
            protover,
            auth,
            setname,
        } => hello(shared, session, protover, auth.as_deref(), setname),
        ConnectionCommand::Auth { username, password } => {
            auth(shared, session, username.as_deref(), &password)
        }
        ConnectionCommand::Select { index } => select(cx, index),
        ConnectionCommand::Quit => quit(session),
        ConnectionCommand::Reset => reset(shared, session),
        ConnectionCommand::Client(sub) => client(shared, session, sub),
    }
}

/// PING [message]
fn ping(session: &Session, message: Option<Bytes>) -> Reply {
    if session.in_resp2_pubsub() {
        // In RESP2's subscribed context a reply must look like a push: `pong` and the
        // message (empty without one).
        return Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(b"pong")),
            Reply::Bulk(message.unwrap_or_default()),
        ]);
    }
    match message {
        Some(message) => Reply::Bulk(message),
        None => simple("PONG"),
    }
}

/// Checks a password against `requirepass`, for AUTH and HELLO AUTH.
fn check_password(shared: &Shared, username: Option<&[u8]>, password: &[u8]) -> Result<(), Reply> {
    let config = shared.config.read();
    let Some(required) = &config.requirepass else {
        return Err(Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    };
    if username.is_some_and(|u| u != b"default") || password != required.as_bytes() {
        return Err(Reply::error(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ));
    }
    Ok(())
}

/// AUTH [username] password
fn auth(shared: &Shared, session: &mut Session, username: Option<&[u8]>, password: &[u8]) -> Reply {
    match check_password(shared, username, password) {
        Ok(()) => {
            session.authenticated = true;
            Reply::ok()
        }
        Err(reply) => reply,
    }
}

/// HELLO [protover [AUTH username password] [SETNAME name]]
fn hello(
    shared: &Shared,
    session: &mut Session,
    protover: Option<i64>,
    auth: Option<&(Bytes, Bytes)>,
    setname: Option<Bytes>,
) -> Reply {
    let version = match protover {
        None => session.resp,
        Some(2) => RespVersion::Resp2,
        Some(3) => RespVersion::Resp3,
        Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
    };
    if let Some((username, password)) = auth {
        if let Err(reply) = check_password(shared, Some(username), password) {
            return reply;
        }
        session.authenticated = true;
    }
    if !session.authenticated {
        return Reply::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if let Some(name) = setname {
        if let Err(error) = validate_client_name(&name) {
            return Reply::error(error.to_string());
        }
        session.info.details.lock().name = (!name.is_empty()).then_some(name);
    }
    session.resp = version;
    session.info.details.lock().protocol = resp_number(version);
    Reply::Map(vec![
        (bulk("server"), bulk("cairn")),
        (bulk("version"), bulk(REDIS_VERSION)),
        (bulk("cairn_version"), bulk(CAIRN_VERSION)),
        (
            bulk("proto"),
            Reply::Integer(i64::from(resp_number(version))),
        ),
        (bulk("id"), Reply::count(session.info.id)),
        (bulk("mode"), bulk("standalone")),
        (bulk("role"), bulk("master")),
        (bulk("modules"), Reply::Array(Vec::new())),
    ])
}

fn resp_number(version: RespVersion) -> u8 {
    match version {
        RespVersion::Resp2 => 2,
        RespVersion::Resp3 => 3,
    }
}

/// SELECT index: Cairn has one database (sharding spreads keys over servers instead).
fn select(cx: &mut Context, index: i64) -> Reply {
    if cx.shared.cluster.is_some() && index != 0 {
        return Reply::error("ERR SELECT is not allowed in cluster mode");
    }
    let databases = cx.shared.config.read().databases;
    match u8::try_from(index) {
        Ok(db) if usize::from(db) < databases => {
            cx.session.db = db;
            // Inside EXEC, the commands after it work in the new database too.
            cx.ks.select(db);
            cx.session.info.details.lock().db = db;
            Reply::ok()
        }
        _ => Reply::error("ERR DB index is out of range"),
    }
}

/// QUIT: answer OK, then close.
fn quit(session: &mut Session) -> Reply {
    session.closing = true;
    Reply::ok()
}

/// RESET: back to a fresh connection's state.
fn reset(shared: &Shared, session: &mut Session) -> Reply {
    session.multi = None;
    session.watched.clear();
    session.pubsub = None;
    session.cluster = ClusterFlags::default();
    session.resp = RespVersion::Resp2;
    session.db = 0;
    session.authenticated = shared.config.read().requirepass.is_none();
    let mut details = session.info.details.lock();
    details.name = None;
    details.db = 0;
    details.protocol = 2;
    simple("RESET")
}

/// CLIENT subcommands.
fn client(shared: &Shared, session: &mut Session, command: ClientCommand) -> Reply {
    let info = &session.info;
    match command {
        ClientCommand::Id => Reply::count(info.id),
        ClientCommand::SetName(name) => {
            info.details.lock().name = (!name.is_empty()).then_some(name);
            Reply::ok()
        }
        ClientCommand::GetName => info
            .details
            .lock()
            .name
            .clone()
            .map_or(Reply::Null, Reply::Bulk),
        ClientCommand::SetInfo { attr, value } => {
            let value = (!value.is_empty()).then_some(value);
            let mut details = info.details.lock();
            match attr {
                ClientAttr::LibName => details.lib_name = value,
                ClientAttr::LibVer => details.lib_ver = value,
            }
            Reply::ok()
        }
        ClientCommand::List { kind, ids } => {
            let mut text = String::new();
            for client in shared.clients.list() {
                let type_matches = kind.is_none_or(|k| k == client_type(&client));
                if type_matches
                    && (ids.is_empty()
                        || i64::try_from(client.id).is_ok_and(|id| ids.contains(&id)))
                {
                    text.push_str(&client.describe());
                    text.push('\n');
                }
            }
            listing(text)
        }
        ClientCommand::Info => listing(format!("{}\n", info.describe())),
        ClientCommand::Kill(ClientKill::Addr(addr)) => {
            let killed = shared
                .clients
                .kill_where(|c| c.addr.to_string().as_bytes() == addr.as_ref());
            if killed == 0 {
                return Reply::error("ERR No such client");
            }
            if info.addr.to_string().as_bytes() == addr.as_ref() {
                session.closing = true;
            }
            Reply::ok()
        }
        ClientCommand::Kill(ClientKill::Filter(filter)) => {
            let me = info.id;
            let killed = shared
                .clients
                .kill_where(|c| kill_filter_matches(&filter, c, me));
            if !filter.skip_me && kill_filter_matches(&filter, info, u64::MAX) {
                session.closing = true;
            }
            Reply::count(killed)
        }
        ClientCommand::Help => help(&[
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "GETNAME",
            "    Return the name of the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            "LIST [TYPE <type>] [ID <id> [<id> ...]]",
            "    Return information about client connections.",
            "KILL <ip:port> | KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options: ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE.",
            "HELP",
            "    Print this help.",
        ]),
        ClientCommand::NoEvict(_) | ClientCommand::NoTouch(_) => Reply::ok(),
    }
}

/// The type CLIENT LIST and CLIENT KILL filter by: `pubsub` while subscribed to anything
/// (there are no replicas or primaries yet).
fn client_type(client: &ClientInfo) -> ClientType {
    if client.replica.load(std::sync::atomic::Ordering::Relaxed) {
        ClientType::Replica
    } else if client.subscriptions.any() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// Whether `client` matches every filter given; `me` is spared unless SKIPME no.
fn kill_filter_matches(filter: &ClientKillFilter, client: &ClientInfo, me: u64) -> bool {
    (!filter.skip_me || client.id != me)
        && filter.id.is_none_or(|id| id == client.id)
        && filter.kind.is_none_or(|k| k == client_type(client))
        && filter
            .addr
            .as_ref()
            .is_none_or(|a| a.as_ref() == client.addr.to_string().as_bytes())
        && filter
            .laddr
            .as_ref()
            .is_none_or(|a| a.as_ref() == client.local_addr.to_string().as_bytes())
        && filter
            .user
            .as_ref()
            .is_none_or(|u| u.as_ref() == b"default")
        && filter.max_age.is_none_or(|age| {
            i64::try_from(client.connected.elapsed().as_secs()).unwrap_or(i64::MAX) >= age
        })
}
