//! cairn-cli: the Cairn shell. A REPL as comfortable as redis-cli (history, completion,
//! hints, redis-cli's output), a one-shot command runner (`cairn-cli SET k v`), and a
//! script runner when standard input is not a terminal.
//!
//! It owns the command line, the line editor and the printing of replies. A typed line is
//! split by the same code as the server's inline requests (`protocol::resp::split_args`),
//! so it means the same in both; it talks to the server through the client library (native
//! protocol) or plain RESP (`--resp`), never through the server's code.

mod conn;
mod format;
mod pager;
mod repl;

use std::ffi::OsString;
use std::io::{self, BufRead, IsTerminal, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use cairn::client::TlsOptions;
use clap::{ArgAction, Parser};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::Editor;

use cairn::protocol::{resp, Reply};
use conn::{Conn, RespConn, Target, Unreachable};

/// The Cairn command-line shell.
// Each bool is a command-line switch of its own, as clap derives them, not encoded state.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Parser)]
#[command(
    name = "cairn-cli",
    version,
    disable_help_flag = true,
    about = "The Cairn shell: a REPL, or one command given after the options",
    after_help = "Examples:\n  cairn-cli\n  cairn-cli -p 7380 SET greeting \"hello world\"\n  \
                  echo 'GET greeting' | cairn-cli\n  cairn-cli --resp -3 HGETALL h"
)]
struct Args {
    /// Server host.
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(short = 'p', long, default_value_t = cairn::client::DEFAULT_PORT)]
    port: u16,
    /// Password to authenticate with.
    #[arg(short = 'a', long = "pass")]
    password: Option<String>,
    /// ACL user to authenticate as (with -a).
    #[arg(long)]
    user: Option<String>,
    /// Speak RESP2 like redis-cli instead of the native protocol.
    #[arg(long)]
    resp: bool,
    /// With --resp: switch to RESP3 (HELLO 3).
    #[arg(short = '3')]
    resp3: bool,
    /// Connect over TLS (to the server's tls-port).
    #[arg(long)]
    tls: bool,
    /// With --tls: the CA certificates (PEM) the server's certificate must chain to.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// With --tls: the client certificate (PEM) to present, with --key.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// With --tls: the private key (PEM) of --cert.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// With --tls: the server name to check and send (default: the host).
    #[arg(long, value_name = "HOST")]
    sni: Option<String>,
    /// Print values plainly, one per line (the default when stdout is not a terminal).
    #[arg(long)]
    raw: bool,
    /// Print formatted replies even when stdout is not a terminal.
    #[arg(long = "no-raw")]
    no_raw: bool,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// A command and its arguments to run once, e.g. `SET key value`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<OsString>,
}

/// How replies are printed.
#[derive(Clone, Copy)]
enum Output {
    Tty,
    /// As `Tty`, a screenful at a time when taller than the terminal (the REPL).
    Paged,
    Raw,
}

fn print_reply(output: Output, args: &[Bytes], reply: &Reply) {
    let text = match output {
        _ if format::prints_verbatim(args) && !matches!(reply, Reply::Error(_)) => {
            format::verbatim(reply)
        }
        Output::Tty | Output::Paged => format::tty(reply),
        Output::Raw => format::raw(reply),
    };
    if let Output::Paged = output {
        pager::show(&text);
        return;
    }
    let mut stdout = io::stdout().lock();
    // A closed pipe (`| head`) is not worth a panic.
    let _ = stdout.write_all(&text);
    let _ = stdout.flush();
}

/// Outcome of one line.
enum Ran {
    Ok,
    ErrorReply,
    Quit,
}

/// Runs one command line (already split): local words (`help`, `quit`, `clear`) or a
/// server command.
fn run(conn: &mut Conn, output: Output, args: &[Bytes]) -> Ran {
    let Some(name) = args.first() else {
        return Ran::Ok;
    };
    let name_is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    if name_is("help") || name_is("?") {
        print_help(&args[1..]);
        return Ran::Ok;
    }
    if name_is("quit") || name_is("exit") {
        return Ran::Quit;
    }
    if name_is("clear") {
        print!("\x1b[H\x1b[2J");
        let _ = io::stdout().flush();
        return Ran::Ok;
    }
    let subscribes = name_is("subscribe") || name_is("psubscribe");
    match conn.call(args) {
        Ok(reply) if subscribes && !matches!(reply, Reply::Error(_)) => {
            if let Conn::Resp(resp) = conn {
                listen(resp, output, reply);
            }
            Ran::Quit
        }
        Ok(reply) => {
            print_reply(output, args, &reply);
            if matches!(reply, Reply::Error(_)) {
                Ran::ErrorReply
            } else {
                Ran::Ok
            }
        }
        Err(line) => {
            eprintln!("{line}");
            Ran::ErrorReply
        }
    }
}

/// After a subscription, as redis-cli does: prints every push the server sends, until the
/// connection ends (or Ctrl-C ends the shell).
fn listen(conn: &mut RespConn, output: Output, first: Reply) {
    let output = match output {
        Output::Paged => Output::Tty,
        other => other,
    };
    if let Output::Tty = output {
        println!("Reading messages... (press Ctrl-C to quit)");
    }
    let mut reply = first;
    loop {
        print_reply(output, &[], &reply);
        reply = match conn.next_push() {
            Ok(reply) => reply,
            Err(line) => {
                eprintln!("{line}");
                return;
            }
        };
    }
}

fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cairn_history"))
}

fn repl(conn: &mut Conn, prompt: &str) -> ExitCode {
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .max_history_size(1000)
        .map(rustyline::config::Builder::build)
        .unwrap_or_default();
    let mut editor: Editor<repl::CliHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cairn-cli: cannot start the line editor: {e}");
            return ExitCode::FAILURE;
        }
    };
    editor.set_helper(Some(repl::CliHelper));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    loop {
        match editor.readline(prompt) {
            Ok(line) => {
                let Ok(args) = resp::split_args(line.as_bytes()) else {
                    println!("Invalid argument(s)");
                    continue;
                };
                if args.is_empty() {
                    continue;
                }
                // Passwords stay out of the history file, as in redis-cli.
                if !args[0].eq_ignore_ascii_case(b"auth") {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Some(h) = &history {
                        let _ = editor.save_history(h);
                    }
                }
                if let Ran::Quit = run(conn, Output::Paged, &args) {
                    break;
                }
            }
            // Ctrl-C clears the line; Ctrl-D leaves.
            Err(ReadlineError::Interrupted) => {}
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("cairn-cli: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Runs each line of standard input; fails if any command did.
fn script(conn: &mut Conn, output: Output) -> ExitCode {
    let mut failed = false;
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match stdin.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("cairn-cli: reading standard input: {e}");
                return ExitCode::FAILURE;
            }
        }
        let Ok(args) = resp::split_args(&line) else {
            eprintln!("Invalid argument(s)");
            failed = true;
            continue;
        };
        match run(conn, output, &args) {
            Ran::Ok => {}
            Ran::ErrorReply => failed = true,
            Ran::Quit => break,
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let tls = match (args.tls, args.cacert.clone()) {
        (false, _) => None,
        (true, Some(ca_file)) => Some(TlsOptions {
            ca_file,
            cert_file: args.cert.clone(),
            key_file: args.key.clone(),
            server_name: args.sni.clone(),
        }),
        (true, None) => {
            eprintln!("--tls needs --cacert: the CA the server's certificate must chain to");
            return ExitCode::FAILURE;
        }
    };
    let target = Target {
        addr: format!("{}:{}", args.host, args.port),
        user: args.user.clone(),
        password: args.password.clone(),
        resp: args.resp,
        resp3: args.resp3,
        tls,
    };
    let output = if args.raw || (!io::stdout().is_terminal() && !args.no_raw) {
        Output::Raw
    } else {
        Output::Tty
    };
    let command: Vec<Bytes> = args
        .command
        .into_iter()
        .map(|a| Bytes::from(a.into_vec()))
        .collect();
    // `help` needs no server.
    if command
        .first()
        .is_some_and(|c| c.eq_ignore_ascii_case(b"help"))
    {
        print_help(&command[1..]);
        return ExitCode::SUCCESS;
    }
    let mut conn = match Conn::open(&target) {
        Ok(c) => c,
        Err(Unreachable(line)) => {
            eprintln!("{line}");
            return ExitCode::FAILURE;
        }
    };
    if !command.is_empty() {
        return match run(&mut conn, output, &command) {
            Ran::Ok | Ran::Quit => ExitCode::SUCCESS,
            Ran::ErrorReply => ExitCode::FAILURE,
        };
    }
    if io::stdin().is_terminal() {
        repl(&mut conn, &format!("{}> ", target.addr))
    } else {
        script(&mut conn, output)
    }
}

/// `help [topic]`, printed without a server.
fn print_help(topic: &[Bytes]) {
    let topic = topic
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    print!(
        "{}",
        repl::help((!topic.is_empty()).then_some(topic.as_str()))
    );
}
