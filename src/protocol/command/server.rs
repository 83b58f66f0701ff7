//! Parsers for connection and server commands, including the containers COMMAND and
//! CONFIG (CLIENT has its own file).
//!
//! Each takes the arguments after the name, arity already checked against the table;
//! containers check their subcommand's arity against the subcommand table themselves.

use bytes::Bytes;

use super::args::{int, is, next, parse_i64, Args};
use super::error::render_full;
use super::table::CommandSpec;
use super::{validate_client_name, Command, CommandError};

/// `COMMAND` and its subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandQuery {
    /// `COMMAND`: info on every command.
    All,
    /// `COMMAND COUNT`.
    Count,
    /// `COMMAND INFO [name ...]` (no names: every command).
    Info(Vec<Bytes>),
    /// `COMMAND DOCS [name ...]` (no names: every command).
    Docs(Vec<Bytes>),
    /// `COMMAND LIST [FILTERBY <MODULE m | ACLCAT c | PATTERN p>]`.
    List(Option<CommandListFilter>),
    /// `COMMAND HELP`.
    Help,
}

/// The filter of COMMAND LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandListFilter {
    /// `FILTERBY MODULE name` (Cairn has no modules: matches nothing).
    Module(Bytes),
    /// `FILTERBY ACLCAT category`.
    AclCat(Bytes),
    /// `FILTERBY PATTERN glob`.
    Pattern(Bytes),
}

/// `CONFIG` subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigCommand {
    /// `CONFIG GET parameter [parameter ...]` (glob patterns).
    Get(Vec<Bytes>),
    /// `CONFIG SET parameter value [parameter value ...]`.
    Set(Vec<(Bytes, Bytes)>),
    /// `CONFIG RESETSTAT`.
    ResetStat,
    /// `CONFIG REWRITE`.
    Rewrite,
    /// `CONFIG HELP`.
    Help,
}

/// `PING [message]`: Redis's arity is -1 but more than one argument is an arity error.
pub(super) fn ping(mut args: Args) -> Result<Command, CommandError> {
    if args.len() > 1 {
        return Err(CommandError::WrongArgumentCount { command: "ping" });
    }
    Ok(Command::Ping {
        message: args.next(),
    })
}

/// `ECHO message`.
pub(super) fn echo(mut args: Args) -> Result<Command, CommandError> {
    Ok(Command::Echo {
        message: next(&mut args)?,
    })
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`, as Redis's
/// `helloCommand`: a version outside 2..=3 stops parsing (the server answers NOPROTO).
pub(super) fn hello(mut args: Args) -> Result<Command, CommandError> {
    let Some(raw) = args.next() else {
        return Ok(Command::Hello {
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
                auth = Some((next(&mut args)?, next(&mut args)?));
            } else if is(&opt, "SETNAME") && more >= 1 {
                // Redis 7.2 validates the name while reading options, before AUTH runs.
                let name = next(&mut args)?;
                validate_client_name(&name)?;
                setname = Some(name);
            } else {
                return Err(CommandError::HelloOption(render_full(&opt)));
            }
        }
    }
    Ok(Command::Hello {
        protover: Some(protover),
        auth,
        setname,
    })
}

/// `AUTH [username] password`: more than two arguments is a syntax error, as Redis.
pub(super) fn auth(mut args: Args) -> Result<Command, CommandError> {
    match (args.next(), args.next(), args.next()) {
        (Some(password), None, _) => Ok(Command::Auth {
            username: None,
            password,
        }),
        (Some(username), Some(password), None) => Ok(Command::Auth {
            username: Some(username),
            password,
        }),
        _ => Err(CommandError::Syntax),
    }
}

/// `SELECT index`: a 32-bit integer, as Redis's `getIntFromObjectOrReply`.
pub(super) fn select(mut args: Args) -> Result<Command, CommandError> {
    let index = int(&next(&mut args)?)?;
    if i32::try_from(index).is_err() {
        return Err(CommandError::OutOfRange {
            min: i32::MIN.into(),
            max: i32::MAX.into(),
        });
    }
    Ok(Command::Select { index })
}

/// `INFO [section ...]`.
pub(super) fn info(args: Args) -> Result<Command, CommandError> {
    Ok(Command::Info {
        sections: args.collect(),
    })
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: ABORT alone; not both SAVE and NOSAVE.
pub(super) fn shutdown(args: Args) -> Result<Command, CommandError> {
    let (mut save, mut nosave, mut now, mut force, mut abort) = (false, false, false, false, false);
    for opt in args {
        if is(&opt, "NOSAVE") {
            nosave = true;
        } else if is(&opt, "SAVE") {
            save = true;
        } else if is(&opt, "NOW") {
            now = true;
        } else if is(&opt, "FORCE") {
            force = true;
        } else if is(&opt, "ABORT") {
            abort = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if (abort && (save || nosave || now || force)) || (save && nosave) {
        return Err(CommandError::Syntax);
    }
    Ok(Command::Shutdown {
        save: if save {
            Some(true)
        } else if nosave {
            Some(false)
        } else {
            None
        },
        now,
        force,
        abort,
    })
}

/// Finds a container's subcommand and checks its arity (`argc` counts the parent and
/// the subcommand): Redis's errors for an unknown one and for a wrong count.
pub(super) fn subcommand(
    parent: &'static CommandSpec,
    upper: &'static str,
    sub: &[u8],
    argc: usize,
) -> Result<&'static CommandSpec, CommandError> {
    let spec = parent
        .subcommand(sub)
        .ok_or_else(|| CommandError::unknown_subcommand(sub, upper))?;
    if !spec.arity_accepts(argc) {
        return Err(CommandError::WrongArity { command: spec.name });
    }
    Ok(spec)
}

/// `COMMAND [COUNT | INFO ... | DOCS ... | LIST ... | HELP]`.
pub(super) fn command(
    parent: &'static CommandSpec,
    mut args: Args,
) -> Result<Command, CommandError> {
    let argc = args.len() + 1;
    let Some(sub) = args.next() else {
        return Ok(Command::CommandInfo(CommandQuery::All));
    };
    let spec = subcommand(parent, "COMMAND", &sub, argc)?;
    let query = match spec.short_name() {
        "count" => CommandQuery::Count,
        "help" => CommandQuery::Help,
        "info" => CommandQuery::Info(args.collect()),
        "docs" => CommandQuery::Docs(args.collect()),
        "list" => CommandQuery::List(command_list_filter(args)?),
        _ => return Err(CommandError::unknown_subcommand(&sub, "COMMAND")),
    };
    Ok(Command::CommandInfo(query))
}

/// `COMMAND LIST [FILTERBY <MODULE|ACLCAT|PATTERN> value]`.
fn command_list_filter(mut args: Args) -> Result<Option<CommandListFilter>, CommandError> {
    let mut filter = None;
    while let Some(opt) = args.next() {
        if !(is(&opt, "FILTERBY") && args.len() == 2) {
            return Err(CommandError::Syntax);
        }
        let kind = next(&mut args)?;
        let value = next(&mut args)?;
        filter = Some(if is(&kind, "MODULE") {
            CommandListFilter::Module(value)
        } else if is(&kind, "ACLCAT") {
            CommandListFilter::AclCat(value)
        } else if is(&kind, "PATTERN") {
            CommandListFilter::Pattern(value)
        } else {
            return Err(CommandError::Syntax);
        });
    }
    Ok(filter)
}

/// `CONFIG <GET|SET|RESETSTAT|REWRITE|HELP> ...`.
pub(super) fn config(
    parent: &'static CommandSpec,
    mut args: Args,
) -> Result<Command, CommandError> {
    let argc = args.len() + 1;
    let sub = next(&mut args)?;
    let spec = subcommand(parent, "CONFIG", &sub, argc)?;
    let cmd = match spec.short_name() {
        "get" => ConfigCommand::Get(args.collect()),
        "set" => {
            // Redis 7.0 checks the pairing itself and calls a dangling name a syntax error.
            if !argc.is_multiple_of(2) {
                return Err(CommandError::Syntax);
            }
            let mut pairs: Vec<(Bytes, Bytes)> = Vec::with_capacity(args.len() / 2);
            while let (Some(k), Some(v)) = (args.next(), args.next()) {
                pairs.push((k, v));
            }
            ConfigCommand::Set(pairs)
        }
        "resetstat" => ConfigCommand::ResetStat,
        "rewrite" => ConfigCommand::Rewrite,
        "help" => ConfigCommand::Help,
        _ => return Err(CommandError::unknown_subcommand(&sub, "CONFIG")),
    };
    Ok(Command::Config(cmd))
}
