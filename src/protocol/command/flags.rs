//! A command's flags and ACL categories, as COMMAND INFO reports them: Redis's, in Redis's
//! order, and Cairn's own, which only the server reads (how a command runs) and COMMAND
//! never shows.

bitflags::bitflags! {
    /// A command's flags. The first group is Redis's, reported by COMMAND INFO in this
    /// order; the last group is Cairn's own, which COMMAND never shows.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Flags: u32 {
        /// May change data.
        const WRITE = 1;
        /// Only reads data.
        const READONLY = 1 << 1;
        /// May grow memory use (refused under maxmemory in Redis).
        const DENYOOM = 1 << 2;
        /// Administrative: refused to users without the @admin category.
        const ADMIN = 1 << 3;
        /// Publish/subscribe.
        const PUBSUB = 1 << 4;
        /// Not allowed in scripts.
        const NOSCRIPT = 1 << 5;
        /// May block the client.
        const BLOCKING = 1 << 6;
        /// Allowed while the data set is loading.
        const LOADING = 1 << 7;
        /// Allowed on a replica with stale data.
        const STALE = 1 << 8;
        /// Not shown to MONITOR.
        const SKIP_MONITOR = 1 << 9;
        /// Not logged to the slow log.
        const SKIP_SLOWLOG = 1 << 10;
        /// Allowed on an importing cluster slot after ASKING.
        const ASKING = 1 << 11;
        /// O(1) or O(log n), never delays the server.
        const FAST = 1 << 12;
        /// Allowed before the client authenticates.
        const NO_AUTH = 1 << 13;
        /// Not run while a replica loads a data set in the background.
        const NO_ASYNC_LOADING = 1 << 17;
        /// Refused inside MULTI ("Command not allowed inside a transaction").
        const NO_MULTI = 1 << 14;
        /// Allowed while a script is busy.
        const ALLOW_BUSY = 1 << 15;
        /// Allowed on a Sentinel (Redis hides this flag from COMMAND INFO).
        const SENTINEL = 1 << 16;
        /// Its keys are found by parsing its arguments (a count before them: LMPOP,
        /// ZUNIONSTORE, SINTERCARD), not by the row's key positions; the parser hands them
        /// over.
        const MOVABLEKEYS = 1 << 18;

        /// Cairn: runs outside a pipelined round. It compares versions (staged writes
        /// have none yet), may block, reads the engine as one snapshot, or writes
        /// batches of its own, so the round's writes are committed before it, and its
        /// own right after.
        const OWN_ROUND = 1 << 24;
        /// Cairn: acts at once inside MULTI instead of being queued (MULTI, EXEC,
        /// DISCARD, WATCH, QUIT, RESET, as Redis's `processCommand` lists them).
        const RUNS_IN_MULTI = 1 << 25;
        /// Cairn: native protocol only; no RESP name, never in [`COMMANDS`].
        const NATIVE_ONLY = 1 << 26;
        /// Cairn: takes every key stripe (SWAPDB), so it is refused inside MULTI, whose
        /// EXEC holds some of them.
        const EVERY_KEY = 1 << 27;
    }
}

impl Flags {
    /// Flags COMMAND INFO never shows: Redis hides SENTINEL; the rest are Cairn's own.
    const HIDDEN: Flags = Flags::SENTINEL
        .union(Flags::OWN_ROUND)
        .union(Flags::RUNS_IN_MULTI)
        .union(Flags::NATIVE_ONLY)
        .union(Flags::EVERY_KEY);

    /// The flags COMMAND INFO shows, lower-case, in Redis's order.
    pub fn reported(self) -> impl Iterator<Item = String> {
        self.difference(Flags::HIDDEN)
            .iter_names()
            .map(|(name, _)| name.to_ascii_lowercase())
    }
}

bitflags::bitflags! {
    /// ACL categories, in the order Redis reports them. A row names the ones its flags
    /// do not imply; [`CommandSpec::acl_categories`] adds the implied ones.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct AclCategories: u32 {
        /// @keyspace: works on keys whatever their type.
        const KEYSPACE = 1;
        /// @read (implied by READONLY).
        const READ = 1 << 1;
        /// @write (implied by WRITE).
        const WRITE = 1 << 2;
        /// @set.
        const SET = 1 << 3;
        /// @sortedset.
        const SORTEDSET = 1 << 4;
        /// @list.
        const LIST = 1 << 5;
        /// @hash.
        const HASH = 1 << 6;
        /// @string.
        const STRING = 1 << 7;
        /// @bitmap.
        const BITMAP = 1 << 8;
        /// @hyperloglog.
        const HYPERLOGLOG = 1 << 9;
        /// @geo.
        const GEO = 1 << 10;
        /// @stream.
        const STREAM = 1 << 11;
        /// @pubsub (implied by PUBSUB).
        const PUBSUB = 1 << 12;
        /// @admin (implied by ADMIN).
        const ADMIN = 1 << 13;
        /// @fast (implied by FAST).
        const FAST = 1 << 14;
        /// @slow (implied by the absence of FAST).
        const SLOW = 1 << 15;
        /// @blocking (implied by BLOCKING).
        const BLOCKING = 1 << 16;
        /// @dangerous (implied by ADMIN).
        const DANGEROUS = 1 << 17;
        /// @connection.
        const CONNECTION = 1 << 18;
        /// @transaction.
        const TRANSACTION = 1 << 19;
        /// @scripting.
        const SCRIPTING = 1 << 20;
    }
}

impl AclCategories {
    /// The categories as COMMAND INFO and ACL CAT name them: `@read`, `@string`, ...
    pub fn names(self) -> impl Iterator<Item = String> {
        self.iter_names()
            .map(|(name, _)| format!("@{}", name.to_ascii_lowercase()))
    }

    /// The category `name` names (without its `@`, case-insensitive).
    pub fn named(name: &[u8]) -> Option<AclCategories> {
        AclCategories::all()
            .iter_names()
            .find(|(known, _)| known.as_bytes().eq_ignore_ascii_case(name))
            .map(|(_, category)| category)
    }
}
