//! Command families, one module each, and the one exhaustive map from [`CommandId`] to
//! handler: a command in the table without a handler does not compile.

pub mod bitfield;
pub mod bitmap;
pub mod client_cmd;
pub mod command_cmd;
pub mod config_cmd;
pub mod config_rewrite;
pub mod connection;
pub mod debug;
pub mod expiry;
pub mod function;
pub mod hash;
pub mod info;
pub mod keyspace;
pub mod lcs;
pub mod list;
pub mod memory;
pub mod object;
pub mod scan;
pub mod server;
pub mod set;
pub mod sort;
pub mod string;
pub mod transaction;
pub mod zset;
pub mod zset_algebra;
pub mod zset_range;

use lodestone_spec::CommandId;

use crate::ctx::Ctx;
use crate::errors::CmdResult;

/// A command handler: parses its arguments, does its work, writes its reply.
pub type Handler = fn(&mut Ctx) -> CmdResult;

/// The handler of a command.
pub fn handler(id: CommandId) -> Handler {
    match id {
        CommandId::Multi => transaction::multi,
        CommandId::Exec => transaction::exec,
        CommandId::Discard => transaction::discard,
        CommandId::Watch => transaction::watch,
        CommandId::Unwatch => transaction::unwatch,
        CommandId::Lpush => list::lpush,
        CommandId::Rpush => list::rpush,
        CommandId::Lpushx => list::lpushx,
        CommandId::Rpushx => list::rpushx,
        CommandId::Lpop => list::lpop,
        CommandId::Rpop => list::rpop,
        CommandId::Llen => list::llen,
        CommandId::Lrange => list::lrange,
        CommandId::Lindex => list::lindex,
        CommandId::Lset => list::lset,
        CommandId::Linsert => list::linsert,
        CommandId::Lrem => list::lrem,
        CommandId::Ltrim => list::ltrim,
        CommandId::Lpos => list::lpos,
        CommandId::Lmove => list::lmove,
        CommandId::Rpoplpush => list::rpoplpush,
        CommandId::Lmpop => list::lmpop,
        CommandId::Blpop => list::blpop,
        CommandId::Brpop => list::brpop,
        CommandId::Brpoplpush => list::brpoplpush,
        CommandId::Blmove => list::blmove,
        CommandId::Blmpop => list::blmpop,
        CommandId::Hset => hash::hset,
        CommandId::Hsetnx => hash::hsetnx,
        CommandId::Hget => hash::hget,
        CommandId::Hmset => hash::hmset,
        CommandId::Hmget => hash::hmget,
        CommandId::Hgetall => hash::hgetall,
        CommandId::Hdel => hash::hdel,
        CommandId::Hlen => hash::hlen,
        CommandId::Hstrlen => hash::hstrlen,
        CommandId::Hexists => hash::hexists,
        CommandId::Hkeys => hash::hkeys,
        CommandId::Hvals => hash::hvals,
        CommandId::Hincrby => hash::hincrby,
        CommandId::Hincrbyfloat => hash::hincrbyfloat,
        CommandId::Hrandfield => hash::hrandfield,
        CommandId::Hscan => hash::hscan,
        CommandId::Sadd => set::sadd,
        CommandId::Srem => set::srem,
        CommandId::Scard => set::scard,
        CommandId::Sismember => set::sismember,
        CommandId::Smismember => set::smismember,
        CommandId::Smembers => set::smembers,
        CommandId::Srandmember => set::srandmember,
        CommandId::Spop => set::spop,
        CommandId::Smove => set::smove,
        CommandId::Sinter => set::sinter,
        CommandId::Sintercard => set::sintercard,
        CommandId::Sinterstore => set::sinterstore,
        CommandId::Sunion => set::sunion,
        CommandId::Sunionstore => set::sunionstore,
        CommandId::Sdiff => set::sdiff,
        CommandId::Sdiffstore => set::sdiffstore,
        CommandId::Sscan => set::sscan,
        CommandId::Zadd => zset::zadd,
        CommandId::Zincrby => zset::zincrby,
        CommandId::Zrem => zset::zrem,
        CommandId::Zcard => zset::zcard,
        CommandId::Zcount => zset::zcount,
        CommandId::Zlexcount => zset::zlexcount,
        CommandId::Zscore => zset::zscore,
        CommandId::Zmscore => zset::zmscore,
        CommandId::Zrank => zset::zrank,
        CommandId::Zrevrank => zset::zrevrank,
        CommandId::Zrange => zset::zrange,
        CommandId::Zrangestore => zset::zrangestore,
        CommandId::Zrevrange => zset::zrevrange,
        CommandId::Zrangebyscore => zset::zrangebyscore,
        CommandId::Zrevrangebyscore => zset::zrevrangebyscore,
        CommandId::Zrangebylex => zset::zrangebylex,
        CommandId::Zrevrangebylex => zset::zrevrangebylex,
        CommandId::Zremrangebyrank => zset::zremrangebyrank,
        CommandId::Zremrangebyscore => zset::zremrangebyscore,
        CommandId::Zremrangebylex => zset::zremrangebylex,
        CommandId::Zpopmin => zset::zpopmin,
        CommandId::Zpopmax => zset::zpopmax,
        CommandId::Zmpop => zset::zmpop,
        CommandId::Zrandmember => zset::zrandmember,
        CommandId::Zunion => zset::zunion,
        CommandId::Zinter => zset::zinter,
        CommandId::Zdiff => zset::zdiff,
        CommandId::Zunionstore => zset::zunionstore,
        CommandId::Zinterstore => zset::zinterstore,
        CommandId::Zdiffstore => zset::zdiffstore,
        CommandId::Zintercard => zset::zintercard,
        CommandId::Zscan => zset::zscan,
        CommandId::Bzpopmin => zset::bzpopmin,
        CommandId::Bzpopmax => zset::bzpopmax,
        CommandId::Bzmpop => zset::bzmpop,
        CommandId::Sort => sort::sort,
        CommandId::SortRo => sort::sort_ro,
        CommandId::Get => string::get,
        CommandId::Set => string::set,
        CommandId::Setnx => string::setnx,
        CommandId::Setex => string::setex,
        CommandId::Psetex => string::psetex,
        CommandId::Getset => string::getset,
        CommandId::Getdel => string::getdel,
        CommandId::Getex => string::getex,
        CommandId::Mget => string::mget,
        CommandId::Mset => string::mset,
        CommandId::Msetnx => string::msetnx,
        CommandId::Append => string::append,
        CommandId::Strlen => string::strlen,
        CommandId::Getrange => string::getrange,
        CommandId::Substr => string::substr,
        CommandId::Setrange => string::setrange,
        CommandId::Incr => string::incr,
        CommandId::Decr => string::decr,
        CommandId::Incrby => string::incrby,
        CommandId::Decrby => string::decrby,
        CommandId::Incrbyfloat => string::incrbyfloat,
        CommandId::Lcs => string::lcs,
        CommandId::Setbit => string::setbit,
        CommandId::Getbit => string::getbit,
        CommandId::Bitcount => string::bitcount,
        CommandId::Bitpos => string::bitpos,
        CommandId::Bitop => string::bitop,
        CommandId::Bitfield => string::bitfield,
        CommandId::BitfieldRo => string::bitfield_ro,
        CommandId::Del => keyspace::del,
        CommandId::Unlink => keyspace::unlink,
        CommandId::Exists => keyspace::exists,
        CommandId::Type => keyspace::type_,
        CommandId::Rename => keyspace::rename,
        CommandId::Renamenx => keyspace::renamenx,
        CommandId::Copy => keyspace::copy,
        CommandId::Keys => keyspace::keys,
        CommandId::Scan => keyspace::scan,
        CommandId::Randomkey => keyspace::randomkey,
        CommandId::Touch => keyspace::touch,
        CommandId::Expire => keyspace::expire,
        CommandId::Pexpire => keyspace::pexpire,
        CommandId::Expireat => keyspace::expireat,
        CommandId::Pexpireat => keyspace::pexpireat,
        CommandId::Ttl => keyspace::ttl,
        CommandId::Pttl => keyspace::pttl,
        CommandId::Expiretime => keyspace::expiretime,
        CommandId::Pexpiretime => keyspace::pexpiretime,
        CommandId::Persist => keyspace::persist,
        CommandId::Move => keyspace::move_,
        CommandId::Select => connection::select,
        CommandId::Swapdb => keyspace::swapdb,
        CommandId::Flushdb => keyspace::flushdb,
        CommandId::Flushall => keyspace::flushall,
        CommandId::Dbsize => keyspace::dbsize,
        CommandId::Object => keyspace::object,
        CommandId::ObjectEncoding => keyspace::object_encoding,
        CommandId::ObjectFreq => keyspace::object_freq,
        CommandId::ObjectIdletime => keyspace::object_idletime,
        CommandId::ObjectRefcount => keyspace::object_refcount,
        CommandId::ObjectHelp => keyspace::object_help,
        CommandId::Ping => connection::ping,
        CommandId::Echo => connection::echo,
        CommandId::Quit => connection::quit,
        CommandId::Reset => connection::reset,
        CommandId::Auth => connection::auth,
        CommandId::Hello => connection::hello,
        CommandId::Client => connection::client,
        CommandId::ClientId => connection::client_id,
        CommandId::ClientSetname => connection::client_setname,
        CommandId::ClientGetname => connection::client_getname,
        CommandId::ClientList => connection::client_list,
        CommandId::ClientInfo => connection::client_info,
        CommandId::ClientKill => connection::client_kill,
        CommandId::ClientReply => connection::client_reply,
        CommandId::ClientNoEvict => connection::client_no_evict,
        CommandId::ClientSetinfo => connection::client_setinfo,
        CommandId::ClientPause => connection::client_pause,
        CommandId::ClientUnpause => connection::client_unpause,
        CommandId::ClientUnblock => connection::client_unblock,
        CommandId::ClientHelp => connection::client_help,
        CommandId::Command => server::command,
        CommandId::CommandCount => server::command_count,
        CommandId::CommandInfo => server::command_info,
        CommandId::CommandDocs => server::command_docs,
        CommandId::CommandList => server::command_list,
        CommandId::CommandGetkeys => server::command_getkeys,
        CommandId::CommandHelp => server::command_help,
        CommandId::Info => server::info,
        CommandId::Config => server::config,
        CommandId::ConfigGet => server::config_get,
        CommandId::ConfigSet => server::config_set,
        CommandId::ConfigResetstat => server::config_resetstat,
        CommandId::ConfigRewrite => server::config_rewrite,
        CommandId::ConfigHelp => server::config_help,
        CommandId::Time => server::time,
        CommandId::Lastsave => server::lastsave,
        CommandId::Slowlog => server::slowlog,
        CommandId::SlowlogGet => server::slowlog_get,
        CommandId::SlowlogLen => server::slowlog_len,
        CommandId::SlowlogReset => server::slowlog_reset,
        CommandId::SlowlogHelp => server::slowlog_help,
        CommandId::Monitor => server::monitor,
        CommandId::Memory => server::memory,
        CommandId::MemoryUsage => server::memory_usage,
        CommandId::MemoryHelp => server::memory_help,
        CommandId::Shutdown => server::shutdown,
        CommandId::Debug => server::debug,
        CommandId::Lolwut => server::lolwut,
        CommandId::Function => server::function,
        CommandId::FunctionFlush => function::function_flush,
        CommandId::FunctionHelp => function::function_help,
    }
}

/// Quotes bytes the way Redis's `sdscatrepr` does (MONITOR, CLIENT LIST, DEBUG).
pub fn repr(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}
