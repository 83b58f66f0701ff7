//! The interactive side of cairn-cli: tab completion of command (and subcommand) names,
//! greyed hints of a command's arguments as redis-cli shows them, and `help` text, all
//! read from the command table.

use std::borrow::Cow;

use cairn::protocol::command::{lookup, CommandSpec, COMMANDS};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

/// Words cairn-cli handles itself, offered by completion beside the server's commands.
const LOCAL: &[&str] = &["help", "quit", "exit", "clear"];

/// The rustyline helper.
pub struct CliHelper;

impl Helper for CliHelper {}
impl Validator for CliHelper {}

/// `candidate` in the case of what was typed: lower if `typed` has a lower-case letter,
/// else upper (as redis-cli completes).
fn in_case_of(typed: &str, candidate: &str) -> String {
    if typed.bytes().any(|b| b.is_ascii_lowercase()) {
        candidate.to_ascii_lowercase()
    } else {
        candidate.to_ascii_uppercase()
    }
}

impl Completer for CliHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| c.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let typed = &before[start..];
        let words: Vec<&str> = before[..start].split_ascii_whitespace().collect();
        let names: Vec<&str> = match words.as_slice() {
            [] => COMMANDS
                .iter()
                .map(|c| c.name)
                .chain(LOCAL.iter().copied())
                .collect(),
            [first] if first.eq_ignore_ascii_case("help") => {
                COMMANDS.iter().map(|c| c.name).collect()
            }
            [first] => match lookup(first.as_bytes()) {
                Some(spec) => spec
                    .subcommands
                    .iter()
                    .map(CommandSpec::short_name)
                    .collect(),
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        let mut candidates: Vec<Pair> = names
            .into_iter()
            .filter(|n| n.len() >= typed.len() && n[..typed.len()].eq_ignore_ascii_case(typed))
            .map(|n| {
                let word = in_case_of(typed, n);
                Pair {
                    display: word.clone(),
                    replacement: word,
                }
            })
            .collect();
        candidates.sort_by(|a, b| a.display.cmp(&b.display));
        candidates.dedup_by(|a, b| a.display == b.display);
        Ok((start, candidates))
    }
}

/// The top-level items of a syntax string: `key value [NX|XX] [GET]` gives four.
fn syntax_items(syntax: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, None);
    for (i, c) in syntax.char_indices() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            _ => {}
        }
        if c == ' ' && depth == 0 {
            if let Some(s) = start.take() {
                items.push(&syntax[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        items.push(&syntax[s..]);
    }
    items
}

/// The hint after `line`: the arguments still to type, from the command's syntax, with
/// one item dropped per argument typed (repeating items such as `key [key ...]` stay).
pub fn hint_for(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let first = words.first()?;
    let mut spec: &CommandSpec = lookup(first.as_bytes())?;
    let mut typed = words.len() - 1;
    let trailing_space = line.ends_with(' ');
    if typed > 0 && !trailing_space {
        return None; // an argument is being typed
    }
    if let (Some(sub), true) = (words.get(1), !spec.subcommands.is_empty()) {
        spec = spec.subcommand(sub.as_bytes())?;
        typed -= 1;
    } else if !spec.subcommands.is_empty() {
        let subs: Vec<String> = spec
            .subcommands
            .iter()
            .map(|s| s.short_name().to_ascii_uppercase())
            .collect();
        let text = subs.join("|");
        return Some(if trailing_space {
            text
        } else {
            format!(" {text}")
        });
    }
    let usage = spec.usage();
    let mut items = syntax_items(&usage);
    while typed > 0 && !items.is_empty() && !items[0].contains("...") {
        items.remove(0);
        typed -= 1;
    }
    if items.is_empty() {
        return None;
    }
    let text = items.join(" ");
    Some(if trailing_space {
        text
    } else {
        format!(" {text}")
    })
}

impl Hinter for CliHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        hint_for(line)
    }
}

impl Highlighter for CliHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        false
    }
}

/// `help`, `help COMMAND` or `help @group`, as text to print.
pub fn help(topic: Option<&str>) -> String {
    let Some(topic) = topic else {
        return format!(
            "cairn-cli {}\n\
             To get help about a command:\n      \"help <command>\" (e.g. \"help get\")\n      \
             \"help @<group>\" to list the commands of a group \
             (@string, @generic, @connection, @server, @transactions, @cairn)\n      \
             \"help <tab>\" to complete command names\n\
             Other: \"quit\" or Ctrl-D to leave, Ctrl-C clears the line, \"clear\" clears the screen.\n",
            env!("CARGO_PKG_VERSION")
        );
    };
    let describe = |spec: &CommandSpec, name: String| {
        format!(
            "\n  {name} {}\n  summary: {}\n  since: {}\n  group: {}\n",
            spec.usage(),
            spec.summary,
            spec.since,
            spec.group
        )
    };
    if let Some(group) = topic.strip_prefix('@') {
        let mut out = String::new();
        for spec in COMMANDS
            .iter()
            .filter(|c| c.group.eq_ignore_ascii_case(group))
        {
            out.push_str(&describe(spec, spec.name.to_ascii_uppercase()));
        }
        if out.is_empty() {
            return format!("No commands in group '{group}'\n");
        }
        out.push('\n');
        return out;
    }
    let words: Vec<&str> = topic.split_ascii_whitespace().collect();
    let Some(spec) = words.first().and_then(|w| lookup(w.as_bytes())) else {
        return format!("No help for '{topic}': unknown command\n");
    };
    let mut out = String::new();
    // One subcommand when named, else the command and all of its subcommands.
    let subs = if let Some(sub) = words.get(1).and_then(|w| spec.subcommand(w.as_bytes())) {
        std::slice::from_ref(sub)
    } else {
        out.push_str(&describe(spec, spec.name.to_ascii_uppercase()));
        spec.subcommands
    };
    for sub in subs {
        let name = sub.name.replace('|', " ").to_ascii_uppercase();
        out.push_str(&describe(sub, name));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_follow_the_arguments() {
        assert_eq!(hint_for("get").as_deref(), Some(" key"));
        assert_eq!(hint_for("GET ").as_deref(), Some("key"));
        assert_eq!(hint_for("get k"), None);
        assert_eq!(hint_for("get k "), None);
        let set = hint_for("set k ").unwrap();
        assert!(set.starts_with("value [NX|XX"), "{set}");
        assert_eq!(hint_for("mget a b ").as_deref(), Some("[key ...]"));
        assert_eq!(hint_for("mget ").as_deref(), Some("key [key ...]"));
        assert_eq!(hint_for("nosuch "), None);
        assert!(hint_for("client ").unwrap().contains("SETNAME"));
    }

    #[test]
    fn syntax_items_keep_groups_whole() {
        assert_eq!(
            syntax_items("key [EX seconds|PX ms] [GET]"),
            vec!["key", "[EX seconds|PX ms]", "[GET]"]
        );
    }

    #[test]
    fn help_text() {
        let h = help(Some("get"));
        assert!(h.contains("GET key"), "{h}");
        assert!(
            h.contains("summary: Returns the string value of a key."),
            "{h}"
        );
        assert!(help(Some("@cairn")).contains("RANGE start end"));
        assert!(help(Some("nosuch")).contains("unknown command"));
    }
}
