//! SORT and SORT_RO over lists, sets and sorted sets.

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

pub fn sort(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}

pub fn sort_ro(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("not implemented yet"))
}
