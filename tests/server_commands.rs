//! Every command family against a real server process, through the `redis` crate (RESP2 and
//! RESP3) and raw sockets where the exact bytes matter.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::TestServer;
use redis::{Commands, RedisResult, Value};

/// Sends raw bytes and reads until `expect_len` bytes arrived or the peer closed.
fn raw(server: &TestServer, request: &[u8], expect_len: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while reply.len() < expect_len {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    reply
}

fn error_text<T: std::fmt::Debug>(result: RedisResult<T>) -> String {
    let error = result.expect_err("expected an error reply");
    match (error.code(), error.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => error.to_string(),
    }
}

#[test]
fn strings_get_set_and_options() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    let _: () = c.set("a", "1").unwrap();
    assert_eq!(c.get::<_, String>("a").unwrap(), "1");
    assert_eq!(c.get::<_, Option<String>>("missing").unwrap(), None);
    // Values on both sides of the size GET copies under the engine's lock (16 KiB), and
    // one with an expiry, read back whole.
    for len in [16 * 1024, 16 * 1024 + 1, 1 << 20] {
        let value: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
        let _: () = c.set("big", &value).unwrap();
        assert_eq!(c.get::<_, Vec<u8>>("big").unwrap(), value, "{len} bytes");
        let _: () = c.set_ex("big", &value, 100).unwrap();
        assert_eq!(
            c.get::<_, Vec<u8>>("big").unwrap(),
            value,
            "{len} bytes, EX"
        );
    }
    // NX / XX
    let r: Option<String> = redis::cmd("SET")
        .arg("a")
        .arg("2")
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
    let r: Option<String> = redis::cmd("SET")
        .arg("b")
        .arg("2")
        .arg("XX")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
    let r: Option<String> = redis::cmd("SET")
        .arg("a")
        .arg("3")
        .arg("XX")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(r.as_deref(), Some("1"));
    // GETSET, SETNX, GETDEL, MSET/MGET, MSETNX
    assert_eq!(c.getset::<_, _, String>("a", "4").unwrap(), "3");
    assert_eq!(c.set_nx::<_, _, i64>("a", "x").unwrap(), 0);
    assert_eq!(c.set_nx::<_, _, i64>("n", "x").unwrap(), 1);
    assert_eq!(
        redis::cmd("GETDEL")
            .arg("n")
            .query::<String>(&mut c)
            .unwrap(),
        "x"
    );
    assert_eq!(c.exists::<_, i64>("n").unwrap(), 0);
    let _: () = c.mset(&[("k1", "v1"), ("k2", "v2")]).unwrap();
    let got: Vec<Option<String>> = c.mget(&["k1", "nope", "k2"]).unwrap();
    assert_eq!(got, vec![Some("v1".into()), None, Some("v2".into())]);
    assert_eq!(
        c.mset_nx::<_, _, i64>(&[("k1", "z"), ("k3", "z")]).unwrap(),
        0
    );
    assert_eq!(c.exists::<_, i64>("k3").unwrap(), 0);
    // APPEND, STRLEN, GETRANGE, SETRANGE
    assert_eq!(c.append::<_, _, i64>("s", "Hello").unwrap(), 5);
    assert_eq!(c.append::<_, _, i64>("s", " World").unwrap(), 11);
    assert_eq!(c.strlen::<_, i64>("s").unwrap(), 11);
    assert_eq!(c.getrange::<_, String>("s", 0, 4).unwrap(), "Hello");
    assert_eq!(c.getrange::<_, String>("s", -5, -1).unwrap(), "World");
    assert_eq!(c.setrange::<_, _, i64>("s", 6, "Redis").unwrap(), 11);
    assert_eq!(c.get::<_, String>("s").unwrap(), "Hello Redis");
    assert_eq!(c.setrange::<_, _, i64>("pad", 3, "x").unwrap(), 4);
    assert_eq!(c.get::<_, Vec<u8>>("pad").unwrap(), b"\0\0\0x");
    // binary-safe values
    let blob: Vec<u8> = (0..=255u8).collect();
    let _: () = c.set("bin", &blob).unwrap();
    assert_eq!(c.get::<_, Vec<u8>>("bin").unwrap(), blob);
}

#[test]
fn counters() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    assert_eq!(c.incr::<_, _, i64>("n", 1).unwrap(), 1);
    assert_eq!(c.incr::<_, _, i64>("n", 10).unwrap(), 11);
    assert_eq!(c.decr::<_, _, i64>("n", 20).unwrap(), -9);
    assert_eq!(
        redis::cmd("INCR").arg("n").query::<i64>(&mut c).unwrap(),
        -8
    );
    assert_eq!(
        redis::cmd("DECR").arg("n").query::<i64>(&mut c).unwrap(),
        -9
    );
    let _: () = c.set("big", i64::MAX).unwrap();
    assert_eq!(
        error_text(c.incr::<_, _, i64>("big", 1)),
        "ERR increment or decrement would overflow"
    );
    let _: () = c.set("text", "abc").unwrap();
    assert_eq!(
        error_text(c.incr::<_, _, i64>("text", 1)),
        "ERR value is not an integer or out of range"
    );
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("10.5")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "10.5");
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("0.1")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "10.6");
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("-10.6")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "0");
    assert_eq!(
        error_text(
            redis::cmd("INCRBYFLOAT")
                .arg("text")
                .arg("1")
                .query::<String>(&mut c)
        ),
        "ERR value is not a valid float"
    );
}

#[test]
fn compare_and_set_digest_and_delex() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    let _: () = c.set("k", "v1").unwrap();
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v2")
        .arg("IFEQ")
        .arg("nope")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v2")
        .arg("IFEQ")
        .arg("v1")
        .query(&mut c)
        .unwrap();
    assert_eq!(r.as_deref(), Some("OK"));
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v3")
        .arg("IFNE")
        .arg("v2")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
    // A missing key fails IFEQ and passes IFNE.
    let r: Option<String> = redis::cmd("SET")
        .arg("m")
        .arg("x")
        .arg("IFEQ")
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
    let r: Option<String> = redis::cmd("SET")
        .arg("m")
        .arg("x")
        .arg("IFNE")
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert_eq!(r.as_deref(), Some("OK"));
    let digest: String = redis::cmd("DIGEST").arg("k").query(&mut c).unwrap();
    assert_eq!(digest.len(), 16);
    assert_eq!(
        digest,
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(b"v2"))
    );
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v9")
        .arg("IFDEQ")
        .arg(&digest)
        .query(&mut c)
        .unwrap();
    assert_eq!(r.as_deref(), Some("OK"));
    let gone: i64 = redis::cmd("DELEX")
        .arg("k")
        .arg("IFEQ")
        .arg("other")
        .query(&mut c)
        .unwrap();
    assert_eq!(gone, 0);
    let gone: i64 = redis::cmd("DELEX")
        .arg("k")
        .arg("IFEQ")
        .arg("v9")
        .query(&mut c)
        .unwrap();
    assert_eq!(gone, 1);
    assert_eq!(
        redis::cmd("DIGEST")
            .arg("k")
            .query::<Option<String>>(&mut c)
            .unwrap(),
        None
    );
}

// One walk through the key commands against one server; the steps build on each other.
#[allow(clippy::too_many_lines)]
#[test]
fn keys_expiry_and_ttl() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    let _: () = c.set("a", "1").unwrap();
    assert_eq!(c.ttl::<_, i64>("a").unwrap(), -1);
    assert_eq!(c.ttl::<_, i64>("missing").unwrap(), -2);
    assert_eq!(c.expire::<_, i64>("a", 100).unwrap(), 1);
    let ttl: i64 = c.ttl("a").unwrap();
    assert!((99..=100).contains(&ttl), "{ttl}");
    let pttl: i64 = c.pttl("a").unwrap();
    assert!((98_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(c.persist::<_, i64>("a").unwrap(), 1);
    assert_eq!(c.ttl::<_, i64>("a").unwrap(), -1);
    // GT on a key without TTL fails; NX succeeds.
    let r: i64 = redis::cmd("EXPIRE")
        .arg("a")
        .arg(50)
        .arg("GT")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 0);
    let r: i64 = redis::cmd("EXPIRE")
        .arg("a")
        .arg(50)
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 1);
    // Expiry is honoured: PX 100 then gone.
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    assert_eq!(c.exists::<_, i64>("short").unwrap(), 1);
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(c.get::<_, Option<String>>("short").unwrap(), None);
    assert_eq!(c.exists::<_, i64>("short").unwrap(), 0);
    let keys: Vec<String> = c.keys("*").unwrap();
    assert!(!keys.contains(&"short".to_string()));
    // A deadline in the past deletes at once.
    let _: () = c.set("old", "v").unwrap();
    assert_eq!(c.expire_at::<_, i64>("old", 1).unwrap(), 1);
    assert_eq!(c.exists::<_, i64>("old").unwrap(), 0);
    // KEEPTTL keeps it; a plain SET clears it.
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("w")
        .arg("KEEPTTL")
        .query(&mut c)
        .unwrap();
    assert!(c.ttl::<_, i64>("t").unwrap() > 0);
    let _: () = c.set("t", "x").unwrap();
    assert_eq!(c.ttl::<_, i64>("t").unwrap(), -1);
    // GETEX
    let v: String = redis::cmd("GETEX")
        .arg("t")
        .arg("EX")
        .arg(30)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "x");
    assert!(c.ttl::<_, i64>("t").unwrap() > 0);
    let _: String = redis::cmd("GETEX")
        .arg("t")
        .arg("PERSIST")
        .query(&mut c)
        .unwrap();
    assert_eq!(c.ttl::<_, i64>("t").unwrap(), -1);
    // Invalid expire time.
    assert_eq!(
        error_text(
            redis::cmd("SET")
                .arg("x")
                .arg("v")
                .arg("EX")
                .arg(0)
                .query::<()>(&mut c)
        ),
        "ERR invalid expire time in 'set' command"
    );
    // DEL, EXISTS counts duplicates, TYPE, RENAME
    assert_eq!(c.exists::<_, i64>(&["a", "a", "zz"]).unwrap(), 2);
    assert_eq!(
        redis::cmd("TYPE").arg("a").query::<String>(&mut c).unwrap(),
        "string"
    );
    assert_eq!(
        redis::cmd("TYPE")
            .arg("zz")
            .query::<String>(&mut c)
            .unwrap(),
        "none"
    );
    let _: () = c.rename("a", "b").unwrap();
    assert_eq!(c.get::<_, String>("b").unwrap(), "1");
    assert!(c.ttl::<_, i64>("b").unwrap() > 0, "RENAME keeps the TTL");
    assert_eq!(
        error_text(c.rename::<_, _, ()>("nope", "x")),
        "ERR no such key"
    );
    assert_eq!(c.rename_nx::<_, _, i64>("b", "t").unwrap(), 0);
    assert_eq!(c.del::<_, i64>(&["b", "t", "nope"]).unwrap(), 2);
    let unlinked: i64 = redis::cmd("UNLINK").arg("pad").query(&mut c).unwrap();
    assert_eq!(unlinked, 0);
}

#[test]
fn keys_scan_dbsize_flush_and_range() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    for i in 0..250 {
        let _: () = c.set(format!("key:{i:03}"), i).unwrap();
    }
    let _: () = c.set("other", "x").unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 251);
    let mut keys: Vec<String> = c.keys("key:1*").unwrap();
    keys.sort();
    assert_eq!(keys.len(), 100);
    // SCAN: a full iteration with MATCH and COUNT returns every matching key.
    let mut cursor = 0u64;
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("key:*")
            .arg("COUNT")
            .arg(37)
            .query(&mut c)
            .unwrap();
        seen.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 250);
    let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("TYPE")
        .arg("hash")
        .arg("COUNT")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    assert_eq!((next, batch.len()), (0, 0));
    assert_eq!(
        error_text(redis::cmd("SCAN").arg(12345).query::<Value>(&mut c)),
        "ERR invalid cursor"
    );
    assert_eq!(
        error_text(redis::cmd("SCAN").arg("abc").query::<Value>(&mut c)),
        "ERR invalid cursor"
    );
    // RANGE and RANGEKEYS: ordered, end exclusive, LIMIT and REV.
    let pairs: Vec<String> = redis::cmd("RANGE")
        .arg("key:010")
        .arg("key:013")
        .query(&mut c)
        .unwrap();
    assert_eq!(pairs, ["key:010", "10", "key:011", "11", "key:012", "12"]);
    let keys: Vec<String> = redis::cmd("RANGEKEYS")
        .arg("-")
        .arg("+")
        .arg("LIMIT")
        .arg(2)
        .arg("REV")
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, ["other", "key:249"]);
    let keys: Vec<String> = redis::cmd("RANGEKEYS")
        .arg("key:247")
        .arg("+")
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, ["key:247", "key:248", "key:249", "other"]);
    let _: () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 0);
}

#[test]
fn transactions_and_watch() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("x", 1)
        .incr("x", 2)
        .query(&mut c)
        .unwrap();
    assert_eq!((a, b), (1, 3));
    // WATCH: a change by another client makes EXEC return nil.
    let mut other = server.redis();
    let _: () = redis::cmd("WATCH").arg("x").query(&mut c).unwrap();
    let _: () = other.set("x", 100).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: () = redis::cmd("INCR").arg("x").query(&mut c).unwrap();
    let r: Value = redis::cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(r, Value::Nil);
    assert_eq!(c.get::<_, i64>("x").unwrap(), 100);
    // A queueing error aborts the whole transaction.
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("y").arg("1").query(&mut c).unwrap();
    assert!(redis::cmd("NOSUCHCOMMAND").query::<()>(&mut c).is_err());
    assert!(error_text(redis::cmd("EXEC").query::<Value>(&mut c)).starts_with("EXECABORT"));
    assert_eq!(c.exists::<_, i64>("y").unwrap(), 0);
    // A run-time error does not undo the rest.
    let _: () = c.set("s", "text").unwrap();
    let r: Vec<Value> = redis::pipe()
        .atomic()
        .incr("s", 1)
        .set("z", 1)
        .query(&mut c)
        .unwrap_or_default();
    let _ = r;
    assert_eq!(c.get::<_, i64>("z").unwrap(), 1);
    assert_eq!(
        error_text(redis::cmd("EXEC").query::<Value>(&mut c)),
        "ERR EXEC without MULTI"
    );
    assert_eq!(
        error_text(redis::cmd("DISCARD").query::<Value>(&mut c)),
        "ERR DISCARD without MULTI"
    );
}

// One walk through the connection and server commands on one connection, whose state
// (client name, selected database, protocol) the steps build on.
#[allow(clippy::too_many_lines)]
#[test]
fn connection_and_server_commands() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    assert_eq!(redis::cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
    assert_eq!(
        redis::cmd("PING")
            .arg("hi")
            .query::<String>(&mut c)
            .unwrap(),
        "hi"
    );
    assert_eq!(
        redis::cmd("ECHO")
            .arg("x y")
            .query::<String>(&mut c)
            .unwrap(),
        "x y"
    );
    let _: () = redis::cmd("SELECT").arg(15).query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
    assert_eq!(
        error_text(redis::cmd("SELECT").arg(16).query::<()>(&mut c)),
        "ERR DB index is out of range"
    );
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        redis::cmd("CLIENT")
            .arg("GETNAME")
            .query::<String>(&mut c)
            .unwrap(),
        "tester"
    );
    let _: () = redis::cmd("CLIENT")
        .arg("SETINFO")
        .arg("lib-name")
        .arg("mylib")
        .query(&mut c)
        .unwrap();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(
        list.contains(&format!("id={id} "))
            && list.contains("name=tester")
            && list.contains("lib-name=mylib")
            && list.contains("cmd=client "),
        "{list}"
    );
    // Another client's line names the last command it ran.
    let mut other = server.redis();
    let other_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut other).unwrap();
    let _: Option<String> = other.get("a").unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={other_id} ")))
        .unwrap_or_default();
    assert!(line.contains(" cmd=get "), "{list}");
    let info: String = redis::cmd("INFO").query(&mut c).unwrap();
    assert!(
        info.contains("redis_version:7.2.0") && info.contains("# Keyspace"),
        "{info}"
    );
    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut c)
        .unwrap();
    assert_eq!(cfg, ["save", ""]);
    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query(&mut c)
        .unwrap();
    assert_eq!(cfg, ["appendonly", "yes"]);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("timeout")
        .arg("0")
        .query(&mut c)
        .unwrap();
    let time: Vec<String> = redis::cmd("TIME").query(&mut c).unwrap();
    assert_eq!(time.len(), 2);
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    assert!(count > 60, "{count}");
    let docs: Value = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("set")
        .query(&mut c)
        .unwrap();
    assert!(format!("{docs:?}").contains("arguments"));
    // Errors keep the connection open.
    assert_eq!(
        error_text(redis::cmd("FOO").arg("a").arg("b").query::<()>(&mut c)),
        "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        error_text(redis::cmd("GET").query::<()>(&mut c)),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        error_text(
            redis::cmd("SET")
                .arg("a")
                .arg("b")
                .arg("NX")
                .arg("XX")
                .query::<()>(&mut c)
        ),
        "ERR syntax error"
    );
    assert_eq!(redis::cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
}

#[test]
fn hello_3_speaks_resp3() {
    let server = TestServer::start(&[]);
    let reply = raw(&server, b"HELLO 3\r\n", 40);
    assert!(
        reply.starts_with(b"%"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let text = String::from_utf8_lossy(&reply);
    for field in [
        "server", "version", "proto", "id", "mode", "role", "modules",
    ] {
        assert!(text.contains(field), "HELLO lacks {field}: {text}");
    }
    let reply = raw(&server, b"HELLO 4\r\n", 10);
    assert_eq!(reply, b"-NOPROTO unsupported protocol version\r\n");
    let client = redis::Client::open(server.url_resp3()).unwrap();
    let mut c = client.get_connection().unwrap();
    let _: () = c.set("k", "v").unwrap();
    assert_eq!(c.get::<_, Option<String>>("nope").unwrap(), None);
    assert_eq!(c.get::<_, String>("k").unwrap(), "v");
    let v: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut c)
        .unwrap();
    assert!(matches!(v, Value::Map(_)), "{v:?}");
}

#[test]
fn inline_commands_and_protocol_errors() {
    let server = TestServer::start(&[]);
    let reply = raw(&server, b"SET \"a key\" 'v 1'\r\nGET \"a key\"\r\n", 12);
    assert_eq!(reply, b"+OK\r\n$3\r\nv 1\r\n");
    // A malformed request: the error, then the connection closes.
    let reply = raw(&server, b"*1\r\n$abc\r\n", 1000);
    assert_eq!(reply, b"-ERR Protocol error: invalid bulk length\r\n");
    let reply = raw(&server, b"*2\r\n$3\r\nGET\r\n:1\r\n", 1000);
    assert!(
        reply.starts_with(b"-ERR Protocol error: expected '$', got ':'"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    // A length field that claims 4 GiB is refused, not allocated.
    let reply = raw(&server, b"*1\r\n$4294967296\r\n", 1000);
    assert_eq!(reply, b"-ERR Protocol error: invalid bulk length\r\n");
}

#[test]
fn pipelining_ten_thousand_requests() {
    let server = TestServer::start(&["--fsync", "everysec"]);
    let mut c = server.redis();
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.set(format!("p{i}"), i).ignore();
    }
    for i in 0..10_000 {
        pipe.get(format!("p{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut c).unwrap();
    assert_eq!(values, (0..10_000).collect::<Vec<i64>>());
}

#[test]
fn pipelined_writes_see_each_other_and_stay_atomic_across_workers() {
    // A pipelined round commits its writes together at its end; its later commands must
    // still read its earlier writes, in order, with Redis's replies.
    let server = TestServer::start(&["--fsync", "always", "--threads", "4"]);
    let request = b"SET k 5\r\nINCR k\r\nAPPEND k 0\r\nGET k\r\nSET k x NX\r\n\
        DEL k\r\nINCRBY k 3\r\nSET e v\r\nGETDEL k\r\nEXISTS k\r\nDBSIZE\r\n";
    let want = b"+OK\r\n:6\r\n:2\r\n$2\r\n60\r\n$-1\r\n:1\r\n:3\r\n+OK\r\n$1\r\n3\r\n:0\r\n:1\r\n";
    assert_eq!(
        String::from_utf8_lossy(&raw(&server, request, want.len())),
        String::from_utf8_lossy(want)
    );
    // Rounds on several workers contending for the same keys lose no increment.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let url = server.url();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                for _ in 0..50 {
                    let mut pipe = redis::pipe();
                    for key in ["a", "b", "a", "c", "b"] {
                        pipe.incr(key, 1).ignore();
                    }
                    let () = pipe.query(&mut c).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.redis();
    let counts: Vec<i64> = redis::cmd("MGET")
        .arg(&["a", "b", "c"])
        .query(&mut c)
        .unwrap();
    assert_eq!(counts, vec![800, 800, 400]);
}

#[test]
fn two_hundred_concurrent_connections() {
    let server = TestServer::start(&["--fsync", "always"]);
    let threads: Vec<_> = (0..200)
        .map(|t| {
            let url = server.url();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                for i in 0..20 {
                    let _: () = c.set(format!("t{t}:{i}"), i).unwrap();
                    assert!(c.incr::<_, _, i64>("shared", 1).is_ok());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.redis();
    assert_eq!(c.get::<_, i64>("shared").unwrap(), 200 * 20);
    assert_eq!(
        redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(),
        200 * 20 + 1
    );
}

#[test]
fn requirepass_gates_everything_but_auth_hello_quit() {
    let server = TestServer::start(&["--requirepass", "s3cret"]);
    let reply = raw(&server, b"GET a\r\n", 10);
    assert_eq!(reply, b"-NOAUTH Authentication required.\r\n");
    let reply = raw(&server, b"AUTH wrong\r\n", 10);
    assert_eq!(
        reply,
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let reply = raw(&server, b"AUTH s3cret\r\nSET a 1\r\nGET a\r\n", 17);
    assert_eq!(reply, b"+OK\r\n+OK\r\n$1\r\n1\r\n");
    let client = redis::Client::open(format!("redis://:s3cret@{}/", server.addr)).unwrap();
    let mut c = client.get_connection().unwrap();
    assert_eq!(c.get::<_, String>("a").unwrap(), "1");
    // Before AUTH, a big array is a protocol error.
    let mut big = b"*11\r\n".to_vec();
    for _ in 0..11 {
        big.extend_from_slice(b"$1\r\na\r\n");
    }
    let reply = raw(&server, &big, 1000);
    assert!(
        reply.starts_with(b"-ERR Protocol error"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

#[test]
fn restart_keeps_data_and_shutdown_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), &["--fsync", "everysec"]);
    let mut c = server.redis();
    for i in 0..1000 {
        let _: () = c.set(format!("k{i}"), format!("v{i}")).unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("v")
        .arg("EX")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    drop(c);
    assert!(server.stop().success(), "SIGTERM exits 0");
    let mut server = TestServer::start_in(dir.path(), &[]);
    let mut c = server.redis();
    for i in 0..1000 {
        assert_eq!(
            c.get::<_, String>(format!("k{i}")).unwrap(),
            format!("v{i}")
        );
    }
    assert!(c.ttl::<_, i64>("ttl").unwrap() > 900);
    let _ = redis::cmd("SHUTDOWN").query::<Value>(&mut c);
    assert!(server.wait_exit().success(), "SHUTDOWN exits 0");
}

#[test]
fn port_in_use_and_locked_directory_fail_clearly() {
    let server = TestServer::start(&[]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-server"))
        .args(["--port", &server.addr.port().to_string(), "--dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot listen"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-server"))
        .args(["--port", "0", "--dir"])
        .arg(&server.dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use"), "{stderr}");
}

#[test]
fn row_flags_gate_auth_and_multi_as_redis_does() {
    // RESET is `no_auth` in Redis: it answers before AUTH, and leaves the client
    // unauthenticated.
    let server = TestServer::start(&["--requirepass", "s3cret"]);
    let reply = raw(&server, b"RESET\r\nGET a\r\n", 42);
    assert_eq!(reply, b"+RESET\r\n-NOAUTH Authentication required.\r\n");
    // SHUTDOWN is `no_multi`: refused inside MULTI, which it dooms; WATCH and MULTI act at
    // once (and refuse), PING is queued.
    let server = TestServer::start(&[]);
    let reply = raw(
        &server,
        b"MULTI\r\nWATCH a\r\nMULTI\r\nSHUTDOWN\r\nPING\r\nEXEC\r\n",
        199,
    );
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "+OK\r\n-ERR WATCH inside MULTI is not allowed\r\n-ERR MULTI calls can not be nested\r\n\
         -ERR Command not allowed inside a transaction\r\n+QUEUED\r\n\
         -EXECABORT Transaction discarded because of previous errors.\r\n"
    );
}
