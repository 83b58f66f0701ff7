//! The blocking client against a real server process: its methods, range iteration across
//! streamed chunks, threads sharing one connection, and errors.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use cairn::client::blocking::Client;
use cairn::client::{Batch, Error, RangeOptions, SetCondition, SetOptions};
use cairn::protocol::Reply;
use common::TestServer;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn every_method() {
    let server = TestServer::start(&["--fsync", "never"]);
    let c = Client::connect(server.addr).unwrap();
    c.ping().unwrap();
    assert_eq!(c.get("k").unwrap(), None);
    c.set("k", "v").unwrap();
    assert_eq!(c.get("k").unwrap(), Some(b("v")));
    let v = c.get_versioned("k").unwrap().unwrap();
    let cas = SetOptions {
        condition: SetCondition::IfVersionEquals(v.version),
        expiry: None,
    };
    assert!(c.set_with("k", "w", cas.clone()).unwrap());
    assert!(!c.set_with("k", "x", cas).unwrap());
    assert!(c.expire("k", Duration::from_secs(60)).unwrap());
    assert_eq!(c.incr_by("n", 3).unwrap(), 3);
    assert!(c.delete("n").unwrap());
    let mut batch = Batch::new();
    batch.put("a", "1").put("b", "2");
    c.batch(batch).unwrap();
    assert_eq!(c.command(["GET", "a"]).unwrap(), Reply::Bulk(b("1")));
    let e = c.command(["INCR", "k"]).unwrap_err();
    assert!(matches!(e, Error::Server { .. }), "{e:?}");
    assert!(c.auth("nothing-required").is_err());
}

#[test]
fn range_iterates_across_chunks_and_threads_share_the_connection() {
    let server = TestServer::start(&["--fsync", "never"]);
    let c = Client::connect(server.addr).unwrap();
    let mut batch = Batch::new();
    for i in 0..600 {
        batch.put(format!("r{i:03}"), i.to_string());
    }
    c.batch(batch).unwrap();
    let keys: Vec<Bytes> = c.range("r".."s").unwrap().map(|kv| kv.unwrap().0).collect();
    assert_eq!(keys.len(), 600);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    let last: Vec<_> = c
        .range_with::<&str, _>(
            ..,
            RangeOptions {
                limit: Some(3),
                reverse: true,
            },
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(last[0], (b("r599"), b("599")));
    assert_eq!(last.len(), 3);

    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    c.incr_by(format!("t{t}"), 1).unwrap();
                    assert!(c.get(format!("r{i:03}")).unwrap().is_some());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for t in 0..8 {
        assert_eq!(c.get(format!("t{t}")).unwrap(), Some(b("100")));
    }
}

#[test]
fn unreachable_server_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    match Client::connect(format!("127.0.0.1:{port}")) {
        Err(Error::Connect { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("{other:?}"),
    }
}
