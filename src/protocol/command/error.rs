//! `CommandError`: why an argument list is not a valid request, worded as Redis words it.
//!
//! Display gives the exact Redis error line without the leading `-` and the CRLF, so the
//! RESP encoder only frames it. Echoed user input is rendered as Redis renders it
//! (truncated, NUL-terminated, CR/LF replaced by spaces), never trusted as text.

/// A request that cannot become a [`Command`](super::Command).
///
/// Display is the full Redis error text, error code included (`ERR ...`), without the
/// leading `-`. The connection stays open after every one of these.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The argument list was empty. Redis silently ignores an empty request (`*0`, an
    /// empty inline line); the server should do the same rather than send this text.
    #[error("ERR empty command")]
    Empty,
    /// The command name is not one Cairn knows. Both fields are already rendered as
    /// Redis renders them (name cut to 128 bytes; args quoted, each followed by a space).
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand {
        /// The command name as sent, rendered.
        name: String,
        /// The first arguments, each as `'arg' `, at most about 128 bytes in all.
        args: String,
    },
    /// The argument count does not fit the command's arity. `command` is the lower-case
    /// name, `parent|sub` for subcommands (`client|setname`), as Redis 7 reports it.
    #[error("ERR wrong number of arguments for '{command}' command")]
    WrongArity {
        /// Lower-case full command name.
        command: &'static str,
    },
    /// The same text as [`CommandError::WrongArity`], for counts the arity allows but
    /// the command itself refuses (MSET with an odd count, PING with two arguments).
    /// Redis finds these while executing, not
    /// while looking the command up; see [`CommandError::is_lookup_error`].
    #[error("ERR wrong number of arguments for '{command}' command")]
    WrongArgumentCount {
        /// Lower-case full command name.
        command: &'static str,
    },
    /// A container command (CLIENT, CONFIG, COMMAND) got a subcommand it does not have.
    #[error("ERR unknown subcommand '{subcommand}'. Try {command} HELP.")]
    UnknownSubcommand {
        /// The subcommand as sent, rendered (cut to 128 bytes).
        subcommand: String,
        /// The parent's name, upper-case.
        command: String,
    },
    /// A subcommand its arity lets through but whose arguments it refuses (PUBSUB
    /// CHANNELS with two patterns): Redis's `addReplySubcommandSyntaxError`.
    #[error("ERR unknown subcommand or wrong number of arguments for '{subcommand}'. Try {command} HELP.")]
    SubcommandSyntax {
        /// The subcommand, upper-case (its parser does not see it as sent).
        subcommand: String,
        /// The parent's name, upper-case.
        command: String,
    },
    /// Options in the wrong place, unknown or conflicting.
    #[error("ERR syntax error")]
    Syntax,
    /// An argument that must be a 64-bit signed integer is not one.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An argument that must be a float is not one.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// An expiry that is zero, negative, or overflows once converted to milliseconds.
    /// `command` is the lower-case name of the command that carried it.
    #[error("ERR invalid expire time in '{command}' command")]
    InvalidExpireTime {
        /// Lower-case command name (`set`, `setex`, `getex`, `expire`, ...).
        command: &'static str,
    },
    /// A SCAN cursor that is not a decimal unsigned 64-bit integer.
    #[error("ERR invalid cursor")]
    InvalidCursor,
    /// A negative SETRANGE offset.
    #[error("ERR offset is out of range")]
    OffsetOutOfRange,
    /// A string that would grow past 512 MiB (Redis's proto-max-bulk-len).
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    /// DECRBY of `i64::MIN`, whose negation does not exist.
    #[error("ERR decrement would overflow")]
    DecrementOverflow,
    /// INCR/DECR/INCRBY/DECRBY whose result leaves the i64 range (raised by the server).
    #[error("ERR increment or decrement would overflow")]
    IncrementOverflow,
    /// INCRBYFLOAT whose sum is NaN or infinite (raised by the server).
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    /// HELLO's protocol version is not an integer.
    #[error("ERR Protocol version is not an integer or out of range")]
    ProtocolVersion,
    /// An option HELLO does not know, or one missing its arguments.
    #[error("ERR Syntax error in HELLO option '{0}'")]
    HelloOption(String),
    /// A client name with a byte outside `!`..=`~`.
    #[error("ERR Client names cannot contain spaces, newlines or special characters.")]
    InvalidClientName,
    /// CLIENT SETINFO with an attribute other than LIB-NAME or LIB-VER.
    #[error("ERR Unrecognized option '{0}'")]
    UnrecognizedOption(String),
    /// CLIENT SETINFO value with a byte outside `!`..=`~`; the field is the attribute
    /// as sent (`lib-name`).
    #[error("ERR {0} cannot contain spaces, newlines or special characters.")]
    InvalidClientAttr(String),
    /// A client type other than normal, master, slave, replica or pubsub.
    #[error("ERR Unknown client type '{0}'")]
    UnknownClientType(String),
    /// CLIENT LIST ID with an argument that is not an integer.
    #[error("ERR Invalid client ID")]
    InvalidClientId,
    /// CLIENT KILL ID with an argument that is not a positive integer.
    #[error("ERR client-id should be greater than 0")]
    ClientIdNotPositive,
    /// An integer outside the range a command allows (SELECT's index must fit 32 bits).
    #[error("ERR value is out of range, value must between {min} and {max}")]
    OutOfRange {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// SELECT, MOVE or COPY of a database the server does not have (raised by the server).
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    /// An EXPIRE-family option other than NX, XX, GT, LT.
    #[error("ERR Unsupported option {0}")]
    UnsupportedOption(String),
    /// EXPIRE with NX together with XX, GT or LT.
    #[error("ERR NX and XX, GT or LT options at the same time are not compatible")]
    ExpireNxConflict,
    /// EXPIRE with both GT and LT.
    #[error("ERR GT and LT options at the same time are not compatible")]
    ExpireGtLtConflict,
    /// An IFDEQ/IFDNE digest that is not 1 to 16 hexadecimal digits.
    #[error("ERR invalid digest")]
    InvalidDigest,
    /// An error only one command gives, worded beside its parser in the command's family
    /// file (the whole line, code included: `ERR If you want both ...`).
    #[error("{0}")]
    Invalid(&'static str),
    /// COMMAND GETKEYS of a command Cairn does not know.
    #[error("ERR Invalid command specified")]
    InvalidCommand,
    /// COMMAND GETKEYS of a command that takes no keys.
    #[error("ERR The command has no key arguments")]
    NoKeyArguments,
    /// COMMAND GETKEYS of a request whose count does not fit the command's arity.
    #[error("ERR Invalid number of arguments specified for command")]
    InvalidArgumentCount,
}

/// Longest echo of user input in an error, as Redis's `%.128s`.
const ECHO_MAX: usize = 128;

/// Renders user bytes for an error line as Redis does: stop at NUL (C string), cut to
/// `max` bytes, CR and LF become spaces (a raw newline would break the RESP framing).
pub(crate) fn render(bytes: &[u8], max: usize) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let cut = &bytes[..end.min(max)];
    String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// Renders a whole user argument (no length cut) for errors that echo it with `%s`.
pub(crate) fn render_full(bytes: &[u8]) -> String {
    render(bytes, usize::MAX)
}

impl CommandError {
    /// The unknown-command error for `args` (`args[0]` the name), worded as Redis 7:
    /// each argument quoted and followed by a space, stopping once 128 bytes are used.
    pub(crate) fn unknown_command(args: &[bytes::Bytes]) -> CommandError {
        let name = args
            .first()
            .map(|n| render(n, ECHO_MAX))
            .unwrap_or_default();
        let mut rendered = String::new();
        // Redis counts raw bytes of its sds buffer; count the same way so the cut-off
        // point matches even when lossy UTF-8 conversion changes lengths.
        let mut used = 0usize;
        for arg in args.iter().skip(1) {
            if used >= ECHO_MAX {
                break;
            }
            let room = ECHO_MAX - used;
            let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
            let take = end.min(room);
            rendered.push('\'');
            rendered.push_str(&render(&arg[..take], take));
            rendered.push_str("' ");
            used += take + 3;
        }
        CommandError::UnknownCommand {
            name,
            args: rendered,
        }
    }

    /// Whether Redis raises this error while looking the command up (unknown command,
    /// unknown subcommand, arity), rather than while executing it.
    ///
    /// The order matters to a server that copies Redis: lookup errors come before the
    /// NOAUTH check, and inside MULTI they are refused at once and poison the
    /// transaction (EXEC answers EXECABORT); every other parse error is one Redis finds
    /// only when the command runs, so after NOAUTH, and inside MULTI the command is
    /// QUEUED and this error becomes its entry in EXEC's reply. A lookup error on EXEC
    /// itself is sent as `EXECABORT Transaction discarded because of: <text without
    /// "ERR ">`, even outside MULTI.
    pub fn is_lookup_error(&self) -> bool {
        matches!(
            self,
            CommandError::Empty
                | CommandError::UnknownCommand { .. }
                | CommandError::UnknownSubcommand { .. }
                | CommandError::WrongArity { .. }
        )
    }

    /// The unknown-subcommand error: `sub` as sent, the parent named as Redis names it
    /// (upper-case).
    pub(crate) fn unknown_subcommand(sub: &[u8], parent: &str) -> CommandError {
        CommandError::UnknownSubcommand {
            subcommand: render(sub, ECHO_MAX),
            command: parent.to_ascii_uppercase(),
        }
    }
}
