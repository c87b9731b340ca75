//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queueing and EXEC itself live in `dispatch.rs` (`process_command` queues while a
//! client is in MULTI; EXEC locks the union of the queued commands' shards and runs
//! them through the same path as any command). Here: entering and leaving the
//! transaction, and watching keys.

use std::sync::atomic::Ordering;

use crate::client::{ClientState, Multi};
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::server::Server;

pub fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::err("MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Multi::default());
    ctx.client.shared.in_multi.store(true, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// Never reached from a connection (the dispatcher runs EXEC itself); anywhere else
/// (a script) there is no transaction to run.
pub fn exec(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("EXEC without MULTI"))
}

pub fn discard(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(Error::err("DISCARD without MULTI"));
    }
    discard_transaction(ctx.server, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Leaves MULTI and forgets watched keys (DISCARD, RESET, a closed connection).
pub fn discard_transaction(server: &Server, client: &mut ClientState) {
    client.multi = None;
    client.shared.in_multi.store(false, Ordering::Relaxed);
    unwatch_all(server, client);
}

pub fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::err("WATCH inside MULTI is not allowed"));
    }
    let cmd = ctx.cmd;
    let db = ctx.keys.db;
    let now = ctx.keys.now_ms;
    for i in 1..cmd.len() {
        let key = cmd.arg(i);
        // Looked at without expiring it: a key already expired when watched is noted
        // as such (its later deletion is no change).
        let expired = ctx
            .keys
            .raw_db(key)
            .get(key)
            .is_some_and(|e| e.is_expired(now));
        if ctx
            .server
            .watched
            .watch(db, key, &ctx.client.shared, expired)
        {
            ctx.client.watched.push((db, key.into()));
        }
    }
    ctx.out.ok();
    Ok(())
}

pub fn unwatch(ctx: &mut Ctx) -> CmdResult {
    unwatch_all(ctx.server, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Forgets every key the client watches and clears its "watched key changed" mark.
pub fn unwatch_all(server: &Server, client: &mut ClientState) {
    if !client.watched.is_empty() {
        server.watched.unwatch(client.shared.id, &client.watched);
        client.watched.clear();
    }
    client.shared.dirty_cas.store(false, Ordering::Relaxed);
}
