//! The `lodestone` binary: reads Redis-style arguments (`lodestone [file.conf] [--name
//! value...]`), starts logging in Redis's line format, and runs the server.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Formats log lines as Redis does: `pid:M 21 Nov 2026 20:16:09.123 * message`.
struct RedisLogFormat;

impl<S, N> FormatEvent<S, N> for RedisLogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR | Level::WARN => '#',
            Level::INFO => '*',
            Level::DEBUG => '-',
            Level::TRACE => '.',
        };
        write!(
            writer,
            "{}:M {} {} ",
            std::process::id(),
            timestamp(),
            level
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let millis = now.subsec_millis();
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (year, month, day) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{day:02} {} {year} {:02}:{:02}:{:02}.{millis:03}",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Converts days since 1970-01-01 to a (year, month, day) civil date.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!(
            "Lodestone server v={} (Redis {} compatible)",
            lodestone_server::LODESTONE_VERSION,
            lodestone_server::REDIS_VERSION
        );
        return;
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("Usage: lodestone [/path/to/lodestone.conf] [--port 7000] [--threads N] [--name value ...]");
        println!("Every redis.conf directive is accepted as a file line or as a --flag; flags override the file.");
        return;
    }
    let config = match lodestone_server::Config::from_args(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{}", e.0);
            std::process::exit(1);
        }
    };
    let level = match config.get("loglevel").as_str() {
        "debug" => Level::DEBUG,
        "verbose" => Level::DEBUG,
        "warning" => Level::WARN,
        _ => Level::INFO,
    };
    let logfile = config.get("logfile");
    let builder = tracing_subscriber::fmt()
        .event_format(RedisLogFormat)
        .with_max_level(level);
    if logfile.is_empty() {
        builder.with_writer(std::io::stdout).init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
        {
            Ok(file) => builder.with_writer(std::sync::Mutex::new(file)).init(),
            Err(e) => {
                eprintln!("Can't open the log file: {e}");
                std::process::exit(1);
            }
        }
    }
    tracing::info!("oO0OoO0OoO0Oo Lodestone is starting oO0OoO0OoO0Oo");
    tracing::info!(
        "Lodestone version={}, redis_version={}, bits=64, pid={}, just started",
        lodestone_server::LODESTONE_VERSION,
        lodestone_server::REDIS_VERSION,
        std::process::id()
    );
    match &config.file {
        Some(path) => tracing::info!("Configuration loaded from {}", path.display()),
        None => tracing::info!("No config file specified, using the default config."),
    }
    if let Err(e) = lodestone_server::run(config) {
        tracing::error!("{e}");
        std::process::exit(1);
    }
}
