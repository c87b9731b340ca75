//! Connection commands: PING, ECHO, QUIT, RESET, AUTH, HELLO, SELECT and the CLIENT
//! family.

use std::sync::atomic::Ordering;

use lodestone_resp::Protocol;

use crate::client::ReplyMode;
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

pub fn ping(ctx: &mut Ctx) -> CmdResult {
    // A RESP2 subscriber's PING is answered in the shape of a message, which its
    // client's reader expects.
    if ctx.client.subscribed() && !ctx.out.is_resp3() && ctx.argc() <= 2 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(if ctx.argc() == 2 { ctx.arg(1) } else { b"" });
        return Ok(());
    }
    match ctx.argc() {
        1 => ctx.out.simple(b"PONG"),
        2 => ctx.out.bulk(ctx.arg(1)),
        _ => {
            return Err(crate::errors::Error::Text(
                crate::errors::wrong_arity("ping").into(),
            ))
        }
    }
    Ok(())
}

pub fn echo(ctx: &mut Ctx) -> CmdResult {
    ctx.out.bulk(ctx.arg(1));
    Ok(())
}

pub fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

pub fn reset(ctx: &mut Ctx) -> CmdResult {
    super::transaction::discard_transaction(ctx.server, ctx.client);
    if let Some(subs) = ctx.client.pubsub.as_mut() {
        ctx.server.pubsub.forget(subs);
    }
    ctx.client.db = 0;
    ctx.client.shared.db.store(0, Ordering::Relaxed);
    ctx.client.shared.resp.store(2, Ordering::Relaxed);
    ctx.out.protocol = Protocol::Resp2;
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.shared.name.lock().clear();
    ctx.client.shared.no_evict.store(false, Ordering::Relaxed);
    ctx.client.authenticated = !ctx
        .server
        .config
        .hot
        .has_requirepass
        .load(Ordering::Relaxed);
    ctx.out.simple(b"RESET");
    Ok(())
}

/// Checks a password for `user` (only the default user exists until ACL arrives).
fn password_matches(ctx: &Ctx, user: &[u8], password: &[u8]) -> bool {
    let required = ctx.server.config.get("requirepass");
    user == b"default" && (required.is_empty() || required.as_bytes() == password)
}

pub fn auth(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(Error::Syntax);
    }
    let (user, password): (&[u8], &[u8]) = if ctx.argc() == 2 {
        (b"default", ctx.arg(1))
    } else {
        (ctx.arg(1), ctx.arg(2))
    };
    if ctx.argc() == 2 && ctx.server.config.get("requirepass").is_empty() {
        return Err(Error::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    if !password_matches(ctx, user, password) {
        return Err(Error::Text(
            "WRONGPASS invalid username-password pair or user is disabled.".into(),
        ));
    }
    ctx.client.authenticated = true;
    ctx.out.ok();
    Ok(())
}

pub fn hello(ctx: &mut Ctx) -> CmdResult {
    let mut version = 0;
    let mut next = 1;
    if ctx.argc() >= 2 {
        version = lodestone_util::number::parse_i64(ctx.arg(1))
            .ok_or_else(|| Error::err("Protocol version is not an integer or out of range"))?;
        next = 2;
        if !(2..=3).contains(&version) {
            return Err(Error::Text("NOPROTO unsupported protocol version".into()));
        }
    }
    let mut authenticated = ctx.client.authenticated;
    let mut name = None;
    while next < ctx.argc() {
        let more = ctx.argc() - 1 - next;
        if ctx.arg_is(next, "auth") && more >= 2 {
            if !password_matches(ctx, ctx.arg(next + 1), ctx.arg(next + 2)) {
                return Err(Error::Text(
                    "WRONGPASS invalid username-password pair or user is disabled.".into(),
                ));
            }
            authenticated = true;
            next += 3;
        } else if ctx.arg_is(next, "setname") && more >= 1 {
            name = Some(ctx.arg(next + 1));
            next += 2;
        } else {
            return Err(Error::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(ctx.arg(next))
            )));
        }
    }
    if !authenticated {
        return Err(Error::Text(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    if let Some(name) = name {
        set_client_name(ctx, name)?;
    }
    ctx.client.authenticated = true;
    if version != 0 {
        ctx.client
            .shared
            .resp
            .store(version as u8, Ordering::Relaxed);
        ctx.out.protocol = if version == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.integer(if ctx.client.protocol() == Protocol::Resp3 {
        3
    } else {
        2
    });
    out.bulk(b"id");
    out.integer(ctx.client.shared.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

/// Sets the connection name, refusing what CLIENT LIST could not print on one line.
pub fn set_client_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Error::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *ctx.client.shared.name.lock() = name.to_vec();
    Ok(())
}

pub fn select(ctx: &mut Ctx) -> CmdResult {
    let index = lodestone_util::number::parse_i64(ctx.arg(1))
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or(Error::NotInteger)?;
    if index < 0 || index as usize >= ctx.server.keyspace.databases {
        return Err(Error::DbIndexOutOfRange);
    }
    ctx.client.db = index as usize;
    ctx.client
        .shared
        .db
        .store(index as usize, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

// The CLIENT family lives in `client_cmd`; the command map names it through here.
pub use super::client_cmd::{
    client, client_getname, client_help, client_id, client_info, client_kill, client_list,
    client_no_evict, client_pause, client_reply, client_setinfo, client_setname, client_unblock,
    client_unpause,
};
