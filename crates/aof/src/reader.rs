//! Reading a command-form AOF file (incr files, a base in command form, or the tail
//! after an old-style RDB preamble): RESP multibulk commands one after another, with
//! `#` annotation lines (`#TS:<unix time>`) between them.
//!
//! The reader mirrors how Redis 7.0 loads such a file (`loadSingleAppendOnlyFile`), so
//! the same bytes load, stop short or are refused here as there:
//!
//! - lines are read with a 1024-byte `fgets` buffer and seen as C strings;
//! - a command line must start with `*` and give a count of at least 1, each argument
//!   line must start with `$`; numbers are read leniently (`atoi`, `strtol`), and the two
//!   bytes after each argument are skipped without being checked;
//! - running out of bytes anywhere inside a command is a *truncated* file (what
//!   `aof-load-truncated yes` repairs by cutting the file after the last whole command);
//!   anything else that does not fit is a *corrupt* file ("Bad file format").
//!
//! Nothing is allocated from a length read in the file before the bytes are there.

use crate::c_text::{atoi, c_str, fgets, strtol};

/// Redis's buffer for the lines of an AOF file (`AOF_ANNOTATION_LINE_MAX_LEN`): a line
/// is read in pieces of at most this many bytes minus one.
pub const LINE_BUFFER: usize = 1024;

/// The magic an RDB file (and so an RDB base or RDB preamble) starts with.
pub const RDB_MAGIC: &[u8] = b"REDIS";

/// Whether the file starts as an RDB file does: an RDB base, or an old-style AOF with an
/// RDB preamble. Redis loads such a file as RDB, then reads commands after it.
pub fn is_rdb_preamble(bytes: &[u8]) -> bool {
    bytes.starts_with(RDB_MAGIC)
}

/// One command read from the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub args: Vec<Vec<u8>>,
    /// The offset just after the command: where the file can be cut to keep it.
    pub end: usize,
}

/// Why reading stopped before the end of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The file ends inside a command. Cutting it at `valid_up_to` keeps every whole
    /// command (before an unfinished MULTI, see [`CommandReader`]).
    Truncated { valid_up_to: usize },
    /// The file ends cleanly but inside a MULTI block that never got its EXEC: Redis
    /// reverts the transaction, like a truncation, by cutting at `valid_up_to` (the end
    /// of the command before the MULTI).
    UnfinishedMulti { valid_up_to: usize },
    /// Bytes that are not the AOF format at `offset` ("Bad file format reading the
    /// append only file").
    Corrupt { offset: usize, reason: String },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Truncated { valid_up_to } => write!(
                f,
                "Unexpected end of file reading the append only file \
                 (last valid command ends at offset {valid_up_to})"
            ),
            ReadError::UnfinishedMulti { valid_up_to } => write!(
                f,
                "Incomplete MULTI/EXEC transaction at the end of the append only file \
                 (it starts after offset {valid_up_to})"
            ),
            ReadError::Corrupt { offset, reason } => write!(
                f,
                "Bad file format reading the append only file at offset {offset}: {reason}"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads the commands of a command-form AOF, in order. Yields `Ok(Command)` for each
/// whole command; at the end yields nothing more (clean end) or one `Err`.
///
/// MULTI ... EXEC blocks are tracked by command name as Redis does: when the file ends
/// inside a block, the block is dropped ([`ReadError::UnfinishedMulti`] at a clean end,
/// and a [`ReadError::Truncated`] offset before the MULTI when the end cuts a command).
/// Redis 7.0 cuts a truncated file after the last whole command even inside a block,
/// which leaves a MULTI without EXEC in the file; cutting before the MULTI drops the
/// same commands (a transaction is applied only at its EXEC) and leaves a clean file.
pub struct CommandReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The end of the last whole command (Redis's `valid_up_to`).
    valid_up_to: usize,
    /// While inside MULTI ... EXEC: the end of the command before the MULTI.
    multi_from: Option<usize>,
    done: bool,
}

impl<'a> CommandReader<'a> {
    /// A reader from the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> CommandReader<'a> {
        CommandReader::starting_at(bytes, 0)
    }

    /// A reader from `start`, the end of an RDB preamble. Offsets stay relative to the
    /// whole file, and a truncation before the first command keeps the preamble (Redis
    /// 7.0 would cut at offset 0 there, losing the preamble).
    pub fn starting_at(bytes: &'a [u8], start: usize) -> CommandReader<'a> {
        let start = start.min(bytes.len());
        CommandReader {
            bytes,
            pos: start,
            valid_up_to: start,
            multi_from: None,
            done: false,
        }
    }

    /// The end of the last whole command read (the start, before any).
    pub fn valid_up_to(&self) -> usize {
        self.valid_up_to
    }

    /// Where reading stopped.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The offset a truncated file is cut at: the last whole command, or before an
    /// unfinished MULTI.
    fn cut_offset(&self) -> usize {
        self.multi_from.unwrap_or(self.valid_up_to)
    }

    fn truncated(&self) -> ReadError {
        ReadError::Truncated {
            valid_up_to: self.cut_offset(),
        }
    }

    fn corrupt(offset: usize, reason: &str) -> ReadError {
        ReadError::Corrupt {
            offset,
            reason: reason.to_string(),
        }
    }

    /// Reads the next command, or `Ok(None)` at the end of the file.
    fn read_command(&mut self) -> Result<Option<Vec<Vec<u8>>>, ReadError> {
        // Annotations (and any line starting with '#') come between commands.
        let (line_start, line) = loop {
            let Some(line) = fgets(self.bytes, self.pos, LINE_BUFFER) else {
                return Ok(None);
            };
            let start = self.pos;
            self.pos += line.len();
            if line.first() != Some(&b'#') {
                break (start, line);
            }
        };
        let text = c_str(line);
        if text.first() != Some(&b'*') {
            return Err(Self::corrupt(line_start, "expected '*' at a command start"));
        }
        if text.len() == 1 {
            // A lone '*': the file ended right after it, or a NUL follows (a read error
            // in Redis, which only tolerates it at the end of the file).
            let hit_end = self.pos == self.bytes.len()
                && !line.ends_with(b"\n")
                && line.len() < LINE_BUFFER - 1;
            return if hit_end {
                Err(self.truncated())
            } else {
                Err(Self::corrupt(line_start, "missing argument count"))
            };
        }
        let argc = atoi(&text[1..]);
        if argc < 1 {
            return Err(Self::corrupt(line_start, "argument count below 1"));
        }
        // Reserve by what the file can hold (an argument takes at least 3 bytes), not
        // by the count it claims.
        let left = self.bytes.len() - self.pos;
        let mut args = Vec::with_capacity((argc as usize).min(left / 3));
        for _ in 0..argc {
            args.push(self.read_argument()?);
        }
        Ok(Some(args))
    }

    /// Reads one `$<len>` line, the argument and the two bytes after it.
    fn read_argument(&mut self) -> Result<Vec<u8>, ReadError> {
        let line_start = self.pos;
        let Some(line) = fgets(self.bytes, self.pos, LINE_BUFFER) else {
            return Err(self.truncated());
        };
        self.pos += line.len();
        if line.first() != Some(&b'$') {
            return Err(Self::corrupt(line_start, "expected '$' at an argument"));
        }
        // A negative length is a huge unsigned one to Redis, which then fails to
        // allocate it and aborts; here it is a format error.
        let Ok(len) = usize::try_from(strtol(&line[1..])) else {
            return Err(Self::corrupt(line_start, "negative argument length"));
        };
        let left = self.bytes.len() - self.pos;
        if len > left {
            return Err(self.truncated());
        }
        let arg = self.bytes[self.pos..self.pos + len].to_vec();
        self.pos += len;
        // Redis discards the CRLF after the argument without looking at it.
        if self.bytes.len() - self.pos < 2 {
            return Err(self.truncated());
        }
        self.pos += 2;
        Ok(arg)
    }

    /// Follows MULTI/EXEC for the cut offsets. `before` is the end of the previous
    /// command. As in Redis only EXEC ends a block (DISCARD is queued like any command
    /// when loading). A MULTI inside a block (which Redis never writes) keeps the
    /// block's start: Redis would move the revert point to the inner MULTI, leaving the
    /// outer one open in the cut file; keeping the outer one makes one cut enough.
    fn track_multi(&mut self, name: &[u8], before: usize) {
        if name.eq_ignore_ascii_case(b"multi") {
            self.multi_from.get_or_insert(before);
        } else if name.eq_ignore_ascii_case(b"exec") {
            self.multi_from = None;
        }
    }
}

impl Iterator for CommandReader<'_> {
    type Item = Result<Command, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let outcome = match self.read_command() {
            Ok(Some(args)) => {
                let before = self.valid_up_to;
                self.valid_up_to = self.pos;
                if let Some(name) = args.first() {
                    self.track_multi(name, before);
                }
                return Some(Ok(Command {
                    args,
                    end: self.pos,
                }));
            }
            Ok(None) => match self.multi_from {
                Some(valid_up_to) => Err(ReadError::UnfinishedMulti { valid_up_to }),
                None => {
                    self.done = true;
                    return None;
                }
            },
            Err(err) => Err(err),
        };
        self.done = true;
        Some(outcome)
    }
}

#[cfg(test)]
mod tests;
