//! Redis 7.0's multi-part AOF manifest: the small text file (`appendonly.aof.manifest`)
//! that lists the files making up the AOF and their order.
//!
//! One line per file: `file <name> seq <n> type <b|h|i>`, the base first, then the
//! history files, then the incr files. The base holds a snapshot (RDB or command form),
//! the incr files the commands written since, in sequence order; history files are the
//! ones a rewrite replaced, kept until they are deleted. Parsing follows Redis's loader
//! line for line, so a manifest loads here exactly when it loads in Redis.

mod quote;

use crate::c_text::{c_str, fgets, strtol};

/// Longest line Redis reads (its buffer holds this many bytes plus the NUL).
pub const MANIFEST_MAX_LINE: usize = 1024;

const MANIFEST_SUFFIX: &[u8] = b".manifest";
const TEMP_PREFIX: &[u8] = b"temp-";

/// What a file of the AOF holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// The snapshot the incr files apply to (`b`).
    Base,
    /// Replaced by a rewrite, waiting to be deleted (`h`).
    History,
    /// Commands written after the base (`i`).
    Incr,
}

impl FileType {
    /// The letter the manifest uses.
    pub fn letter(self) -> u8 {
        match self {
            FileType::Base => b'b',
            FileType::History => b'h',
            FileType::Incr => b'i',
        }
    }

    fn from_letter(letter: u8) -> Option<FileType> {
        match letter {
            b'b' => Some(FileType::Base),
            b'h' => Some(FileType::History),
            b'i' => Some(FileType::Incr),
            _ => None,
        }
    }
}

/// One file listed in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    /// A bare file name in the AOF directory (any bytes but `/` and `\`).
    pub name: Vec<u8>,
    pub seq: u64,
    pub kind: FileType,
}

/// The parsed manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    /// Incr files in sequence order (strictly increasing).
    pub incrs: Vec<AofFile>,
    /// History files, most recently replaced first.
    pub history: Vec<AofFile>,
    /// The base's sequence number (0 without a base): the next base gets one more.
    pub curr_base_seq: u64,
    /// The last incr file's sequence number: the next incr file gets one more.
    pub curr_incr_seq: u64,
}

const INVALID: &str = "Invalid AOF manifest file format";

impl Manifest {
    /// Parses a manifest as Redis 7.0 loads one. The error is Redis's message, with the
    /// line number when a line is at fault.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let mut manifest = Manifest::default();
        let mut pos = 0;
        let mut line_number = 0usize;
        // Redis reads with fgets: a line longer than its buffer arrives in pieces, and
        // each piece counts as a line.
        while let Some(chunk) = fgets(bytes, pos, MANIFEST_MAX_LINE + 1) {
            pos += chunk.len();
            line_number += 1;
            let text = c_str(chunk);
            if text.first() == Some(&b'#') {
                continue;
            }
            let at_line = |message: &str| format!("{message} (manifest line {line_number})");
            // A piece without its newline is a line too long for the buffer, or a last
            // line without one: Redis refuses both.
            if !text.contains(&b'\n') {
                return Err(at_line("The AOF manifest file contains too long line"));
            }
            let file = parse_line(text).map_err(at_line)?;
            manifest.add_parsed(file).map_err(at_line)?;
        }
        if line_number == 0 {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(manifest)
    }

    /// Files one parsed line with the checks Redis makes: a single base, and incr
    /// sequence numbers strictly increasing.
    fn add_parsed(&mut self, file: AofFile) -> Result<(), &'static str> {
        match file.kind {
            FileType::Base => {
                if self.base.is_some() {
                    return Err("Found duplicate base file information");
                }
                self.curr_base_seq = file.seq;
                self.base = Some(file);
            }
            FileType::History => self.history.push(file),
            FileType::Incr => {
                if file.seq <= self.curr_incr_seq {
                    return Err("Found a non-monotonic sequence number");
                }
                self.curr_incr_seq = file.seq;
                self.incrs.push(file);
            }
        }
        Ok(())
    }

    /// The manifest as Redis writes it: base, history, then incr files, one line each.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let files = self.base.iter().chain(&self.history).chain(&self.incrs);
        for file in files {
            out.extend_from_slice(b"file ");
            // Redis quotes by `sdsneedsrepr`, which misses two cases it then cannot
            // read back: an empty name, and a single quote (checked with redis-server
            // 7.0.15 and appendfilename "it's.aof": it refuses its own manifest on
            // restart). Quoting those too only changes names Redis cannot load.
            if file.name.is_empty()
                || file.name.contains(&b'\'')
                || quote::needs_quoting(&file.name)
            {
                quote::push_quoted(&mut out, &file.name);
            } else {
                out.extend_from_slice(&file.name);
            }
            out.extend_from_slice(format!(" seq {} type ", file.seq).as_bytes());
            out.push(file.kind.letter());
            out.push(b'\n');
        }
        out
    }

    /// Every file the AOF is loaded from, in load order: the base, then the incr files.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.incrs)
    }

    /// Adds the next incr file (`<prefix>.<seq>.incr.aof`) at the end of the list and
    /// returns it (Redis's `getNewIncrAofName`): on start-up without one, when a rewrite
    /// starts, and when a rewrite that ran with AOF off is installed.
    pub fn new_incr(&mut self, prefix: &[u8]) -> &AofFile {
        // Parsed sequence numbers are at most i64::MAX, so this cannot saturate in
        // practice; saturating keeps a hand-built manifest from panicking.
        self.curr_incr_seq = self.curr_incr_seq.saturating_add(1);
        let file = AofFile {
            name: incr_name(prefix, self.curr_incr_seq),
            seq: self.curr_incr_seq,
            kind: FileType::Incr,
        };
        self.incrs.push(file);
        &self.incrs[self.incrs.len() - 1]
    }

    /// The incr file commands are appended to: the last one, or a new one when there is
    /// none (Redis's `getLastIncrAofName`).
    pub fn last_incr_or_new(&mut self, prefix: &[u8]) -> &AofFile {
        if self.incrs.is_empty() {
            return self.new_incr(prefix);
        }
        &self.incrs[self.incrs.len() - 1]
    }

    /// Installs a new base (`<prefix>.<seq>.base.rdb`, or `.aof` for a command-form
    /// base) after a rewrite and returns it; the old base becomes the most recent
    /// history file (Redis's `getNewBaseFileNameAndMarkPreAsHistory`).
    pub fn new_base(&mut self, prefix: &[u8], rdb: bool) -> &AofFile {
        self.retire_base();
        let base = self.next_base(prefix, rdb);
        self.base.insert(base)
    }

    /// Moves the base to the front of the history.
    fn retire_base(&mut self) {
        if let Some(mut old) = self.base.take() {
            old.kind = FileType::History;
            self.history.insert(0, old);
        }
    }

    /// The next base file, counted but not installed.
    fn next_base(&mut self, prefix: &[u8], rdb: bool) -> AofFile {
        self.curr_base_seq = self.curr_base_seq.saturating_add(1);
        AofFile {
            name: base_name(prefix, self.curr_base_seq, rdb),
            seq: self.curr_base_seq,
            kind: FileType::Base,
        }
    }

    /// Moves the incr files a rewrite has folded into the new base to history (Redis's
    /// `markRewrittenIncrAofAsHistory`). With `keep_last` (AOF on: the last incr file is
    /// the one being written to) the last stays an incr file. The moved files go before
    /// the older history, in sequence order.
    pub fn mark_rewritten_incrs_as_history(&mut self, keep_last: bool) {
        let keep = usize::from(keep_last && !self.incrs.is_empty());
        let moved = self.incrs.len() - keep;
        let mut history: Vec<AofFile> = self
            .incrs
            .drain(..moved)
            .map(|mut file| {
                file.kind = FileType::History;
                file
            })
            .collect();
        history.append(&mut self.history);
        self.history = history;
    }

    /// What Redis does to the manifest when a rewrite completes with AOF on: a new base
    /// (the old one to history), and every incr file but the current one to history.
    /// Returns the new base.
    pub fn install_rewrite(&mut self, prefix: &[u8], rdb: bool) -> &AofFile {
        // Same order as Redis, which decides the history order: base first, then incrs.
        self.retire_base();
        self.mark_rewritten_incrs_as_history(true);
        let base = self.next_base(prefix, rdb);
        self.base.insert(base)
    }
}

/// Parses one manifest line (with its newline, without NUL) into a file.
fn parse_line(text: &[u8]) -> Result<AofFile, &'static str> {
    let line = trim(text);
    if line.is_empty() {
        return Err(INVALID);
    }
    let words = quote::split_args(line).ok_or(INVALID)?;
    // More than 6 words is allowed: unknown key/value pairs are for later versions.
    if words.len() < 6 || words.len() % 2 != 0 {
        return Err(INVALID);
    }
    let mut name: Option<Vec<u8>> = None;
    let mut seq: i64 = 0;
    let mut letter: u8 = 0;
    for pair in words.chunks_exact(2) {
        // Redis compares and copies these as C strings: they end at a NUL.
        let key = c_str(&pair[0]);
        let value = c_str(&pair[1]);
        if key.eq_ignore_ascii_case(b"file") {
            if value.contains(&b'/') || value.contains(&b'\\') {
                return Err("File can't be a path, just a filename");
            }
            name = Some(value.to_vec());
        } else if key.eq_ignore_ascii_case(b"seq") {
            seq = strtol(value);
        } else if key.eq_ignore_ascii_case(b"type") {
            letter = value.first().copied().unwrap_or(0);
        }
    }
    // Redis requires a name, a non-zero sequence and a type. It also takes a negative
    // sequence, which no server writes; sequences here are unsigned, so it is refused.
    let (Some(name), true, true) = (name, seq > 0, letter != 0) else {
        return Err(INVALID);
    };
    let kind = FileType::from_letter(letter).ok_or("Unknown AOF file type")?;
    Ok(AofFile {
        name,
        seq: seq.unsigned_abs(),
        kind,
    })
}

/// Strips spaces, tabs, CRs and LFs from both ends (Redis's `sdstrim` with " \t\r\n").
fn trim(text: &[u8]) -> &[u8] {
    let strip = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = text.iter().position(|b| !strip(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !strip(b))
        .map_or(start, |i| i + 1);
    &text[start..end]
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The manifest's file name for `appendfilename` (`appendonly.aof.manifest`).
pub fn manifest_name(appendfilename: &[u8]) -> Vec<u8> {
    concat(&[appendfilename, MANIFEST_SUFFIX])
}

/// The name a new manifest is written under before it is renamed over the old one
/// (`temp-appendonly.aof.manifest`).
pub fn temp_manifest_name(appendfilename: &[u8]) -> Vec<u8> {
    concat(&[TEMP_PREFIX, appendfilename, MANIFEST_SUFFIX])
}

/// A base file's name: `<prefix>.<seq>.base.rdb`, or `.base.aof` in command form.
pub fn base_name(prefix: &[u8], seq: u64, rdb: bool) -> Vec<u8> {
    let format = if rdb { "rdb" } else { "aof" };
    concat(&[prefix, format!(".{seq}.base.{format}").as_bytes()])
}

/// An incr file's name: `<prefix>.<seq>.incr.aof`.
pub fn incr_name(prefix: &[u8], seq: u64) -> Vec<u8> {
    concat(&[prefix, format!(".{seq}.incr.aof").as_bytes()])
}

/// Where writes go while a rewrite runs with AOF off, before the file gets its incr
/// name (`temp-appendonly.aof.incr`).
pub fn temp_incr_name(prefix: &[u8]) -> Vec<u8> {
    concat(&[TEMP_PREFIX, prefix, b".incr"])
}

#[cfg(test)]
mod tests;
