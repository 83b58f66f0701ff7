//! The set commands: SADD and SREM, membership, random members, the algebra of several
//! sets (SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD), SMOVE and SSCAN; their
//! rows, their typed form and their parsers. `server/commands/sets.rs` runs them.
//!
//! Each parser takes the arguments that are not keys, arity already checked against the
//! row.

use bytes::Bytes;

use super::args::{is, next, parse_i64, Args};
use super::hashes::{random_count, scan_later};
use super::scan::Scan;
use super::table::{row, CommandSpec};
use super::{CommandError, Keys};

/// A set command, its keys aside.
#[derive(Debug, Clone, PartialEq)]
pub enum SetCommand {
    /// `SADD key member [member ...]`.
    Add {
        /// The members to add.
        members: Vec<Bytes>,
    },
    /// `SREM key member [member ...]`.
    Rem {
        /// The members to remove.
        members: Vec<Bytes>,
    },
    /// `SMEMBERS key`.
    Members,
    /// `SISMEMBER key member`.
    IsMember {
        /// The member.
        member: Bytes,
    },
    /// `SMISMEMBER key member [member ...]`.
    MIsMember {
        /// The members, in the reply's order.
        members: Vec<Bytes>,
    },
    /// `SCARD key`.
    Card,
    /// `SPOP key [count]`.
    Pop {
        /// `None`: one member, or nil; else up to that many, as a set.
        count: Option<u64>,
    },
    /// `SRANDMEMBER key [count]`.
    RandMember {
        /// `None`: one member, or nil. Negative: that many picks, repeats allowed.
        count: Option<i64>,
    },
    /// `SINTER key [key ...]`, and `SINTERSTORE destination key [key ...]` (`store`, the
    /// first key the destination).
    Inter {
        /// Store the result in the first key, and reply its size.
        store: bool,
    },
    /// `SUNION` / `SUNIONSTORE`, as [`SetCommand::Inter`].
    Union {
        /// Store the result in the first key.
        store: bool,
    },
    /// `SDIFF` / `SDIFFSTORE`, as [`SetCommand::Inter`].
    Diff {
        /// Store the result in the first key.
        store: bool,
    },
    /// `SINTERCARD numkeys key [key ...] [LIMIT limit]`. Its keys are movable (Redis's
    /// row names none): the parser finds them, and [`SetCommand::take_keys`] moves them
    /// into the command's keys.
    InterCard {
        /// The sets, until moved out.
        keys: Keys,
        /// Stop counting here; 0 = no limit.
        limit: u64,
    },
    /// `SMOVE source destination member`.
    Move {
        /// The member.
        member: Bytes,
    },
    /// `SSCAN key cursor [MATCH pattern] [COUNT count]`: a bad option is reported only
    /// after the key is found and of the right type, as Redis does.
    Scan(Result<Box<Scan>, CommandError>),
}

impl SetCommand {
    /// SINTERCARD's keys, moved out for the command's key list (what is locked, routed
    /// and watched). Empty for the rest.
    pub fn take_keys(&mut self) -> Keys {
        match self {
            SetCommand::InterCard { keys, .. } => std::mem::take(keys),
            _ => Keys::new(),
        }
    }
}

/// The set commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("sadd", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), [SET], "set", "1.0.0",
        "Adds one or more members to a set. Creates the key if it doesn't exist.",
        "key member [member ...]", |a: &mut Args| Ok(SetCommand::Add { members: a.collect() })),
    row!("scard", 2, [READONLY, FAST], (1, 1, 1), [SET], "set", "1.0.0",
        "Returns the number of members in a set.",
        "key", |_| Ok(SetCommand::Card)),
    row!("sdiff", -2, [READONLY], (1, -1, 1), [SET], "set", "1.0.0",
        "Returns the difference of multiple sets.",
        "key [key ...]", |_| Ok(SetCommand::Diff { store: false })),
    row!("sdiffstore", -3, [WRITE, DENYOOM], (1, -1, 1), [SET], "set", "1.0.0",
        "Stores the difference of multiple sets in a key.",
        "destination key [key ...]", |_| Ok(SetCommand::Diff { store: true })),
    row!("sinter", -2, [READONLY], (1, -1, 1), [SET], "set", "1.0.0",
        "Returns the intersect of multiple sets.",
        "key [key ...]", |_| Ok(SetCommand::Inter { store: false })),
    row!("sintercard", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), [SET], "set", "7.0.0",
        "Returns the number of members of the intersect of multiple sets.",
        "numkeys:integer key [key ...] [LIMIT limit:integer]", sintercard),
    row!("sinterstore", -3, [WRITE, DENYOOM], (1, -1, 1), [SET], "set", "1.0.0",
        "Stores the intersect of multiple sets in a key.",
        "destination key [key ...]", |_| Ok(SetCommand::Inter { store: true })),
    row!("sismember", 3, [READONLY, FAST], (1, 1, 1), [SET], "set", "1.0.0",
        "Determines whether a member belongs to a set.",
        "key member", |a| Ok(SetCommand::IsMember { member: next(a)? })),
    row!("smembers", 2, [READONLY], (1, 1, 1), [SET], "set", "1.0.0",
        "Returns all members of a set.",
        "key", |_| Ok(SetCommand::Members)),
    row!("smismember", -3, [READONLY, FAST], (1, 1, 1), [SET], "set", "6.2.0",
        "Determines whether multiple members belong to a set.",
        "key member [member ...]", |a: &mut Args| Ok(SetCommand::MIsMember { members: a.collect() })),
    row!("smove", 4, [WRITE, FAST], (1, 2, 1), [SET], "set", "1.0.0",
        "Moves a member from one set to another.",
        "source destination member", |a| Ok(SetCommand::Move { member: next(a)? })),
    row!("spop", -2, [WRITE, FAST], (1, 1, 1), [SET], "set", "1.0.0",
        "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        "key [count:integer]", spop),
    row!("srandmember", -2, [READONLY], (1, 1, 1), [SET], "set", "1.0.0",
        "Get one or multiple random members from a set",
        "key [count:integer]", srandmember),
    row!("srem", -3, [WRITE, FAST], (1, 1, 1), [SET], "set", "1.0.0",
        "Removes one or more members from a set. Deletes the set if the last member was removed.",
        "key member [member ...]", |a: &mut Args| Ok(SetCommand::Rem { members: a.collect() })),
    row!("sscan", -3, [READONLY], (1, 1, 1), [SET], "set", "2.8.0",
        "Iterates over members of a set.",
        "key cursor [MATCH pattern] [COUNT count:integer]",
        |a| scan_later(a).map(SetCommand::Scan)),
    row!("sunion", -2, [READONLY], (1, -1, 1), [SET], "set", "1.0.0",
        "Returns the union of multiple sets.",
        "key [key ...]", |_| Ok(SetCommand::Union { store: false })),
    row!("sunionstore", -3, [WRITE, DENYOOM], (1, -1, 1), [SET], "set", "1.0.0",
        "Stores the union of multiple sets in a key.",
        "destination key [key ...]", |_| Ok(SetCommand::Union { store: true })),
];

/// `SPOP key [count]`: a count in `0..=LONG_MAX`, with Redis's own wording.
fn spop(args: &mut Args) -> Result<SetCommand, CommandError> {
    let count = match (args.next(), args.next()) {
        (None, _) => None,
        (Some(count), None) => {
            // Redis's getRangeLongFromObjectOrReply gives its own message for both a
            // negative count and one that is no integer at all.
            let count = parse_i64(&count)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(CommandError::Invalid(
                    "ERR value is out of range, must be positive",
                ))?;
            Some(count)
        }
        _ => return Err(CommandError::Syntax),
    };
    Ok(SetCommand::Pop { count })
}

/// `SRANDMEMBER key [count]`.
fn srandmember(args: &mut Args) -> Result<SetCommand, CommandError> {
    let count = match (args.next(), args.next()) {
        (None, _) => None,
        (Some(count), None) => Some(random_count(&count)?),
        _ => return Err(CommandError::Syntax),
    };
    Ok(SetCommand::RandMember { count })
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`, as Redis's `sinterCardCommand`
/// words its errors: a numkeys that is not a positive integer, more keys than arguments,
/// a LIMIT that is not a non-negative integer, anything else after the keys.
fn sintercard(args: &mut Args) -> Result<SetCommand, CommandError> {
    let numkeys = parse_i64(&next(args)?)
        .filter(|&n| n > 0)
        .ok_or(CommandError::Invalid(
            "ERR numkeys should be greater than 0",
        ))?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > args.len() {
        return Err(CommandError::Invalid(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys: Keys = args.by_ref().take(numkeys).collect();
    let mut limit = 0;
    while let Some(option) = args.next() {
        if is(&option, "LIMIT") && args.len() > 0 {
            limit = parse_i64(&next(args)?)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(CommandError::Invalid("ERR LIMIT can't be negative"))?;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(SetCommand::InterCard { keys, limit })
}
