//! The command table: every command `Command::parse` accepts, with Redis's metadata.
//!
//! COMMAND COUNT/INFO/DOCS and cairn-cli's completion and hints read it, and parse takes
//! its arity checks and its parsers from it, so the two never disagree. It holds only
//! static data, built at compile time: no allocation, no initialisation at run time.

use super::args::Args;
use super::{Command, CommandError};

/// One command (or subcommand) as COMMAND INFO and COMMAND DOCS describe it.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name; subcommands are `parent|sub` as Redis 7 names them.
    pub name: &'static str,
    /// Argument count including the name (and the subcommand); negative = at least.
    pub arity: i32,
    /// Flags as COMMAND INFO reports them (`write`, `readonly`, `fast`, ...).
    pub flags: &'static [&'static str],
    /// Position of the first key argument (0: no keys).
    pub first_key: i32,
    /// Position of the last key argument (-1: the last argument).
    pub last_key: i32,
    /// Step between key arguments.
    pub step: i32,
    /// Redis's command group (`string`, `generic`, ...; `cairn` for Cairn's own).
    pub group: &'static str,
    /// The Redis (or Cairn) version that introduced it.
    pub since: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Arguments after the name, as redis-cli's hints show them.
    pub syntax: &'static str,
    /// Subcommands of a container command (CLIENT, CONFIG, COMMAND), sorted by name.
    pub subcommands: &'static [CommandSpec],
    /// Builds the command from the arguments after the name (arity already checked).
    pub(super) parse: Parser,
}

/// A command's parser: its own table entry and the arguments after the name.
pub(super) type Parser = fn(&'static CommandSpec, Args) -> Result<Command, CommandError>;

/// Two entries are equal when they describe the same command (names are unique).
impl PartialEq for CommandSpec {
    fn eq(&self, other: &CommandSpec) -> bool {
        self.name == other.name
    }
}

impl Eq for CommandSpec {}

impl CommandSpec {
    /// Whether a request of `argc` arguments (name included) fits the arity.
    #[inline]
    pub fn arity_accepts(&self, argc: usize) -> bool {
        let arity = self.arity.unsigned_abs() as usize;
        if self.arity >= 0 {
            argc == arity
        } else {
            argc >= arity
        }
    }

    /// The subcommand called `name` (case-insensitive), for a container command.
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|sub| {
            let short = sub.name.rsplit('|').next().unwrap_or(sub.name);
            short.as_bytes().eq_ignore_ascii_case(name)
        })
    }

    /// The name without its parent, upper-case when displayed by callers
    /// (`client|setname` gives `setname`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }
}

/// Longest command name in the table; longer input is rejected without a search.
const MAX_NAME: usize = 16;

/// For each first letter `a`..=`z`, the range of [`COMMANDS`] starting with it.
static BY_LETTER: [(u8, u8); 26] = by_letter();

const fn by_letter() -> [(u8, u8); 26] {
    let mut ranges = [(0u8, 0u8); 26];
    let mut i = 0;
    while i < TABLE.len() {
        let slot = (TABLE[i].name.as_bytes()[0] - b'a') as usize;
        if ranges[slot].1 == 0 {
            ranges[slot].0 = i as u8;
        }
        ranges[slot].1 = i as u8 + 1;
        i += 1;
    }
    ranges
}

/// The table entry for a command name, case-insensitive, without allocating: the
/// first letter picks a handful of candidates, the length rules out most of them.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > MAX_NAME {
        return None;
    }
    let first = name.first()?.to_ascii_lowercase();
    if !first.is_ascii_lowercase() {
        return None;
    }
    let (start, end) = BY_LETTER[usize::from(first - b'a')];
    TABLE[usize::from(start)..usize::from(end)]
        .iter()
        .find(|spec| {
            spec.name.len() == name.len() && spec.name.as_bytes().eq_ignore_ascii_case(name)
        })
}

/// The parser of each command, by name (subcommands are parsed by their container).
macro_rules! parser {
    ("get") => {
        |_, a| super::strings::get(a)
    };
    ("set") => {
        |_, a| super::strings::set(a)
    };
    ("setex") => {
        |_, a| super::strings::setex(a, false)
    };
    ("psetex") => {
        |_, a| super::strings::setex(a, true)
    };
    ("getset") => {
        |_, a| super::strings::getset(a)
    };
    ("setnx") => {
        |_, a| super::strings::setnx(a)
    };
    ("getdel") => {
        |_, a| super::strings::getdel(a)
    };
    ("getex") => {
        |_, a| super::strings::getex(a)
    };
    ("mget") => {
        |_, a| super::strings::mget(a)
    };
    ("mset") => {
        |_, a| super::strings::mset(a, false)
    };
    ("msetnx") => {
        |_, a| super::strings::mset(a, true)
    };
    ("append") => {
        |_, a| super::strings::append(a)
    };
    ("strlen") => {
        |_, a| super::strings::strlen(a)
    };
    ("getrange") => {
        |_, a| super::strings::getrange(a)
    };
    ("substr") => {
        |_, a| super::strings::getrange(a)
    };
    ("setrange") => {
        |_, a| super::strings::setrange(a)
    };
    ("incr") => {
        |_, a| super::strings::incrby(a, 1, false)
    };
    ("decr") => {
        |_, a| super::strings::incrby(a, -1, false)
    };
    ("incrby") => {
        |_, a| super::strings::incrby(a, 1, true)
    };
    ("decrby") => {
        |_, a| super::strings::incrby(a, -1, true)
    };
    ("incrbyfloat") => {
        |_, a| super::strings::incrbyfloat(a)
    };
    ("delex") => {
        |_, a| super::strings::delex(a)
    };
    ("digest") => {
        |_, a| super::strings::digest(a)
    };
    ("del") => {
        |_, a| super::keys::del(a)
    };
    ("unlink") => {
        |_, a| super::keys::del(a)
    };
    ("exists") => {
        |_, a| super::keys::many_keys(a, |keys| super::Command::Exists { keys })
    };
    ("type") => {
        |_, a| super::keys::one_key(a, |key| super::Command::Type { key })
    };
    ("expire") => {
        |_, a| super::keys::expire(a, super::ExpireAt::Seconds)
    };
    ("pexpire") => {
        |_, a| super::keys::expire(a, super::ExpireAt::Millis)
    };
    ("expireat") => {
        |_, a| super::keys::expire(a, super::ExpireAt::UnixSeconds)
    };
    ("pexpireat") => {
        |_, a| super::keys::expire(a, super::ExpireAt::UnixMillis)
    };
    ("ttl") => {
        |_, a| super::keys::one_key(a, |key| super::Command::Ttl { key })
    };
    ("pttl") => {
        |_, a| super::keys::one_key(a, |key| super::Command::PTtl { key })
    };
    ("expiretime") => {
        |_, a| super::keys::one_key(a, |key| super::Command::ExpireTime { key })
    };
    ("pexpiretime") => {
        |_, a| super::keys::one_key(a, |key| super::Command::PExpireTime { key })
    };
    ("persist") => {
        |_, a| super::keys::one_key(a, |key| super::Command::Persist { key })
    };
    ("keys") => {
        |_, a| super::keys::keys(a)
    };
    ("scan") => {
        |_, a| super::keys::scan(a)
    };
    ("rename") => {
        |_, a| super::keys::rename(a, false)
    };
    ("renamenx") => {
        |_, a| super::keys::rename(a, true)
    };
    ("dbsize") => {
        |_, _| Ok(super::Command::DbSize)
    };
    ("flushdb") => {
        |_, a| super::keys::flush(a, false)
    };
    ("flushall") => {
        |_, a| super::keys::flush(a, true)
    };
    ("range") => {
        |_, a| super::keys::range(a, false)
    };
    ("rangekeys") => {
        |_, a| super::keys::range(a, true)
    };
    ("multi") => {
        |_, _| Ok(super::Command::Multi)
    };
    ("exec") => {
        |_, _| Ok(super::Command::Exec)
    };
    ("discard") => {
        |_, _| Ok(super::Command::Discard)
    };
    ("watch") => {
        |_, a| super::keys::many_keys(a, |keys| super::Command::Watch { keys })
    };
    ("unwatch") => {
        |_, _| Ok(super::Command::Unwatch)
    };
    ("ping") => {
        |_, a| super::server::ping(a)
    };
    ("echo") => {
        |_, a| super::server::echo(a)
    };
    ("hello") => {
        |_, a| super::server::hello(a)
    };
    ("auth") => {
        |_, a| super::server::auth(a)
    };
    ("select") => {
        |_, a| super::server::select(a)
    };
    ("quit") => {
        |_, _| Ok(super::Command::Quit)
    };
    ("reset") => {
        |_, _| Ok(super::Command::Reset)
    };
    ("client") => {
        |spec, a| super::client::client(spec, a)
    };
    ("command") => {
        |spec, a| super::server::command(spec, a)
    };
    ("config") => {
        |spec, a| super::server::config(spec, a)
    };
    ("info") => {
        |_, a| super::server::info(a)
    };
    ("time") => {
        |_, _| Ok(super::Command::Time)
    };
    ("shutdown") => {
        |_, a| super::server::shutdown(a)
    };
}

/// A table entry; its parser comes from `parser!`, so a command without one does not
/// compile. Subcommand entries (`sub!`) are parsed by their container instead.
macro_rules! spec {
    ($name:tt, $arity:literal, [$($flag:literal),*], $first:literal, $last:literal,
     $step:literal, $group:literal, $since:literal, $summary:literal, $syntax:literal) => {
        spec!($name, $arity, [$($flag),*], $first, $last, $step, $group, $since, $summary,
              $syntax, &[])
    };
    ($name:tt, $arity:literal, [$($flag:literal),*], $first:literal, $last:literal,
     $step:literal, $group:literal, $since:literal, $summary:literal, $syntax:literal,
     $subs:expr) => {
        entry!($name, $arity, [$($flag),*], $first, $last, $step, $group, $since, $summary,
               $syntax, $subs, parser!($name))
    };
}

/// A subcommand entry: its container's parser handles it, so its own never runs.
macro_rules! sub {
    ($name:tt, $arity:literal, [$($flag:literal),*], $first:literal, $last:literal,
     $step:literal, $group:literal, $since:literal, $summary:literal, $syntax:literal) => {
        entry!($name, $arity, [$($flag),*], $first, $last, $step, $group, $since, $summary,
               $syntax, &[], |_, _| Err(CommandError::Syntax))
    };
}

macro_rules! entry {
    ($name:tt, $arity:literal, [$($flag:literal),*], $first:literal, $last:literal,
     $step:literal, $group:literal, $since:literal, $summary:literal, $syntax:literal,
     $subs:expr, $parse:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: &[$($flag),*],
            first_key: $first,
            last_key: $last,
            step: $step,
            group: $group,
            since: $since,
            summary: $summary,
            syntax: $syntax,
            subcommands: $subs,
            parse: $parse,
        }
    };
}

/// Every RESP command Cairn accepts, sorted by name.
pub static COMMANDS: &[CommandSpec] = TABLE;

/// The table itself, as a constant so the lookup index below is built at compile time.
const TABLE: &[CommandSpec] = &[
    spec!("append", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "2.0.0",
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        "key value"),
    spec!("auth", -2, ["noscript", "loading", "stale", "fast", "no_auth", "sentinel", "allow_busy"],
        0, 0, 0, "connection", "1.0.0", "Authenticates the connection.",
        "[username] password"),
    spec!("client", -2, [], 0, 0, 0, "connection", "2.4.0",
        "A container for client connection commands.", "", CLIENT_SUBCOMMANDS),
    spec!("command", -1, ["loading", "stale", "sentinel"], 0, 0, 0, "server", "2.8.13",
        "Returns detailed information about all commands.", "", COMMAND_SUBCOMMANDS),
    spec!("config", -2, [], 0, 0, 0, "server", "2.0.0",
        "A container for server configuration commands.", "", CONFIG_SUBCOMMANDS),
    spec!("dbsize", 1, ["readonly", "fast"], 0, 0, 0, "server", "1.0.0",
        "Returns the number of keys in the database.", ""),
    spec!("decr", 2, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "key"),
    spec!("decrby", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        "key decrement"),
    spec!("del", -2, ["write"], 1, -1, 1, "generic", "1.0.0",
        "Deletes one or more keys.", "key [key ...]"),
    spec!("delex", -2, ["write", "fast"], 1, 1, 1, "string", "8.4.0",
        "Conditionally removes the specified key based on value or digest comparison.",
        "key [IFEQ match-value|IFNE match-value|IFDEQ match-digest|IFDNE match-digest]"),
    spec!("digest", 2, ["readonly", "fast"], 1, 1, 1, "string", "8.4.0",
        "Returns the XXH3 hash of a string value.", "key"),
    spec!("discard", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0,
        "transactions", "2.0.0", "Discards a transaction.", ""),
    spec!("echo", 2, ["fast"], 0, 0, 0, "connection", "1.0.0",
        "Returns the given string.", "message"),
    spec!("exec", 1, ["noscript", "loading", "stale", "skip_slowlog"], 0, 0, 0,
        "transactions", "1.2.0", "Executes all commands in a transaction.", ""),
    spec!("exists", -2, ["readonly", "fast"], 1, -1, 1, "generic", "1.0.0",
        "Determines whether one or more keys exist.", "key [key ...]"),
    spec!("expire", -3, ["write", "fast"], 1, 1, 1, "generic", "1.0.0",
        "Sets the expiration time of a key in seconds.", "key seconds [NX|XX|GT|LT]"),
    spec!("expireat", -3, ["write", "fast"], 1, 1, 1, "generic", "1.2.0",
        "Sets the expiration time of a key to a Unix timestamp.",
        "key unix-time-seconds [NX|XX|GT|LT]"),
    spec!("expiretime", 2, ["readonly", "fast"], 1, 1, 1, "generic", "7.0.0",
        "Returns the expiration time of a key as a Unix timestamp.", "key"),
    spec!("flushall", -1, ["write"], 0, 0, 0, "server", "1.0.0",
        "Removes all keys from all databases.", "[ASYNC|SYNC]"),
    spec!("flushdb", -1, ["write"], 0, 0, 0, "server", "1.0.0",
        "Remove all keys from the current database.", "[ASYNC|SYNC]"),
    spec!("get", 2, ["readonly", "fast"], 1, 1, 1, "string", "1.0.0",
        "Returns the string value of a key.", "key"),
    spec!("getdel", 2, ["write", "fast"], 1, 1, 1, "string", "6.2.0",
        "Returns the string value of a key after deleting the key.", "key"),
    spec!("getex", -2, ["write", "fast"], 1, 1, 1, "string", "6.2.0",
        "Returns the string value of a key after setting its expiration time.",
        "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"),
    spec!("getrange", 4, ["readonly"], 1, 1, 1, "string", "2.4.0",
        "Returns a substring of the string stored at a key.", "key start end"),
    spec!("getset", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0",
        "Returns the previous string value of a key after setting it to a new value.",
        "key value"),
    spec!("hello", -1, ["noscript", "loading", "stale", "fast", "no_auth", "sentinel", "allow_busy"],
        0, 0, 0, "connection", "6.0.0", "Handshakes with the Redis server.",
        "[protover [AUTH username password] [SETNAME clientname]]"),
    spec!("incr", 2, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "key"),
    spec!("incrby", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "key increment"),
    spec!("incrbyfloat", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "2.6.0",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "key increment"),
    spec!("info", -1, ["loading", "stale", "sentinel"], 0, 0, 0, "server", "1.0.0",
        "Returns information and statistics about the server.", "[section [section ...]]"),
    spec!("keys", 2, ["readonly"], 0, 0, 0, "generic", "1.0.0",
        "Returns all key names that match a pattern.", "pattern"),
    spec!("mget", -2, ["readonly", "fast"], 1, -1, 1, "string", "1.0.0",
        "Atomically returns the string values of one or more keys.", "key [key ...]"),
    spec!("mset", -3, ["write", "denyoom"], 1, -1, 2, "string", "1.0.1",
        "Atomically creates or modifies the string values of one or more keys.",
        "key value [key value ...]"),
    spec!("msetnx", -3, ["write", "denyoom"], 1, -1, 2, "string", "1.0.1",
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        "key value [key value ...]"),
    spec!("multi", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0,
        "transactions", "1.2.0", "Starts a transaction.", ""),
    spec!("persist", 2, ["write", "fast"], 1, 1, 1, "generic", "2.2.0",
        "Removes the expiration time of a key.", "key"),
    spec!("pexpire", -3, ["write", "fast"], 1, 1, 1, "generic", "2.6.0",
        "Sets the expiration time of a key in milliseconds.", "key milliseconds [NX|XX|GT|LT]"),
    spec!("pexpireat", -3, ["write", "fast"], 1, 1, 1, "generic", "2.6.0",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        "key unix-time-milliseconds [NX|XX|GT|LT]"),
    spec!("pexpiretime", 2, ["readonly", "fast"], 1, 1, 1, "generic", "7.0.0",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.", "key"),
    spec!("ping", -1, ["fast", "sentinel"], 0, 0, 0, "connection", "1.0.0",
        "Returns the server's liveliness response.", "[message]"),
    spec!("psetex", 4, ["write", "denyoom"], 1, 1, 1, "string", "2.6.0",
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        "key milliseconds value"),
    spec!("pttl", 2, ["readonly", "fast"], 1, 1, 1, "generic", "2.6.0",
        "Returns the expiration time in milliseconds of a key.", "key"),
    spec!("quit", -1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], 0, 0, 0,
        "connection", "1.0.0", "Closes the connection.", ""),
    spec!("range", -3, ["readonly"], 0, 0, 0, "cairn", "0.1.0",
        "Returns the keys and values in [start, end) in key order, from one snapshot (Cairn).",
        "start end [LIMIT count] [REV]"),
    spec!("rangekeys", -3, ["readonly"], 0, 0, 0, "cairn", "0.1.0",
        "Returns the keys in [start, end) in key order, from one snapshot (Cairn).",
        "start end [LIMIT count] [REV]"),
    spec!("rename", 3, ["write"], 1, 2, 1, "generic", "1.0.0",
        "Renames a key and overwrites the destination.", "key newkey"),
    spec!("renamenx", 3, ["write", "fast"], 1, 2, 1, "generic", "1.0.0",
        "Renames a key only when the target key name doesn't exist.", "key newkey"),
    spec!("reset", 1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], 0, 0, 0,
        "connection", "6.2.0", "Resets the connection.", ""),
    spec!("scan", -2, ["readonly"], 0, 0, 0, "generic", "2.8.0",
        "Iterates over the key names in the database.",
        "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    spec!("select", 2, ["loading", "stale", "fast"], 0, 0, 0, "connection", "1.0.0",
        "Changes the selected database.", "index"),
    spec!("set", -3, ["write", "denyoom"], 1, 1, 1, "string", "1.0.0",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        "key value [NX|XX|IFEQ match-value|IFNE match-value|IFDEQ match-digest|IFDNE match-digest] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
    spec!("setex", 4, ["write", "denyoom"], 1, 1, 1, "string", "2.0.0",
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
        "key seconds value"),
    spec!("setnx", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0",
        "Set the string value of a key only when the key doesn't exist.", "key value"),
    spec!("setrange", 4, ["write", "denyoom"], 1, 1, 1, "string", "2.2.0",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        "key offset value"),
    spec!("shutdown", -1, ["admin", "noscript", "loading", "stale", "no_multi", "sentinel", "allow_busy"],
        0, 0, 0, "server", "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"),
    spec!("strlen", 2, ["readonly", "fast"], 1, 1, 1, "string", "2.2.0",
        "Returns the length of a string value.", "key"),
    spec!("substr", 4, ["readonly"], 1, 1, 1, "string", "1.0.0",
        "Returns a substring from a string value.", "key start end"),
    spec!("time", 1, ["loading", "stale", "fast"], 0, 0, 0, "server", "2.6.0",
        "Returns the server time.", ""),
    spec!("ttl", 2, ["readonly", "fast"], 1, 1, 1, "generic", "1.0.0",
        "Returns the expiration time in seconds of a key.", "key"),
    spec!("type", 2, ["readonly", "fast"], 1, 1, 1, "generic", "1.0.0",
        "Determines the type of value stored at a key.", "key"),
    spec!("unlink", -2, ["write", "fast"], 1, -1, 1, "generic", "4.0.0",
        "Asynchronously deletes one or more keys.", "key [key ...]"),
    spec!("unwatch", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0,
        "transactions", "2.2.0", "Forgets about watched keys of a transaction.", ""),
    spec!("watch", -2, ["noscript", "loading", "stale", "fast", "allow_busy"], 1, -1, 1,
        "transactions", "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.", "key [key ...]"),
];

/// CLIENT's subcommands, sorted by name.
static CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    sub!("client|getname", 2, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0,
        "connection", "2.6.9", "Returns the name of the connection.", ""),
    sub!("client|help", 2, ["loading", "stale", "sentinel"], 0, 0, 0, "connection", "5.0.0",
        "Returns helpful text about the different subcommands.", ""),
    sub!("client|id", 2, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0,
        "connection", "5.0.0", "Returns the unique client ID of the connection.", ""),
    sub!("client|info", 2, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0,
        "connection", "6.2.0", "Returns information about the connection.", ""),
    sub!("client|kill", -3, ["admin", "noscript", "loading", "stale", "sentinel"], 0, 0, 0,
        "connection", "2.4.0", "Terminates open connections.",
        "ip:port|[ID client-id] [TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES|NO] [MAXAGE maxage]"),
    sub!("client|list", -2, ["admin", "noscript", "loading", "stale", "sentinel"], 0, 0, 0,
        "connection", "2.4.0", "Lists open connections.",
        "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]"),
    sub!("client|no-evict", 3, ["admin", "noscript", "loading", "stale", "sentinel"], 0, 0, 0,
        "connection", "7.0.0", "Sets the client eviction mode of the connection.", "ON|OFF"),
    sub!("client|no-touch", 3, ["noscript", "loading", "stale"], 0, 0, 0, "connection",
        "7.2.0", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        "ON|OFF"),
    sub!("client|setinfo", 4, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0,
        "connection", "7.2.0", "Sets information specific to the client or connection.",
        "LIB-NAME libname|LIB-VER libver"),
    sub!("client|setname", 3, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0,
        "connection", "2.6.9", "Sets the connection name.", "connection-name"),
];

/// COMMAND's subcommands, sorted by name.
static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    sub!(
        "command|count",
        2,
        ["loading", "stale", "sentinel"],
        0,
        0,
        0,
        "server",
        "2.8.13",
        "Returns a count of commands.",
        ""
    ),
    sub!(
        "command|docs",
        -2,
        ["loading", "stale", "sentinel"],
        0,
        0,
        0,
        "server",
        "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
        "[command-name [command-name ...]]"
    ),
    sub!(
        "command|help",
        2,
        ["loading", "stale", "sentinel"],
        0,
        0,
        0,
        "server",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        ""
    ),
    sub!(
        "command|info",
        -2,
        ["loading", "stale", "sentinel"],
        0,
        0,
        0,
        "server",
        "2.8.13",
        "Returns information about one, multiple or all commands.",
        "[command-name [command-name ...]]"
    ),
    sub!(
        "command|list",
        -2,
        ["loading", "stale", "sentinel"],
        0,
        0,
        0,
        "server",
        "7.0.0",
        "Returns a list of command names.",
        "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]"
    ),
];

/// CONFIG's subcommands, sorted by name.
static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    sub!(
        "config|get",
        -3,
        ["admin", "noscript", "loading", "stale"],
        0,
        0,
        0,
        "server",
        "2.0.0",
        "Returns the effective values of configuration parameters.",
        "parameter [parameter ...]"
    ),
    sub!(
        "config|help",
        2,
        ["loading", "stale"],
        0,
        0,
        0,
        "server",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        ""
    ),
    sub!(
        "config|resetstat",
        2,
        ["admin", "noscript", "loading", "stale"],
        0,
        0,
        0,
        "server",
        "2.0.0",
        "Resets the server's statistics.",
        ""
    ),
    sub!(
        "config|rewrite",
        2,
        ["admin", "noscript", "loading", "stale"],
        0,
        0,
        0,
        "server",
        "2.8.0",
        "Persists the effective configuration to file.",
        ""
    ),
    sub!(
        "config|set",
        -4,
        ["admin", "noscript", "loading", "stale"],
        0,
        0,
        0,
        "server",
        "2.0.0",
        "Sets configuration parameters in-flight.",
        "parameter value [parameter value ...]"
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_short() {
        for pair in COMMANDS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} !< {}",
                pair[0].name,
                pair[1].name
            );
        }
        for spec in COMMANDS {
            assert!(spec.name.len() <= MAX_NAME, "{}", spec.name);
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            for pair in spec.subcommands.windows(2) {
                assert!(pair[0].name < pair[1].name);
            }
            for sub in spec.subcommands {
                assert!(sub.name.starts_with(&format!("{}|", spec.name)));
            }
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"get").map(|s| s.name), Some("get"));
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert_eq!(lookup(b"INCRBYFLOAT").map(|s| s.name), Some("incrbyfloat"));
        assert!(lookup(b"").is_none());
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(b"getx").is_none());
        assert!(lookup(b"_get").is_none());
        assert!(lookup(b"\xc3get").is_none());
        assert!(lookup(&[0xff; 40]).is_none());
        for spec in COMMANDS {
            assert_eq!(lookup(spec.name.to_uppercase().as_bytes()), Some(spec));
        }
    }

    #[test]
    fn subcommand_lookup() {
        let client = lookup(b"client").expect("client");
        assert_eq!(
            client.subcommand(b"SetName").map(|s| s.name),
            Some("client|setname")
        );
        assert!(client.subcommand(b"nope").is_none());
        assert_eq!(
            client.subcommand(b"NO-EVICT").map(|s| s.short_name()),
            Some("no-evict")
        );
    }
}
