//! The catalog of error replies. Every error text a command can send lives here, word for
//! word as Redis sends it, so a change of wording is one edit and tests can name errors.

use std::borrow::Cow;

/// A user error: becomes an error reply, the connection lives on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    NoSuchKey,
    Overflow,
    DbIndexOutOfRange,
    InvalidExpireTime(&'static str),
    StringTooLong,
    BitOffset,
    BitValue,
    NanOrInfinity,
    OutOfRangePositive,
    NotInMulti,
    /// Any other text; must start with an error code (`ERR ...`).
    Text(Cow<'static, str>),
    /// A text that quotes a client's bytes (key or group names), sent as they are.
    Bytes(Vec<u8>),
}

impl Error {
    /// An error reply given as its full text (code included, no leading `-`).
    pub fn reply(text: String) -> Error {
        Error::Text(text.into())
    }

    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Error::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value".into()
            }
            Error::NotInteger => "ERR value is not an integer or out of range".into(),
            Error::NotFloat => "ERR value is not a valid float".into(),
            Error::Syntax => "ERR syntax error".into(),
            Error::NoSuchKey => "ERR no such key".into(),
            Error::Overflow => "ERR increment or decrement would overflow".into(),
            Error::DbIndexOutOfRange => "ERR DB index is out of range".into(),
            Error::InvalidExpireTime(cmd) => {
                format!("ERR invalid expire time in '{cmd}' command").into()
            }
            Error::StringTooLong => {
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)".into()
            }
            Error::BitOffset => "ERR bit offset is not an integer or out of range".into(),
            Error::BitValue => "ERR bit is not an integer or out of range".into(),
            Error::NanOrInfinity => "ERR increment would produce NaN or Infinity".into(),
            Error::OutOfRangePositive => "ERR value is out of range, must be positive".into(),
            Error::NotInMulti => "ERR Command not allowed inside a transaction".into(),
            Error::Text(text) => text.clone(),
            Error::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned().into(),
        }
    }

    /// The reply's bytes: [`Self::message`], or the quoted client bytes unchanged.
    pub fn message_bytes(&self) -> Cow<'static, [u8]> {
        match self {
            Error::Bytes(bytes) => Cow::Owned(bytes.clone()),
            other => match other.message() {
                Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
                Cow::Owned(text) => Cow::Owned(text.into_bytes()),
            },
        }
    }

    /// An error made of literal text and client bytes, each client part cut at its
    /// first NUL as Redis's C strings are (`%s` of an sds).
    pub fn quoting(parts: &[Quoted]) -> Error {
        let mut out = Vec::new();
        for part in parts {
            match part {
                Quoted::Text(text) => out.extend_from_slice(text.as_bytes()),
                Quoted::Client(bytes) => out.extend_from_slice(c_string(bytes)),
            }
        }
        Error::Bytes(out)
    }

    /// An `ERR`-coded error with this text.
    pub fn err(text: impl Into<String>) -> Error {
        Error::Text(format!("ERR {}", text.into()).into())
    }

    /// The code INFO errorstats counts this error under (`ERR`, `WRONGTYPE`...).
    pub fn code(message: &str) -> &str {
        message.split(' ').next().unwrap_or("ERR")
    }
}

/// A part of an error built by [`Error::quoting`].
pub enum Quoted<'a> {
    Text(&'a str),
    Client(&'a [u8]),
}

/// What a handler returns: the reply was written, or this error should be.
pub type CmdResult = Result<(), Error>;

/// `ERR wrong number of arguments for '<name>' command`.
pub fn wrong_arity(full_name: &str) -> String {
    format!("ERR wrong number of arguments for '{full_name}' command")
}

/// The unknown-command error, quoting the first arguments as Redis does. Bytes, not
/// text: Redis copies the client's bytes (up to a NUL, as C strings end there).
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> Vec<u8> {
    let mut quoted = Vec::new();
    for arg in args {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        let arg = c_string(arg);
        quoted.push(b'\'');
        quoted.extend_from_slice(&arg[..arg.len().min(room)]);
        quoted.extend_from_slice(b"' ");
    }
    let name = c_string(name);
    let mut message = b"ERR unknown command '".to_vec();
    message.extend_from_slice(&name[..name.len().min(128)]);
    message.extend_from_slice(b"', with args beginning with: ");
    message.extend_from_slice(&quoted);
    message
}

/// `ERR unknown subcommand '<sub>'. Try <CONTAINER> HELP.`
pub fn unknown_subcommand(sub: &[u8], container: &str) -> String {
    let sub = c_string(sub);
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        container.to_uppercase()
    )
}

/// The part of `bytes` a C string function would see: up to the first NUL.
pub fn c_string(bytes: &[u8]) -> &[u8] {
    match memchr_nul(bytes) {
        Some(i) => &bytes[..i],
        None => bytes,
    }
}

fn memchr_nul(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0)
}
