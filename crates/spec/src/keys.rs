//! Key specs as Redis 7 describes them: where the search for keys begins (an index, or
//! after a keyword) and how keys are found from there (a range, or a count argument).

/// Where to start looking for keys.
#[derive(Clone, Copy, Debug)]
pub enum BeginSearch {
    Index(i32),
    /// After the first occurrence of `keyword` searching from `start_from` (negative:
    /// from the end, backwards).
    Keyword {
        keyword: &'static str,
        start_from: i32,
    },
    /// Keys that only the command itself can find (SORT's BY, GET and STORE); such
    /// commands lock every shard.
    Unknown,
}

/// How to find the keys once the search began.
#[derive(Clone, Copy, Debug)]
pub enum FindKeys {
    /// `last_key` relative to the begin index (-1: the last argument), every `key_step`.
    Range {
        last_key: i32,
        key_step: i32,
        limit: i32,
    },
    /// The argument at `keynum_index` (relative) holds the count; keys start at
    /// `first_key` (relative) every `key_step`.
    Keynum {
        keynum_index: i32,
        first_key: i32,
        key_step: i32,
    },
    /// See [`BeginSearch::Unknown`].
    Unknown,
}

#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// Key spec flags as Redis prints them (`RW`, `access`, `update`...).
    pub flags: &'static [&'static str],
    pub begin: BeginSearch,
    pub find: FindKeys,
}

impl KeySpec {
    /// Key spec for a command whose single key is argument `index`.
    pub const fn single(index: i32, flags: &'static [&'static str]) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Index(index),
            find: FindKeys::Range {
                last_key: 0,
                key_step: 1,
                limit: 0,
            },
        }
    }

    /// Key spec for keys from `index` to the last argument, every `step`.
    pub const fn to_end(index: i32, step: i32, flags: &'static [&'static str]) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Index(index),
            find: FindKeys::Range {
                last_key: -1,
                key_step: step,
                limit: 0,
            },
        }
    }

    /// Appends the positions this spec finds in `args`. `None` when `args` contradict it.
    pub fn positions(&self, args: &[&[u8]], out: &mut Vec<usize>) -> Option<()> {
        self.positions_with(args.len(), &|i| args[i], out)
    }

    /// [`Self::positions`] over any argument accessor (the server's parsed request).
    pub fn positions_with<'a>(
        &self,
        argc: usize,
        arg: &dyn Fn(usize) -> &'a [u8],
        out: &mut Vec<usize>,
    ) -> Option<()> {
        let argc = argc as i32;
        let start = match self.begin {
            BeginSearch::Index(i) => i,
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => {
                let found = if start_from >= 0 {
                    (start_from..argc)
                        .find(|&i| arg(i as usize).eq_ignore_ascii_case(keyword.as_bytes()))
                } else {
                    (1..=argc + start_from)
                        .rev()
                        .find(|&i| arg(i as usize).eq_ignore_ascii_case(keyword.as_bytes()))
                };
                match found {
                    Some(i) => i + 1,
                    None => return Some(()),
                }
            }
            BeginSearch::Unknown => return Some(()),
        };
        if start >= argc {
            return Some(());
        }
        match self.find {
            FindKeys::Unknown => {}
            FindKeys::Range {
                last_key,
                key_step,
                limit,
            } => {
                let last = if last_key >= 0 {
                    start + last_key
                } else if limit > 1 {
                    start + (argc - 1 - start) / limit
                } else {
                    argc + last_key
                };
                let mut i = start;
                while i <= last && i < argc {
                    out.push(i as usize);
                    i += key_step.max(1);
                }
            }
            FindKeys::Keynum {
                keynum_index,
                first_key,
                key_step,
            } => {
                let count_at = (start + keynum_index) as usize;
                if count_at >= argc as usize {
                    return None;
                }
                let text = std::str::from_utf8(arg(count_at)).ok()?;
                let count: i64 = text.parse().ok()?;
                if count < 0 {
                    return None;
                }
                let first = start + first_key;
                for n in 0..count as i32 {
                    let i = first + n * key_step.max(1);
                    if i >= argc {
                        return None;
                    }
                    out.push(i as usize);
                }
            }
        }
        Some(())
    }
}
