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
}

impl Error {
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
        }
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

/// What a handler returns: the reply was written, or this error should be.
pub type CmdResult = Result<(), Error>;

/// `ERR wrong number of arguments for '<name>' command`.
pub fn wrong_arity(full_name: &str) -> String {
    format!("ERR wrong number of arguments for '{full_name}' command")
}

/// The unknown-command error, quoting up to the first arguments as Redis does.
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> String {
    let mut quoted = String::new();
    for arg in args {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        quoted.push_str(&format!(
            "'{}' ",
            String::from_utf8_lossy(&arg[..arg.len().min(room)])
        ));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {quoted}",
        truncate_128(name)
    )
}

/// `ERR unknown subcommand '<sub>'. Try <CONTAINER> HELP.`
pub fn unknown_subcommand(sub: &[u8], container: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        truncate_128(sub),
        container.to_uppercase()
    )
}

fn truncate_128(bytes: &[u8]) -> Cow<'_, str> {
    let cut = &bytes[..bytes.len().min(128)];
    String::from_utf8_lossy(cut)
}
