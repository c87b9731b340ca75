//! The command table: every command's name, arity, flags, key specs, ACL categories and
//! documentation, declared once.
//!
//! Dispatch (arity and flag checks), `COMMAND` replies, `COMMAND GETKEYS`, shard locking,
//! MULTI queueing and, later, ACL and cluster routing all read this table; nothing about a
//! command is written anywhere else. Each entry also gets a [`CommandId`] variant, and the
//! server maps ids to handlers with one exhaustive `match`, so a command without a handler
//! does not compile.
//!
//! Depends on nothing.

mod flags;
mod keys;
mod table;

pub use flags::*;
pub use keys::{BeginSearch, FindKeys, KeySpec};
pub use table::{CommandId, COMMANDS};

/// Documentation group, as `COMMAND DOCS` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Generic,
    String,
    Bitmap,
    Connection,
    Server,
    List,
    Hash,
    Set,
    SortedSet,
    PubSub,
    Transactions,
    Scripting,
    Stream,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::Bitmap => "bitmap",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::List => "list",
            Group::Hash => "hash",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::PubSub => "pubsub",
            Group::Transactions => "transactions",
            Group::Scripting => "scripting",
            Group::Stream => "stream",
        }
    }
}

/// One command (or one subcommand, when `container` names its parent).
#[derive(Debug)]
pub struct CommandSpec {
    pub id: CommandId,
    /// Lower-case name; for a subcommand, the part after the container (`id` in CLIENT ID).
    pub name: &'static str,
    /// The container command of a subcommand (`client` for CLIENT ID).
    pub container: Option<&'static str>,
    /// Redis arity: positive is exact, negative is a minimum (the name counts).
    pub arity: i32,
    /// `CMD_*` flags.
    pub flags: u64,
    /// ACL categories given explicitly; flags add more (see [`CommandSpec::acl_categories`]).
    pub acl: u64,
    pub key_specs: &'static [KeySpec],
    pub group: Group,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    /// Command tips (`nondeterministic_output`, `request_policy:all_shards`...).
    pub tips: &'static [&'static str],
}

impl CommandSpec {
    /// The full name, `container|name` for subcommands.
    pub fn full_name(&self) -> String {
        match self.container {
            Some(parent) => format!("{parent}|{}", self.name),
            None => self.name.to_string(),
        }
    }

    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }

    /// Effective ACL categories: the explicit ones plus those Redis derives from flags.
    pub fn acl_categories(&self) -> u64 {
        let mut acl = self.acl;
        if self.has(CMD_WRITE) {
            acl |= ACL_WRITE;
        }
        if self.has(CMD_READONLY) && acl & ACL_SCRIPTING == 0 {
            acl |= ACL_READ;
        }
        if self.has(CMD_ADMIN) {
            acl |= ACL_ADMIN | ACL_DANGEROUS;
        }
        if self.has(CMD_PUBSUB) {
            acl |= ACL_PUBSUB;
        }
        if self.has(CMD_FAST) {
            acl |= ACL_FAST;
        }
        if self.has(CMD_BLOCKING) {
            acl |= ACL_BLOCKING;
        }
        if acl & ACL_FAST == 0 {
            acl |= ACL_SLOW;
        }
        acl
    }

    /// Whether the key positions depend on the arguments (a keynum or keyword spec).
    pub fn movable_keys(&self) -> bool {
        self.key_specs.iter().any(|ks| {
            matches!(ks.begin, BeginSearch::Keyword { .. } | BeginSearch::Unknown)
                || matches!(ks.find, FindKeys::Keynum { .. } | FindKeys::Unknown)
        })
    }

    /// Redis's legacy (first key, last key, step) triple, derived from the key specs.
    pub fn legacy_key_range(&self) -> (i32, i32, i32) {
        let mut first = 0;
        let mut last = 0;
        let mut step = 0;
        for ks in self.key_specs {
            let (
                BeginSearch::Index(index),
                FindKeys::Range {
                    last_key, key_step, ..
                },
            ) = (ks.begin, ks.find)
            else {
                continue;
            };
            let spec_last = if last_key < 0 {
                last_key
            } else {
                index + last_key
            };
            if first == 0 {
                first = index;
                last = spec_last;
                step = key_step;
            } else {
                if index < first {
                    first = index;
                }
                if spec_last < 0 || (last >= 0 && spec_last > last) {
                    last = spec_last;
                }
                step = step.max(key_step).min(1);
            }
        }
        (first, last, step)
    }

    /// Positions of the keys in `args` (`args[0]` is the command name), following the key
    /// specs. Returns `None` when the arguments do not fit the specs (bad numkeys).
    pub fn key_positions(&self, args: &[&[u8]]) -> Option<Vec<usize>> {
        let mut positions = Vec::new();
        self.key_positions_with(args.len(), &|i| args[i], &mut positions)?;
        Some(positions)
    }

    /// [`Self::key_positions`] into a reused vector, over any argument accessor.
    pub fn key_positions_with<'a>(
        &self,
        argc: usize,
        arg: &dyn Fn(usize) -> &'a [u8],
        out: &mut Vec<usize>,
    ) -> Option<()> {
        out.clear();
        for ks in self.key_specs {
            ks.positions_with(argc, arg, out)?;
        }
        Some(())
    }
}

/// Finds a top-level command by lower-case name (linear; the server builds a map).
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|c| c.container.is_none() && c.name == name)
}

/// Subcommands of `container`, in table order.
pub fn subcommands(container: &str) -> impl Iterator<Item = &'static CommandSpec> + '_ {
    COMMANDS
        .iter()
        .filter(move |c| c.container == Some(container))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert_eq!(c.name, c.name.to_lowercase());
            assert!(seen.insert(c.full_name()), "duplicate {}", c.full_name());
            if let Some(parent) = c.container {
                assert!(find(parent).is_some(), "{} has no container", c.full_name());
            }
        }
    }

    #[test]
    fn ids_follow_table_order() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert_eq!(c.id as usize, i, "{}", c.full_name());
        }
    }

    #[test]
    fn legacy_ranges_match_redis() {
        assert_eq!(find("get").unwrap().legacy_key_range(), (1, 1, 1));
        assert_eq!(find("mset").unwrap().legacy_key_range(), (1, -1, 2));
        assert_eq!(find("mget").unwrap().legacy_key_range(), (1, -1, 1));
        assert_eq!(find("bitop").unwrap().legacy_key_range(), (2, -1, 1));
        assert_eq!(find("rename").unwrap().legacy_key_range(), (1, 2, 1));
        assert_eq!(find("ping").unwrap().legacy_key_range(), (0, 0, 0));
    }
}
