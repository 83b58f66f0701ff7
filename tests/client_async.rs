//! The async client against a real server process: every method, pipelining of many
//! concurrent requests on one connection, streamed ranges, a server restarted mid-stream,
//! timeouts, authentication and client-side validation.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cairn::client::{Batch, Client, ClientOptions, Error, RangeOptions, SetCondition, SetOptions};
use cairn::protocol::binary::{self, HandshakeReply};
use cairn::protocol::{Limits, Reply};
use common::TestServer;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

// One walk through every method against one server; the steps build on each other's keys.
#[allow(clippy::too_many_lines)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method() {
    let server = TestServer::start(&[]);
    let c = Client::connect(server.addr).await.unwrap();
    c.ping().await.unwrap();

    // get / set
    assert_eq!(c.get("k").await.unwrap(), None);
    c.set("k", "v1").await.unwrap();
    assert_eq!(c.get("k").await.unwrap(), Some(b("v1")));
    c.set(b"bin\x00\xff", [0u8, 1, 2]).await.unwrap();
    assert_eq!(
        c.get(b"bin\x00\xff").await.unwrap().as_deref(),
        Some(&[0u8, 1, 2][..])
    );

    // conditions
    let when = |condition| SetOptions {
        condition,
        expiry: None,
    };
    assert!(!c
        .set_with("k", "x", when(SetCondition::IfAbsent))
        .await
        .unwrap());
    assert!(c
        .set_with("fresh", "x", when(SetCondition::IfAbsent))
        .await
        .unwrap());
    assert!(!c
        .set_with("nope", "x", when(SetCondition::IfPresent))
        .await
        .unwrap());
    assert!(c
        .set_with("k", "v2", when(SetCondition::IfPresent))
        .await
        .unwrap());
    assert!(!c
        .set_with("k", "v3", when(SetCondition::IfValueEquals(b("v1"))))
        .await
        .unwrap());
    assert!(c
        .set_with("k", "v3", when(SetCondition::IfValueEquals(b("v2"))))
        .await
        .unwrap());
    assert_eq!(c.get("k").await.unwrap(), Some(b("v3")));

    // versions: compare-and-set succeeds once per version
    let v = c.get_versioned("k").await.unwrap().unwrap();
    assert_eq!(v.value, b("v3"));
    let cas = |version| when(SetCondition::IfVersionEquals(version));
    assert!(c.set_with("k", "v4", cas(v.version)).await.unwrap());
    assert!(!c.set_with("k", "v5", cas(v.version)).await.unwrap());
    let v2 = c.get_versioned("k").await.unwrap().unwrap();
    assert_eq!(v2.value, b("v4"));
    assert_ne!(v2.version, v.version);
    assert_eq!(c.get_versioned("missing").await.unwrap(), None);

    // expiry
    let short = SetOptions {
        condition: SetCondition::Always,
        expiry: Some(Duration::from_millis(50)),
    };
    assert!(c.set_with("ttl", "x", short).await.unwrap());
    assert!(c.expire("k", Duration::from_secs(100)).await.unwrap());
    assert!(!c.expire("missing", Duration::from_secs(1)).await.unwrap());
    match c.command(["PTTL", "k"]).await.unwrap() {
        Reply::Integer(ms) => assert!(ms > 90_000 && ms <= 100_000, "{ms}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.set_with(
            "k",
            "x",
            SetOptions {
                expiry: Some(Duration::ZERO),
                ..SetOptions::default()
            }
        )
        .await,
        Err(Error::InvalidInput { .. })
    ));
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(c.get("ttl").await.unwrap(), None);

    // delete
    assert!(c.delete("fresh").await.unwrap());
    assert!(!c.delete("fresh").await.unwrap());

    // incr_by, and a server error with its code
    assert_eq!(c.incr_by("n", 5).await.unwrap(), 5);
    assert_eq!(c.incr_by("n", -7).await.unwrap(), -2);
    let e = c.incr_by("k", 1).await.unwrap_err();
    assert!(matches!(e, Error::Server { .. }), "{e:?}");
    assert_eq!(e.code(), Some("ERR"));
    assert!(e.to_string().contains("not an integer"), "{e}");

    // batch: atomic puts and deletes, in order
    let mut batch = Batch::new();
    batch
        .put("b1", "1")
        .put("b2", "2")
        .delete("b1")
        .put("b3", "3");
    assert_eq!(batch.len(), 4);
    c.batch(batch).await.unwrap();
    assert_eq!(c.get("b1").await.unwrap(), None);
    assert_eq!(c.get("b2").await.unwrap(), Some(b("2")));
    assert_eq!(c.get("b3").await.unwrap(), Some(b("3")));

    // range, reverse, limit
    let pairs: Vec<(Bytes, Bytes)> = c
        .range("b".."bi")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs, vec![(b("b2"), b("2")), (b("b3"), b("3"))]);
    let pairs: Vec<(Bytes, Bytes)> = c
        .range_with(
            "b".."z",
            RangeOptions {
                limit: Some(2),
                reverse: true,
            },
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let keys: Vec<Bytes> = pairs.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![b("n"), b("k")]);
    let all: Vec<(Bytes, Bytes)> = c
        .range::<&str, _>(..)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 5, "{all:?}"); // bin, b2, b3, k, n

    // any Redis command
    assert_eq!(
        c.command(["SET", "r", "1"]).await.unwrap(),
        Reply::Simple(b("OK"))
    );
    assert_eq!(
        c.command(vec![b("MGET"), b("r"), b("missing")])
            .await
            .unwrap(),
        Reply::Array(vec![Reply::Bulk(b("1")), Reply::Null])
    );
    let e = c.command(["NOSUCH"]).await.unwrap_err();
    assert!(e.to_string().starts_with("ERR unknown command"), "{e}");
    assert!(matches!(
        c.command(Vec::<&str>::new()).await,
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_streams_across_chunks() {
    let server = TestServer::start(&["--fsync", "never"]);
    let c = Client::connect(server.addr).await.unwrap();
    let mut batch = Batch::new();
    for i in 0..1000 {
        batch.put(format!("key{i:04}"), format!("value{i}"));
    }
    c.batch(batch).await.unwrap();

    // 1000 pairs come in several chunks (256 pairs each), in order.
    let mut stream = c.range("key".."kez").await.unwrap();
    let mut n = 0;
    while let Some(pair) = stream.next().await {
        let (k, v) = pair.unwrap();
        assert_eq!(k, format!("key{n:04}"));
        assert_eq!(v, format!("value{n}"));
        n += 1;
    }
    assert_eq!(n, 1000);

    let rev: Vec<(Bytes, Bytes)> = c
        .range_with(
            "key0100".."key0700",
            RangeOptions {
                limit: Some(300),
                reverse: true,
            },
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rev.len(), 300);
    assert_eq!(rev[0].0, "key0699");
    assert_eq!(rev[299].0, "key0400");

    let inclusive: Vec<_> = c
        .range("key0998"..="key0999")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(inclusive.len(), 2);

    // Dropping a stream early leaves the connection usable; other requests interleave.
    let mut first = c.range::<&str, _>(..).await.unwrap();
    assert!(first.next().await.is_some());
    let concurrent = c.get("key0500").await.unwrap();
    assert_eq!(concurrent, Some(b("value500")));
    drop(first);
    assert_eq!(c.get("key0001").await.unwrap(), Some(b("value1")));
    let empty: Vec<_> = c
        .range("x".."y")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(empty.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_requests_on_one_connection() {
    let server = TestServer::start(&["--fsync", "never"]);
    let c = Client::connect(server.addr).await.unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                let key = format!("task{i}");
                c.set(&key, i.to_string()).await.unwrap();
                let n = c.incr_by(&key, 1).await.unwrap();
                assert_eq!(n, i + 1);
                c.get(&key).await.unwrap()
            })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), Some(Bytes::from((i + 1).to_string())));
    }
    // All of it went over one connection.
    match c.command(["CLIENT", "LIST"]).await.unwrap() {
        Reply::Bulk(list) | Reply::Verbatim { text: list, .. } => {
            let lines = list
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            assert_eq!(lines, 1, "{}", String::from_utf8_lossy(&list));
        }
        other => panic!("{other:?}"),
    }
}

/// A TCP forwarder whose target can change: the client keeps one address while the server
/// behind it restarts on another port.
struct Proxy {
    addr: SocketAddr,
    target: Arc<parking_lot::Mutex<SocketAddr>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(parking_lot::Mutex::new(target));
        let t = target.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = *t.lock();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Proxy { addr, target }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restarted_mid_stream() {
    let mut server = TestServer::start(&["--fsync", "always"]);
    let proxy = Proxy::start(server.addr).await;
    let c = Client::connect(proxy.addr).await.unwrap();
    c.set("durable", "yes").await.unwrap();

    // Tasks keep requests in flight until the connection breaks under them.
    let lost = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let (c, lost, served) = (c.clone(), lost.clone(), served.clone());
            tokio::spawn(async move {
                loop {
                    match c.get("durable").await {
                        Ok(v) => {
                            assert_eq!(v, Some(b("yes")));
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(Error::ConnectionLost { .. }) => {
                            lost.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        // Issued after the loss was seen: the reconnect fails while the
                        // server is down.
                        Err(Error::Connect { .. }) => return,
                        Err(e) => panic!("unexpected error: {e:?}"),
                    }
                }
            })
        })
        .collect();
    while served.load(Ordering::Relaxed) < 2000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Freeze the server first, so every worker surely has a request in flight (sent,
    // unanswered) when it dies; a plain kill may land between answers and new requests.
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(libc::pid_t::try_from(server.pid()).unwrap(), libc::SIGSTOP) };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    for w in workers {
        tokio::time::timeout(Duration::from_secs(10), w)
            .await
            .expect("worker finished")
            .unwrap();
    }
    assert!(lost.load(Ordering::Relaxed) > 0, "no request saw the loss");

    // While the server is down: a typed error, no hang.
    let e = c.get("durable").await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");

    // Restarted on the same data directory: the next request reconnects.
    let restarted = TestServer::start_in(&server.dir, &["--fsync", "always"]);
    *proxy.target.lock() = restarted.addr;
    assert_eq!(c.get("durable").await.unwrap(), Some(b("yes")));
    let clones: Vec<_> = (0..20)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.incr_by("after", i).await.unwrap() })
        })
        .collect();
    for t in clones {
        t.await.unwrap();
    }
    assert_eq!(c.incr_by("after", 0).await.unwrap(), (0..20).sum::<i64>());
}

/// A fake server: `answer` says whether it completes the handshake; either way it then
/// reads and never answers.
async fn silent_server(answer: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                if answer {
                    let mut out = BytesMut::new();
                    binary::encode_handshake_reply(
                        &HandshakeReply::Accepted {
                            version: 1,
                            server: b("silent"),
                        },
                        &mut out,
                    );
                    let _ = s.write_all(&out).await;
                }
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_connect_errors() {
    // Request timeout: the handshake succeeds, answers never come.
    let addr = silent_server(true).await;
    let options = ClientOptions {
        request_timeout: Some(Duration::from_millis(200)),
        ..ClientOptions::default()
    };
    let c = Client::connect_with(addr, options).await.unwrap();
    let started = std::time::Instant::now();
    let e = c.get("k").await.unwrap_err();
    assert!(
        matches!(e, Error::Timeout { after } if after == Duration::from_millis(200)),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // A range times out chunk by chunk.
    let mut stream = c.range("a".."b").await.unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Err(Error::Timeout { .. }))
    ));
    assert!(stream.next().await.is_none());

    // Connect timeout: no handshake reply.
    let addr = silent_server(false).await;
    let options = ClientOptions {
        connect_timeout: Duration::from_millis(200),
        ..ClientOptions::default()
    };
    match Client::connect_with(addr, options).await.unwrap_err() {
        Error::Connect { source, .. } => assert_eq!(source.kind(), std::io::ErrorKind::TimedOut),
        e => panic!("{e:?}"),
    }

    // Nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = Client::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap_err();
    match &e {
        Error::Connect { source, addr } => {
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
            assert_eq!(addr, &format!("127.0.0.1:{port}"));
        }
        e => panic!("{e:?}"),
    }
    assert!(
        e.to_string().starts_with("could not connect to 127.0.0.1:"),
        "{e}"
    );
    // A name that does not resolve (bounded by the connect timeout if DNS is unreachable).
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(1),
        ..ClientOptions::default()
    };
    assert!(matches!(
        Client::connect_with("no-such-host.invalid:1", options).await,
        Err(Error::Connect { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_input_is_refused_client_side() {
    let server = TestServer::start(&["--fsync", "never"]);
    let options = ClientOptions {
        limits: Limits {
            max_bulk_len: 1024,
            max_array_len: 10,
            ..Limits::default()
        },
        ..ClientOptions::default()
    };
    let c = Client::connect_with(server.addr, options).await.unwrap();
    let big = vec![b'x'; 1025];
    for e in [
        c.set("k", &big).await.unwrap_err(),
        c.get(&big).await.unwrap_err(),
        c.range(&big[..]..&b"z"[..]).await.unwrap_err(),
        c.command(vec!["ECHO"; 11]).await.unwrap_err(),
    ] {
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        assert!(e.to_string().contains("over the limit"), "{e}");
    }
    let mut batch = Batch::new();
    batch.put("a", &big);
    assert!(matches!(
        c.batch(batch).await,
        Err(Error::InvalidInput { .. })
    ));
    // Nothing was sent: the connection is fine and the key absent.
    c.set("k", vec![b'x'; 1024]).await.unwrap();
    assert_eq!(c.get("k").await.unwrap().map(|v| v.len()), Some(1024));

    // With the protocol's default limits: one byte over 512 MiB.
    let c = Client::connect(server.addr).await.unwrap();
    let huge = vec![0u8; 512 * 1024 * 1024 + 1];
    let e = c.set("huge", &huge).await.unwrap_err();
    drop(huge);
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    assert_eq!(c.get("huge").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication() {
    let server = TestServer::start(&["--requirepass", "s3cret"]);
    // Without credentials the connection opens but commands are refused.
    let c = Client::connect(server.addr).await.unwrap();
    let e = c.get("k").await.unwrap_err();
    assert_eq!(e.code(), Some("NOAUTH"), "{e:?}");
    let e = c.auth("wrong").await.unwrap_err();
    assert_eq!(e.code(), Some("WRONGPASS"), "{e:?}");
    c.auth("s3cret").await.unwrap();
    c.set("k", "v").await.unwrap();

    // Credentials in the handshake.
    let options = |password: &str| ClientOptions {
        password: Some(password.into()),
        ..ClientOptions::default()
    };
    let c = Client::connect_with(server.addr, options("s3cret"))
        .await
        .unwrap();
    assert_eq!(c.get("k").await.unwrap(), Some(b("v")));
    let e = Client::connect_with(server.addr, options("nope"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Server { .. }), "{e:?}");
    assert_eq!(e.code(), Some("WRONGPASS"));
}

/// A forwarder that passes the server's first `limit` bytes on each connection and then
/// cuts it: a connection lost in the middle of a streamed answer, at a known point.
async fn cutting_proxy(target: SocketAddr, limit: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    return;
                };
                let (mut from_client, mut to_client) = inbound.into_split();
                let (mut from_server, mut to_server) = outbound.into_split();
                let upstream = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
                });
                let mut passed = 0;
                let mut buf = vec![0u8; 4096];
                while passed < limit {
                    let n = match from_server.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n.min(limit - passed),
                    };
                    if to_client.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    passed += n;
                }
                upstream.abort();
                // Dropping both halves of both sockets closes them.
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_cut_mid_stream_is_an_error_not_a_short_answer() {
    let server = TestServer::start(&["--fsync", "never"]);
    let direct = Client::connect(server.addr).await.unwrap();
    let mut batch = Batch::new();
    for i in 0..5000 {
        batch.put(format!("key{i:05}"), "v".repeat(100));
    }
    direct.batch(batch).await.unwrap();

    // About 550 KB of answer; the connection is cut after 100 KB, a few chunks in.
    let c = Client::connect(cutting_proxy(server.addr, 100 * 1024).await)
        .await
        .unwrap();
    let mut stream = c.range::<&str, _>(..).await.unwrap();
    let mut pairs = 0;
    let error = loop {
        match stream.next().await {
            Some(Ok((k, _))) => {
                assert_eq!(k, format!("key{pairs:05}"), "in order, none skipped");
                pairs += 1;
            }
            Some(Err(e)) => break e,
            None => panic!("the range ended after {pairs} of 5000 pairs without an error"),
        }
    };
    assert!(pairs > 0 && pairs < 5000, "{pairs}");
    assert!(matches!(error, Error::ConnectionLost { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(stream.next().await.is_none(), "nothing after the error");
    // The next request opens a new connection (small answers pass the proxy).
    assert_eq!(c.get("key00042").await.unwrap().map(|v| v.len()), Some(100));
}
