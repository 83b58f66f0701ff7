//! The sorted-set commands (Redis 7.0): ZADD and its options, scores and ranks, the
//! ZRANGE family by rank, score or lex, removals by member or range, pops, ZUNIONSTORE /
//! ZINTERSTORE, ZSCAN and the blocking pops BZPOPMIN/BZPOPMAX; their rows, typed form and
//! parsers. `server/commands/zsets/` runs them (and `server::blocking` makes a blocking
//! pop wait).
//!
//! Parsers reproduce Redis's order of errors: everything Redis checks before it looks up
//! the key is checked here; what it checks after (ZUNIONSTORE's options come after the
//! sources' types) is carried in the command and reported by the server.

use bytes::Bytes;

use super::args::{int, is, next, parse_u64_cursor, Args};
use super::lists::{timeout, Timeout};
use super::scan::{scan_options, Scan};
use super::table::{row, CommandSpec};
use super::{CommandError, Keys};

/// A sorted-set command, its key aside.
#[derive(Debug, Clone, PartialEq)]
pub enum ZSetCommand {
    /// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`.
    Add {
        /// The options.
        flags: ZAddFlags,
        /// (score, member) pairs in argument order.
        pairs: Vec<(f64, Bytes)>,
    },
    /// `ZINCRBY key increment member`.
    IncrBy {
        /// Amount added.
        delta: f64,
        /// The member.
        member: Bytes,
    },
    /// `ZSCORE key member`.
    Score(Bytes),
    /// `ZMSCORE key member [member ...]`.
    MScore(Vec<Bytes>),
    /// `ZRANK` / `ZREVRANK key member`.
    Rank {
        /// The member.
        member: Bytes,
        /// ZREVRANK.
        reverse: bool,
    },
    /// ZRANGE and its older forms.
    Range(Box<ZRange>),
    /// `ZREM key member [member ...]`.
    Rem(Vec<Bytes>),
    /// ZREMRANGEBYRANK / BYSCORE / BYLEX.
    RemRange(Box<RangeBy>),
    /// `ZCARD key`.
    Card,
    /// `ZCOUNT key min max`.
    Count(ScoreRange),
    /// `ZLEXCOUNT key min max`.
    LexCount(Box<LexRange>),
    /// `ZPOPMIN` / `ZPOPMAX key [count]`.
    Pop {
        /// ZPOPMAX.
        max: bool,
        /// The count, if given (non-negative).
        count: Option<u64>,
    },
    /// `BZPOPMIN` / `BZPOPMAX key [key ...] timeout`.
    BPop {
        /// BZPOPMAX.
        max: bool,
        /// How long to wait.
        timeout: Timeout,
    },
    /// `ZUNIONSTORE` / `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w ...]
    /// [AGGREGATE SUM|MIN|MAX]`.
    Store(Box<ZStore>),
    /// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: a bad cursor is refused at
    /// once, bad options only once the key is found to be a sorted set, as in Redis.
    Scan(Box<Result<Scan, CommandError>>),
}

/// ZADD's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)] // Redis's own flags, one each.
pub struct ZAddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is less.
    pub lt: bool,
    /// Count changed members, not only added ones.
    pub ch: bool,
    /// Add the score to the current one; reply with the new score.
    pub incr: bool,
}

/// A score interval, as `zslParseRange` reads it (`(` excludes, `-inf`/`+inf`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lower end.
    pub min: f64,
    /// Lower end excluded.
    pub min_ex: bool,
    /// Upper end.
    pub max: f64,
    /// Upper end excluded.
    pub max_ex: bool,
}

/// One end of a lex interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`.
    Min,
    /// `+`.
    Max,
    /// `[member`.
    Incl(Bytes),
    /// `(member`.
    Excl(Bytes),
}

/// A lex interval, as `zslParseLexRange` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

/// What a range selects: ranks (inclusive, negative from the end), scores or members.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeBy {
    /// By rank.
    Rank(i64, i64),
    /// By score.
    Score(ScoreRange),
    /// By member.
    Lex(LexRange),
}

/// ZRANGE's arguments (and ZRANGEBYSCORE's, ZREVRANGE's, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ZRange {
    /// What to select (scores and members given low to high, REV or not).
    pub by: RangeBy,
    /// Highest first.
    pub reverse: bool,
    /// LIMIT offset count (count negative: no limit); only with scores or lex.
    pub limit: Option<(i64, i64)>,
    /// WITHSCORES.
    pub with_scores: bool,
}

/// How ZUNIONSTORE/ZINTERSTORE combine a member's scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Sum (NaN from inf + -inf is 0).
    Sum,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
}

/// ZUNIONSTORE's and ZINTERSTORE's arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ZStore {
    /// ZINTERSTORE.
    pub inter: bool,
    /// The source keys (not in the row's key positions: numkeys says how many), until
    /// [`ZSetCommand::take_keys`] moves them into the command's keys after the destination.
    pub sources: Keys,
    /// The weights and aggregate, or the error Redis reports once the sources' types are
    /// checked.
    pub options: Result<(Vec<f64>, Aggregate), CommandError>,
}

impl ZSetCommand {
    /// ZUNIONSTORE's and ZINTERSTORE's sources, moved out for the command's key list
    /// after the destination (what is locked, routed and watched). Empty for the rest.
    pub fn take_keys(&mut self) -> Keys {
        match self {
            ZSetCommand::Store(store) => std::mem::take(&mut store.sources),
            _ => Keys::new(),
        }
    }
}

/// The sorted-set commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("bzpopmax", -3, [WRITE, NOSCRIPT, FAST, BLOCKING, OWN_ROUND], (1, -2, 1), [SORTEDSET], "sorted-set", "5.0.0",
        "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.",
        "key [key ...] timeout:double", |a| bzpop(a, true)),
    row!("bzpopmin", -3, [WRITE, NOSCRIPT, FAST, BLOCKING, OWN_ROUND], (1, -2, 1), [SORTEDSET], "sorted-set", "5.0.0",
        "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        "key [key ...] timeout:double", |a| bzpop(a, false)),
    row!("zadd", -4, [WRITE, DENYOOM, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "1.2.0",
        "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
        "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]", zadd),
    row!("zcard", 2, [READONLY, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "1.2.0",
        "Returns the number of members in a sorted set.",
        "key", |_| Ok(ZSetCommand::Card)),
    row!("zcount", 4, [READONLY, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "2.0.0",
        "Returns the count of members in a sorted set that have scores within a range.",
        "key min max", |a| two(a).and_then(|(x, y)| Ok(ZSetCommand::Count(score_range(&x, &y)?)))),
    row!("zincrby", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "1.2.0",
        "Increments the score of a member in a sorted set.",
        "key increment member", zincrby),
    row!("zinterstore", -4, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), [SORTEDSET], "sorted-set", "2.0.0",
        "Stores the intersect of multiple sorted sets in a key.",
        "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]",
        |a| zstore(a, true)),
    row!("zlexcount", 4, [READONLY, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "2.8.9",
        "Returns the number of members in a sorted set within a lexicographical range.",
        "key min max", |a| two(a).and_then(|(x, y)| Ok(ZSetCommand::LexCount(Box::new(lex_range(&x, &y)?))))),
    row!("zmscore", -3, [READONLY, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "6.2.0",
        "Returns the score of one or more members in a sorted set.",
        "key member [member ...]", |a: &mut Args| Ok(ZSetCommand::MScore(a.collect()))),
    row!("zpopmax", -2, [WRITE, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "5.0.0",
        "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        "key [count]", |a| zpop(a, true)),
    row!("zpopmin", -2, [WRITE, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "5.0.0",
        "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        "key [count]", |a| zpop(a, false)),
    row!("zrange", -4, [READONLY], (1, 1, 1), [SORTEDSET], "sorted-set", "1.2.0",
        "Returns members in a sorted set within a range of indexes.",
        "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]",
        |a| zrange(a, Form::Auto, false)),
    row!("zrangebylex", -4, [READONLY], (1, 1, 1), [SORTEDSET], "sorted-set", "2.8.9",
        "Returns members in a sorted set within a lexicographical range.",
        "key min max [LIMIT offset count]", |a| zrange(a, Form::Lex, false)),
    row!("zrangebyscore", -4, [READONLY], (1, 1, 1), [SORTEDSET], "sorted-set", "1.0.5",
        "Returns members in a sorted set within a range of scores.",
        "key min max [WITHSCORES] [LIMIT offset count]", |a| zrange(a, Form::Score, false)),
    row!("zrank", 3, [READONLY, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "2.0.0",
        "Returns the index of a member in a sorted set ordered by ascending scores.",
        "key member", |a| Ok(ZSetCommand::Rank { member: next(a)?, reverse: false })),
    row!("zrem", -3, [WRITE, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "1.2.0",
        "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
        "key member [member ...]", |a: &mut Args| Ok(ZSetCommand::Rem(a.collect()))),
    row!("zremrangebylex", 4, [WRITE], (1, 1, 1), [SORTEDSET], "sorted-set", "2.8.9",
        "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
        "key min max", |a| two(a).and_then(|(x, y)| Ok(ZSetCommand::RemRange(Box::new(RangeBy::Lex(lex_range(&x, &y)?)))))),
    row!("zremrangebyrank", 4, [WRITE], (1, 1, 1), [SORTEDSET], "sorted-set", "2.0.0",
        "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
        "key start stop", |a| two(a).and_then(|(x, y)| Ok(ZSetCommand::RemRange(Box::new(RangeBy::Rank(int(&x)?, int(&y)?)))))),
    row!("zremrangebyscore", 4, [WRITE], (1, 1, 1), [SORTEDSET], "sorted-set", "1.2.0",
        "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
        "key min max", |a| two(a).and_then(|(x, y)| Ok(ZSetCommand::RemRange(Box::new(RangeBy::Score(score_range(&x, &y)?)))))),
    row!("zrevrange", -4, [READONLY], (1, 1, 1), [SORTEDSET], "sorted-set", "1.2.0",
        "Returns members in a sorted set within a range of indexes in reverse order.",
        "key start stop [WITHSCORES]", |a| zrange(a, Form::Rank, true)),
    row!("zrevrangebylex", -4, [READONLY], (1, 1, 1), [SORTEDSET], "sorted-set", "2.8.9",
        "Returns members in a sorted set within a lexicographical range in reverse order.",
        "key max min [LIMIT offset count]", |a| zrange(a, Form::Lex, true)),
    row!("zrevrangebyscore", -4, [READONLY], (1, 1, 1), [SORTEDSET], "sorted-set", "2.2.0",
        "Returns members in a sorted set within a range of scores in reverse order.",
        "key max min [WITHSCORES] [LIMIT offset count]", |a| zrange(a, Form::Score, true)),
    row!("zrevrank", 3, [READONLY, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "2.0.0",
        "Returns the index of a member in a sorted set ordered by descending scores.",
        "key member", |a| Ok(ZSetCommand::Rank { member: next(a)?, reverse: true })),
    row!("zscan", -3, [READONLY], (1, 1, 1), [SORTEDSET], "sorted-set", "2.8.0",
        "Iterates over members and scores of a sorted set.",
        "key cursor [MATCH pattern] [COUNT count]",
        zscan),
    row!("zscore", 3, [READONLY, FAST], (1, 1, 1), [SORTEDSET], "sorted-set", "1.2.0",
        "Returns the score of a member in a sorted set.",
        "key member", |a| Ok(ZSetCommand::Score(next(a)?))),
    row!("zunionstore", -4, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), [SORTEDSET], "sorted-set", "2.0.0",
        "Stores the union of multiple sorted sets in a key.",
        "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]",
        |a| zstore(a, false)),
];

/// Redis's `getDoubleFromObject`: `strtod` over the whole argument, no leading space, no
/// NaN, no overflow to infinity nor underflow to zero (`inf` spelled out is fine).
/// Hexadecimal floats, which C's `strtod` also takes, are refused.
pub(crate) fn parse_score(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.is_empty() || text.as_bytes()[0].is_ascii_whitespace() {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    if value.is_nan() {
        return None;
    }
    let digits = text.trim_start_matches(['+', '-']);
    let spelled_inf = digits.eq_ignore_ascii_case("inf") || digits.eq_ignore_ascii_case("infinity");
    if value.is_infinite() && !spelled_inf {
        return None;
    }
    if value == 0.0 {
        // Underflow: a non-zero digit before the exponent that still gave zero.
        let mantissa = digits.split(['e', 'E']).next().unwrap_or("");
        if mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            return None;
        }
    }
    Some(value)
}

/// One end of a score range as `zslParseRange` reads it: `strtod` without its range
/// checks (`1e999` is inf, the empty string 0), NaN refused.
fn score_end(s: &[u8]) -> Option<(f64, bool)> {
    let (exclusive, s) = match s.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, s),
    };
    let text = std::str::from_utf8(s).ok()?.trim_start();
    let value: f64 = if text.is_empty() {
        0.0
    } else {
        text.parse().ok()?
    };
    (!value.is_nan()).then_some((value, exclusive))
}

/// `min max` of a score range, or Redis's error.
pub(crate) fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CommandError> {
    let bad = || CommandError::Invalid("ERR min or max is not a float");
    let (min, min_ex) = score_end(min).ok_or_else(bad)?;
    let (max, max_ex) = score_end(max).ok_or_else(bad)?;
    Ok(ScoreRange {
        min,
        min_ex,
        max,
        max_ex,
    })
}

fn lex_end(s: &Bytes) -> Option<LexBound> {
    match s.first() {
        Some(b'-') if s.len() == 1 => Some(LexBound::Min),
        Some(b'+') if s.len() == 1 => Some(LexBound::Max),
        Some(b'[') => Some(LexBound::Incl(s.slice(1..))),
        Some(b'(') => Some(LexBound::Excl(s.slice(1..))),
        _ => None,
    }
}

/// `min max` of a lex range, or Redis's error.
pub(crate) fn lex_range(min: &Bytes, max: &Bytes) -> Result<LexRange, CommandError> {
    let bad = || CommandError::Invalid("ERR min or max not valid string range item");
    Ok(LexRange {
        min: lex_end(min).ok_or_else(bad)?,
        max: lex_end(max).ok_or_else(bad)?,
    })
}

/// ZSCAN: the cursor checked now, the options when the key is known to be a sorted set.
fn zscan(args: &mut Args) -> Result<ZSetCommand, CommandError> {
    let cursor = args.as_slice().first().cloned().unwrap_or_default();
    parse_u64_cursor(&cursor).ok_or(CommandError::InvalidCursor)?;
    Ok(ZSetCommand::Scan(Box::new(scan_options(args, false))))
}

/// The next two arguments.
fn two(args: &mut Args) -> Result<(Bytes, Bytes), CommandError> {
    Ok((next(args)?, next(args)?))
}

fn float(s: &[u8]) -> Result<f64, CommandError> {
    parse_score(s).ok_or(CommandError::NotFloat)
}

/// `ZADD`, as `zaddGenericCommand` checks it.
fn zadd(args: &mut Args) -> Result<ZSetCommand, CommandError> {
    let mut flags = ZAddFlags::default();
    let rest = args.as_slice();
    let mut at = 0;
    while let Some(opt) = rest.get(at) {
        let flag = match opt.to_ascii_uppercase().as_slice() {
            b"NX" => &mut flags.nx,
            b"XX" => &mut flags.xx,
            b"GT" => &mut flags.gt,
            b"LT" => &mut flags.lt,
            b"CH" => &mut flags.ch,
            b"INCR" => &mut flags.incr,
            _ => break,
        };
        *flag = true;
        at += 1;
    }
    let elements = rest.len() - at;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CommandError::Invalid(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(CommandError::Invalid(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && elements > 2 {
        return Err(CommandError::Invalid(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut args = args.skip(at);
    let mut pairs = Vec::with_capacity(elements / 2);
    while let (Some(score), Some(member)) = (args.next(), args.next()) {
        pairs.push((float(&score)?, member));
    }
    Ok(ZSetCommand::Add { flags, pairs })
}

fn zincrby(args: &mut Args) -> Result<ZSetCommand, CommandError> {
    let delta = float(&next(args)?)?;
    Ok(ZSetCommand::IncrBy {
        delta,
        member: next(args)?,
    })
}

fn zpop(args: &mut Args, max: bool) -> Result<ZSetCommand, CommandError> {
    let count = match args.next() {
        None => None,
        Some(n) => {
            let positive = || CommandError::Invalid("ERR value is out of range, must be positive");
            let n = int(&n).map_err(|_| positive())?;
            Some(u64::try_from(n).map_err(|_| positive())?)
        }
    };
    if args.len() > 0 {
        return Err(CommandError::Syntax);
    }
    Ok(ZSetCommand::Pop { max, count })
}

/// `BZPOPMIN`/`BZPOPMAX key [key ...] timeout`: the keys are the row's; the timeout is left.
fn bzpop(args: &mut Args, max: bool) -> Result<ZSetCommand, CommandError> {
    Ok(ZSetCommand::BPop {
        max,
        timeout: timeout(&next(args)?)?,
    })
}

/// Which command of the ZRANGE family: ZRANGE itself takes BYSCORE/BYLEX/REV.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Auto,
    Rank,
    Score,
    Lex,
}

/// The ZRANGE family, as `zrangeGenericCommand` parses it.
fn zrange(args: &mut Args, form: Form, reverse: bool) -> Result<ZSetCommand, CommandError> {
    let (first, second) = (next(args)?, next(args)?);
    let (mut form, mut reverse, fixed) = (form, reverse, form != Form::Auto);
    let mut with_scores = false;
    let mut limit = None;
    let mut reverse_set = fixed;
    while let Some(opt) = args.next() {
        if is(&opt, "WITHSCORES") {
            with_scores = true;
        } else if is(&opt, "LIMIT") && args.len() >= 2 {
            let offset = int(&next(args)?)?;
            let count = int(&next(args)?)?;
            limit = Some((offset, count));
        } else if !reverse_set && is(&opt, "REV") {
            reverse = true;
            reverse_set = true;
        } else if form == Form::Auto && is(&opt, "BYLEX") {
            form = Form::Lex;
        } else if form == Form::Auto && is(&opt, "BYSCORE") {
            form = Form::Score;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if form == Form::Auto {
        form = Form::Rank;
    }
    // Redis: LIMIT's count of -1 is its "no limit", so LIMIT 0 -1 passes with ranks.
    if limit.is_some_and(|(_, count)| count != -1) && form == Form::Rank {
        return Err(CommandError::Invalid(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && form == Form::Lex {
        return Err(CommandError::Invalid(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Scores and members come as `max min` when reversed.
    let (low, high) = if reverse && form != Form::Rank {
        (second, first)
    } else {
        (first, second)
    };
    let by = match form {
        Form::Score => RangeBy::Score(score_range(&low, &high)?),
        Form::Lex => RangeBy::Lex(lex_range(&low, &high)?),
        _ => RangeBy::Rank(int(&low)?, int(&high)?),
    };
    Ok(ZSetCommand::Range(Box::new(ZRange {
        by,
        reverse,
        limit,
        with_scores,
    })))
}

/// ZUNIONSTORE / ZINTERSTORE after the destination.
fn zstore(args: &mut Args, inter: bool) -> Result<ZSetCommand, CommandError> {
    let numkeys = int(&next(args)?)?;
    if numkeys < 1 {
        return Err(CommandError::Invalid(if inter {
            "ERR at least 1 input key is needed for 'zinterstore' command"
        } else {
            "ERR at least 1 input key is needed for 'zunionstore' command"
        }));
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > args.len() {
        return Err(CommandError::Syntax);
    }
    let sources: Keys = args.by_ref().take(numkeys).collect();
    let options = store_options(args, numkeys);
    Ok(ZSetCommand::Store(Box::new(ZStore {
        inter,
        sources,
        options,
    })))
}

fn store_options(args: &mut Args, numkeys: usize) -> Result<(Vec<f64>, Aggregate), CommandError> {
    let mut weights = vec![1.0; numkeys];
    let mut aggregate = Aggregate::Sum;
    while let Some(opt) = args.next() {
        if is(&opt, "WEIGHTS") && args.len() >= numkeys {
            for weight in &mut weights {
                *weight = parse_score(&next(args)?)
                    .ok_or(CommandError::Invalid("ERR weight value is not a float"))?;
            }
        } else if is(&opt, "AGGREGATE") && args.len() >= 1 {
            let how = next(args)?;
            aggregate = if is(&how, "SUM") {
                Aggregate::Sum
            } else if is(&how, "MIN") {
                Aggregate::Min
            } else if is(&how, "MAX") {
                Aggregate::Max
            } else {
                return Err(CommandError::Syntax);
            };
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok((weights, aggregate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_as_redis_does() {
        assert_eq!(parse_score(b"1"), Some(1.0));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b".5"), Some(0.5));
        assert_eq!(parse_score(b"0e5"), Some(0.0));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e999",
            b"1e-999",
            b"abc",
            b"1x",
        ] {
            assert_eq!(parse_score(bad), None, "{bad:?}");
        }
        assert_eq!(score_end(b"(1e999"), Some((f64::INFINITY, true)));
        assert_eq!(score_end(b""), Some((0.0, false)));
        assert_eq!(score_end(b"(nan"), None);
    }
}
