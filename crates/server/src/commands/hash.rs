//! Hashes: field reads and writes, counters, random fields, HSCAN.

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

pub fn hset(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hsetnx(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hget(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hmset(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hmget(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hgetall(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hdel(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hlen(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hstrlen(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hexists(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hkeys(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hvals(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hincrby(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hincrbyfloat(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hrandfield(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn hscan(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}
