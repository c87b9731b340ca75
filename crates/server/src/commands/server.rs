//! server commands.

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

pub fn command(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn command_count(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn command_info(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn command_docs(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn command_list(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn command_getkeys(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn command_help(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn info(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn config(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn config_get(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn config_set(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn config_resetstat(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn config_rewrite(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn config_help(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn time(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lastsave(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn slowlog(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn slowlog_get(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn slowlog_len(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn slowlog_reset(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn slowlog_help(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn monitor(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn memory(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn memory_usage(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn memory_help(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn shutdown(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn debug(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lolwut(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

/// FUNCTION without a subcommand: the dispatcher resolves subcommands first, so this only
/// runs if the table and the dispatcher disagree.
pub fn function(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("unknown subcommand"))
}
