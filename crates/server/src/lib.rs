//! The server: the only crate with sockets, threads and tasks.
//!
//! Shape: `--threads N` worker threads, each running its own single-threaded event loop;
//! the main thread accepts connections and hands them out round-robin, and runs the cron
//! (active expiry). A connection lives on one worker for its whole life. Commands from
//! any worker meet only at the sharded keyspace locks (see `keyspace`), so they are
//! atomic and run in parallel when their keys are on different shards. Idle workers park
//! in epoll; nothing spins. `docs/ARCHITECTURE.md` has the full map.

pub mod client;
pub mod commands;
pub mod config;
pub mod conn;
pub mod ctx;
pub mod dispatch;
pub mod errors;
pub mod expire;
pub mod keyspace;
pub mod lazyfree;
pub mod server;

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
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Bind(e) => write!(f, "{e}"),
            StartError::Runtime(e) => write!(f, "could not start the runtime: {e}"),
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
    let server = Arc::new(Server::new(config, threads));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    runtime.block_on(serve(server))
}

async fn serve(server: Arc<Server>) -> Result<(), StartError> {
    let port = server.config.get_i64("port") as u16;
    let listeners = bind_all(&server.config.get("bind"), port).await?;
    if let Some(first) = listeners.first() {
        if let Ok(addr) = first.local_addr() {
            server
                .port
                .store(u64::from(addr.port()), std::sync::atomic::Ordering::Relaxed);
        }
    }
    let workers = start_workers(&server)?;
    tracing::info!(
        "Running mode=standalone, port={}, threads={}.",
        server.port.load(std::sync::atomic::Ordering::Relaxed),
        server.threads
    );
    tracing::info!("Server initialized");
    tracing::info!("Ready to accept connections tcp");

    let mut next = 0usize;
    let (conn_tx, mut conn_rx) = tokio::sync::mpsc::unbounded_channel();
    for listener in listeners {
        let tx = conn_tx.clone();
        tokio::spawn(async move {
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
        });
    }
    tokio::spawn(expire::cron(server.clone()));
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(StartError::Runtime)?;
    loop {
        tokio::select! {
            Some(stream) = conn_rx.recv() => {
                let Ok(std_stream) = tokio::net::TcpStream::into_std(stream) else { continue };
                let _ = workers[next % workers.len()].send(std_stream);
                next = next.wrapping_add(1);
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
    tracing::warn!("User requested shutdown...");
    tracing::info!("Lodestone is now ready to exit, bye bye...");
    Ok(())
}

async fn bind_all(bind: &str, port: u16) -> Result<Vec<tokio::net::TcpListener>, StartError> {
    let mut listeners = Vec::new();
    for addr in bind.split_whitespace() {
        let optional = addr.starts_with('-');
        let host = addr.trim_start_matches('-');
        let host = match host {
            "*" => "0.0.0.0",
            "::*" => "::",
            h => h,
        };
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        match tokio::net::TcpListener::bind(&target).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional => tracing::warn!("Could not bind {target}: {e}"),
            Err(e) => {
                return Err(StartError::Bind(format!(
                    "Could not create server TCP listening socket {target}: {e}"
                )))
            }
        }
    }
    if listeners.is_empty() {
        return Err(StartError::Bind("no address to listen on".into()));
    }
    Ok(listeners)
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        std::thread::Builder::new()
            .name(format!("lodestone-worker-{index}"))
            .spawn(move || {
                let stats = server.register_thread_stats();
                runtime.block_on(worker_loop(server, stats, rx));
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
