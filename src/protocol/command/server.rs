//! Server commands: COMMAND and its subcommands (the table clients and redis-cli's hints
//! read), CONFIG and its subcommands, INFO, TIME, SHUTDOWN; their rows, their typed form
//! and their parsers. `server/commands/server.rs` runs them.

use bytes::Bytes;

use super::args::{is, next, Args};
use super::table::{row, CommandSpec};
use super::CommandError;

/// A server command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCommand {
    /// `COMMAND [COUNT | INFO ... | DOCS ... | LIST ... | GETKEYS ... | HELP]`.
    Command(CommandQuery),
    /// `CONFIG <subcommand>`.
    Config(ConfigCommand),
    /// `INFO [section [section ...]]`.
    Info {
        /// Requested sections as sent (empty: the default set).
        sections: Vec<Bytes>,
    },
    /// `TIME`.
    Time,
    /// `BGSAVE [SCHEDULE]` (`background`) and `SAVE`: a checkpoint of the data.
    Save {
        /// BGSAVE: reply once it has started.
        background: bool,
    },
    /// `LASTSAVE`.
    LastSave,
    /// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`.
    Shutdown {
        /// `Some(true)` for SAVE, `Some(false)` for NOSAVE.
        save: Option<bool>,
        /// NOW: skip waiting for replicas.
        now: bool,
        /// FORCE: ignore errors on the way down.
        force: bool,
        /// ABORT: cancel a shutdown in progress (never combined with the others).
        abort: bool,
    },
}

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
    /// `COMMAND GETKEYS command [arg ...]`: the request whose keys to report.
    GetKeys(Vec<Bytes>),
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

/// The server commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("bgsave", -1, [ADMIN, NOSCRIPT, NO_ASYNC_LOADING], (0, 0, 0), [], "server", "1.0.0",
        "Asynchronously saves the database(s) to disk.",
        "[SCHEDULE]", bgsave),
    row!("command", -1, [LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "server", "2.8.13",
        "Returns detailed information about all commands.",
        "", |_| Ok(CommandQuery::All),
        subcommands: COMMAND_SUBCOMMANDS),
    row!("config", -2, [], (0, 0, 0), [], "server", "2.0.0",
        "A container for server configuration commands.",
        "", |_| Err::<ServerCommand, _>(CommandError::Syntax),
        subcommands: CONFIG_SUBCOMMANDS),
    row!("info", -1, [LOADING, STALE, SENTINEL], (0, 0, 0), [DANGEROUS], "server", "1.0.0",
        "Returns information and statistics about the server.",
        "[section [section ...]]", |a: &mut Args| Ok(ServerCommand::Info { sections: a.collect() })),
    row!("lastsave", 1, [LOADING, STALE, FAST], (0, 0, 0), [ADMIN, DANGEROUS], "server", "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk.",
        "", |_| Ok(ServerCommand::LastSave)),
    row!("save", 1, [ADMIN, NOSCRIPT, NO_ASYNC_LOADING, NO_MULTI], (0, 0, 0), [], "server", "1.0.0",
        "Synchronously saves the database(s) to disk.",
        "", |_| Ok(ServerCommand::Save { background: false })),
    row!("shutdown", -1, [ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI, SENTINEL, ALLOW_BUSY], (0, 0, 0),
        [], "server", "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]", shutdown),
    row!("time", 1, [LOADING, STALE, FAST], (0, 0, 0), [], "server", "2.6.0",
        "Returns the server time.",
        "", |_| Ok(ServerCommand::Time)),
];

/// COMMAND's subcommands, sorted by name.
#[rustfmt::skip]
static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    row!("command|count", 2, [LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "server", "2.8.13",
        "Returns a count of commands.",
        "", |_| Ok(CommandQuery::Count)),
    row!("command|docs", -2, [LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "server", "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
        "[command-name [command-name ...]]", |a: &mut Args| Ok(CommandQuery::Docs(a.collect()))),
    row!("command|getkeys", -4, [LOADING, STALE], (0, 0, 0), [CONNECTION], "server", "2.8.13",
        "Extracts the key names from an arbitrary command.",
        "command [arg [arg ...]]", |a: &mut Args| Ok(CommandQuery::GetKeys(a.collect()))),
    row!("command|help", 2, [LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "server", "5.0.0",
        "Returns helpful text about the different subcommands.",
        "", |_| Ok(CommandQuery::Help)),
    row!("command|info", -2, [LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "server", "2.8.13",
        "Returns information about one, multiple or all commands.",
        "[command-name [command-name ...]]", |a: &mut Args| Ok(CommandQuery::Info(a.collect()))),
    row!("command|list", -2, [LOADING, STALE, SENTINEL], (0, 0, 0), [CONNECTION], "server", "7.0.0",
        "Returns a list of command names.",
        "[FILTERBY <MODULE module-name|ACLCAT category|PATTERN pattern>]",
        |a| Ok(CommandQuery::List(command_list_filter(a)?))),
];

/// CONFIG's subcommands, sorted by name.
#[rustfmt::skip]
static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    row!("config|get", -3, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), [], "server", "2.0.0",
        "Returns the effective values of configuration parameters.",
        "parameter [parameter ...]", |a: &mut Args| Ok(ConfigCommand::Get(a.collect()))),
    row!("config|help", 2, [LOADING, STALE], (0, 0, 0), [], "server", "5.0.0",
        "Returns helpful text about the different subcommands.",
        "", |_| Ok(ConfigCommand::Help)),
    row!("config|resetstat", 2, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), [], "server", "2.0.0",
        "Resets the server's statistics.",
        "", |_| Ok(ConfigCommand::ResetStat)),
    row!("config|rewrite", 2, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), [], "server", "2.8.0",
        "Persists the effective configuration to file.",
        "", |_| Ok(ConfigCommand::Rewrite)),
    row!("config|set", -4, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), [], "server", "2.0.0",
        "Sets configuration parameters in-flight.",
        "parameter value [parameter value ...]", config_set),
];

/// `CONFIG SET parameter value [parameter value ...]`: Redis 7.0 checks the pairing
/// itself and calls a dangling name a syntax error.
fn config_set(args: &mut Args) -> Result<ConfigCommand, CommandError> {
    if !args.argc().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let mut pairs: Vec<(Bytes, Bytes)> = Vec::with_capacity(args.len() / 2);
    while let (Some(k), Some(v)) = (args.next(), args.next()) {
        pairs.push((k, v));
    }
    Ok(ConfigCommand::Set(pairs))
}

/// `BGSAVE [SCHEDULE]`: Cairn starts one at once or answers that one is running, so
/// SCHEDULE changes nothing.
fn bgsave(args: &mut Args) -> Result<ServerCommand, CommandError> {
    match (args.next(), args.next()) {
        (None, _) => {}
        (Some(option), None) if is(&option, "SCHEDULE") => {}
        _ => return Err(CommandError::Syntax),
    }
    Ok(ServerCommand::Save { background: true })
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: ABORT alone; not both SAVE and NOSAVE.
fn shutdown(args: &mut Args) -> Result<ServerCommand, CommandError> {
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
    Ok(ServerCommand::Shutdown {
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

/// `COMMAND LIST [FILTERBY <MODULE|ACLCAT|PATTERN> value]`.
fn command_list_filter(args: &mut Args) -> Result<Option<CommandListFilter>, CommandError> {
    let mut filter = None;
    while let Some(opt) = args.next() {
        if !(is(&opt, "FILTERBY") && args.len() == 2) {
            return Err(CommandError::Syntax);
        }
        let kind = next(args)?;
        let value = next(args)?;
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
