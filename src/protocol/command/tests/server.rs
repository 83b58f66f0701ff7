//! Parse tests of the connection and server commands, CLIENT, COMMAND and CONFIG.

use bytes::Bytes;

use super::*;

#[test]
fn connection_commands() {
    assert_eq!(
        f("ECHO hi"),
        okf(ConnectionCommand::Echo { message: b("hi") })
    );
    assert_eq!(e("ECHO"), arity("echo"));
    assert_eq!(e("ECHO a b"), arity("echo"));
    assert_eq!(
        f("AUTH pw"),
        okf(ConnectionCommand::Auth {
            username: None,
            password: b("pw")
        })
    );
    assert_eq!(
        f("auth user pw"),
        okf(ConnectionCommand::Auth {
            username: Some(b("user")),
            password: b("pw")
        })
    );
    assert_eq!(e("AUTH a b c"), SYNTAX);
    assert_eq!(e("AUTH"), arity("auth"));
    assert_eq!(f("SELECT 0"), okf(ConnectionCommand::Select { index: 0 }));
    assert_eq!(f("SELECT -3"), okf(ConnectionCommand::Select { index: -3 }));
    assert_eq!(e("SELECT x"), NOT_INT);
    assert_eq!(
        e("SELECT 2147483648"),
        "ERR value is out of range, value must between -2147483648 and 2147483647"
    );
    assert_eq!(
        CommandError::DbIndexOutOfRange.to_string(),
        "ERR DB index is out of range"
    );
    assert_eq!(e("SELECT"), arity("select"));
    assert_eq!(f("QUIT"), okf(ConnectionCommand::Quit));
    assert_eq!(f("QUIT now"), okf(ConnectionCommand::Quit));
    assert_eq!(f("RESET"), okf(ConnectionCommand::Reset));
    assert_eq!(e("RESET x"), arity("reset"));
    assert_eq!(f("TIME"), okf(ServerCommand::Time));
    assert_eq!(e("TIME x"), arity("time"));
    assert_eq!(f("INFO"), okf(ServerCommand::Info { sections: vec![] }));
    assert_eq!(
        f("INFO server keyspace"),
        okf(ServerCommand::Info {
            sections: vec![b("server"), b("keyspace")]
        })
    );
}

#[test]
fn hello_forms() {
    let none = ConnectionCommand::Hello {
        protover: None,
        auth: None,
        setname: None,
    };
    assert_eq!(f("HELLO"), okf(none));
    assert_eq!(
        f("hello 3"),
        okf(ConnectionCommand::Hello {
            protover: Some(3),
            auth: None,
            setname: None
        })
    );
    assert_eq!(
        f("HELLO 2 AUTH u pw SETNAME me"),
        okf(ConnectionCommand::Hello {
            protover: Some(2),
            auth: Some(Box::new((b("u"), b("pw")))),
            setname: Some(b("me"))
        })
    );
    assert_eq!(
        f("HELLO 3 setname me auth u pw"),
        okf(ConnectionCommand::Hello {
            protover: Some(3),
            auth: Some(Box::new((b("u"), b("pw")))),
            setname: Some(b("me"))
        })
    );
    // An unsupported version parses; options are not looked at (the server says NOPROTO).
    assert_eq!(
        f("HELLO 4 garbage"),
        okf(ConnectionCommand::Hello {
            protover: Some(4),
            auth: None,
            setname: None
        })
    );
    assert_eq!(
        f("HELLO -1"),
        okf(ConnectionCommand::Hello {
            protover: Some(-1),
            auth: None,
            setname: None
        })
    );
    let proto = "ERR Protocol version is not an integer or out of range";
    assert_eq!(e("HELLO three"), proto);
    assert_eq!(e("HELLO 3.0"), proto);
    assert_eq!(
        e("HELLO 3 AUTH u"),
        "ERR Syntax error in HELLO option 'AUTH'"
    );
    assert_eq!(
        e("HELLO 3 SETNAME"),
        "ERR Syntax error in HELLO option 'SETNAME'"
    );
    assert_eq!(e("HELLO 3 foo"), "ERR Syntax error in HELLO option 'foo'");
    assert_eq!(
        pv(&[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"a b"]),
        Err(CommandError::InvalidClientName)
    );
    assert_eq!(
        validate_client_name(b"a b"),
        Err(CommandError::InvalidClientName)
    );
    assert_eq!(validate_client_name(b""), Ok(()));
}

#[test]
#[allow(clippy::too_many_lines)] // one case after another, as Redis's tests list them
fn client_subcommands() {
    let c = |line: &str| match f(line) {
        Ok(Family::Connection(ConnectionCommand::Client(cmd))) => cmd,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(c("CLIENT ID"), ClientCommand::Id);
    assert_eq!(c("client getname"), ClientCommand::GetName);
    assert_eq!(c("CLIENT INFO"), ClientCommand::Info);
    assert_eq!(c("CLIENT HELP"), ClientCommand::Help);
    assert_eq!(
        c("CLIENT SETNAME conn-1"),
        ClientCommand::SetName(b("conn-1"))
    );
    assert_eq!(
        pv(&[b"CLIENT", b"SETNAME", b""]).map(|cmd| cmd.into_parts().1),
        okf(ConnectionCommand::Client(ClientCommand::SetName(
            Bytes::new()
        )))
    );
    let bad_name = "ERR Client names cannot contain spaces, newlines or special characters.";
    for name in [&b"a b"[..], b"a\nb", b"\x7f", b"\xc3\xa9"] {
        assert_eq!(
            pv(&[b"CLIENT", b"SETNAME", name]).unwrap_err().to_string(),
            bad_name
        );
    }
    assert_eq!(
        c("CLIENT SETINFO lib-name redis-py"),
        ClientCommand::SetInfo {
            attr: ClientAttr::LibName,
            value: b("redis-py")
        }
    );
    assert_eq!(
        c("CLIENT SETINFO LIB-VER 5.0.1"),
        ClientCommand::SetInfo {
            attr: ClientAttr::LibVer,
            value: b("5.0.1")
        }
    );
    assert_eq!(
        e("CLIENT SETINFO lib-foo x"),
        "ERR Unrecognized option 'lib-foo'"
    );
    assert_eq!(
        pv(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"a b"])
            .unwrap_err()
            .to_string(),
        "ERR LIB-NAME cannot contain spaces, newlines or special characters."
    );
    assert_eq!(c("CLIENT NO-EVICT on"), ClientCommand::NoEvict(true));
    assert_eq!(c("CLIENT NO-TOUCH OFF"), ClientCommand::NoTouch(false));
    assert_eq!(e("CLIENT NO-EVICT maybe"), SYNTAX);
    // LIST
    assert_eq!(
        c("CLIENT LIST"),
        ClientCommand::List {
            kind: None,
            ids: vec![]
        }
    );
    assert_eq!(
        c("CLIENT LIST TYPE pubsub"),
        ClientCommand::List {
            kind: Some(ClientType::PubSub),
            ids: vec![]
        }
    );
    assert_eq!(
        c("CLIENT LIST TYPE slave"),
        ClientCommand::List {
            kind: Some(ClientType::Replica),
            ids: vec![]
        }
    );
    assert_eq!(
        c("CLIENT LIST ID 1 -2"),
        ClientCommand::List {
            kind: None,
            ids: vec![1, -2]
        }
    );
    assert_eq!(
        e("CLIENT LIST TYPE bogus"),
        "ERR Unknown client type 'bogus'"
    );
    assert_eq!(e("CLIENT LIST ID 1 x"), "ERR Invalid client ID");
    assert_eq!(e("CLIENT LIST TYPE"), SYNTAX);
    assert_eq!(e("CLIENT LIST ID"), SYNTAX);
    assert_eq!(e("CLIENT LIST TYPE normal x"), SYNTAX);
    // KILL
    assert_eq!(
        c("CLIENT KILL 127.0.0.1:5000"),
        ClientCommand::Kill(ClientKill::Addr(b("127.0.0.1:5000")))
    );
    let kill = c(
        "CLIENT KILL ID 7 SKIPME no TYPE normal ADDR 1.2.3.4:5 LADDR 1.1.1.1:1 USER bob MAXAGE 30",
    );
    assert_eq!(
        kill,
        ClientCommand::Kill(ClientKill::Filter(Box::new(ClientKillFilter {
            id: Some(7),
            kind: Some(ClientType::Normal),
            addr: Some(b("1.2.3.4:5")),
            laddr: Some(b("1.1.1.1:1")),
            user: Some(b("bob")),
            skip_me: false,
            max_age: Some(30),
        })))
    );
    match c("CLIENT KILL ID 1") {
        ClientCommand::Kill(ClientKill::Filter(f)) => assert!(f.skip_me),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e("CLIENT KILL ID 0"),
        "ERR client-id should be greater than 0"
    );
    assert_eq!(
        e("CLIENT KILL ID x"),
        "ERR client-id should be greater than 0"
    );
    assert_eq!(e("CLIENT KILL TYPE x"), "ERR Unknown client type 'x'");
    assert_eq!(e("CLIENT KILL SKIPME maybe"), SYNTAX);
    assert_eq!(e("CLIENT KILL ID 1 TYPE"), SYNTAX);
    assert_eq!(e("CLIENT KILL FOO bar"), SYNTAX);
    assert_eq!(e("CLIENT KILL MAXAGE x"), NOT_INT);
    // arity and unknown subcommands
    assert_eq!(e("CLIENT"), arity("client"));
    assert_eq!(e("CLIENT SETNAME"), arity("client|setname"));
    assert_eq!(e("CLIENT ID x"), arity("client|id"));
    assert_eq!(e("CLIENT KILL"), arity("client|kill"));
    assert_eq!(e("CLIENT SETINFO lib-name"), arity("client|setinfo"));
    assert_eq!(
        e("client foo"),
        "ERR unknown subcommand 'foo'. Try CLIENT HELP."
    );
    assert_eq!(
        e("client foo bar"),
        "ERR unknown subcommand 'foo'. Try CLIENT HELP."
    );
    let long = "s".repeat(200);
    assert_eq!(
        e(&format!("CLIENT {long}")),
        format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            "s".repeat(128)
        )
    );
}

#[test]
fn command_subcommands() {
    let q = |line: &str| match f(line) {
        Ok(Family::Server(ServerCommand::Command(q))) => q,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(q("COMMAND"), CommandQuery::All);
    assert_eq!(q("command count"), CommandQuery::Count);
    assert_eq!(q("COMMAND HELP"), CommandQuery::Help);
    assert_eq!(q("COMMAND INFO"), CommandQuery::Info(vec![]));
    assert_eq!(
        q("COMMAND INFO get set"),
        CommandQuery::Info(vec![b("get"), b("set")])
    );
    assert_eq!(q("COMMAND DOCS"), CommandQuery::Docs(vec![]));
    assert_eq!(q("COMMAND DOCS get"), CommandQuery::Docs(vec![b("get")]));
    assert_eq!(q("COMMAND LIST"), CommandQuery::List(None));
    assert_eq!(
        q("COMMAND LIST FILTERBY pattern g*"),
        CommandQuery::List(Some(CommandListFilter::Pattern(b("g*"))))
    );
    assert_eq!(
        q("COMMAND LIST FILTERBY ACLCAT read"),
        CommandQuery::List(Some(CommandListFilter::AclCat(b("read"))))
    );
    assert_eq!(
        q("COMMAND LIST FILTERBY MODULE m"),
        CommandQuery::List(Some(CommandListFilter::Module(b("m"))))
    );
    assert_eq!(e("COMMAND LIST FILTERBY foo x"), SYNTAX);
    assert_eq!(e("COMMAND LIST FILTERBY pattern"), SYNTAX);
    assert_eq!(e("COMMAND LIST foo"), SYNTAX);
    assert_eq!(e("COMMAND COUNT x"), arity("command|count"));
    assert_eq!(
        e("COMMAND foo"),
        "ERR unknown subcommand 'foo'. Try COMMAND HELP."
    );
}

#[test]
fn config_subcommands() {
    let c = |line: &str| match f(line) {
        Ok(Family::Server(ServerCommand::Config(c))) => c,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(c("CONFIG GET save"), ConfigCommand::Get(vec![b("save")]));
    assert_eq!(
        c("config get save appendonly"),
        ConfigCommand::Get(vec![b("save"), b("appendonly")])
    );
    assert_eq!(
        c("CONFIG SET a 1"),
        ConfigCommand::Set(vec![(b("a"), b("1"))])
    );
    assert_eq!(
        c("CONFIG SET a 1 b 2"),
        ConfigCommand::Set(vec![(b("a"), b("1")), (b("b"), b("2"))])
    );
    assert_eq!(c("CONFIG RESETSTAT"), ConfigCommand::ResetStat);
    assert_eq!(c("CONFIG REWRITE"), ConfigCommand::Rewrite);
    assert_eq!(c("CONFIG HELP"), ConfigCommand::Help);
    assert_eq!(e("CONFIG"), arity("config"));
    assert_eq!(e("CONFIG GET"), arity("config|get"));
    assert_eq!(e("CONFIG SET a"), arity("config|set"));
    assert_eq!(e("CONFIG SET a 1 b"), SYNTAX);
    assert_eq!(e("CONFIG RESETSTAT x"), arity("config|resetstat"));
    assert_eq!(
        e("CONFIG foo"),
        "ERR unknown subcommand 'foo'. Try CONFIG HELP."
    );
}

#[test]
fn shutdown_options() {
    let s = f;
    assert_eq!(
        s("SHUTDOWN"),
        okf(ServerCommand::Shutdown {
            save: None,
            now: false,
            force: false,
            abort: false
        })
    );
    assert_eq!(
        s("shutdown nosave now force"),
        okf(ServerCommand::Shutdown {
            save: Some(false),
            now: true,
            force: true,
            abort: false
        })
    );
    assert_eq!(
        s("SHUTDOWN SAVE"),
        okf(ServerCommand::Shutdown {
            save: Some(true),
            now: false,
            force: false,
            abort: false
        })
    );
    assert_eq!(
        s("SHUTDOWN ABORT"),
        okf(ServerCommand::Shutdown {
            save: None,
            now: false,
            force: false,
            abort: true
        })
    );
    assert_eq!(e("SHUTDOWN SAVE NOSAVE"), SYNTAX);
    assert_eq!(e("SHUTDOWN ABORT NOW"), SYNTAX);
    assert_eq!(e("SHUTDOWN FOO"), SYNTAX);
}
