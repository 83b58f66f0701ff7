//! Differential test of `Command::parse` against a real Redis server.
//!
//! The Redis is `CAIRN_REDIS_DIFF` (an address it will FLUSHALL: a scratch server only),
//! or else a `redis-server` this test starts on a free port (.ci/run installs it; under CI
//! a missing one fails the test, elsewhere the test says so and passes). Every request is sent to Redis after a
//! reset to one known key (`k` = `10`); where Cairn refuses a request, Redis must
//! answer the very same error line, and where Cairn accepts one, Redis must not answer
//! with a syntax, arity or unknown-command error.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use bytes::Bytes;
use cairn::protocol::command::{Command, CommandError, Family, GetExExpiry, StringCommand};
use common::scratch_redis::ScratchRedis;

/// Requests both sides see. None may change connection state for good: no valid
/// MULTI, HELLO 3, QUIT, SHUTDOWN, CLIENT KILL of a real client, CONFIG SET.
const CASES: &[&str] = &[
    "GET",
    "GET k x",
    "get k",
    "nosuch",
    "nosuch a b",
    "SET k",
    "SET k v NX XX",
    "SET k v XX NX",
    "SET k v EX 1 PX 1",
    "SET k v EX",
    "SET k v EX abc",
    "SET k v EX 0",
    "SET k v PX -1",
    "SET k v EX 9223372036854776",
    "SET k v KEEPTTL EX 1",
    "SET k v EX 1 KEEPTTL",
    "SET k v FOO",
    "SET k v EX abc FOO",
    "SET k v NX GET",
    "SET k v GET EX 10",
    "SET k v PERSIST",
    "SET k v EX 1 EX 2",
    "SET k v EXAT 1",
    "SET k v PXAT 0",
    "SET k v EX +1",
    "SET k v EX 01",
    "SET k v ex 5 nx",
    "SETEX k 0 v",
    "SETEX k x v",
    "SETEX k 10 v",
    "PSETEX k -1 v",
    "PSETEX k 10 v",
    "SETEX k 1",
    "GETSET k v",
    "GETSET k",
    "SETNX k v",
    // Numbered databases and commands on keys of any type.
    "SELECT 15",
    "SELECT 16",
    "SELECT -1",
    "SELECT x",
    "COPY k",
    "COPY k k2 DB",
    "COPY k k2 DB x",
    "COPY k k2 DB 1 REPLACE",
    "COPY k k2 FOO",
    "COPY k k",
    "COPY k k2 DB 99",
    "MOVE k",
    "MOVE k x",
    "MOVE k 0",
    "MOVE k 99",
    "MOVE nosuch 1",
    "RANDOMKEY x",
    "OBJECT",
    "OBJECT ENCODING",
    "OBJECT ENCODING k",
    "OBJECT ENCODING nosuch",
    "OBJECT REFCOUNT k",
    "OBJECT FREQ k",
    "OBJECT NOSUCH k",
    "OBJECT HELP x",
    "SETNX k",
    "GETDEL k",
    "GETDEL",
    "GETEX k",
    "GETEX k PERSIST",
    "GETEX k EX 10",
    "GETEX k EX 0",
    "GETEX k EX x",
    "GETEX k NX",
    "GETEX k GET",
    "GETEX k KEEPTTL",
    "GETEX k EX 1 PERSIST",
    "GETEX k PERSIST EX 1",
    "GETEX k EX",
    "GETEX k PX 1 EX 1",
    "GETEX",
    "MGET",
    "MGET a b",
    "MSET a",
    "MSET a 1 b",
    "MSET a 1 b 2",
    "MSETNX a 1 b",
    "MSETNX x1 1",
    "APPEND k",
    "APPEND k v",
    "STRLEN k",
    "STRLEN",
    "GETRANGE k 0 -1",
    "GETRANGE k a 1",
    "GETRANGE k 0",
    "SUBSTR k 0 1",
    "SETRANGE k -1 v",
    "SETRANGE k x v",
    "SETRANGE k 536870912 v",
    "SETRANGE k 536870911 v",
    "SETRANGE k 536870911 vv",
    "INCR k",
    "INCR k 1",
    "DECR k",
    "INCRBY k x",
    "INCRBY k 1.5",
    "INCRBY k +1",
    "INCRBY k 01",
    "INCRBY k 9223372036854775808",
    "DECRBY k -9223372036854775808",
    "DECRBY k 1",
    "DECRBY k",
    "INCRBYFLOAT k abc",
    "INCRBYFLOAT k nan",
    "INCRBYFLOAT k inf",
    "INCRBYFLOAT k 1.5",
    "INCRBYFLOAT k",
    "LCS k",
    "LCS k x",
    "LCS k x LEN IDX",
    "LCS k x IDX MINMATCHLEN",
    "LCS k x MINMATCHLEN x",
    "LCS k x MINMATCHLEN -3 WITHMATCHLEN",
    "LCS k x FOO",
    "SETBIT k 7 1",
    "SETBIT k 0 0",
    "SETBIT k 4294967296 1",
    "SETBIT k -1 1",
    "SETBIT k x 1",
    "SETBIT k 01 1",
    "SETBIT k 1 2",
    "SETBIT k 1 -1",
    "SETBIT k 1 x",
    "SETBIT k 1 01",
    "SETBIT k x 2",
    "SETBIT k 1",
    "SETBIT k 1 1 1",
    "GETBIT k 3",
    "GETBIT k 4294967295",
    "GETBIT k 4294967296",
    "GETBIT k -1",
    "GETBIT k x",
    "GETBIT k",
    "BITCOUNT",
    "BITCOUNT k",
    "BITCOUNT k 0 -1",
    "BITCOUNT k 0 -1 BIT",
    "BITCOUNT k 0 -1 byte",
    "BITCOUNT k 1",
    "BITCOUNT k 1 2 BIT x",
    "BITCOUNT k x 1",
    "BITCOUNT k 1 x",
    "BITCOUNT k x 1 FOO",
    "BITCOUNT k 1 2 FOO",
    "BITCOUNT k -1 -5 FOO",
    "BITCOUNT k -5 -1 FOO",
    "BITCOUNT nokey 1",
    "BITCOUNT nokey x y FOO",
    "BITPOS k",
    "BITPOS k 0",
    "BITPOS k 1 1",
    "BITPOS k 1 1 -1",
    "BITPOS k 0 0 -1 BIT",
    "BITPOS k 2",
    "BITPOS k -1",
    "BITPOS k x",
    "BITPOS k 1 x",
    "BITPOS k 1 0 x",
    "BITPOS k 1 0 1 FOO",
    "BITPOS k 1 0 x FOO",
    "BITPOS k 1 x 1 FOO",
    "BITPOS k 1 0 1 BIT x",
    "BITPOS nokey 2",
    "BITPOS nokey 1 x",
    "BITPOS nokey 0 1 2 FOO",
    "BITOP",
    "BITOP AND",
    "BITOP AND d",
    "BITOP AND d k",
    "BITOP or d k x y",
    "BITOP XOR d k k",
    "BITOP NOT d k",
    "BITOP NOT d k x",
    "BITOP NAND d k",
    "BITOP d k x",
    "BITFIELD",
    "BITFIELD k",
    "BITFIELD k GET u8 0",
    "BITFIELD k GET i64 #1 GET u63 3",
    "BITFIELD k SET i8 0 300 GET u8 0",
    "BITFIELD k INCRBY u4 #2 -20 OVERFLOW SAT INCRBY u4 #2 -20",
    "BITFIELD k OVERFLOW FAIL INCRBY i8 0 1000",
    "BITFIELD k GET u64 0",
    "BITFIELD k GET i65 0",
    "BITFIELD k GET i0 0",
    "BITFIELD k GET U8 0",
    "BITFIELD k GET x8 0",
    "BITFIELD k GET u 0",
    "BITFIELD k GET u8 -1",
    "BITFIELD k GET u8 #-1",
    "BITFIELD k GET u8 #x",
    "BITFIELD k GET u8 4294967295",
    "BITFIELD k GET u8 4294967296",
    "BITFIELD k GET u8 #536870911",
    "BITFIELD k GET u8 #536870912",
    "BITFIELD k GET u8 #2305843009213693952",
    "BITFIELD k GET u8",
    "BITFIELD k SET u8 0",
    "BITFIELD k SET u8 0 x",
    "BITFIELD k SET u64 x x",
    "BITFIELD k SET u8 x x",
    "BITFIELD k INCRBY u8 0 9223372036854775808",
    "BITFIELD k OVERFLOW",
    "BITFIELD k OVERFLOW FOO",
    "BITFIELD k OVERFLOW sat",
    "BITFIELD k FOO u8 0",
    "BITFIELD k GET u8 0 FOO",
    "BITFIELD_RO",
    "BITFIELD_RO k",
    "BITFIELD_RO k GET u8 0 GET i4 #3",
    "BITFIELD_RO k SET u8 0 1",
    "BITFIELD_RO k GET u8 0 INCRBY u8 0 1",
    "BITFIELD_RO k SET u8 0 x",
    "BITFIELD_RO k SET u8 0 1 GET",
    "BITFIELD_RO k OVERFLOW FAIL GET u8 0",
    "DEL",
    "DEL a b",
    "UNLINK a",
    "EXISTS",
    "EXISTS a a",
    "TYPE k",
    "TYPE",
    "EXPIRE k",
    "EXPIRE k 1 NX XX",
    "EXPIRE k 1 GT NX",
    "EXPIRE k 1 GT LT",
    "EXPIRE k 1 FOO",
    "EXPIRE k abc FOO",
    "EXPIRE k abc",
    "EXPIRE k 9223372036854776",
    "EXPIREAT k -9223372036854776",
    "EXPIRE k 100 XX GT",
    "EXPIRE k 100 LT XX",
    "EXPIRE k 100 nx",
    "PEXPIRE k 100000",
    "PEXPIREAT k 99999999999999",
    "EXPIREAT k 9999999999",
    "PEXPIRE k 9223372036854775807",
    "TTL k",
    "TTL a b",
    "PTTL k",
    "EXPIRETIME k",
    "PEXPIRETIME k",
    "PERSIST k",
    "PERSIST",
    "KEYS",
    "KEYS *",
    "SCAN",
    "SCAN abc",
    "SCAN -1",
    "SCAN 18446744073709551616",
    "SCAN abc COUNT 0",
    "SCAN 0 COUNT 0",
    "SCAN 0 COUNT -1",
    "SCAN 0 COUNT x",
    "SCAN 0 COUNT",
    "SCAN 0 MATCH",
    "SCAN 0 FOO bar",
    "SCAN 0 MATCH * COUNT 10 TYPE string",
    "SCAN 007",
    "SCAN 0 TYPE nosuch",
    "RENAME k",
    "RENAME k k2",
    "RENAMENX k k3",
    "DBSIZE",
    "DBSIZE x",
    "FLUSHDB LAZY",
    "FLUSHDB ASYNC SYNC",
    "FLUSHDB",
    "FLUSHALL SYNC",
    "WATCH",
    "WATCH a",
    "UNWATCH",
    "UNWATCH x",
    "EXEC",
    "EXEC x",
    "DISCARD",
    "MULTI x",
    "PING",
    "PING hi",
    "PING a b",
    "ECHO",
    "ECHO a b",
    "ECHO hi",
    "AUTH",
    "AUTH a b c",
    "AUTH pw",
    "SELECT",
    "SELECT x",
    "SELECT 2147483648",
    "SELECT 0",
    "RESET x",
    "TIME x",
    "TIME",
    "INFO server",
    "HELLO three",
    "HELLO 3.0",
    "HELLO 4 garbage",
    "HELLO 2 foo",
    "HELLO 2 AUTH u",
    "HELLO 2 SETNAME",
    "HELLO 2",
    "CLIENT",
    "CLIENT foo",
    "CLIENT foo bar",
    "CLIENT ID",
    "CLIENT ID x",
    "CLIENT GETNAME",
    "CLIENT SETNAME",
    "CLIENT SETNAME a b",
    "CLIENT SETNAME conn-1",
    "CLIENT INFO",
    "CLIENT HELP",
    "CLIENT LIST TYPE bogus",
    "CLIENT LIST ID 1 x",
    "CLIENT LIST TYPE",
    "CLIENT LIST ID",
    "CLIENT LIST TYPE normal x",
    "CLIENT LIST TYPE pubsub",
    "CLIENT LIST ID 1 2",
    "CLIENT KILL",
    "CLIENT KILL ID 0",
    "CLIENT KILL ID x",
    "CLIENT KILL TYPE x",
    "CLIENT KILL SKIPME maybe",
    "CLIENT KILL ID 1 TYPE",
    "CLIENT KILL FOO bar",
    "CLIENT KILL ID 99999",
    "CLIENT KILL 1.2.3.4:5",
    "CLIENT NO-EVICT maybe",
    "CLIENT NO-EVICT off",
    "COMMAND COUNT",
    "COMMAND COUNT x",
    "COMMAND foo",
    "COMMAND LIST FILTERBY foo x",
    "COMMAND LIST FILTERBY pattern",
    "COMMAND LIST foo",
    "COMMAND INFO get",
    "COMMAND DOCS get",
    "CONFIG",
    "CONFIG GET",
    "CONFIG GET save",
    "CONFIG SET a",
    "CONFIG SET a 1 b",
    "CONFIG RESETSTAT x",
    "CONFIG foo",
    "SHUTDOWN FOO",
    "SHUTDOWN SAVE NOSAVE",
    "SHUTDOWN ABORT NOW",
    // Sorted sets.
    "ZADD z",
    "ZADD z 1",
    "ZADD z 1 a 2",
    "ZADD z NX XX 1 a",
    "ZADD z GT LT 1 a",
    "ZADD z NX GT 1 a",
    "ZADD z INCR 1 a 2 b",
    "ZADD z x a",
    "ZADD z nan a",
    "ZADD z NX",
    "ZADD z 1 a",
    "ZINCRBY z x a",
    "ZINCRBY z 1",
    "ZSCORE z",
    "ZMSCORE z",
    "ZRANK z",
    "ZRANGE z 0",
    "ZRANGE z 0 1 LIMIT 0 1",
    "ZRANGE z a b BYLEX WITHSCORES",
    "ZRANGE z a b BYSCORE",
    "ZRANGE z a b BYLEX",
    "ZRANGE z 0 1 REV REV",
    "ZRANGE z 0 1 BYSCORE BYLEX",
    "ZRANGE z 0 1 LIMIT 0",
    "ZRANGE z 0 1 LIMIT x 1",
    "ZRANGE z x 1",
    "ZRANGEBYSCORE z 0 1 REV",
    "ZRANGEBYSCORE z (x 1",
    "ZRANGEBYSCORE z 0 1 LIMIT 0 1 WITHSCORES",
    "ZREVRANGEBYSCORE z 1 0 BYSCORE",
    "ZRANGEBYLEX z - + WITHSCORES",
    "ZRANGEBYLEX z a +",
    "ZREVRANGEBYLEX z + -",
    "ZREVRANGE z 0 1 LIMIT 0 1",
    "ZREM z",
    "ZREMRANGEBYSCORE z a 1",
    "ZREMRANGEBYRANK z 0 x",
    "ZREMRANGEBYLEX z a b",
    "ZREMRANGEBYLEX z [a [b c",
    "ZCARD z x",
    "ZCOUNT z 0 x",
    "ZLEXCOUNT z - x",
    "ZPOPMIN z -1",
    "ZPOPMIN z x",
    "ZPOPMAX z 1 2",
    "ZUNIONSTORE d 0 z",
    "ZUNIONSTORE d -1 z",
    "ZUNIONSTORE d x z",
    "ZUNIONSTORE d 2 z",
    "ZINTERSTORE d 0 z",
    "ZINTERSTORE d",
    "ZSCAN z",
    "ZSCAN z x",
    "ZSCAN z 0 COUNT 0",
    "ZSCAN z 0 MATCH",
    // Lists (tests/lists_vs_redis.rs compares their replies; `k` is a string here).
    "LPUSH k",
    "LPUSH k a",
    "RPUSHX k a b",
    "LPOP k -1",
    "LPOP k abc",
    "LPOP k 1 2",
    "RPOP k 0",
    "LRANGE k a 1",
    "LRANGE k 0",
    "LINDEX k x",
    "LSET k x v",
    "LINSERT k middle a b",
    "LINSERT k before a",
    "LREM k x a",
    "LTRIM k 0 x",
    "LPOS k a RANK 0",
    "LPOS k a RANK",
    "LPOS k a COUNT -1",
    "LPOS k a MAXLEN -1",
    "LPOS k a FOO",
    "LPOS k a RANK 1 RANK 2 COUNT 0 MAXLEN 0",
    "LMOVE k d up left",
    "LMOVE k d left",
    "RPOPLPUSH k",
    "LMPOP 0 k left",
    "LMPOP -1 k left",
    "LMPOP x k left",
    "LMPOP 1 k middle",
    "LMPOP 2 k left",
    "LMPOP 9999999999 k left",
    "LMPOP 1 k left COUNT 0",
    "LMPOP 1 k left COUNT -1",
    "LMPOP 1 k left COUNT",
    "LMPOP 1 k left COUNT 1 COUNT 2",
    "LMPOP 1 k left FOO",
    "BLPOP k -1",
    "BLPOP k abc",
    "BLPOP k inf",
    "BLPOP k 1e20",
    "BLPOP k nan",
    "BLPOP k",
    "BRPOP k a b -1",
    "BLMOVE k d left right -1",
    "BLMOVE k d left middle 0",
    "BRPOPLPUSH k d x",
    "BLMPOP -1 1 k left",
    "BLMPOP 0 0 k left",
    "BLMPOP 0 1 k up",
    "BLMPOP x 1 k left",
    // Hashes.
    "HSET h",
    "HSET h f",
    "HSET h f v x",
    "HMSET h f v x",
    "HSETNX h f",
    "HGET h",
    "HMGET h",
    "HGETALL h x",
    "HDEL h",
    "HEXISTS h",
    "HINCRBY h f",
    "HINCRBY h f x",
    "HINCRBY h f 1.5",
    "HINCRBY h f 99999999999999999999",
    "HINCRBYFLOAT h f x",
    "HINCRBYFLOAT h f inf",
    "HINCRBYFLOAT h f -Infinity",
    "HINCRBYFLOAT h f nan",
    "HINCRBYFLOAT h f 1e5000",
    "HKEYS",
    "HVALS h x",
    "HLEN",
    "HSTRLEN h",
    "HRANDFIELD",
    "HRANDFIELD h x",
    "HRANDFIELD h 1 x",
    "HRANDFIELD h 1 WITHVALUES x",
    "HRANDFIELD h -9223372036854775808",
    "HRANDFIELD h -4611686018427387904 WITHVALUES",
    "HSCAN h",
    "HSCAN h x",
    "HSCAN h -1x",
    // Sets.
    "SADD s",
    "SREM s",
    "SMEMBERS",
    "SISMEMBER s",
    "SMISMEMBER s",
    "SCARD s x",
    "SPOP s -1",
    "SPOP s x",
    "SPOP s 1 2",
    "SRANDMEMBER s x",
    "SRANDMEMBER s 1 2",
    "SRANDMEMBER s -9223372036854775808",
    "SINTER",
    "SUNIONSTORE d",
    "SDIFFSTORE",
    "SINTERCARD 1",
    "SINTERCARD 0 a",
    "SINTERCARD -1 a",
    "SINTERCARD x a",
    "SINTERCARD 2 a",
    "SINTERCARD 1 a LIMIT",
    "SINTERCARD 1 a LIMIT -1",
    "SINTERCARD 1 a LIMIT x",
    "SINTERCARD 1 a FOO 1",
    "SMOVE a b",
    "SSCAN s",
    "SSCAN s x",
];

fn read_reply(r: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut raw = Vec::new();
    r.read_until(b'\n', &mut raw)?;
    // Error lines echo request bytes; compare them as Cairn renders them (lossy UTF-8).
    let line = String::from_utf8_lossy(&raw)
        .trim_end_matches("\r\n")
        .to_string();
    match line.as_bytes().first() {
        Some(b'$') => {
            let n: i64 = line[1..].parse().unwrap_or(-1);
            if let Ok(n) = usize::try_from(n) {
                let mut buf = vec![0u8; n + 2];
                std::io::Read::read_exact(r, &mut buf)?;
            }
            Ok("$".into())
        }
        Some(b'*') => {
            let n: i64 = line[1..].parse().unwrap_or(-1);
            for _ in 0..n.max(0) {
                read_reply(r)?;
            }
            Ok("*".into())
        }
        _ => Ok(line),
    }
}

fn send<W: AsRef<[u8]>>(
    w: &mut TcpStream,
    r: &mut BufReader<TcpStream>,
    words: &[W],
) -> std::io::Result<String> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        let word = word.as_ref();
        out.extend_from_slice(format!("${}\r\n", word.len()).as_bytes());
        out.extend_from_slice(word);
        out.extend_from_slice(b"\r\n");
    }
    w.write_all(&out)?;
    read_reply(r)
}

/// Requests with bytes a space-separated line cannot carry.
fn raw_cases() -> Vec<Vec<Vec<u8>>> {
    let v = |words: &[&[u8]]| words.iter().map(|w| w.to_vec()).collect::<Vec<_>>();
    let long = vec![b'a'; 200];
    let name = vec![b'N'; 300];
    let sub = vec![b's'; 200];
    vec![
        v(&[b"HELLO", b"2", b"SETNAME", b"a b"]),
        v(&[b"CLIENT", b"SETNAME", b"a\nb"]),
        v(&[b"CLIENT", b"SETNAME", b""]),
        v(&[b"nosuch", &long, b"b"]),
        v(&[b"nosuch", b"a\r\nb", b"c"]),
        v(&[b"nosuch", b"a\0b", b"c"]),
        v(&[&name]),
        v(&[b"CLIENT", &sub]),
        v(&[b"EXPIRE", b"k", b"1", b"F\nOO"]),
        v(&[b"SCAN", b""]),
        v(&[b"SET", b"k", b"v", b"EX", b""]),
        v(&[b"CLIENT", b"LIST", b"TYPE", b"a\nb"]),
        v(&[b"nosuch", b"", b"x"]),
        v(&[b"GET", b""]),
        v(&[b"\xff\xfe", b"\xc3"]),
        v(&[b"SETRANGE", b"k", b"9223372036854775807", b""]),
        v(&[b"INCRBYFLOAT", b"k", b" 1"]),
        v(&[b"INCRBY", b"k", b" 1"]),
        v(&[b"SCAN", b" 1"]),
    ]
}

/// Commands safe to send at random: none changes the connection or the server for
/// good, and all exist in Redis 7.0.
const RANDOM_NAMES: &[&str] = &[
    "get",
    "set",
    "setex",
    "psetex",
    "getset",
    "setnx",
    "getdel",
    "getex",
    "mget",
    "mset",
    "msetnx",
    "append",
    "strlen",
    "getrange",
    "substr",
    "setrange",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "incrbyfloat",
    "lcs",
    "setbit",
    "getbit",
    "bitcount",
    "bitpos",
    "bitop",
    "bitfield",
    "bitfield_ro",
    "del",
    "unlink",
    "exists",
    "type",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "persist",
    "keys",
    "scan",
    "rename",
    "renamenx",
    "dbsize",
    "flushdb",
    "watch",
    "unwatch",
    "ping",
    "echo",
    "auth",
    "time",
    "info",
    "client",
    "command",
    "config",
    "select",
    "reset",
    "exec",
    "discard",
    "flushall",
];

/// Arguments that steer parsers into their option branches.
const RANDOM_WORDS: &[&str] = &[
    "k",
    "x",
    "NX",
    "XX",
    "GT",
    "LT",
    "GET",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "PERSIST",
    "LEN",
    "IDX",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "MATCH",
    "COUNT",
    "TYPE",
    "ID",
    "SKIPME",
    "yes",
    "ADDR",
    "LADDR",
    "USER",
    "FILTERBY",
    "pattern",
    "INFO",
    "DOCS",
    "LIST",
    "COUNT",
    "GETNAME",
    "SETNAME",
    "NO-EVICT",
    "on",
    "HELP",
    "RESETSTAT",
    "GET",
    "0",
    "1",
    "-1",
    "10",
    "01",
    "+1",
    "1.5",
    "abc",
    "normal",
    "pubsub",
    "bogus",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "536870912",
    "",
    "2",
    "ASYNC",
    "SYNC",
    "ACLCAT",
    "MODULE",
    "MAXAGE",
    "off",
    "no",
    "inf",
    "-0",
    "BIT",
    "BYTE",
    "AND",
    "NOT",
    "u8",
    "i64",
    "u64",
    "i0",
    "#1",
    "#-1",
    "OVERFLOW",
    "SAT",
    "FAIL",
    "INCRBY",
    "4294967296",
];

/// Errors Redis reports only once it has found the key: GETEX's numbers (see
/// [`GetExExpiry::Invalid`]) and the ranges of BITCOUNT and BITPOS (see
/// [`StringCommand::BitCount`]). With the test key `k` present Redis must report them; on
/// any other key it answers without one.
fn key_dependent_error(cmd: &Command) -> Option<String> {
    let Family::Strings(
        StringCommand::GetEx {
            expiry: Some(GetExExpiry::Invalid(err)),
        }
        | StringCommand::BitCount { range: Err(err) }
        | StringCommand::BitPos {
            range: Err(err), ..
        },
    ) = cmd.family()
    else {
        return None;
    };
    matches!(cmd.keys(), [key] if key.as_ref() == b"k").then(|| format!("-{err}"))
}

/// The error line Redis sends for `err`: EXEC wraps its own lookup errors in
/// EXECABORT (the server's business, not parse's).
fn expected_error(name: &[u8], err: &CommandError) -> String {
    let text = err.to_string();
    if name.eq_ignore_ascii_case(b"exec") && err.is_lookup_error() {
        let reason = text.trim_start_matches("ERR ");
        return format!("-EXECABORT Transaction discarded because of: {reason}");
    }
    format!("-{text}")
}

/// The two tests share one Redis and reset it between requests: one at a time.
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Errors Redis only raises at lookup or in option parsing: the ones that must agree.
fn is_parse_error(reply: &str) -> bool {
    let r = reply.trim_start_matches('-');
    [
        "ERR syntax error",
        "ERR wrong number",
        "ERR unknown command",
        "ERR unknown subcommand",
    ]
    .iter()
    .any(|p| r.starts_with(p))
}

#[test]
fn parse_agrees_with_redis() {
    let Some(redis) = ScratchRedis::start("differential test against Redis") else {
        return;
    };
    let addr = redis.addr.clone();
    let _one_at_a_time = SERVER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut w = TcpStream::connect(addr).expect("connect to the scratch Redis");
    let mut r = BufReader::new(w.try_clone().expect("clone"));
    let mut failures = Vec::new();
    let cases = CASES
        .iter()
        .map(|line| {
            line.split(' ')
                .map(|w| w.as_bytes().to_vec())
                .collect::<Vec<_>>()
        })
        .chain(raw_cases());
    for words in cases {
        let case = String::from_utf8_lossy(&words.join(&b' ')).into_owned();
        send(&mut w, &mut r, &["FLUSHALL"]).expect("flushall");
        send(&mut w, &mut r, &["SET", "k", "10"]).expect("set");
        let redis = send(&mut w, &mut r, &words).expect("request");
        let ours = Command::parse(words.iter().map(|w| Bytes::copy_from_slice(w)).collect());
        match ours {
            Err(CommandError::Empty) => {}
            Err(err) => {
                let want = expected_error(&words[0], &err);
                if redis != want {
                    failures.push(format!("{case:?}: cairn {want:?}, redis {redis:?}"));
                }
            }
            Ok(cmd) => {
                if let Some(want) = key_dependent_error(&cmd) {
                    if redis != want {
                        failures.push(format!("{case:?}: cairn {want:?}, redis {redis:?}"));
                    }
                } else if is_parse_error(&redis) {
                    failures.push(format!("{case:?}: cairn {cmd:?}, redis {redis:?}"));
                } else if redis.starts_with('-') {
                    // A state-dependent error (no such key, ...): shown, not judged.
                    eprintln!("{case:?}: cairn accepts, redis {redis:?}");
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Random requests from a fixed seed: the same comparison over option combinations no
/// one would write by hand.
#[test]
fn random_requests_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("differential test against Redis") else {
        return;
    };
    let addr = redis.addr.clone();
    let _one_at_a_time = SERVER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rounds: usize = std::env::var("CAIRN_REDIS_DIFF_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut w = TcpStream::connect(addr).expect("connect to the scratch Redis");
    let mut r = BufReader::new(w.try_clone().expect("clone"));
    // xorshift64*: deterministic, no dependency.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    };
    let mut failures = Vec::new();
    for _ in 0..rounds {
        let mut words = vec![RANDOM_NAMES[next(RANDOM_NAMES.len())].to_string()];
        for _ in 0..next(7) {
            words.push(RANDOM_WORDS[next(RANDOM_WORDS.len())].to_string());
        }
        // Never change the server's configuration or kill clients at random.
        let sub = words.get(1).map(|w| w.to_ascii_lowercase());
        if words[0] == "config" && sub.as_deref().is_some_and(|s| s != "get") {
            continue;
        }
        if words[0] == "client" && sub.as_deref() == Some("kill") {
            continue;
        }
        send(&mut w, &mut r, &["FLUSHALL"]).expect("flushall");
        send(&mut w, &mut r, &["SET", "k", "10"]).expect("set");
        let redis = send(&mut w, &mut r, &words).expect("request");
        let ours = Command::parse(
            words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect(),
        );
        let case = words.join(" ");
        match ours {
            Err(err) if expected_error(words[0].as_bytes(), &err) != redis => {
                failures.push(format!("{case:?}: cairn \"-{err}\", redis {redis:?}"));
            }
            Ok(cmd) if key_dependent_error(&cmd).is_some_and(|want| want != redis) => {
                failures.push(format!("{case:?}: cairn {cmd:?}, redis {redis:?}"));
            }
            Ok(cmd) if key_dependent_error(&cmd).is_none() && is_parse_error(&redis) => {
                failures.push(format!("{case:?}: cairn {cmd:?}, redis {redis:?}"));
            }
            _ => {}
        }
    }
    send(&mut w, &mut r, &["UNWATCH"]).expect("unwatch");
    failures.sort();
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
