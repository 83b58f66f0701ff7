//! SET's options and GETEX's: the conditions a write may carry (NX, XX, IFEQ, IFNE, IFDEQ,
//! IFDNE, the native compare-by-version) and the expiries (EX, PX, EXAT, PXAT, KEEPTTL,
//! PERSIST), with Redis's rules for their order, repeats and numbers.

use bytes::Bytes;

use super::StringCommand;
use crate::protocol::command::args::{int, is, next, parse_digest, Args};
use crate::protocol::command::CommandError;

/// The arguments of `SET` (and of SETEX, PSETEX and GETSET, which are spelled as SETs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// The new value.
    pub value: Bytes,
    /// Write only if this holds (NX, XX, IFEQ, IFNE, IFDEQ, IFDNE). Boxed: most SETs have
    /// none, and every command stays small enough (at most 128 bytes) to be moved without
    /// a `memcpy` call as it passes from parse to dispatch to its family, which it does
    /// several times per request (docs/benchmarks.md).
    pub condition: Option<Box<SetCondition>>,
    /// GET: reply with the old value (nil if none) instead of OK.
    pub get: bool,
    /// The new TTL; `None` removes any TTL, `Some(KeepTtl)` keeps the old one.
    pub expiry: Option<Expiry>,
}

/// When a SET may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetCondition {
    /// NX: only if the key does not exist.
    Nx,
    /// XX: only if the key exists.
    Xx,
    /// IFEQ value: only if the key exists and holds exactly this value.
    IfEq(Bytes),
    /// IFNE value: only if the key does not exist or holds another value.
    IfNe(Bytes),
    /// IFDEQ digest: only if the key exists and its value's [`digest`](crate::protocol::command::digest) equals this.
    IfDeq(u64),
    /// IFDNE digest: only if the key does not exist or its value's [`digest`](crate::protocol::command::digest) differs.
    IfDne(u64),
    /// Cairn's native compare-by-version: only if the key's current version is this
    /// (native protocol only, no RESP syntax).
    IfVersion(u64),
}

/// A condition on a key's current value, for DELEX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueCondition {
    /// IFEQ value: the key exists and holds exactly this value.
    IfEq(Bytes),
    /// IFNE value: the key does not exist or holds another value.
    IfNe(Bytes),
    /// IFDEQ digest: the key exists and its value's [`digest`](crate::protocol::command::digest) equals this.
    IfDeq(u64),
    /// IFDNE digest: the key does not exist or its value's [`digest`](crate::protocol::command::digest) differs.
    IfDne(u64),
}

/// A TTL as SET or GETEX gives it. Parse guarantees the value is positive and that it
/// fits `i64` once converted to milliseconds; [`Expiry::deadline_millis`] does the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// EX: seconds from now.
    Seconds(u64),
    /// PX: milliseconds from now.
    Millis(u64),
    /// EXAT: Unix time in seconds.
    UnixSeconds(u64),
    /// PXAT: Unix time in milliseconds.
    UnixMillis(u64),
    /// KEEPTTL: keep the key's current TTL (SET only).
    KeepTtl,
}

impl Expiry {
    /// The absolute deadline in Unix milliseconds given the current time, as Redis
    /// computes it: `Ok(None)` for `KeepTtl`, and Redis's error (invalid expire time in
    /// `command`) when the deadline passes `i64::MAX` milliseconds.
    pub fn deadline_millis(
        &self,
        now_ms: u64,
        command: &'static str,
    ) -> Result<Option<u64>, CommandError> {
        let invalid = CommandError::InvalidExpireTime { command };
        let ms = match *self {
            Expiry::KeepTtl => return Ok(None),
            Expiry::Seconds(s) => s.checked_mul(1000).and_then(|m| m.checked_add(now_ms)),
            Expiry::Millis(m) => m.checked_add(now_ms),
            Expiry::UnixSeconds(s) => s.checked_mul(1000),
            Expiry::UnixMillis(m) => Some(m),
        };
        match ms {
            Some(ms) if i64::try_from(ms).is_ok() => Ok(Some(ms)),
            _ => Err(invalid),
        }
    }
}

/// What GETEX does to the TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetExExpiry {
    /// EX, PX, EXAT or PXAT: set this TTL (never [`Expiry::KeepTtl`]).
    Expire(Expiry),
    /// PERSIST: remove the TTL.
    Persist,
    /// An EX/PX/EXAT/PXAT number Redis refuses (not an integer, zero, negative, too
    /// large). Redis checks it only once the key is found, so the server answers nil
    /// for a missing key and this error otherwise.
    Invalid(CommandError),
}

/// Which TTL option a SET/GETEX request named, before its number is validated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Validates an expiry number as Redis's `getExpireMillisecondsOrReply`: an integer
/// (else "not an integer"), positive and, for seconds, within `i64` once in
/// milliseconds (else "invalid expire time in '<command>'").
fn expiry(unit: Unit, raw: &[u8], command: &'static str) -> Result<Expiry, CommandError> {
    let n = int(raw)?;
    let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(CommandError::InvalidExpireTime { command });
    }
    let n = n.unsigned_abs();
    Ok(match unit {
        Unit::Ex => Expiry::Seconds(n),
        Unit::Px => Expiry::Millis(n),
        Unit::ExAt => Expiry::UnixSeconds(n),
        Unit::PxAt => Expiry::UnixMillis(n),
    })
}

/// The TTL keyword `opt` names, if any.
fn unit_of(opt: &[u8]) -> Option<Unit> {
    if is(opt, "EX") {
        Some(Unit::Ex)
    } else if is(opt, "PX") {
        Some(Unit::Px)
    } else if is(opt, "EXAT") {
        Some(Unit::ExAt)
    } else if is(opt, "PXAT") {
        Some(Unit::PxAt)
    } else {
        None
    }
}

/// The IF* condition keyword `opt` names with its argument, if any.
pub(super) fn value_condition(
    opt: &[u8],
    arg: Bytes,
) -> Result<Option<ValueCondition>, CommandError> {
    Ok(Some(if is(opt, "IFEQ") {
        ValueCondition::IfEq(arg)
    } else if is(opt, "IFNE") {
        ValueCondition::IfNe(arg)
    } else if is(opt, "IFDEQ") {
        ValueCondition::IfDeq(parse_digest(&arg)?)
    } else if is(opt, "IFDNE") {
        ValueCondition::IfDne(parse_digest(&arg)?)
    } else {
        return Ok(None);
    }))
}

fn is_value_condition(opt: &[u8]) -> bool {
    is(opt, "IFEQ") || is(opt, "IFNE") || is(opt, "IFDEQ") || is(opt, "IFDNE")
}

/// `SET key value [NX|XX|IFEQ v|IFNE v|IFDEQ d|IFDNE d] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]`.
///
/// Follows Redis's `parseExtendedStringArgumentsOrReply`: options in any order, the
/// same option may repeat (the last number wins), conflicting ones are a syntax error,
/// and the expiry number is validated only after every option parsed.
pub(super) fn set(args: &mut Args) -> Result<StringCommand, CommandError> {
    let value = next(args)?;
    let mut condition: Option<SetCondition> = None;
    let mut get = false;
    let mut keep_ttl = false;
    let mut ttl: Option<(Unit, Bytes)> = None;
    while let Some(opt) = args.next() {
        if is(&opt, "NX") && matches!(condition, None | Some(SetCondition::Nx)) {
            condition = Some(SetCondition::Nx);
        } else if is(&opt, "XX") && matches!(condition, None | Some(SetCondition::Xx)) {
            condition = Some(SetCondition::Xx);
        } else if is(&opt, "GET") {
            get = true;
        } else if is(&opt, "KEEPTTL") && ttl.is_none() {
            keep_ttl = true;
        } else if is_value_condition(&opt) && condition.is_none() && !args.as_slice().is_empty() {
            let arg = next(args)?;
            condition = value_condition(&opt, arg)?.map(SetCondition::from);
        } else if let Some(unit) = unit_of(&opt).filter(|&u| {
            !keep_ttl && ttl.as_ref().is_none_or(|(t, _)| *t == u) && !args.as_slice().is_empty()
        }) {
            ttl = Some((unit, next(args)?));
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let expiry = match ttl {
        Some((unit, raw)) => Some(expiry(unit, &raw, "set")?),
        None if keep_ttl => Some(Expiry::KeepTtl),
        None => None,
    };
    Ok(StringCommand::Set(Set {
        value,
        condition: condition.map(Box::new),
        get,
        expiry,
    }))
}

impl From<ValueCondition> for SetCondition {
    fn from(c: ValueCondition) -> SetCondition {
        match c {
            ValueCondition::IfEq(v) => SetCondition::IfEq(v),
            ValueCondition::IfNe(v) => SetCondition::IfNe(v),
            ValueCondition::IfDeq(d) => SetCondition::IfDeq(d),
            ValueCondition::IfDne(d) => SetCondition::IfDne(d),
        }
    }
}

/// `SETEX key seconds value` / `PSETEX key milliseconds value`, as a [`Set`].
pub(super) fn setex(
    args: &mut Args,
    unit: Unit,
    command: &'static str,
) -> Result<StringCommand, CommandError> {
    let ttl = next(args)?;
    let value = next(args)?;
    Ok(StringCommand::Set(Set {
        value,
        condition: None,
        get: false,
        expiry: Some(expiry(unit, &ttl, command)?),
    }))
}

/// `GETSET key value`, as `SET key value GET`.
pub(super) fn getset(args: &mut Args) -> Result<StringCommand, CommandError> {
    Ok(StringCommand::Set(Set {
        value: next(args)?,
        condition: None,
        get: true,
        expiry: None,
    }))
}

/// `GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST]`, with SET's option rules.
///
/// Option syntax errors are immediate; a bad number becomes [`GetExExpiry::Invalid`],
/// because Redis validates it only once the key is found to exist.
pub(super) fn getex(args: &mut Args) -> Result<StringCommand, CommandError> {
    let mut persist = false;
    let mut ttl: Option<(Unit, Bytes)> = None;
    while let Some(opt) = args.next() {
        if is(&opt, "PERSIST") && ttl.is_none() {
            persist = true;
        } else if let Some(unit) = unit_of(&opt).filter(|&u| {
            !persist && ttl.as_ref().is_none_or(|(t, _)| *t == u) && !args.as_slice().is_empty()
        }) {
            ttl = Some((unit, next(args)?));
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let expiry = match ttl {
        Some((unit, raw)) => Some(match expiry(unit, &raw, "getex") {
            Ok(exp) => GetExExpiry::Expire(exp),
            Err(err) => GetExExpiry::Invalid(err),
        }),
        None if persist => Some(GetExExpiry::Persist),
        None => None,
    };
    Ok(StringCommand::GetEx { expiry })
}
