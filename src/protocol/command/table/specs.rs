//! The data of the command table: every command's metadata and parser.
//!
//! Pure static data built by macros at compile time; the lookup lives in `table.rs`.

use super::CommandSpec;
use crate::protocol::command::{client, keys, server, strings, Command, CommandError, ExpireAt};

/// The parser of each command, by name (subcommands are parsed by their container).
macro_rules! parser {
    ("get") => {
        |_, a| strings::get(a)
    };
    ("set") => {
        |_, a| strings::set(a)
    };
    ("setex") => {
        |_, a| strings::setex(a, false)
    };
    ("psetex") => {
        |_, a| strings::setex(a, true)
    };
    ("getset") => {
        |_, a| strings::getset(a)
    };
    ("setnx") => {
        |_, a| strings::setnx(a)
    };
    ("getdel") => {
        |_, a| strings::getdel(a)
    };
    ("getex") => {
        |_, a| strings::getex(a)
    };
    ("mget") => {
        |_, a| strings::mget(a)
    };
    ("mset") => {
        |_, a| strings::mset(a, false)
    };
    ("msetnx") => {
        |_, a| strings::mset(a, true)
    };
    ("append") => {
        |_, a| strings::append(a)
    };
    ("strlen") => {
        |_, a| strings::strlen(a)
    };
    ("getrange") => {
        |_, a| strings::getrange(a)
    };
    ("substr") => {
        |_, a| strings::getrange(a)
    };
    ("setrange") => {
        |_, a| strings::setrange(a)
    };
    ("incr") => {
        |_, a| strings::incrby(a, 1, false)
    };
    ("decr") => {
        |_, a| strings::incrby(a, -1, false)
    };
    ("incrby") => {
        |_, a| strings::incrby(a, 1, true)
    };
    ("decrby") => {
        |_, a| strings::incrby(a, -1, true)
    };
    ("incrbyfloat") => {
        |_, a| strings::incrbyfloat(a)
    };
    ("delex") => {
        |_, a| strings::delex(a)
    };
    ("digest") => {
        |_, a| strings::digest(a)
    };
    ("del") => {
        |_, a| keys::del(a)
    };
    ("unlink") => {
        |_, a| keys::del(a)
    };
    ("exists") => {
        |_, a| keys::many_keys(a, |keys| Command::Exists { keys })
    };
    ("type") => {
        |_, a| keys::one_key(a, |key| Command::Type { key })
    };
    ("expire") => {
        |_, a| keys::expire(a, ExpireAt::Seconds)
    };
    ("pexpire") => {
        |_, a| keys::expire(a, ExpireAt::Millis)
    };
    ("expireat") => {
        |_, a| keys::expire(a, ExpireAt::UnixSeconds)
    };
    ("pexpireat") => {
        |_, a| keys::expire(a, ExpireAt::UnixMillis)
    };
    ("ttl") => {
        |_, a| keys::one_key(a, |key| Command::Ttl { key })
    };
    ("pttl") => {
        |_, a| keys::one_key(a, |key| Command::PTtl { key })
    };
    ("expiretime") => {
        |_, a| keys::one_key(a, |key| Command::ExpireTime { key })
    };
    ("pexpiretime") => {
        |_, a| keys::one_key(a, |key| Command::PExpireTime { key })
    };
    ("persist") => {
        |_, a| keys::one_key(a, |key| Command::Persist { key })
    };
    ("keys") => {
        |_, a| keys::keys(a)
    };
    ("scan") => {
        |_, a| keys::scan(a)
    };
    ("rename") => {
        |_, a| keys::rename(a, false)
    };
    ("renamenx") => {
        |_, a| keys::rename(a, true)
    };
    ("dbsize") => {
        |_, _| Ok(Command::DbSize)
    };
    ("flushdb") => {
        |_, a| keys::flush(a, false)
    };
    ("flushall") => {
        |_, a| keys::flush(a, true)
    };
    ("range") => {
        |_, a| keys::range(a, false)
    };
    ("rangekeys") => {
        |_, a| keys::range(a, true)
    };
    ("multi") => {
        |_, _| Ok(Command::Multi)
    };
    ("exec") => {
        |_, _| Ok(Command::Exec)
    };
    ("discard") => {
        |_, _| Ok(Command::Discard)
    };
    ("watch") => {
        |_, a| keys::many_keys(a, |keys| Command::Watch { keys })
    };
    ("unwatch") => {
        |_, _| Ok(Command::Unwatch)
    };
    ("ping") => {
        |_, a| server::ping(a)
    };
    ("echo") => {
        |_, a| server::echo(a)
    };
    ("hello") => {
        |_, a| server::hello(a)
    };
    ("auth") => {
        |_, a| server::auth(a)
    };
    ("select") => {
        |_, a| server::select(a)
    };
    ("quit") => {
        |_, _| Ok(Command::Quit)
    };
    ("reset") => {
        |_, _| Ok(Command::Reset)
    };
    ("client") => {
        |spec, a| client::client(spec, a)
    };
    ("command") => {
        |spec, a| server::command(spec, a)
    };
    ("config") => {
        |spec, a| server::config(spec, a)
    };
    ("info") => {
        |_, a| server::info(a)
    };
    ("time") => {
        |_, _| Ok(Command::Time)
    };
    ("shutdown") => {
        |_, a| server::shutdown(a)
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

/// Every RESP command Cairn accepts, sorted by name; a constant so the lookup index
/// is built from it at compile time.
pub(super) const TABLE: &[CommandSpec] = &[
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
#[rustfmt::skip]
static CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    sub!("client|getname", 2, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0, "connection", "2.6.9",
        "Returns the name of the connection.",
        ""),
    sub!("client|help", 2, ["loading", "stale", "sentinel"], 0, 0, 0, "connection", "5.0.0",
        "Returns helpful text about the different subcommands.",
        ""),
    sub!("client|id", 2, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0, "connection", "5.0.0",
        "Returns the unique client ID of the connection.",
        ""),
    sub!("client|info", 2, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0, "connection", "6.2.0",
        "Returns information about the connection.",
        ""),
    sub!("client|kill", -3, ["admin", "noscript", "loading", "stale", "sentinel"], 0, 0, 0, "connection", "2.4.0",
        "Terminates open connections.",
        "<ip:port|<[ID client-id] [TYPE <NORMAL|MASTER|SLAVE|REPLICA|PUBSUB>] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME <YES|NO>] [MAXAGE maxage]>>"),
    sub!("client|list", -2, ["admin", "noscript", "loading", "stale", "sentinel"], 0, 0, 0, "connection", "2.4.0",
        "Lists open connections.",
        "[TYPE <NORMAL|MASTER|REPLICA|PUBSUB>] [ID client-id [client-id ...]]"),
    sub!("client|no-evict", 3, ["admin", "noscript", "loading", "stale", "sentinel"], 0, 0, 0, "connection", "7.0.0",
        "Sets the client eviction mode of the connection.",
        "ON|OFF"),
    sub!("client|no-touch", 3, ["noscript", "loading", "stale"], 0, 0, 0, "connection", "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        "ON|OFF"),
    sub!("client|setinfo", 4, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0, "connection", "7.2.0",
        "Sets information specific to the client or connection.",
        "LIB-NAME libname|LIB-VER libver"),
    sub!("client|setname", 3, ["noscript", "loading", "stale", "sentinel"], 0, 0, 0, "connection", "2.6.9",
        "Sets the connection name.",
        "connection-name"),
];

/// COMMAND's subcommands, sorted by name.
#[rustfmt::skip]
static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    sub!("command|count", 2, ["loading", "stale", "sentinel"], 0, 0, 0, "server", "2.8.13",
        "Returns a count of commands.",
        ""),
    sub!("command|docs", -2, ["loading", "stale", "sentinel"], 0, 0, 0, "server", "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
        "[command-name [command-name ...]]"),
    sub!("command|help", 2, ["loading", "stale", "sentinel"], 0, 0, 0, "server", "5.0.0",
        "Returns helpful text about the different subcommands.",
        ""),
    sub!("command|info", -2, ["loading", "stale", "sentinel"], 0, 0, 0, "server", "2.8.13",
        "Returns information about one, multiple or all commands.",
        "[command-name [command-name ...]]"),
    sub!("command|list", -2, ["loading", "stale", "sentinel"], 0, 0, 0, "server", "7.0.0",
        "Returns a list of command names.",
        "[FILTERBY <MODULE module-name|ACLCAT category|PATTERN pattern>]"),
];

/// CONFIG's subcommands, sorted by name.
#[rustfmt::skip]
static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    sub!("config|get", -3, ["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "2.0.0",
        "Returns the effective values of configuration parameters.",
        "parameter [parameter ...]"),
    sub!("config|help", 2, ["loading", "stale"], 0, 0, 0, "server", "5.0.0",
        "Returns helpful text about the different subcommands.",
        ""),
    sub!("config|resetstat", 2, ["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "2.0.0",
        "Resets the server's statistics.",
        ""),
    sub!("config|rewrite", 2, ["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "2.8.0",
        "Persists the effective configuration to file.",
        ""),
    sub!("config|set", -4, ["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "2.0.0",
        "Sets configuration parameters in-flight.",
        "parameter value [parameter value ...]"),
];
