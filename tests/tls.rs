//! TLS end to end: a cairn-server on a TLS port with certificates made at test time, reached
//! by Cairn's client (async and blocking), cairn-cli and cairn-bench in both protocols, and
//! by Redis's own tools (redis-cli and redis-benchmark with `--tls`, redis-py with
//! `ssl=True`); client certificates required, optional and off; every bad case (a plaintext
//! client on the TLS port, a TLS client on the plaintext port, a certificate from another CA
//! or expired, a stalled handshake, garbage) closes that connection and nothing else; bad
//! TLS files stop the server at start with one line; a replica follows a TLS-only primary
//! under `tls-replication`, and a link with the wrong certificate never comes up.
//!
//! Redis's tools come from .ci/run (redis-tools, and redis-py from pip); under CI a missing
//! one fails the test, elsewhere the test says so and skips that part.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cairn::client::{blocking, Client, ClientOptions, Error, TlsOptions};
use cairn::protocol::Reply;
use common::certs::Certs;
use common::{redis_py, tool_available, TestServer};

fn tls_options(certs: &Certs, client: Option<(&Path, &Path)>) -> TlsOptions {
    TlsOptions {
        ca_file: certs.ca.clone(),
        cert_file: client.map(|(c, _)| c.to_path_buf()),
        key_file: client.map(|(_, k)| k.to_path_buf()),
        server_name: None,
    }
}

fn options(tls: TlsOptions) -> ClientOptions {
    ClientOptions {
        tls: Some(tls),
        connect_timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

/// A TLS-only server (plaintext off) with client certificates as `auth`.
fn tls_server(certs: &Certs, auth: &str, extra: &[&str]) -> TestServer {
    let mut args = certs.server_args(auth);
    args.extend(extra.iter().map(|s| (*s).to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = TestServer::start(&args);
    assert_eq!(Some(server.addr), server.tls_addr, "plaintext is off");
    server
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)] // one server, every kind of client in turn
async fn clients_and_tools_speak_tls_with_a_client_certificate() {
    let certs = Certs::generate();
    let server = tls_server(&certs, "yes", &[]);
    let addr = server.addr.to_string();
    let mine = Some((certs.client_cert.as_path(), certs.client_key.as_path()));

    // The async client, then the blocking one, with the client certificate.
    let client = Client::connect_with(&addr, options(tls_options(&certs, mine)))
        .await
        .expect("TLS connect");
    client.set("greeting", "hello").await.unwrap();
    assert_eq!(
        client.get("greeting").await.unwrap().as_deref(),
        Some(&b"hello"[..])
    );
    let tls = tls_options(&certs, mine);
    let addr2 = addr.clone();
    let got = tokio::task::spawn_blocking(move || {
        let c = blocking::Client::connect_with(&addr2, options(tls)).expect("blocking TLS");
        c.incr_by("n", 5).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(got, 5);

    // Refused handshakes: no certificate, one from another CA, an expired one.
    for (what, client_cert) in [
        ("no certificate", None),
        (
            "another CA's",
            Some((certs.stranger_cert.as_path(), certs.stranger_key.as_path())),
        ),
        (
            "expired",
            Some((certs.expired_cert.as_path(), certs.expired_key.as_path())),
        ),
    ] {
        // TLS 1.3 may finish the client's side before the server refuses the certificate:
        // the refusal then comes at the first request.
        let refused =
            match Client::connect_with(&addr, options(tls_options(&certs, client_cert))).await {
                Ok(c) => c.ping().await.is_err(),
                Err(_) => true,
            };
        assert!(refused, "a client with {what} was let in");
    }
    // A client that does not trust the server's CA refuses it.
    let untrusting = TlsOptions {
        ca_file: certs.other_ca.clone(),
        ..tls_options(&certs, mine)
    };
    let error = Client::connect_with(&addr, options(untrusting))
        .await
        .expect_err("a server certificate from an untrusted CA");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    // The server is unharmed, and says how it is set up.
    assert_eq!(client.get("n").await.unwrap().as_deref(), Some(&b"5"[..]));
    let config = client
        .command(["CONFIG", "GET", "tls-auth-clients"])
        .await
        .unwrap();
    assert_eq!(
        config,
        Reply::Map(vec![(
            Reply::Bulk("tls-auth-clients".into()),
            Reply::Bulk("yes".into())
        )])
    );

    // cairn-cli, native and RESP.
    let path = |p: &Path| p.display().to_string();
    let cli_tls = [
        "--tls".to_string(),
        "--cacert".into(),
        path(&certs.ca),
        "--cert".into(),
        path(&certs.client_cert),
        "--key".into(),
        path(&certs.client_key),
    ];
    let port = server.addr.port().to_string();
    for resp in [false, true] {
        let mut cli = Command::new(env!("CARGO_BIN_EXE_cairn-cli"));
        cli.args(["-p", &port]).args(&cli_tls);
        if resp {
            cli.arg("--resp");
        }
        let out = cli.args(["GET", "greeting"]).output().unwrap();
        assert_eq!(stdout(&out), "hello\n", "cairn-cli (resp: {resp}): {out:?}");
    }

    // cairn-bench, both protocols.
    for resp in [false, true] {
        let mut bench = Command::new(env!("CARGO_BIN_EXE_cairn-bench"));
        bench
            .args(["-a", &addr, "-c", "2", "-n", "2000", "--warmup", "0s", "-q"])
            .args(&cli_tls);
        if resp {
            bench.arg("--resp");
        }
        let out = bench.output().unwrap();
        assert!(out.status.success(), "cairn-bench (resp: {resp}): {out:?}");
        let text = stdout(&out);
        let all = text
            .lines()
            .find(|l| l.starts_with("all"))
            .unwrap_or_default();
        assert!(!all.is_empty(), "{text}");
        assert!(
            text.lines()
                .filter(|l| l.starts_with("set") || l.starts_with("get"))
                .all(|l| l.trim_end().ends_with(" 0")),
            "errors over TLS: {text}"
        );
    }

    // Redis's own tools.
    if tool_available("redis-cli", "its part of the TLS test") {
        let out = Command::new("redis-cli")
            .args(["-p", &port])
            .args(&cli_tls)
            .args(["GET", "greeting"])
            .output()
            .unwrap();
        assert_eq!(stdout(&out), "hello\n", "redis-cli --tls: {out:?}");
    }
    if tool_available("redis-benchmark", "its part of the TLS test") {
        let out = Command::new("redis-benchmark")
            .args(["-p", &port])
            .args(&cli_tls)
            .args(["-t", "set,get", "-n", "2000", "-c", "4", "-q"])
            .output()
            .unwrap();
        let text = stdout(&out);
        assert!(
            out.status.success() && text.contains("SET:") && text.contains("GET:"),
            "redis-benchmark --tls: {out:?}"
        );
    }
    {
        let script = format!(
            "import redis\n\
             r = redis.Redis(host='127.0.0.1', port={port}, ssl=True, ssl_ca_certs={ca:?}, \
             ssl_certfile={cert:?}, ssl_keyfile={key:?})\n\
             r.set('py', 'thon')\n\
             print(r.get('py').decode(), r.get('greeting').decode())\n",
            ca = path(&certs.ca),
            cert = path(&certs.client_cert),
            key = path(&certs.client_key),
        );
        if let Some(out) = redis_py(&script, "its part of the TLS test") {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stdout(&out), "thon hello\n", "redis-py ssl=True: {err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn client_certificates_optional_or_off() {
    let certs = Certs::generate();
    let mine = Some((certs.client_cert.as_path(), certs.client_key.as_path()));
    let stranger = Some((certs.stranger_cert.as_path(), certs.stranger_key.as_path()));

    let optional = tls_server(&certs, "optional", &[]);
    let addr = optional.addr.to_string();
    for (who, cert) in [("without a certificate", None), ("with one", mine)] {
        let c = Client::connect_with(&addr, options(tls_options(&certs, cert)))
            .await
            .unwrap_or_else(|e| panic!("optional: a client {who}: {e}"));
        c.ping().await.unwrap();
    }
    // A certificate, if presented, must still be valid.
    let refused = match Client::connect_with(&addr, options(tls_options(&certs, stranger))).await {
        Ok(c) => c.ping().await.err(),
        Err(e) => Some(e),
    };
    assert!(
        refused.is_some(),
        "optional let in another CA's certificate"
    );

    let off = tls_server(&certs, "no", &[]);
    let c = Client::connect_with(off.addr.to_string(), options(tls_options(&certs, None)))
        .await
        .expect("no client certificate asked for");
    c.set("k", "v").await.unwrap();
}

/// Whether the server closes `stream` (end of stream or a reset) within `within`; what it
/// sends before (a TLS alert) is read and ignored.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_connections_are_closed_and_the_server_goes_on() {
    let certs = Certs::generate();
    let config = certs.dir.path().join("cairn.toml");
    std::fs::write(&config, "tls-handshake-timeout-ms = 300\n").unwrap();
    let config = config.display().to_string();
    let server = tls_server(&certs, "no", &["--config", &config, "--maxclients", "3"]);
    let plain = TestServer::start(&[]);

    // A plaintext client on the TLS port: the handshake fails, the connection closes.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.write_all(b"PING\r\n").unwrap();
    assert!(closed_within(&mut stream, Duration::from_secs(2)));
    // Garbage on the TLS port, the same.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3])
        .unwrap();
    assert!(closed_within(&mut stream, Duration::from_secs(2)));
    // A TLS client on the plaintext port: refused, and told why by our client.
    let error = Client::connect_with(plain.addr.to_string(), options(tls_options(&certs, None)))
        .await
        .expect_err("TLS to a plaintext port");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    let mut redis = plain.redis();
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut redis).unwrap(),
        "PONG"
    );

    // Stalled handshakes take slots (maxclients 3) only until the timeout.
    let stalled: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    for mut s in stalled {
        assert!(
            closed_within(&mut s, Duration::from_secs(2)),
            "a stalled handshake was not closed"
        );
    }
    let c = Client::connect_with(server.addr.to_string(), options(tls_options(&certs, None)))
        .await
        .expect("a slot free again after the stalled handshakes timed out");
    c.set("after", "ok").await.unwrap();
}

/// Starts cairn-server with `args` and expects it to refuse to start: exit non-zero, one
/// line on stderr naming `mention`.
fn refuses_to_start(args: &[&str], mention: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-server"))
        .args(["--port", "0", "--dir"])
        .arg(dir.path())
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with {args:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(mention),
        "{stderr} does not mention {mention}"
    );
}

#[test]
fn bad_tls_files_stop_the_server_with_one_line() {
    let certs = Certs::generate();
    let p = |path: &Path| path.display().to_string();
    let (cert, key) = (p(&certs.server_cert), p(&certs.server_key));
    let missing = p(&certs.dir.path().join("nope.pem"));
    let tls = |cert: &str, key: &str, auth: &str| {
        let args = [
            "--tls-port",
            "0",
            "--tls-cert-file",
            cert,
            "--tls-key-file",
            key,
            "--tls-auth-clients",
            auth,
        ];
        args.map(str::to_string).to_vec()
    };
    let run = |mut args: Vec<String>, extra: &[&str], mention: &str| {
        args.extend(extra.iter().map(|s| (*s).to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refuses_to_start(&args, mention);
    };
    run(tls(&missing, &key, "no"), &[], "nope.pem");
    run(tls(&cert, &missing, "no"), &[], "nope.pem");
    // A key that is not the certificate's.
    run(
        tls(&cert, &p(&certs.client_key), "no"),
        &[],
        "do not go together",
    );
    // A key file that holds a certificate.
    run(tls(&cert, &cert, "no"), &[], "private key");
    // tls-port without a certificate.
    run(vec!["--tls-port".into(), "0".into()], &[], "tls-cert-file");
    // Client certificates asked for without a CA to check them, or with a missing one.
    run(tls(&cert, &key, "yes"), &[], "tls-ca-cert-file");
    run(
        tls(&cert, &key, "optional"),
        &["--tls-ca-cert-file", &missing],
        "nope.pem",
    );
}

/// INFO `field` of `client`'s server.
async fn info_of(client: &Client, field: &str) -> String {
    let info = match client.command(["INFO", "replication"]).await.unwrap() {
        Reply::Bulk(info) | Reply::Verbatim { text: info, .. } => info,
        other => panic!("INFO answered {other:?}"),
    };
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| Some(l.strip_prefix(field)?.strip_prefix(':')?.trim().to_string()))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

/// Waits (at most 15 s) until INFO replication's `field` reads `want` on `client`'s server.
async fn wait_for(client: &Client, field: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while info_of(client, field).await != want {
        assert!(Instant::now() < deadline, "{field} never became {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_follows_its_primary_over_tls_and_a_wrong_link_never_comes_up() {
    let certs = Certs::generate();
    let mine = Some((certs.client_cert.as_path(), certs.client_key.as_path()));
    let primary = tls_server(&certs, "yes", &[]);
    let target = format!("127.0.0.1 {}", primary.addr.port());
    let path = |p: &Path| p.display().to_string();
    let (client_cert, client_key) = (path(&certs.client_cert), path(&certs.client_key));
    let replica = tls_server(
        &certs,
        "yes",
        &[
            "--replicaof",
            &target,
            "--tls-replication",
            "yes",
            "--tls-client-cert-file",
            &client_cert,
            "--tls-client-key-file",
            &client_key,
        ],
    );
    let p = Client::connect_with(primary.addr.to_string(), options(tls_options(&certs, mine)))
        .await
        .unwrap();
    let r = Client::connect_with(replica.addr.to_string(), options(tls_options(&certs, mine)))
        .await
        .unwrap();
    for i in 0..100 {
        p.set(format!("k{i}"), format!("v{i}")).await.unwrap();
    }
    let want = info_of(&p, "master_repl_offset").await;
    wait_for(&r, "slave_repl_offset", &want).await;
    assert_eq!(info_of(&r, "master_link_status").await, "up");
    assert_eq!(r.get("k99").await.unwrap().as_deref(), Some(&b"v99"[..]));
    // The replica announced its TLS port, the one it can be reached on.
    let announced = format!("port={},", replica.addr.port());
    assert!(
        info_of(&p, "slave0").await.contains(&announced),
        "{announced}"
    );

    // Links that must not come up: plaintext to the TLS port; TLS presenting the server's
    // own certificate, which is not for client authentication; TLS presenting another CA's.
    let (stranger_cert, stranger_key) = (path(&certs.stranger_cert), path(&certs.stranger_key));
    for (what, extra) in [
        ("plaintext", vec![]),
        ("a server certificate", vec!["--tls-replication", "yes"]),
        (
            "another CA's certificate",
            vec![
                "--tls-replication",
                "yes",
                "--tls-client-cert-file",
                &stranger_cert,
                "--tls-client-key-file",
                &stranger_key,
            ],
        ),
    ] {
        let mut args = vec!["--replicaof", target.as_str()];
        args.extend(extra);
        let wrong = tls_server(&certs, "yes", &args);
        let w = Client::connect_with(wrong.addr.to_string(), options(tls_options(&certs, mine)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(info_of(&w, "master_link_status").await, "down", "{what}");
        assert_eq!(w.get("k99").await.unwrap(), None, "{what}");
    }
    assert_eq!(info_of(&p, "connected_slaves").await, "1");
}
