//! Differential test of the command table against a real Redis: for every command (and
//! subcommand) both know, COMMAND INFO must report the same arity, key positions, flags and
//! ACL categories, COMMAND GETKEYS the same keys or error, and COMMAND LIST FILTERBY ACLCAT
//! the same commands. The table is Cairn's one place for these facts; Redis is the
//! reference clients were written against.
//!
//! The Redis is a scratch `redis-server` (.ci/run installs it; under CI a missing one fails
//! the test, elsewhere the test says so and passes), or `CAIRN_REDIS_DIFF`.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::scratch_redis::ScratchRedis;
use common::TestServer;
use redis::Value;

/// A bulk or simple string as text.
fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        other => format!("{other:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) | Value::Set(items) => items,
        _ => &[],
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// What COMMAND INFO says of one command, in a form to compare.
#[derive(Debug, PartialEq)]
struct Info {
    arity: i64,
    keys: (i64, i64, i64),
    flags: Vec<String>,
    categories: Vec<String>,
}

/// COMMAND INFO entries by name, subcommands included.
fn infos(entries: &[Value], out: &mut BTreeMap<String, Info>) {
    for entry in entries {
        let fields = items(entry);
        if fields.len() < 10 {
            continue;
        }
        let mut flags: Vec<String> = items(&fields[2]).iter().map(text).collect();
        flags.sort();
        out.insert(
            text(&fields[0]),
            Info {
                arity: int(&fields[1]),
                keys: (int(&fields[3]), int(&fields[4]), int(&fields[5])),
                flags,
                // Redis reports categories in a fixed order; so must Cairn.
                categories: items(&fields[6]).iter().map(text).collect(),
            },
        );
        infos(items(&fields[9]), out);
    }
}

fn query(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con).unwrap_or_else(|e| match e.kind() {
        redis::ErrorKind::ExtensionError | redis::ErrorKind::ResponseError => {
            Value::SimpleString(format!("ERROR {}", e.detail().unwrap_or_default()))
        }
        _ => Value::SimpleString(format!("ERROR {e}")),
    })
}

/// Requests whose keys both servers must extract alike (or refuse alike).
const GETKEYS: &[&str] = &[
    "GET k",
    "SET k v EX 10",
    "MSET a 1 b 2",
    "MSET a 1 b",
    "MGET a b c",
    "DEL a b",
    "RENAME a b",
    "EXPIRE k 10 NX",
    "WATCH a b",
    "GETEX k PERSIST",
    "BITOP AND d a b",
    "BITOP NOT d",
    "BITFIELD_RO k GET u8 0",
    "PING",
    "CLIENT SETNAME x",
    "SCAN 0",
    "nosuch a",
    "GET",
    "GET a b",
];

#[test]
fn command_table_agrees_with_redis() {
    let Some(redis) = ScratchRedis::start("command table comparison against Redis") else {
        return;
    };
    let mut theirs = redis::Client::open(format!("redis://{}", redis.addr))
        .and_then(|c| c.get_connection())
        .expect("connect to the scratch Redis");
    let server = TestServer::start(&[]);
    let mut ours = server.redis();

    let mut our_infos = BTreeMap::new();
    infos(items(&query(&mut ours, &["COMMAND"])), &mut our_infos);
    assert!(our_infos.len() > 60, "{}", our_infos.len());
    let names: Vec<&str> = our_infos.keys().map(String::as_str).collect();
    let mut args = vec!["COMMAND", "INFO"];
    args.extend(&names);
    let mut their_infos = BTreeMap::new();
    infos(items(&query(&mut theirs, &args)), &mut their_infos);
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, info) in &our_infos {
        // Cairn's own commands and those newer than the Redis here are not compared.
        let Some(want) = their_infos.get(name) else {
            continue;
        };
        compared += 1;
        if info != want {
            failures.push(format!(
                "{name}: cairn {info:?}\n{:width$}redis {want:?}",
                "",
                width = name.len() + 2
            ));
        }
    }
    assert!(compared > 60, "only {compared} commands compared");

    for request in GETKEYS {
        let mut args = vec!["COMMAND", "GETKEYS"];
        args.extend(request.split(' '));
        let (a, b) = (query(&mut ours, &args), query(&mut theirs, &args));
        if a != b {
            failures.push(format!(
                "COMMAND GETKEYS {request}: cairn {a:?}, redis {b:?}"
            ));
        }
    }

    for category in [
        "read",
        "write",
        "string",
        "keyspace",
        "connection",
        "transaction",
        "admin",
        "dangerous",
        "fast",
        "slow",
        "nosuch",
    ] {
        let list = |con: &mut redis::Connection| -> Vec<String> {
            let mut names: Vec<String> = items(&query(
                con,
                &["COMMAND", "LIST", "FILTERBY", "ACLCAT", category],
            ))
            .iter()
            .map(text)
            .filter(|n| our_infos.contains_key(n) && their_infos.contains_key(n))
            .collect();
            names.sort();
            names
        };
        let (a, b) = (list(&mut ours), list(&mut theirs));
        if a != b {
            failures.push(format!("ACLCAT {category}: cairn {a:?}, redis {b:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
