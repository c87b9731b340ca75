//! The server: the only crate with sockets, threads and tasks.
//!
//! Shape: `--threads N` worker threads, each running its own one-core event loop;
//! the main thread accepts connections and hands them out round-robin, and runs the cron
//! (active expiry). A connection lives on one worker for its whole life. Commands from
//! any worker meet only at the sharded keyspace locks (see `keyspace`), so they are
//! atomic and run in parallel when their keys are on different shards. Idle workers park
//! in epoll; nothing spins. `docs/ARCHITECTURE.md` has the full map.

pub mod aof;
pub mod blocking;
pub mod client;
pub mod commands;
pub mod config;
pub mod conn;
pub mod ctx;
pub mod dispatch;
pub mod effects;
pub mod errors;
pub mod expire;
pub mod keyspace;
pub mod lazyfree;
pub mod loading;
pub mod notify;
pub mod persist;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod snapshot;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

pub use config::Config;
pub use server::Server;

/// The Redis version whose behaviour Lodestone matches (INFO `redis_version`).
pub const REDIS_VERSION: &str = "7.0.15";
/// Lodestone's own version.
pub const LODESTONE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    Bind(String),
    Runtime(std::io::Error),
    /// The RDB file could not be loaded.
    Load(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Bind(e) => write!(f, "{e}"),
            StartError::Runtime(e) => write!(f, "could not start the runtime: {e}"),
            StartError::Load(e) => write!(f, "{e}"),
        }
    }
}

/// Number of worker threads: `threads` from the config, or the cores we may run on.
pub fn worker_count(config: &Config) -> usize {
    match config.get_i64("threads") {
        n if n > 0 => n as usize,
        _ => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    }
}

/// Runs the server until SHUTDOWN, SIGTERM or SIGINT.
pub fn run(config: Config) -> Result<(), StartError> {
    let threads = worker_count(&config);
    let server = Server::new(config, threads).into_arc();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    runtime.block_on(serve(server))
}

async fn serve(server: Arc<Server>) -> Result<(), StartError> {
    let port = server.config.get_i64("port") as u16;
    let listeners = match bind_listeners(&server.config.get("bind"), port) {
        Ok(listeners) => listeners,
        Err(e) => {
            // Redis's wording: test harnesses look for it to retry on another port.
            tracing::warn!("Warning: {e}");
            return Err(StartError::Bind(format!(
                "Failed listening on port {port} (TCP), aborting."
            )));
        }
    };
    // Clients may connect while the dataset loads: they get -LOADING until it is done.
    server.loading.begin(0);
    let workers = start_workers(&server)?;
    let (conn_tx, mut conn_rx) = tokio::sync::mpsc::unbounded_channel();
    let (rebind_tx, mut rebind_rx) = tokio::sync::mpsc::unbounded_channel();
    *server.rebind.lock() = Some(rebind_tx);
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(0, |a| u64::from(a.port()));
    if show_banner(&server.config) {
        tracing::info!("{}", banner(port, server.threads));
    } else {
        tracing::info!(
            "Running mode=standalone, port={port}, threads={}.",
            server.threads
        );
    }
    tracing::info!("Server initialized");

    let mut next = 0usize;
    start_loading(&server)?;
    // Connections wait in the listen backlog until there is something to tell them:
    // a file being loaded (-LOADING) or the start done (the AOF open), as with Redis.
    server.loading.wait_serving().await;
    let mut accepting = start_accepting(&server, listeners, &conn_tx);
    tokio::spawn(expire::cron(server.clone()));
    start_persistence_cron(&server);
    aof::start_flusher(&server);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(StartError::Runtime)?;
    loop {
        tokio::select! {
            Some(stream) = conn_rx.recv() => {
                let Ok(std_stream) = tokio::net::TcpStream::into_std(stream) else { continue };
                // A worker stuck in a busy script cannot serve a new client (one that
                // comes to send SCRIPT KILL, say): skip it while another is free.
                let mut pick = next % workers.len();
                for step in 0..workers.len() {
                    let candidate = (next + step) % workers.len();
                    if !server.scripting.worker_busy(candidate) {
                        pick = candidate;
                        break;
                    }
                }
                let _ = workers[pick].send(std_stream);
                next = pick.wrapping_add(1);
            }
            Some(listeners) = rebind_rx.recv() => {
                // CONFIG SET port/bind: the new sockets are bound; stop the old ones.
                for task in accepting.drain(..) {
                    task.abort();
                }
                accepting = start_accepting(&server, listeners, &conn_tx);
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::warn!("Received SIGINT scheduling shutdown...");
                break;
            }
            _ = sigterm.recv() => {
                tracing::warn!("Received SIGTERM scheduling shutdown...");
                break;
            }
            _ = server.shutdown.notified() => {
                break;
            }
        }
    }
    save_on_shutdown(&server);
    tracing::info!("Lodestone is now ready to exit, bye bye...");
    Ok(())
}

/// Whether to log the startup banner instead of the one-line summary: when asked
/// (`always-show-logo`), or when logging to a terminal, as Redis shows its logo.
fn show_banner(config: &Config) -> bool {
    use std::io::IsTerminal;
    config.get_bool("always-show-logo")
        || (config.get("logfile").is_empty()
            && config.get("syslog-enabled") != "yes"
            && std::io::stdout().is_terminal())
}

/// The startup banner: what Redis's logo tells (version, mode, port, PID), in
/// Lodestone's own words. Test harnesses find the process by its `PID:` line.
fn banner(port: u64, threads: usize) -> String {
    format!(
        "Lodestone {LODESTONE_VERSION} (Redis {REDIS_VERSION} compatible), 64 bit\n\
         \x20   Running in standalone mode, {threads} threads\n\
         \x20   Port: {port}\n\
         \x20   PID: {}",
        std::process::id()
    )
}

/// Loads the AOF or RDB file on a thread of its own while the server answers
/// `-LOADING`. A file that cannot be loaded ends the process: no silent data loss.
fn start_loading(server: &Arc<Server>) -> Result<(), StartError> {
    let server = server.clone();
    std::thread::Builder::new()
        .name("lodestone-load".into())
        .spawn(move || {
            if let Err(e) = aof::load_dataset(&server) {
                tracing::error!("{e}");
                std::process::exit(1);
            }
            server.loading.end();
            // As in Redis, logged once the dataset is in memory (clients that connect
            // earlier get -LOADING).
            tracing::info!("Ready to accept connections");
        })
        .map(|_| ())
        .map_err(StartError::Runtime)
}

/// Save points and scheduled BGSAVEs are checked every 100 ms on a thread of their own:
/// starting a snapshot takes every shard lock, which must not stall the accept loop.
fn start_persistence_cron(server: &Arc<Server>) {
    let weak = Arc::downgrade(server);
    let spawned = std::thread::Builder::new()
        .name("lodestone-persist".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            let Some(server) = weak.upgrade() else { return };
            if server
                .shutting_down
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                return;
            }
            persist::cron_tick(&server);
        });
    if let Err(e) = spawned {
        tracing::warn!("Could not start the persistence cron: {e}");
    }
}

/// Writes the RDB file on the way out when save points are set (or SHUTDOWN SAVE),
/// unless SHUTDOWN NOSAVE.
fn save_on_shutdown(server: &Server) {
    // A background save in progress is abandoned (its temp file removed), as Redis
    // kills its child; what the AOF buffered is written and fsynced.
    server.snapshots.cancel();
    aof::flush_all(server);
    // A half-loaded dataset is never saved over the files it came from.
    if server.loading.active() {
        return;
    }
    let mode = server
        .shutdown_save
        .load(std::sync::atomic::Ordering::Relaxed);
    let wanted = match mode {
        1 => true,
        2 => false,
        _ => persist::has_save_points(server),
    };
    if !wanted {
        return;
    }
    tracing::info!("Saving the final RDB snapshot before exiting.");
    match server.keyspace.lock_all(false) {
        Ok(mut locked) => {
            if let Err(e) = persist::save(server, &mut locked) {
                tracing::warn!("Error trying to save the DB, can't exit: {e}");
            }
        }
        Err(_) => tracing::warn!("Could not lock the keyspace to save before exiting"),
    }
}

/// Spawns one accept loop per listener; returns their handles (to stop them on rebind).
fn start_accepting(
    server: &Server,
    listeners: Vec<std::net::TcpListener>,
    conn_tx: &tokio::sync::mpsc::UnboundedSender<tokio::net::TcpStream>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for std_listener in listeners {
        if let Ok(addr) = std_listener.local_addr() {
            server
                .port
                .store(u64::from(addr.port()), std::sync::atomic::Ordering::Relaxed);
        }
        let listener = match tokio::net::TcpListener::from_std(std_listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("Could not register a listening socket: {e}");
                continue;
            }
        };
        let tx = conn_tx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        if tx.send(stream).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("Accepting client connection: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    tasks
}

/// Binds a listening socket for every address of `bind` (redis.conf syntax: `*` and
/// `::*` for any address, a leading `-` for an address that may be missing). Port 0
/// means no TCP listener, as in Redis. Used at startup and by CONFIG SET port/bind.
pub fn bind_listeners(bind: &str, port: u16) -> Result<Vec<std::net::TcpListener>, String> {
    let mut listeners = Vec::new();
    if port == 0 {
        return Ok(listeners);
    }
    for addr in bind.split_whitespace() {
        let optional = addr.starts_with('-');
        let host = match addr.trim_start_matches('-') {
            "*" => "0.0.0.0",
            "::*" => "::",
            h => h,
        };
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        match std::net::TcpListener::bind(&target).and_then(|l| l.set_nonblocking(true).map(|_| l))
        {
            Ok(l) => listeners.push(l),
            Err(e) if optional => tracing::warn!("Could not bind {target}: {e}"),
            Err(e) => {
                return Err(format!(
                    "Could not create server TCP listening socket {target}: {e}"
                ))
            }
        }
    }
    if listeners.is_empty() {
        return Err("no address to listen on".into());
    }
    Ok(listeners)
}

/// Rebinds the listeners for CONFIG SET port/bind: binds the new sockets first, so a
/// failure leaves the old ones serving.
pub fn rebind(server: &Server, bind: &str, port: u16) -> Result<(), String> {
    let listeners = bind_listeners(bind, port)?;
    let sender = server.rebind.lock().clone();
    match sender {
        Some(tx) => tx
            .send(listeners)
            .map_err(|_| "the server is shutting down".to_string()),
        None => Err("the server is not listening yet".into()),
    }
}

/// Starts the worker threads; returns the channels that hand them connections (tokio's
/// channels may be sent to from any thread).
fn start_workers(
    server: &Arc<Server>,
) -> Result<Vec<tokio::sync::mpsc::UnboundedSender<std::net::TcpStream>>, StartError> {
    let mut senders = Vec::new();
    for index in 0..server.threads {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<std::net::TcpStream>();
        let server = server.clone();
        // A one-core multi-thread runtime rather than a current-thread one: a script that
        // turns busy can hand the core (and every other connection of this worker) to a
        // fresh thread with `block_in_place`, so those clients get -BUSY instead of
        // waiting for the script.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("lodestone-worker-{index}"))
            .on_thread_start(move || scripting::set_worker_index(index))
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        std::thread::Builder::new()
            .name(format!("lodestone-driver-{index}"))
            .spawn(move || {
                let stats = server.register_thread_stats();
                runtime.block_on(async move {
                    // Accept on the runtime's own worker thread, not this driver.
                    let _ = tokio::spawn(worker_loop(server, stats, rx)).await;
                });
            })
            .map_err(StartError::Runtime)?;
        senders.push(tx);
    }
    Ok(senders)
}

async fn worker_loop(
    server: Arc<Server>,
    stats: Arc<server::ThreadStats>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<std::net::TcpStream>,
) {
    while let Some(std_stream) = rx.recv().await {
        let Ok(stream) = tokio::net::TcpStream::from_std(std_stream) else {
            continue;
        };
        tokio::spawn(conn::serve(server.clone(), stats.clone(), stream));
    }
}
