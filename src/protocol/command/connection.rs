//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT's
//! subcommands; their rows, their typed form and their parsers, and the client-name rule
//! shared by CLIENT SETNAME and HELLO. `server/commands/connection.rs` runs them.
//!
//! Nothing here touches connections: these only describe what to do to one.

use bytes::Bytes;

use super::args::{int, is, is_printable_token, next, parse_i64, Args};
use super::error::render_full;
use super::table::{row, CommandSpec};
use super::CommandError;

/// A connection command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionCommand {
    /// `PING [message]`.
    Ping {
        /// Echoed back as a bulk string when present (else `PONG`).
        message: Option<Bytes>,
    },
    /// `ECHO message`.
    Echo {
        /// The message.
        message: Bytes,
    },
    /// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
    ///
    /// A protocol version other than 2 or 3 parses (options are then not even looked
    /// at, as in Redis) and the server must answer `NOPROTO unsupported protocol version`.
    /// The SETNAME value is validated here, before any AUTH runs, as Redis 7.2 does.
    Hello {
        /// The requested protocol version, if given.
        protover: Option<i64>,
        /// `(username, password)` from AUTH. Boxed, so that every command stays small (see
        /// `Set::condition`).
        auth: Option<Box<(Bytes, Bytes)>>,
        /// The name from SETNAME.
        setname: Option<Bytes>,
    },
    /// `AUTH [username] password`.
    Auth {
        /// The user; `None` means `default`.
        username: Option<Bytes>,
        /// The password.
        password: Bytes,
    },
    /// `SELECT index`: any 32-bit index parses; the server refuses one it does not have
    /// (see `databases`) with [`CommandError::DbIndexOutOfRange`]'s text.
    Select {
        /// The database index.
        index: i64,
    },
    /// `QUIT`.
    Quit,
    /// `RESET`.
    Reset,
    /// `CLIENT <subcommand>`.
    Client(ClientCommand),
}

/// The connection commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    AUTH,
    row!("client", -2, [], (0, 0, 0), [], "connection", "2.4.0",
        "A container for client connection commands.",
        "", |_| Err::<ConnectionCommand, _>(CommandError::Syntax),
        subcommands: CLIENT_SUBCOMMANDS),
    row!("echo", 2, [LOADING, STALE, FAST], (0, 0, 0), [CONNECTION], "connection", "1.0.0",
        "Returns the given string.",
        "message", |a| Ok(ConnectionCommand::Echo { message: next(a)? })),
    row!("hello", -1, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, SENTINEL, ALLOW_BUSY], (0, 0, 0),
        [CONNECTION], "connection", "6.0.0",
        "Handshakes with the Redis server.",
        "[protover [AUTH username password] [SETNAME clientname]]", hello),
    PING,
    row!("quit", -1, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY, RUNS_IN_MULTI], (0, 0, 0),
        [CONNECTION], "connection", "1.0.0",
        "Closes the connection.",
        "", |_| Ok(ConnectionCommand::Quit)),
    row!("reset", 1, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY, RUNS_IN_MULTI], (0, 0, 0),
        [CONNECTION], "connection", "6.2.0",
        "Resets the connection.",
        "", |_| Ok(ConnectionCommand::Reset)),
    row!("select", 2, [LOADING, STALE, FAST], (0, 0, 0), [CONNECTION], "connection", "1.0.0",
        "Changes the selected database.",
        "index", select),
];

// Rows the native protocol's ops name directly (see `native.rs`).
#[rustfmt::skip]
pub(super) const AUTH: CommandSpec =
    row!("auth", -2, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, SENTINEL, ALLOW_BUSY], (0, 0, 0),
        [CONNECTION], "connection", "1.0.0",
        "Authenticates the connection.",
        "[username] password", auth);

#[rustfmt::skip]
pub(super) const PING: CommandSpec =
    row!("ping", -1, [FAST, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "1.0.0",
        "Returns the server's liveliness response.",
        "[message]", ping);

/// CLIENT's subcommands, sorted by name.
#[rustfmt::skip]
static CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    row!("client|getname", 2, [NOSCRIPT, LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "2.6.9",
        "Returns the name of the connection.",
        "", |_| Ok(ClientCommand::GetName)),
    row!("client|help", 2, [LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "5.0.0",
        "Returns helpful text about the different subcommands.",
        "", |_| Ok(ClientCommand::Help)),
    row!("client|id", 2, [NOSCRIPT, LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "5.0.0",
        "Returns the unique client ID of the connection.",
        "", |_| Ok(ClientCommand::Id)),
    row!("client|info", 2, [NOSCRIPT, LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "6.2.0",
        "Returns information about the connection.",
        "", |_| Ok(ClientCommand::Info)),
    row!("client|kill", -3, [ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "2.4.0",
        "Terminates open connections.",
        "<ip:port|<[ID client-id] [TYPE <NORMAL|MASTER|SLAVE|REPLICA|PUBSUB>] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME <YES|NO>] [MAXAGE maxage]>>",
        |a| Ok(ClientCommand::Kill(client_kill(a)?))),
    row!("client|list", -2, [ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "2.4.0",
        "Lists open connections.",
        "[TYPE <NORMAL|MASTER|REPLICA|PUBSUB>] [ID client-id [client-id ...]]",
        client_list),
    row!("client|no-evict", 3, [ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "7.0.0",
        "Sets the client eviction mode of the connection.",
        "ON|OFF", |a| Ok(ClientCommand::NoEvict(on_off(&next(a)?)?))),
    row!("client|no-touch", 3, [NOSCRIPT, LOADING, STALE], (0, 0, 0), [CONNECTION], "connection", "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        "ON|OFF", |a| Ok(ClientCommand::NoTouch(on_off(&next(a)?)?))),
    row!("client|setinfo", 4, [NOSCRIPT, LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "7.2.0",
        "Sets information specific to the client or connection.",
        "LIB-NAME libname|LIB-VER libver", client_setinfo),
    row!("client|setname", 3, [NOSCRIPT, LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "connection", "2.6.9",
        "Sets the connection name.",
        "connection-name", |a| {
            let name = next(a)?;
            validate_client_name(&name)?;
            Ok(ClientCommand::SetName(name))
        }),
];

/// `PING [message]`: Redis's arity is -1 but more than one argument is an arity error.
fn ping(args: &mut Args) -> Result<ConnectionCommand, CommandError> {
    if args.len() > 1 {
        return Err(CommandError::WrongArgumentCount { command: "ping" });
    }
    Ok(ConnectionCommand::Ping {
        message: args.next(),
    })
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`, as Redis's
/// `helloCommand`: a version outside 2..=3 stops parsing (the server answers NOPROTO).
fn hello(args: &mut Args) -> Result<ConnectionCommand, CommandError> {
    let Some(raw) = args.next() else {
        return Ok(ConnectionCommand::Hello {
            protover: None,
            auth: None,
            setname: None,
        });
    };
    let protover = parse_i64(&raw).ok_or(CommandError::ProtocolVersion)?;
    let mut auth = None;
    let mut setname = None;
    if (2..=3).contains(&protover) {
        while let Some(opt) = args.next() {
            let more = args.len();
            if is(&opt, "AUTH") && more >= 2 {
                auth = Some(Box::new((next(args)?, next(args)?)));
            } else if is(&opt, "SETNAME") && more >= 1 {
                // Redis 7.2 validates the name while reading options, before AUTH runs.
                let name = next(args)?;
                validate_client_name(&name)?;
                setname = Some(name);
            } else {
                return Err(CommandError::HelloOption(render_full(&opt)));
            }
        }
    }
    Ok(ConnectionCommand::Hello {
        protover: Some(protover),
        auth,
        setname,
    })
}

/// `AUTH [username] password`: more than two arguments is a syntax error, as Redis.
fn auth(args: &mut Args) -> Result<ConnectionCommand, CommandError> {
    match (args.next(), args.next(), args.next()) {
        (Some(password), None, _) => Ok(ConnectionCommand::Auth {
            username: None,
            password,
        }),
        (Some(username), Some(password), None) => Ok(ConnectionCommand::Auth {
            username: Some(username),
            password,
        }),
        _ => Err(CommandError::Syntax),
    }
}

/// `SELECT index`: a 32-bit integer, as Redis's `getIntFromObjectOrReply`.
fn select(args: &mut Args) -> Result<ConnectionCommand, CommandError> {
    let index = int(&next(args)?)?;
    if i32::try_from(index).is_err() {
        return Err(CommandError::OutOfRange {
            min: i32::MIN.into(),
            max: i32::MAX.into(),
        });
    }
    Ok(ConnectionCommand::Select { index })
}

/// `CLIENT SETINFO <LIB-NAME|LIB-VER> value`.
fn client_setinfo(args: &mut Args) -> Result<ClientCommand, CommandError> {
    let attr_raw = next(args)?;
    let value = next(args)?;
    let attr = if is(&attr_raw, "LIB-NAME") {
        ClientAttr::LibName
    } else if is(&attr_raw, "LIB-VER") {
        ClientAttr::LibVer
    } else {
        return Err(CommandError::UnrecognizedOption(render_full(&attr_raw)));
    };
    if !is_printable_token(&value) {
        return Err(CommandError::InvalidClientAttr(render_full(&attr_raw)));
    }
    Ok(ClientCommand::SetInfo { attr, value })
}

/// `CLIENT` subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// `CLIENT ID`.
    Id,
    /// `CLIENT SETNAME name` (validated; empty clears the name).
    SetName(Bytes),
    /// `CLIENT GETNAME`.
    GetName,
    /// `CLIENT SETINFO <LIB-NAME | LIB-VER> value` (value validated).
    SetInfo {
        /// Which attribute.
        attr: ClientAttr,
        /// Its new value (empty clears it).
        value: Bytes,
    },
    /// `CLIENT LIST [TYPE type] [ID id [id ...]]` (Redis takes one filter or the other).
    List {
        /// Only clients of this type.
        kind: Option<ClientType>,
        /// Only clients with these ids (empty: all).
        ids: Vec<i64>,
    },
    /// `CLIENT INFO`.
    Info,
    /// `CLIENT KILL addr` or `CLIENT KILL <filter value> ...`.
    Kill(ClientKill),
    /// `CLIENT HELP`.
    Help,
    /// `CLIENT NO-EVICT <ON | OFF>` (accepted; nothing to evict in Cairn).
    NoEvict(bool),
    /// `CLIENT NO-TOUCH <ON | OFF>` (accepted; Cairn keeps no LRU).
    NoTouch(bool),
}

/// A client attribute CLIENT SETINFO can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAttr {
    /// `LIB-NAME`.
    LibName,
    /// `LIB-VER`.
    LibVer,
}

/// A client type, as CLIENT LIST TYPE and CLIENT KILL TYPE name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// `normal`.
    Normal,
    /// `master`.
    Master,
    /// `replica` (or `slave`).
    Replica,
    /// `pubsub`.
    PubSub,
}

/// The two forms of CLIENT KILL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKill {
    /// `CLIENT KILL ip:port`: replies OK or an error; may kill the caller itself.
    Addr(Bytes),
    /// `CLIENT KILL <filter> <value> ...`: replies the number killed. Boxed, so that every
    /// command stays small (see `Set::condition`).
    Filter(Box<ClientKillFilter>),
}

/// Filters of the new CLIENT KILL form; all given ones must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKillFilter {
    /// `ID id`, positive.
    pub id: Option<u64>,
    /// `TYPE type`.
    pub kind: Option<ClientType>,
    /// `ADDR ip:port` (the client's address).
    pub addr: Option<Bytes>,
    /// `LADDR ip:port` (the local address it connected to).
    pub laddr: Option<Bytes>,
    /// `USER username` (the server checks that the user exists).
    pub user: Option<Bytes>,
    /// `SKIPME yes|no`: spare the calling client (default yes).
    pub skip_me: bool,
    /// `MAXAGE seconds`: only clients older than this (Redis 7.4).
    pub max_age: Option<i64>,
}

/// Checks a client name as CLIENT SETNAME and HELLO SETNAME do: every byte in
/// `!`..=`~` (the empty name is allowed and clears the name).
pub fn validate_client_name(name: &[u8]) -> Result<(), CommandError> {
    if is_printable_token(name) {
        Ok(())
    } else {
        Err(CommandError::InvalidClientName)
    }
}

/// A client type name as Redis's `getClientTypeByName` knows them.
fn client_type(name: &[u8]) -> Result<ClientType, CommandError> {
    if is(name, "normal") {
        Ok(ClientType::Normal)
    } else if is(name, "master") {
        Ok(ClientType::Master)
    } else if is(name, "replica") || is(name, "slave") {
        Ok(ClientType::Replica)
    } else if is(name, "pubsub") {
        Ok(ClientType::PubSub)
    } else {
        Err(CommandError::UnknownClientType(render_full(name)))
    }
}

/// `ON`/`OFF`, else a syntax error.
fn on_off(arg: &[u8]) -> Result<bool, CommandError> {
    if is(arg, "ON") {
        Ok(true)
    } else if is(arg, "OFF") {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

/// `CLIENT LIST [TYPE type] | [ID id [id ...]]`, as Redis: TYPE only with exactly one
/// value, ID with one or more.
fn client_list(args: &mut Args) -> Result<ClientCommand, CommandError> {
    let argc = args.argc();
    let Some(opt) = args.next() else {
        return Ok(ClientCommand::List {
            kind: None,
            ids: Vec::new(),
        });
    };
    if argc == 4 && is(&opt, "TYPE") {
        let kind = client_type(&next(args)?)?;
        return Ok(ClientCommand::List {
            kind: Some(kind),
            ids: Vec::new(),
        });
    }
    if argc > 3 && is(&opt, "ID") {
        let ids = args
            .by_ref()
            .map(|id| parse_i64(&id).ok_or(CommandError::InvalidClientId))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ClientCommand::List { kind: None, ids });
    }
    Err(CommandError::Syntax)
}

/// `CLIENT KILL addr` (exactly one argument) or `CLIENT KILL <filter> <value> ...`.
fn client_kill(args: &mut Args) -> Result<ClientKill, CommandError> {
    let argc = args.argc();
    if argc == 3 {
        return Ok(ClientKill::Addr(next(args)?));
    }
    if !argc.is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let mut filter = ClientKillFilter {
        id: None,
        kind: None,
        addr: None,
        laddr: None,
        user: None,
        skip_me: true,
        max_age: None,
    };
    while let (Some(opt), Some(value)) = (args.next(), args.next()) {
        if is(&opt, "ID") {
            let id = parse_i64(&value)
                .filter(|&n| n >= 1)
                .ok_or(CommandError::ClientIdNotPositive)?;
            filter.id = Some(id.unsigned_abs());
        } else if is(&opt, "TYPE") {
            filter.kind = Some(client_type(&value)?);
        } else if is(&opt, "ADDR") {
            filter.addr = Some(value);
        } else if is(&opt, "LADDR") {
            filter.laddr = Some(value);
        } else if is(&opt, "USER") {
            filter.user = Some(value);
        } else if is(&opt, "SKIPME") {
            filter.skip_me = if is(&value, "YES") {
                true
            } else if is(&value, "NO") {
                false
            } else {
                return Err(CommandError::Syntax);
            };
        } else if is(&opt, "MAXAGE") {
            filter.max_age = Some(int(&value)?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(ClientKill::Filter(Box::new(filter)))
}
