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
    /// Arguments after the name, as redis-cli's hints show them: `[...]` optional,
    /// `<...>` a group, `a|b` one of, `x [x ...]` repeated, UPPER-CASE words literal
    /// tokens. [`CommandSpec::arguments`] turns it into COMMAND DOCS's argument tree.
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

mod specs;

use specs::TABLE;

/// Every RESP command Cairn accepts, sorted by name.
pub static COMMANDS: &[CommandSpec] = TABLE;

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
