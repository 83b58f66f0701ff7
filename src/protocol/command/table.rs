//! The command table: one row per command, the only place a command's facts are written.
//!
//! A row ([`CommandSpec`]) holds the name, arity, flags, key positions, ACL categories and
//! docs, and the parser of the arguments that are not keys. Each family file
//! (`strings.rs`, `generic.rs`, ...) keeps its rows beside its parsers; this file merges them
//! at compile time into one sorted table ([`COMMANDS`]), so the lookup needs no
//! initialisation and allocates nothing. Everything else is derived from the rows: parse
//! takes its arity checks and its key arguments from them, COMMAND and cairn-cli report
//! them, and the server derives from the flags how a command runs (read, write or control;
//! inside a pipelined round or alone; queued inside MULTI or at once).

use bytes::Bytes;

use super::args::Args;
use super::{
    cluster, connection, generic, hashes, lists, pubsub, replication, scan, server, sets, strings,
    transactions, zsets,
};
use super::{CommandError, Family};

pub use super::flags::{AclCategories, Flags};

/// A command's parser: the arguments that are not keys (its row took those out) to the
/// family's command.
pub(super) type Parser = fn(&mut Args) -> Result<Family, CommandError>;

/// One command (or subcommand): what COMMAND INFO and COMMAND DOCS report, and how its
/// request parses.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name; subcommands are `parent|sub` as Redis 7 names them.
    pub name: &'static str,
    /// Argument count including the name (and the subcommand); negative = at least.
    pub arity: i32,
    /// Redis's flags and Cairn's own.
    pub flags: Flags,
    /// Position of the first key argument (0: no keys).
    pub first_key: i32,
    /// Position of the last key argument (negative: counted from the end, -1 the last).
    pub last_key: i32,
    /// Step between key arguments.
    pub step: i32,
    /// ACL categories the flags do not imply.
    pub acl: AclCategories,
    /// Redis's command group (`string`, `generic`, ...; `cairn` for Cairn's own).
    pub group: &'static str,
    /// The Redis (or Cairn) version that introduced it.
    pub since: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Arguments after the name, as redis-cli's hints show them: `[...]` optional,
    /// `<...>` a group, `a|b` one of, `x [x ...]` repeated, UPPER-CASE words literal
    /// tokens. [`CommandSpec::arguments`] turns it into COMMAND DOCS's argument tree.
    pub syntax: &'static str,
    /// Subcommands of a container command (CLIENT, CONFIG, COMMAND), sorted by name.
    pub subcommands: &'static [CommandSpec],
    /// Builds the command from its arguments that are not keys (arity already checked).
    pub(super) parse: Parser,
}

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
        self.subcommands
            .iter()
            .find(|sub| sub.short_name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// The name without its parent (`client|setname` gives `setname`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }

    /// The top-level command's name (`client|setname` gives `client`).
    pub fn command_name(&self) -> &'static str {
        self.name.split('|').next().unwrap_or(self.name)
    }

    /// Whether the command may change data.
    pub fn is_write(&self) -> bool {
        self.flags.contains(Flags::WRITE)
    }

    /// Every ACL category: the row's own and those its flags imply, as Redis's
    /// `setImplicitACLCategories` adds them.
    pub fn acl_categories(&self) -> AclCategories {
        let implied = [
            (Flags::WRITE, AclCategories::WRITE),
            (Flags::READONLY, AclCategories::READ),
            (
                Flags::ADMIN,
                AclCategories::ADMIN.union(AclCategories::DANGEROUS),
            ),
            (Flags::PUBSUB, AclCategories::PUBSUB),
            (Flags::FAST, AclCategories::FAST),
            (Flags::BLOCKING, AclCategories::BLOCKING),
        ];
        let mut categories = self.acl;
        for (flag, category) in implied {
            if self.flags.contains(flag) {
                categories |= category;
            }
        }
        if !categories.contains(AclCategories::FAST) {
            categories |= AclCategories::SLOW;
        }
        categories
    }

    /// Where the keys of a request of `argc` arguments are: the first and last positions
    /// and the step between them; `None` for a command without keys.
    #[inline]
    pub(super) fn key_span(&self, argc: usize) -> Option<(usize, usize, usize)> {
        let first = usize::try_from(self.first_key).ok().filter(|&f| f > 0)?;
        let last = match usize::try_from(self.last_key) {
            Ok(last) => last,
            // Negative: counted from the end, -1 the last argument.
            Err(_) => argc.checked_sub(self.last_key.unsigned_abs() as usize)?,
        };
        let last = last.min(argc.checked_sub(1)?);
        let step = usize::try_from(self.step)
            .ok()
            .filter(|&s| s > 0)
            .unwrap_or(1);
        (first <= last).then_some((first, last, step))
    }

    /// The key arguments of `args` (name first), as the row's key positions name them.
    pub fn keys_of<'a>(&self, args: &'a [Bytes]) -> impl Iterator<Item = &'a Bytes> + 'a {
        let span = self.key_span(args.len());
        span.into_iter()
            .flat_map(|(first, last, step)| (first..=last).step_by(step))
            .filter_map(|i| args.get(i))
    }
}

/// One row of the table, in the order the fields read: name, arity, flags, key positions
/// (first, last, step), ACL categories beyond those the flags imply, group, since,
/// summary, syntax, the parser of the arguments that are not keys, and subcommands.
macro_rules! row {
    ($name:literal, $arity:literal, [$($flag:ident),*], ($first:literal, $last:literal, $step:literal),
     [$($acl:ident),*], $group:literal, $since:literal, $summary:literal, $syntax:literal,
     $parse:expr $(, subcommands: $subs:expr)?) => {
        $crate::protocol::command::table::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $crate::protocol::command::table::Flags::empty()
                $(.union($crate::protocol::command::table::Flags::$flag))*,
            first_key: $first,
            last_key: $last,
            step: $step,
            acl: $crate::protocol::command::table::AclCategories::empty()
                $(.union($crate::protocol::command::table::AclCategories::$acl))*,
            group: $group,
            since: $since,
            summary: $summary,
            syntax: $syntax,
            subcommands: row!(@subs $($subs)?),
            parse: |args| ($parse)(args).map($crate::protocol::command::Family::from),
        }
    };
    (@subs) => { &[] };
    (@subs $subs:expr) => { $subs };
}
pub(super) use row;

/// Every family's rows; the table is their union.
const FAMILIES: [&[CommandSpec]; 13] = [
    strings::ROWS,
    generic::ROWS,
    scan::ROWS,
    transactions::ROWS,
    connection::ROWS,
    server::ROWS,
    cluster::ROWS,
    pubsub::ROWS,
    zsets::ROWS,
    lists::ROWS,
    hashes::ROWS,
    sets::ROWS,
    replication::ROWS,
];

const COUNT: usize = {
    let mut count = 0;
    let mut i = 0;
    while i < FAMILIES.len() {
        count += FAMILIES[i].len();
        i += 1;
    }
    count
};

/// `a < b` by bytes, in a constant.
const fn name_less(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// The families' rows in one array sorted by name; a duplicate name, a name that is not
/// lower-case ASCII (letters, and `_` after the first) or longer than [`MAX_NAME`] fails
/// the build.
// It runs only at compile time, into the static `TABLE`: its array is never on a stack.
#[allow(clippy::large_stack_arrays)]
const fn merged() -> [CommandSpec; COUNT] {
    let mut table = [FAMILIES[0][0]; COUNT];
    let mut n = 0;
    let mut f = 0;
    while f < FAMILIES.len() {
        let mut r = 0;
        while r < FAMILIES[f].len() {
            // Insertion sort: move the new row down to its place.
            let row = FAMILIES[f][r];
            let name = row.name.as_bytes();
            assert!(name.len() <= MAX_NAME, "command name too long");
            // Lower-case letters, and `_` after the first (BITFIELD_RO).
            assert!(
                !name.is_empty() && name[0].is_ascii_lowercase(),
                "command names start with a lower-case letter"
            );
            let mut c = 0;
            while c < name.len() {
                assert!(
                    name[c].is_ascii_lowercase() || name[c] == b'_',
                    "command names are lower-case letters and underscores"
                );
                c += 1;
            }
            let mut at = n;
            while at > 0 && name_less(row.name, table[at - 1].name) {
                table[at] = table[at - 1];
                at -= 1;
            }
            assert!(
                at == 0 || name_less(table[at - 1].name, row.name),
                "duplicate command name"
            );
            table[at] = row;
            n += 1;
            r += 1;
        }
        f += 1;
    }
    table
}

static TABLE: [CommandSpec; COUNT] = merged();

/// Every RESP command Cairn accepts, sorted by name.
pub static COMMANDS: &[CommandSpec] = &TABLE;

/// Longest command name in the table; longer input is rejected without a search.
const MAX_NAME: usize = 16;

/// For each first letter `a`..=`z`, the range of [`COMMANDS`] starting with it.
static BY_LETTER: [(u8, u8); 26] = by_letter();

// The table has fewer than 256 rows (asserted), so its indexes fit the `u8`s.
#[allow(clippy::cast_possible_truncation)]
const fn by_letter() -> [(u8, u8); 26] {
    assert!(TABLE.len() < 256, "BY_LETTER's ranges are u8");
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

/// The row a request's arguments name (a container's subcommand where it has one) and how
/// many of its words name it (1, or 2 for a subcommand), with Redis's lookup errors:
/// unknown command, wrong arity, unknown subcommand. Arity is the container's first, then
/// the subcommand's.
pub(super) fn resolve(args: &[Bytes]) -> Result<(&'static CommandSpec, usize), CommandError> {
    let Some(name) = args.first() else {
        return Err(CommandError::Empty);
    };
    let Some(spec) = lookup(name) else {
        return Err(CommandError::unknown_command(args));
    };
    if !spec.arity_accepts(args.len()) {
        return Err(CommandError::WrongArity { command: spec.name });
    }
    let Some(sub) = args.get(1).filter(|_| !spec.subcommands.is_empty()) else {
        return Ok((spec, 1));
    };
    let found = spec
        .subcommand(sub)
        .ok_or_else(|| CommandError::unknown_subcommand(sub, spec.name))?;
    if !found.arity_accepts(args.len()) {
        return Err(CommandError::WrongArity {
            command: found.name,
        });
    }
    Ok((found, 2))
}

/// COMMAND GETKEYS: the keys a request (`args[0]` its name) would name, with Redis's
/// errors, checked in its order: an unknown command, one without keys, a wrong count. A
/// command whose keys move with its arguments (`MOVABLEKEYS`) is parsed to find them.
pub fn keys_of_request(args: &[Bytes]) -> Result<Vec<Bytes>, CommandError> {
    let spec = args.first().and_then(|name| lookup(name));
    let spec = match (spec, args.get(1)) {
        (Some(parent), Some(sub)) if !parent.subcommands.is_empty() => parent.subcommand(sub),
        (spec, _) => spec,
    };
    let Some(spec) = spec else {
        return Err(CommandError::InvalidCommand);
    };
    if spec.flags.contains(Flags::MOVABLEKEYS) {
        // Its parser finds the keys (ZUNIONSTORE's sources, LMPOP's lists).
        return super::Command::parse(args.to_vec())
            .map(|command| command.keys().to_vec())
            .map_err(|_| CommandError::Invalid("ERR Invalid arguments specified for command"));
    }
    if spec.first_key == 0 {
        return Err(CommandError::NoKeyArguments);
    }
    if !spec.arity_accepts(args.len()) {
        return Err(CommandError::InvalidArgumentCount);
    }
    Ok(spec.keys_of(args).cloned().collect())
}

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
            assert!(!spec.flags.contains(Flags::NATIVE_ONLY), "{}", spec.name);
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
            client.subcommand(b"NO-EVICT").map(CommandSpec::short_name),
            Some("no-evict")
        );
        assert_eq!(
            client.subcommand(b"id").map(CommandSpec::command_name),
            Some("client")
        );
    }

    #[test]
    fn flags_and_categories_report_as_redis_does() {
        let get = lookup(b"get").expect("get");
        assert_eq!(
            get.flags.reported().collect::<Vec<_>>(),
            ["readonly", "fast"]
        );
        assert_eq!(
            get.acl_categories().names().collect::<Vec<_>>(),
            ["@read", "@string", "@fast"]
        );
        let auth = lookup(b"auth").expect("auth");
        assert!(!auth.flags.reported().any(|f| f == "sentinel"));
        let shutdown = lookup(b"shutdown").expect("shutdown");
        assert_eq!(
            shutdown.acl_categories().names().collect::<Vec<_>>(),
            ["@admin", "@slow", "@dangerous"]
        );
        assert_eq!(AclCategories::named(b"String"), Some(AclCategories::STRING));
        assert_eq!(AclCategories::named(b"nope"), None);
    }

    #[test]
    fn key_positions_pick_the_keys() {
        let words = |line: &str| -> Vec<Bytes> {
            line.split(' ')
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect()
        };
        let keys = |line: &str| keys_of_request(&words(line));
        assert_eq!(keys("GET k"), Ok(words("k")));
        assert_eq!(keys("MSET a 1 b 2"), Ok(words("a b")));
        // Redis picks by position whatever the count: an odd MSET still names both keys.
        assert_eq!(keys("MSET a 1 b"), Ok(words("a b")));
        assert_eq!(keys("RENAME a b"), Ok(words("a b")));
        assert_eq!(keys("nosuch a"), Err(CommandError::InvalidCommand));
        assert_eq!(keys("PING"), Err(CommandError::NoKeyArguments));
        assert_eq!(keys("CLIENT SETNAME x"), Err(CommandError::NoKeyArguments));
        assert_eq!(keys("GET"), Err(CommandError::InvalidArgumentCount));
        assert_eq!(keys("GET a b"), Err(CommandError::InvalidArgumentCount));
        // Movable keys are found by the command's parser, as Redis's getkeys procedures do.
        assert_eq!(keys("ZUNIONSTORE d 2 a b WEIGHTS 1 2"), Ok(words("d a b")));
        assert_eq!(keys("SINTERCARD 2 a b LIMIT 1"), Ok(words("a b")));
        assert_eq!(keys("LMPOP 2 a b LEFT"), Ok(words("a b")));
        assert!(keys("ZINTERSTORE d 3 a b").is_err());
    }
}
