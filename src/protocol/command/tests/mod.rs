//! Unit tests of `Command::parse`: valid forms, options, case-insensitivity and every
//! error text, checked against what Redis 7 replies.

use bytes::Bytes;

use super::*;

mod bits;
mod keys;
mod server;
mod strings;

/// Parses a request written as space-separated words.
pub(super) fn p(line: &str) -> Result<Command, CommandError> {
    Command::parse(
        line.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect(),
    )
}

/// Parses raw arguments.
pub(super) fn pv(args: &[&[u8]]) -> Result<Command, CommandError> {
    Command::parse(args.iter().map(|a| Bytes::copy_from_slice(a)).collect())
}

/// The error text of a request that must fail.
pub(super) fn e(line: &str) -> String {
    match p(line) {
        Ok(cmd) => panic!("{line:?} parsed as {cmd:?}"),
        Err(err) => err.to_string(),
    }
}

pub(super) fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// What a request written as space-separated words parses to: its keys and its family's
/// command.
pub(super) fn pk(line: &str) -> Result<(Vec<Bytes>, Family), CommandError> {
    p(line).map(|cmd| {
        let (keys, family) = cmd.into_parts();
        (keys.into_vec(), family)
    })
}

/// What a request written as space-separated words parses to, its keys aside.
pub(super) fn f(line: &str) -> Result<Family, CommandError> {
    p(line).map(|cmd| cmd.into_parts().1)
}

/// The expected parse of a request without keys, for comparing with [`f`].
#[allow(clippy::unnecessary_wraps)] // compared with parse results, which are `Result`s
pub(super) fn okf(family: impl Into<Family>) -> Result<Family, CommandError> {
    Ok(family.into())
}

/// The expected parse of a request naming `keys`, for comparing with [`pk`].
#[allow(clippy::unnecessary_wraps)] // compared with parse results, which are `Result`s
pub(super) fn ok(
    keys: &[&str],
    family: impl Into<Family>,
) -> Result<(Vec<Bytes>, Family), CommandError> {
    Ok((keys.iter().map(|k| b(k)).collect(), family.into()))
}

pub(super) const SYNTAX: &str = "ERR syntax error";
pub(super) const NOT_INT: &str = "ERR value is not an integer or out of range";

pub(super) fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

#[test]
fn get_set_del_ping_basics() {
    assert_eq!(pk("GET k"), ok(&["k"], StringCommand::Get));
    assert_eq!(pk("get k"), ok(&["k"], StringCommand::Get));
    assert_eq!(pk("gEt k"), ok(&["k"], StringCommand::Get));
    assert_eq!(e("GET"), arity("get"));
    assert_eq!(e("GET a b"), arity("get"));
    assert_eq!(
        pk("SET k v"),
        ok(
            &["k"],
            StringCommand::Set(Set {
                value: b("v"),
                condition: None,
                get: false,
                expiry: None
            })
        )
    );
    assert_eq!(e("SET k"), arity("set"));
    assert_eq!(pk("DEL a b"), ok(&["a", "b"], GenericCommand::Del));
    assert_eq!(pk("UNLINK a"), ok(&["a"], GenericCommand::Del));
    assert_eq!(e("DEL"), arity("del"));
    assert_eq!(
        pk("PING"),
        ok(&[], ConnectionCommand::Ping { message: None })
    );
    assert_eq!(
        pk("ping hi"),
        ok(
            &[],
            ConnectionCommand::Ping {
                message: Some(b("hi"))
            }
        )
    );
    assert_eq!(e("PING a b"), arity("ping"));
}

#[test]
fn unknown_command_text() {
    assert_eq!(
        e("foo a b"),
        "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        e("foo"),
        "ERR unknown command 'foo', with args beginning with: "
    );
    assert_eq!(Command::parse(Vec::new()), Err(CommandError::Empty));
}

#[test]
fn unknown_command_rendering() {
    let long = "a".repeat(200);
    assert_eq!(
        e(&format!("nope {long} b")),
        format!(
            "ERR unknown command 'nope', with args beginning with: '{}' ",
            "a".repeat(128)
        )
    );
    // Several arguments share the 128-byte budget, the last one cut to what is left.
    let thirty = "x".repeat(30);
    let text = e(&format!(
        "nope {thirty} {thirty} {thirty} {thirty} {thirty}"
    ));
    let expected_last = "x".repeat(128 - 3 * 33);
    assert_eq!(
        text,
        format!(
            "ERR unknown command 'nope', with args beginning with: '{thirty}' '{thirty}' '{thirty}' '{expected_last}' "
        )
    );
    let name = "N".repeat(300);
    assert_eq!(
        e(&name),
        format!(
            "ERR unknown command '{}', with args beginning with: ",
            "N".repeat(128)
        )
    );
    // CR/LF would break the RESP error line: Redis turns them into spaces.
    let err = pv(&[b"x\r\ny", b"a\nb"]).unwrap_err().to_string();
    assert_eq!(
        err,
        "ERR unknown command 'x  y', with args beginning with: 'a b' "
    );
    // Non-UTF-8 bytes do not panic.
    assert!(pv(&[b"\xff\xfe", b"\xc3"]).is_err());
    // A name longer than any command, but otherwise one, is unknown.
    assert!(matches!(
        p("getgetgetgetgetgetget k"),
        Err(CommandError::UnknownCommand { .. })
    ));
}

/// A plausible argument list of exactly `n` arguments for `name` (name included).
fn filler(name: &str, n: usize) -> Vec<Bytes> {
    let mut args = vec![Bytes::copy_from_slice(name.as_bytes())];
    args.extend((1..n).map(|_| b("1")));
    args
}

#[test]
fn every_table_entry_parses() {
    for spec in COMMANDS {
        let n = spec.arity.unsigned_abs() as usize;
        if spec.subcommands.is_empty() {
            let args = filler(spec.name, n);
            let result = Command::parse(args);
            assert!(
                !matches!(result, Err(CommandError::UnknownCommand { .. })),
                "{} has no parser: {result:?}",
                spec.name
            );
            if let Ok(cmd) = &result {
                assert_eq!(cmd.spec(), spec, "{}", spec.name);
                assert_eq!(lookup(cmd.name().as_bytes()), Some(spec));
            }
        }
        for sub in spec.subcommands {
            let mut args = filler(spec.name, 1);
            args.push(Bytes::copy_from_slice(sub.short_name().as_bytes()));
            args.extend((2..sub.arity.unsigned_abs() as usize).map(|_| b("on")));
            let result = Command::parse(args);
            assert!(
                !matches!(
                    result,
                    Err(CommandError::UnknownCommand { .. }
                        | CommandError::UnknownSubcommand { .. })
                ),
                "{}: {result:?}",
                sub.name
            );
        }
        // One argument too few is always an arity error naming the command.
        if n > 1 {
            let result = Command::parse(filler(spec.name, n - 1));
            assert_eq!(
                result,
                Err(CommandError::WrongArity { command: spec.name }),
                "{}",
                spec.name
            );
        }
    }
}

#[test]
fn names_and_write_flags() {
    // A command is named by the row it was parsed by, as CLIENT LIST's `cmd` shows it.
    assert_eq!(p("SETEX k 1 v").map(|c| c.name()), Ok("setex"));
    assert_eq!(p("UNLINK k").map(|c| c.name()), Ok("unlink"));
    assert_eq!(p("DECR k").map(|c| c.name()), Ok("decr"));
    assert_eq!(p("SUBSTR k 0 1").map(|c| c.name()), Ok("substr"));
    assert_eq!(p("CLIENT ID").map(|c| c.name()), Ok("client"));
    assert_eq!(p("CLIENT ID").map(|c| c.spec().name), Ok("client|id"));
    assert_eq!(p("COMMAND").map(|c| c.name()), Ok("command"));
    assert_eq!(batch().name(), "batch");
    assert!(p("SET k v").is_ok_and(|c| c.is_write()));
    assert!(p("GET k").is_ok_and(|c| !c.is_write()));
    assert!(batch().is_write());
}

/// A native batch putting `x` and deleting `y`.
fn batch() -> Command {
    let ops = vec![
        crate::protocol::binary::BatchOp::Put {
            key: b("x"),
            value: b("1"),
        },
        crate::protocol::binary::BatchOp::Delete { key: b("y") },
    ];
    match Request::from(crate::protocol::binary::Op::Batch { ops }) {
        Request::Command(command) => command,
        Request::Args(args) => panic!("a batch is a command: {args:?}"),
    }
}

#[test]
fn error_texts_without_parse_paths() {
    assert_eq!(
        CommandError::IncrementOverflow.to_string(),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        CommandError::NanOrInfinity.to_string(),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(CommandError::Empty.to_string(), "ERR empty command");
}

#[test]
fn lookup_errors_are_told_apart() {
    let lookup_err = |line: &str| p(line).unwrap_err().is_lookup_error();
    assert!(lookup_err("nosuch a"));
    assert!(lookup_err("GET"));
    assert!(lookup_err("CLIENT nosuch"));
    assert!(lookup_err("CLIENT SETNAME"));
    assert!(Command::parse(Vec::new()).unwrap_err().is_lookup_error());
    // Found while executing in Redis: after NOAUTH, and queued inside MULTI.
    assert!(!lookup_err("SET k v EX 0"));
    assert!(!lookup_err("SET k v FOO"));
    assert!(!lookup_err("MSET a 1 b"));
    assert!(!lookup_err("PING a b"));
    assert!(!lookup_err("CONFIG SET a 1 b"));
    assert!(!lookup_err("SCAN x"));
    assert!(!lookup_err("INCRBY k x"));
    assert_eq!(
        p("MSET a 1 b"),
        Err(CommandError::WrongArgumentCount { command: "mset" })
    );
}

#[test]
fn keys_follow_the_table_key_positions() {
    let keys = |line: &str| -> Vec<Bytes> { p(line).expect(line).keys().to_vec() };
    assert_eq!(keys("GET a"), vec![b("a")]);
    assert_eq!(keys("SET a v EX 1"), vec![b("a")]);
    assert_eq!(keys("MSET a 1 b 2"), vec![b("a"), b("b")]);
    assert_eq!(keys("RENAME a b"), vec![b("a"), b("b")]);
    assert_eq!(keys("DEL a b c"), vec![b("a"), b("b"), b("c")]);
    assert_eq!(keys("EXPIRE a 1"), vec![b("a")]);
    assert!(keys("RANGE a z").is_empty());
    assert!(keys("PING").is_empty());
    assert_eq!(batch().keys(), [b("x"), b("y")]);
    // Every command the table says has keys reports the ones at those positions.
    let mut checked = 0;
    for spec in COMMANDS.iter().filter(|s| s.first_key > 0) {
        let n = spec.arity.unsigned_abs() as usize;
        let args: Vec<Bytes> = std::iter::once(Bytes::copy_from_slice(spec.name.as_bytes()))
            .chain((1..n).map(|i| Bytes::from(format!("{i}"))))
            .collect();
        let Ok(cmd) = Command::parse(args) else {
            continue;
        };
        let first = Bytes::from(spec.first_key.to_string());
        assert_eq!(cmd.keys().first(), Some(&first), "{}", spec.name);
        checked += 1;
    }
    assert!(checked >= 30, "{checked}");
}

/// The command list of docs/protocol.md, as the table renders it.
fn commands_markdown() -> String {
    use std::fmt::Write as _;
    let mut out =
        String::from("| command | arguments | group | what it does |\n| --- | --- | --- | --- |\n");
    for spec in COMMANDS {
        let arguments = if spec.subcommands.is_empty() {
            match spec.usage() {
                usage if usage.is_empty() => "–".to_string(),
                usage => format!("`{}`", usage.replace('|', "\\|")),
            }
        } else {
            let subs: Vec<String> = spec
                .subcommands
                .iter()
                .map(|sub| sub.short_name().to_ascii_uppercase())
                .collect();
            format!("`<subcommand>` ({})", subs.join(", "))
        };
        let _ = writeln!(
            out,
            "| {} | {arguments} | {} | {} |",
            spec.name.to_ascii_uppercase(),
            spec.group,
            spec.summary
        );
    }
    out
}

/// docs/protocol.md lists every command from the table; `CAIRN_WRITE_DOCS=1` rewrites the
/// list after a row changes.
#[test]
fn protocol_md_lists_the_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/protocol.md");
    let doc = std::fs::read_to_string(&path).expect("docs/protocol.md");
    let start = doc
        .find("| command | arguments | group | what it does |")
        .expect("the command list");
    let end = doc[start..]
        .find("\n\n")
        .map_or(doc.len(), |n| start + n + 1);
    let want = commands_markdown();
    if doc[start..end] != want {
        if std::env::var_os("CAIRN_WRITE_DOCS").is_some() {
            let mut doc = doc.clone();
            doc.replace_range(start..end, &want);
            std::fs::write(&path, doc).expect("write docs/protocol.md");
        } else {
            panic!(
                "docs/protocol.md's command list is not the table's; rerun with CAIRN_WRITE_DOCS=1:\n{want}"
            );
        }
    }
}

/// A command moves from parse to dispatch to its family several times per request; at
/// most 128 bytes it is moved by a few register copies instead of a `memcpy` call.
#[test]
fn a_command_is_small() {
    assert!(
        std::mem::size_of::<Command>() <= 128,
        "{}",
        std::mem::size_of::<Command>()
    );
    assert!(
        std::mem::size_of::<Request>() <= 128,
        "{}",
        std::mem::size_of::<Request>()
    );
}
