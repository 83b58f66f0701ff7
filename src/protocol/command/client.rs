//! CLIENT: its subcommand types and parsers, and the client-name rule shared with HELLO.
//!
//! Arity is checked against the subcommand table; nothing here touches connections.

use bytes::Bytes;

use super::args::{int, is, is_printable_token, next, parse_i64, Args};
use super::error::render_full;
use super::server::subcommand;
use super::table::CommandSpec;
use super::{Command, CommandError};

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
    /// `CLIENT KILL <filter> <value> ...`: replies the number killed.
    Filter(ClientKillFilter),
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

/// `CLIENT <subcommand> ...`.
pub(super) fn client(
    parent: &'static CommandSpec,
    mut args: Args,
) -> Result<Command, CommandError> {
    let argc = args.len() + 1;
    let sub = next(&mut args)?;
    let spec = subcommand(parent, "CLIENT", &sub, argc)?;
    let cmd = match spec.short_name() {
        "id" => ClientCommand::Id,
        "getname" => ClientCommand::GetName,
        "info" => ClientCommand::Info,
        "help" => ClientCommand::Help,
        "setname" => {
            let name = next(&mut args)?;
            validate_client_name(&name)?;
            ClientCommand::SetName(name)
        }
        "setinfo" => {
            let attr_raw = next(&mut args)?;
            let value = next(&mut args)?;
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
            ClientCommand::SetInfo { attr, value }
        }
        "list" => client_list(args, argc)?,
        "kill" => ClientCommand::Kill(client_kill(args, argc)?),
        "no-evict" => ClientCommand::NoEvict(on_off(&next(&mut args)?)?),
        "no-touch" => ClientCommand::NoTouch(on_off(&next(&mut args)?)?),
        _ => return Err(CommandError::unknown_subcommand(&sub, "CLIENT")),
    };
    Ok(Command::Client(cmd))
}

/// `CLIENT LIST [TYPE type] | [ID id [id ...]]`, as Redis: TYPE only with exactly one
/// value, ID with one or more.
fn client_list(mut args: Args, argc: usize) -> Result<ClientCommand, CommandError> {
    let Some(opt) = args.next() else {
        return Ok(ClientCommand::List {
            kind: None,
            ids: Vec::new(),
        });
    };
    if argc == 4 && is(&opt, "TYPE") {
        let kind = client_type(&next(&mut args)?)?;
        return Ok(ClientCommand::List {
            kind: Some(kind),
            ids: Vec::new(),
        });
    }
    if argc > 3 && is(&opt, "ID") {
        let ids = args
            .map(|id| parse_i64(&id).ok_or(CommandError::InvalidClientId))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ClientCommand::List { kind: None, ids });
    }
    Err(CommandError::Syntax)
}

/// `CLIENT KILL addr` (exactly one argument) or `CLIENT KILL <filter> <value> ...`.
fn client_kill(mut args: Args, argc: usize) -> Result<ClientKill, CommandError> {
    if argc == 3 {
        return Ok(ClientKill::Addr(next(&mut args)?));
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
    Ok(ClientKill::Filter(filter))
}
