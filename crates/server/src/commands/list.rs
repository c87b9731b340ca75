//! Lists: push, pop, range, index, move and their blocking forms.

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

pub fn lpush(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn rpush(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lpushx(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn rpushx(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lpop(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn rpop(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn llen(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lrange(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lindex(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lset(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn linsert(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lrem(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn ltrim(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lpos(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lmove(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn rpoplpush(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn lmpop(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn blpop(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn brpop(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn brpoplpush(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn blmove(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn blmpop(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}
