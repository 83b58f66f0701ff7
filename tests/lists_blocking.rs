//! The blocking pops over real sockets, of lists and of sorted sets: several clients
//! blocked at once are served in the order they blocked, each by the push (or ZADD) that
//! gives it an element; a timeout answers a null array; a blocked client holds up neither
//! its worker nor other connections; inside MULTI a blocking pop answers at once; a client
//! that disconnects while blocked is forgotten; a server that becomes a replica unblocks
//! every waiter with Redis's `-UNBLOCKED` error and closes it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestServer;

/// A raw RESP2 connection: requests written whole, replies read as raw text.
struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Client {
    fn connect(server: &TestServer) -> Client {
        let w = TcpStream::connect(server.addr).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        Client { w, r }
    }

    fn send(&mut self, line: &str) {
        let words: Vec<&str> = line.split(' ').collect();
        let mut out = format!("*{}\r\n", words.len());
        for w in words {
            let _ = write!(out, "${}\r\n{w}\r\n", w.len());
        }
        self.w.write_all(out.as_bytes()).unwrap();
    }

    /// One reply, flattened to its lines.
    fn read(&mut self) -> String {
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        let mut out = line.clone();
        match line.as_bytes().first() {
            Some(b'*') => {
                let n: i64 = line[1..].trim().parse().unwrap();
                for _ in 0..n.max(0) {
                    out.push_str(&self.read());
                }
            }
            Some(b'$') => {
                let n: i64 = line[1..].trim().parse().unwrap();
                if n >= 0 {
                    let mut body = vec![0; usize::try_from(n).unwrap() + 2];
                    self.r.read_exact(&mut body).unwrap();
                    out.push_str(&String::from_utf8_lossy(&body));
                }
            }
            _ => {}
        }
        out
    }

    fn call(&mut self, line: &str) -> String {
        self.send(line);
        self.read()
    }

    /// Whether a reply arrives within `wait`.
    fn has_reply_within(&mut self, wait: Duration) -> bool {
        self.w.set_read_timeout(Some(wait)).unwrap();
        let mut byte = [0u8; 1];
        let got = !self.r.buffer().is_empty() || self.r.get_mut().peek(&mut byte).is_ok();
        self.w
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        got
    }
}

fn bulk_pair(key: &str, value: &str) -> String {
    format!(
        "*2\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
        key.len(),
        value.len()
    )
}

/// Waits until CLIENT LIST shows `n` clients blocked.
fn wait_blocked(admin: &mut Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list = admin.call("CLIENT LIST");
        if list.matches("flags=b").count() == n {
            return;
        }
        assert!(Instant::now() < deadline, "never {n} blocked: {list}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn blocked_clients_are_served_in_order() {
    let server = TestServer::start(&[]);
    let mut admin = Client::connect(&server);
    let mut waiters: Vec<Client> = (0..3).map(|_| Client::connect(&server)).collect();
    for (i, waiter) in waiters.iter_mut().enumerate() {
        waiter.send("BLPOP q other 0");
        wait_blocked(&mut admin, i + 1);
    }
    // Other connections are served meanwhile.
    assert_eq!(admin.call("PING"), "+PONG\r\n");
    assert_eq!(admin.call("RPUSH q one"), ":1\r\n");
    assert_eq!(waiters[0].read(), bulk_pair("q", "one"));
    assert!(!waiters[1].has_reply_within(Duration::from_millis(100)));
    // Two at once: the next two in order.
    assert_eq!(admin.call("RPUSH other two three"), ":2\r\n");
    assert_eq!(waiters[1].read(), bulk_pair("other", "two"));
    assert_eq!(waiters[2].read(), bulk_pair("other", "three"));
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.call("EXISTS q other"), ":0\r\n");
    // Served clients go on with what they pipelined.
    assert_eq!(waiters[0].call("PING"), "+PONG\r\n");
}

#[test]
fn timeouts_moves_multi_and_disconnects() {
    let server = TestServer::start(&[]);
    let mut admin = Client::connect(&server);
    let mut a = Client::connect(&server);
    let started = Instant::now();
    assert_eq!(a.call("BRPOP nothing 0.2"), "*-1\r\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(a.call("BLMPOP 0.05 2 x y LEFT COUNT 2"), "*-1\r\n");
    assert_eq!(a.call("BLPOP k -1"), "-ERR timeout is negative\r\n");

    // BLMOVE woken by an LMOVE into its source.
    a.send("BLMOVE src dst RIGHT LEFT 5");
    wait_blocked(&mut admin, 1);
    admin.call("RPUSH staging e1");
    assert_eq!(admin.call("LMOVE staging src LEFT LEFT"), "$2\r\ne1\r\n");
    assert_eq!(a.read(), "$2\r\ne1\r\n");
    assert_eq!(admin.call("LRANGE dst 0 -1"), "*1\r\n$2\r\ne1\r\n");

    // BLMPOP woken by a RENAME onto its key.
    a.send("BLMPOP 5 1 renamed RIGHT COUNT 5");
    wait_blocked(&mut admin, 1);
    admin.call("RPUSH tmp r1 r2");
    assert_eq!(admin.call("RENAME tmp renamed"), "+OK\r\n");
    assert_eq!(
        a.read(),
        "*2\r\n$7\r\nrenamed\r\n*2\r\n$2\r\nr2\r\n$2\r\nr1\r\n"
    );

    // Inside MULTI a blocking pop answers at once.
    assert_eq!(a.call("MULTI"), "+OK\r\n");
    assert_eq!(a.call("BLPOP empty 0"), "+QUEUED\r\n");
    assert_eq!(a.call("BLMOVE empty d LEFT LEFT 0"), "+QUEUED\r\n");
    assert_eq!(a.call("EXEC"), "*2\r\n*-1\r\n$-1\r\n");

    // A client that goes away while blocked is forgotten: the push goes to the next.
    let mut gone = Client::connect(&server);
    gone.send("BLPOP z 0");
    wait_blocked(&mut admin, 1);
    a.send("BLPOP z 0");
    wait_blocked(&mut admin, 2);
    drop(gone);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call("LPUSH z last"), ":1\r\n");
    assert_eq!(a.read(), bulk_pair("z", "last"));

    // WRONGTYPE at once, as Redis.
    admin.call("SET str v");
    assert!(a.call("BLPOP str 0").starts_with("-WRONGTYPE"));
}

/// `[key, member, score]`, as BZPOPMIN and BZPOPMAX answer in RESP2.
fn popped(key: &str, member: &str, score: &str) -> String {
    format!(
        "*3\r\n${}\r\n{key}\r\n${}\r\n{member}\r\n${}\r\n{score}\r\n",
        key.len(),
        member.len(),
        score.len()
    )
}

#[test]
fn sorted_set_pops_block_until_a_zadd_or_zunionstore() {
    let server = TestServer::start(&[]);
    let mut admin = Client::connect(&server);
    let (mut low, mut high) = (Client::connect(&server), Client::connect(&server));
    low.send("BZPOPMIN z1 z2 0");
    wait_blocked(&mut admin, 1);
    high.send("BZPOPMAX z2 0");
    wait_blocked(&mut admin, 2);
    // One ZADD serves both, in the order they blocked.
    assert_eq!(admin.call("ZADD z2 1 one 2 two 3 three"), ":3\r\n");
    assert_eq!(low.read(), popped("z2", "one", "1"));
    assert_eq!(high.read(), popped("z2", "three", "3"));
    assert_eq!(admin.call("ZCARD z2"), ":1\r\n");

    // A ZUNIONSTORE into the key serves it too.
    low.send("BZPOPMIN dest 5");
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call("ZUNIONSTORE dest 1 z2 WEIGHTS 1.5"), ":1\r\n");
    assert_eq!(low.read(), popped("dest", "two", "3"));
    assert_eq!(admin.call("EXISTS dest"), ":0\r\n");

    // A timeout, MULTI and a key of another type, as Redis answers them.
    let started = Instant::now();
    assert_eq!(low.call("BZPOPMAX nothing 0.1"), "*-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(95));
    assert_eq!(low.call("MULTI"), "+OK\r\n");
    assert_eq!(low.call("BZPOPMIN nothing 0"), "+QUEUED\r\n");
    assert_eq!(low.call("EXEC"), "*1\r\n*-1\r\n");
    admin.call("RPUSH list x");
    assert!(low.call("BZPOPMIN list 0").starts_with("-WRONGTYPE"));
    wait_blocked(&mut admin, 0);
}

#[test]
fn a_waiter_stays_blocked_while_its_key_is_of_another_type() {
    let server = TestServer::start(&[]);
    let mut admin = Client::connect(&server);
    let (mut list_waiter, mut zset_waiter) = (Client::connect(&server), Client::connect(&server));
    list_waiter.send("BLPOP k other 0");
    wait_blocked(&mut admin, 1);
    zset_waiter.send("BZPOPMIN q 0");
    wait_blocked(&mut admin, 2);
    // The keys each waits on become the other type: as Redis 7.0, neither is answered.
    assert_eq!(admin.call("ZADD k 1 one"), ":1\r\n");
    assert_eq!(admin.call("RPUSH q x"), ":1\r\n");
    assert!(!list_waiter.has_reply_within(Duration::from_millis(100)));
    assert!(!zset_waiter.has_reply_within(Duration::from_millis(100)));
    wait_blocked(&mut admin, 2);
    // A push to its other key serves the BLPOP, though its first key is a sorted set.
    assert_eq!(admin.call("RPUSH other two"), ":1\r\n");
    assert_eq!(list_waiter.read(), bulk_pair("other", "two"));
    // The key becomes a sorted set again, after a DEL: the BZPOPMIN is served.
    assert_eq!(admin.call("DEL q"), ":1\r\n");
    assert_eq!(admin.call("ZADD q 2 two"), ":1\r\n");
    assert_eq!(zset_waiter.read(), popped("q", "two", "2"));
    wait_blocked(&mut admin, 0);
    // A first try still answers WRONGTYPE, as LPOP would.
    assert!(list_waiter.call("BLPOP k 0").starts_with("-WRONGTYPE"));
}

#[test]
fn becoming_a_replica_unblocks_every_waiter_with_an_error_and_closes_it() {
    let primary = TestServer::start(&[]);
    let server = TestServer::start(&[]);
    let mut admin = Client::connect(&server);
    let mut list_waiter = Client::connect(&server);
    let mut zset_waiter = Client::connect(&server);
    list_waiter.send("BLPOP k 0");
    wait_blocked(&mut admin, 1);
    zset_waiter.send("BZPOPMIN z 0");
    // Pipelined behind the pop: never run.
    zset_waiter.send("SET after-unblock 1");
    wait_blocked(&mut admin, 2);
    let target = format!("REPLICAOF 127.0.0.1 {}", primary.addr.port());
    assert_eq!(admin.call(&target), "+OK\r\n");
    for waiter in [&mut list_waiter, &mut zset_waiter] {
        assert_eq!(
            waiter.read(),
            "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n"
        );
        let mut rest = Vec::new();
        assert_eq!(waiter.r.read_to_end(&mut rest).unwrap(), 0, "then closed");
    }
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.call("EXISTS after-unblock"), ":0\r\n");
}
