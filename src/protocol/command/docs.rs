//! COMMAND DOCS's argument trees, derived from each table entry's syntax string.
//!
//! redis-cli builds its hints from the `arguments` of COMMAND DOCS, so every command
//! needs one; deriving it from the one-line syntax keeps a single source for both.
//! Cold path: it allocates freely and never runs while parsing requests.

use super::table::CommandSpec;

/// The type of an argument, as COMMAND DOCS names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgKind {
    /// A key name.
    Key,
    /// Any string.
    String,
    /// An integer.
    Integer,
    /// A floating-point number.
    Double,
    /// A glob-style pattern.
    Pattern,
    /// A Unix timestamp.
    UnixTime,
    /// A literal word with no value (its `token`).
    PureToken,
    /// Exactly one of these.
    OneOf(Vec<ArgSpec>),
    /// All of these, in order.
    Block(Vec<ArgSpec>),
}

impl ArgKind {
    /// The `type` field of COMMAND DOCS.
    pub fn as_str(&self) -> &'static str {
        match self {
            ArgKind::Key => "key",
            ArgKind::String => "string",
            ArgKind::Integer => "integer",
            ArgKind::Double => "double",
            ArgKind::Pattern => "pattern",
            ArgKind::UnixTime => "unix-time",
            ArgKind::PureToken => "pure-token",
            ArgKind::OneOf(_) => "oneof",
            ArgKind::Block(_) => "block",
        }
    }
}

/// One argument of a command, as an entry of COMMAND DOCS's `arguments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgSpec {
    /// The argument's name (`key`, `seconds`; a group is named after its first member).
    pub name: String,
    /// Its type, with the members of a group.
    pub kind: ArgKind,
    /// The literal word that introduces it (`EX` before `seconds`), if any.
    pub token: Option<&'static str>,
    /// It may be left out.
    pub optional: bool,
    /// It may be repeated.
    pub multiple: bool,
}

impl ArgSpec {
    /// The members of a `oneof` or `block`; empty for the others.
    pub fn arguments(&self) -> &[ArgSpec] {
        match &self.kind {
            ArgKind::OneOf(args) | ArgKind::Block(args) => args,
            _ => &[],
        }
    }

    /// The `flags` field of COMMAND DOCS (`optional`, `multiple`).
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        if self.optional {
            flags.push("optional");
        }
        if self.multiple {
            flags.push("multiple");
        }
        flags
    }
}

impl CommandSpec {
    /// The syntax as a user reads it (hints, HELP): [`CommandSpec::syntax`] without the
    /// `:type` a name may carry for COMMAND DOCS.
    pub fn usage(&self) -> String {
        let mut usage = String::with_capacity(self.syntax.len());
        let mut rest = self.syntax;
        while let Some(at) = rest.find(|c: char| " []<>|".contains(c)) {
            usage.push_str(split_type(&rest[..at]).0);
            usage.push_str(&rest[at..=at]);
            rest = &rest[at + 1..];
        }
        usage.push_str(split_type(rest).0);
        usage
    }

    /// The argument tree of COMMAND DOCS, derived from [`CommandSpec::syntax`].
    pub fn arguments(&self) -> Vec<ArgSpec> {
        let toks = tokenize(self.syntax);
        let mut parser = SyntaxParser {
            toks: &toks,
            pos: 0,
        };
        // The syntax strings are static and checked by a test; an unparsable one
        // would only cost its hints, so it degrades to no arguments.
        match parser.top() {
            Some(args) if parser.pos == toks.len() => args,
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Open(u8),
    Close(u8),
    Bar,
    Ellipsis,
    Word(&'static str),
}

fn tokenize(s: &'static str) -> Vec<Tok> {
    let bytes = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' => i += 1,
            b'[' | b'<' => {
                toks.push(Tok::Open(bytes[i]));
                i += 1;
            }
            b']' | b'>' => {
                toks.push(Tok::Close(bytes[i]));
                i += 1;
            }
            b'|' => {
                toks.push(Tok::Bar);
                i += 1;
            }
            b'.' if s[i..].starts_with("...") => {
                toks.push(Tok::Ellipsis);
                i += 3;
            }
            _ => {
                let start = i;
                while i < bytes.len() && !b" []<>|".contains(&bytes[i]) {
                    i += 1;
                }
                toks.push(Tok::Word(&s[start..i]));
            }
        }
    }
    toks
}

struct SyntaxParser<'t> {
    toks: &'t [Tok],
    pos: usize,
}

impl SyntaxParser<'_> {
    /// The whole syntax: a sequence, or alternatives (`ON|OFF`) as one argument.
    fn top(&mut self) -> Option<Vec<ArgSpec>> {
        let (seq, _) = self.sequence()?;
        if self.toks.get(self.pos) != Some(&Tok::Bar) {
            return Some(seq);
        }
        self.pos = 0;
        Some(vec![self.alternatives()?])
    }

    /// A sequence of elements up to `|`, a closing bracket or the end; the flag says
    /// it ended in `...` right before its close, repeating the whole sequence.
    fn sequence(&mut self) -> Option<(Vec<ArgSpec>, bool)> {
        let mut elems: Vec<ArgSpec> = Vec::new();
        while let Some(&tok) = self.toks.get(self.pos) {
            match tok {
                Tok::Word(w) => {
                    elems.push(Self::word(w));
                    self.pos += 1;
                }
                Tok::Open(open) => {
                    self.pos += 1;
                    let mut arg = self.alternatives()?;
                    let close = if open == b'[' { b']' } else { b'>' };
                    if self.toks.get(self.pos) != Some(&Tok::Close(close)) {
                        return None;
                    }
                    self.pos += 1;
                    arg.optional |= open == b'[';
                    elems.push(arg);
                }
                Tok::Ellipsis => {
                    self.pos += 1;
                    if matches!(self.toks.get(self.pos), Some(Tok::Close(_)) | None) {
                        return Some((merge_repeats(elems), true));
                    }
                    elems.last_mut()?.multiple = true;
                }
                Tok::Bar | Tok::Close(_) => break,
            }
        }
        Some((merge_repeats(elems), false))
    }

    /// `a | b | c` inside a group: one argument, a `oneof` if there are several.
    fn alternatives(&mut self) -> Option<ArgSpec> {
        let mut alts = Vec::new();
        loop {
            let (seq, repeated) = self.sequence()?;
            let mut arg = as_one(seq)?;
            arg.multiple |= repeated;
            alts.push(arg);
            if self.toks.get(self.pos) == Some(&Tok::Bar) {
                self.pos += 1;
            } else {
                break;
            }
        }
        if alts.len() == 1 {
            return alts.pop();
        }
        Some(ArgSpec {
            name: alts[0].name.clone(),
            kind: ArgKind::OneOf(alts),
            token: None,
            optional: false,
            multiple: false,
        })
    }

    /// A literal token (upper-case) or a named value, `name` or `name:type`.
    fn word(w: &'static str) -> ArgSpec {
        let is_token =
            w.bytes().any(|b| b.is_ascii_uppercase()) && !w.bytes().any(|b| b.is_ascii_lowercase());
        let (name, kind, token) = if is_token {
            (w, ArgKind::PureToken, Some(w))
        } else {
            let (name, kind) = split_type(w);
            (name, kind.unwrap_or_else(|| kind_of(name)), None)
        };
        ArgSpec {
            name: name.to_ascii_lowercase(),
            kind,
            token,
            optional: false,
            multiple: false,
        }
    }
}

/// The type of an argument by its name, following Redis's naming (`key`, `destkey`,
/// `key1`: keys; `count`, `seconds`, ...: integers); a syntax string names any other type
/// after a colon (`increment:double`).
fn kind_of(name: &str) -> ArgKind {
    let numbered_key = name
        .strip_prefix("key")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    match name {
        _ if name.ends_with("key") || numbered_key => ArgKind::Key,
        "pattern" => ArgKind::Pattern,
        "unix-time-seconds" | "unix-time-milliseconds" => ArgKind::UnixTime,
        "seconds" | "milliseconds" | "count" | "offset" | "start" | "end" | "index"
        | "increment" | "decrement" | "protover" | "client-id" | "maxage" | "cursor" => {
            ArgKind::Integer
        }
        _ => ArgKind::String,
    }
}

/// A syntax word's name and the type it names after a colon, if any (`increment:double`);
/// a colon followed by anything else is part of the name (`ip:port`).
fn split_type(word: &str) -> (&str, Option<ArgKind>) {
    let Some((name, kind)) = word.rsplit_once(':') else {
        return (word, None);
    };
    let kind = match kind {
        "key" => ArgKind::Key,
        "string" => ArgKind::String,
        "integer" => ArgKind::Integer,
        "double" => ArgKind::Double,
        "pattern" => ArgKind::Pattern,
        "unix-time" => ArgKind::UnixTime,
        _ => return (word, None),
    };
    (name, Some(kind))
}

/// A sequence as one argument: itself if alone, `TOKEN value` as a value with a
/// token, `TOKEN a b` as a block with a token, anything else as a block.
fn as_one(mut seq: Vec<ArgSpec>) -> Option<ArgSpec> {
    if seq.len() <= 1 {
        return seq.pop();
    }
    let lead = &seq[0];
    if lead.kind == ArgKind::PureToken && !lead.optional && !lead.multiple {
        let token = lead.token;
        let mut rest = seq.split_off(1);
        if rest.len() == 1 && rest[0].token.is_none() && rest[0].kind != ArgKind::PureToken {
            let mut arg = rest.pop()?;
            arg.token = token;
            return Some(arg);
        }
        return Some(ArgSpec {
            name: seq[0].name.clone(),
            kind: ArgKind::Block(rest),
            token,
            optional: false,
            multiple: false,
        });
    }
    Some(ArgSpec {
        name: seq[0].name.clone(),
        kind: ArgKind::Block(seq),
        token: None,
        optional: false,
        multiple: false,
    })
}

/// Folds `x [x ...]` into one repeated `x`, and `k v [k v ...]` into a repeated block.
fn merge_repeats(mut elems: Vec<ArgSpec>) -> Vec<ArgSpec> {
    let mut i = 0;
    while i < elems.len() {
        let arg = &elems[i];
        if arg.optional && arg.multiple {
            let members: Vec<String> = match &arg.kind {
                ArgKind::Block(inner) if arg.token.is_none() => {
                    inner.iter().map(|a| a.name.clone()).collect()
                }
                _ => vec![arg.name.clone()],
            };
            let k = members.len();
            if i >= k && elems[i - k..i].iter().map(|a| &a.name).eq(members.iter()) {
                let mut repeated: Vec<ArgSpec> = elems.drain(i - k..=i).take(k).collect();
                let merged = if k == 1 {
                    let mut one = repeated.swap_remove(0);
                    one.multiple = true;
                    one
                } else {
                    ArgSpec {
                        name: repeated[0].name.clone(),
                        kind: ArgKind::Block(repeated),
                        token: None,
                        optional: false,
                        multiple: true,
                    }
                };
                elems.insert(i - k, merged);
                i = i - k + 1;
                continue;
            }
        }
        i += 1;
    }
    elems
}

#[cfg(test)]
mod tests {
    use super::super::{lookup, COMMANDS};
    use super::*;

    fn args(name: &str) -> Vec<ArgSpec> {
        lookup(name.as_bytes()).expect("command").arguments()
    }

    /// A compact rendering of an argument tree, to compare whole trees at once.
    fn show(args: &[ArgSpec]) -> String {
        args.iter()
            .map(|a| {
                let mut s = String::new();
                if let Some(t) = a.token {
                    s.push_str(t);
                    s.push(':');
                }
                s.push_str(&a.name);
                s.push('/');
                s.push_str(a.kind.as_str());
                if !a.arguments().is_empty() {
                    s.push('(');
                    s.push_str(&show(a.arguments()));
                    s.push(')');
                }
                if a.optional {
                    s.push('?');
                }
                if a.multiple {
                    s.push('*');
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn every_syntax_string_parses() {
        for spec in COMMANDS
            .iter()
            .chain(COMMANDS.iter().flat_map(|s| s.subcommands))
        {
            let toks = tokenize(spec.syntax);
            let mut parser = SyntaxParser {
                toks: &toks,
                pos: 0,
            };
            let parsed = parser.top();
            assert!(
                parsed.is_some() && parser.pos == toks.len(),
                "{}: {:?}",
                spec.name,
                spec.syntax
            );
            let want_args = spec.syntax.is_empty();
            assert_eq!(spec.arguments().is_empty(), want_args, "{}", spec.name);
        }
    }

    #[test]
    fn a_type_after_a_colon_is_for_docs_only() {
        let spec = |name: &str| lookup(name.as_bytes()).expect("command");
        assert_eq!(spec("incrbyfloat").usage(), "key increment");
        assert_eq!(spec("range").usage(), "start end [LIMIT count] [REV]");
        let kill = spec("client").subcommand(b"kill").expect("kill");
        assert!(kill.usage().starts_with("<ip:port|<[ID client-id]"));
        assert_eq!(split_type("ip:port"), ("ip:port", None));
        assert_eq!(kind_of("destkey"), ArgKind::Key);
        assert_eq!(kind_of("key2"), ArgKind::Key);
        assert_eq!(kind_of("keyword"), ArgKind::String);
    }

    #[test]
    fn trees_match_redis_shapes() {
        assert_eq!(show(&args("get")), "key/key");
        assert_eq!(show(&args("del")), "key/key*");
        assert_eq!(show(&args("mset")), "key/block(key/key value/string)*");
        assert_eq!(
            show(&args("set")),
            "key/key value/string \
             nx/oneof(NX:nx/pure-token XX:xx/pure-token IFEQ:match-value/string \
             IFNE:match-value/string IFDEQ:match-digest/string IFDNE:match-digest/string)? \
             GET:get/pure-token? \
             seconds/oneof(EX:seconds/integer PX:milliseconds/integer \
             EXAT:unix-time-seconds/unix-time PXAT:unix-time-milliseconds/unix-time \
             KEEPTTL:keepttl/pure-token)?"
        );
        assert_eq!(
            show(&args("scan")),
            "cursor/integer MATCH:pattern/pattern? COUNT:count/integer? TYPE:type/string?"
        );
        assert_eq!(
            show(&args("hello")),
            "protover/block(protover/integer AUTH:auth/block(username/string password/string)? \
             SETNAME:clientname/string?)?"
        );
        assert_eq!(show(&args("info")), "section/string?*");
        assert_eq!(show(&args("auth")), "username/string? password/string");
        assert_eq!(show(&args("incrbyfloat")), "key/key increment/double");
        assert_eq!(
            show(&args("range")),
            "start/string end/string LIMIT:count/integer? REV:rev/pure-token?"
        );
        let client = lookup(b"client").expect("client");
        let list = client.subcommand(b"list").expect("list").arguments();
        assert_eq!(
            show(&list),
            "TYPE:normal/oneof(NORMAL:normal/pure-token MASTER:master/pure-token \
             REPLICA:replica/pure-token PUBSUB:pubsub/pure-token)? ID:client-id/integer?*"
        );
        let setinfo = client.subcommand(b"setinfo").expect("setinfo").arguments();
        assert_eq!(
            show(&setinfo),
            "libname/oneof(LIB-NAME:libname/string LIB-VER:libver/string)"
        );
        let command = lookup(b"command").expect("command");
        let filter = command.subcommand(b"list").expect("list").arguments();
        assert_eq!(
            show(&filter),
            "FILTERBY:module-name/oneof(MODULE:module-name/string ACLCAT:category/string \
             PATTERN:pattern/pattern)?"
        );
        assert_eq!(
            ArgSpec {
                name: "x".into(),
                kind: ArgKind::Key,
                token: None,
                optional: true,
                multiple: true
            }
            .flags(),
            ["optional", "multiple"]
        );
    }
}
