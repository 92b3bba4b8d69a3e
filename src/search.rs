//! `logflow search`: reads the store directly (read-only, beside a running
//! processor) so the pipeline is usable before the API exists.

use chrono::Utc;
use clap::Args;
use logflow_core::query::parse_interval;
use logflow_core::{Cursor, Level, LogFilter, LogQuery, StoredLog, TimeSpec};
use logflow_store::tantivy_store::{OpenMode, TantivyStore};
use logflow_store::LogStore;
use owo_colors::{OwoColorize, Stream};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Full-text query over the message: words, "phrases", AND/OR/NOT, field:value. Empty matches everything.
    #[arg(default_value = "")]
    query: String,
    /// Only these services (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    service: Vec<String>,
    /// Only these levels (repeat or comma-separate; aliases like warning are accepted).
    #[arg(long, value_delimiter = ',')]
    level: Vec<Level>,
    /// Only this host.
    #[arg(long)]
    host: Option<String>,
    /// Only this correlation id.
    #[arg(long)]
    correlation_id: Option<String>,
    /// From this time: RFC 3339 or relative (15m, 1h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Until this time: RFC 3339 or relative.
    #[arg(long)]
    until: Option<String>,
    /// Most logs to print (1–1000).
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Continue after a previous page (the cursor printed with --json).
    #[arg(long)]
    cursor: Option<String>,
    /// Print NDJSON (one log per line) instead of text.
    #[arg(long)]
    json: bool,
    /// Print only how many logs match.
    #[arg(long, conflicts_with = "histogram")]
    count: bool,
    /// Print the count per time bucket of this size (e.g. 5m) instead of logs.
    #[arg(long)]
    histogram: Option<String>,
    /// The data directory the processor writes.
    #[arg(long, env = "LOGFLOW_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    let now = Utc::now();
    let time = |param: &'static str, value: &Option<String>| -> anyhow::Result<_> {
        Ok(match value {
            Some(v) => Some(TimeSpec::parse(param, v)?.resolve(now)),
            None => None,
        })
    };
    let filter = LogFilter {
        text: Some(args.query.trim().to_string()).filter(|q| !q.is_empty()),
        services: args.service,
        levels: args.level,
        host: args.host,
        correlation_id: args.correlation_id,
        from: time("--since", &args.since)?,
        to: time("--until", &args.until)?,
    };
    let cursor = args.cursor.as_deref().map(Cursor::decode).transpose()?;
    let query = LogQuery::new(filter, args.limit, cursor)?;
    let store = TantivyStore::open(&args.data_dir.join("indexes"), OpenMode::ReadOnly)?;
    let mut out = std::io::stdout().lock();

    if args.count {
        writeln!(out, "{}", store.count(&query.filter).await?)?;
        return Ok(());
    }
    if let Some(interval) = args.histogram {
        let interval = parse_interval(&interval)?;
        for bucket in store.histogram(&query.filter, interval).await? {
            writeln!(out, "{}  {}", bucket.start.to_rfc3339(), bucket.count)?;
        }
        return Ok(());
    }
    let page = store.search(&query).await?;
    for log in &page.hits {
        if args.json {
            serde_json::to_writer(&mut out, log)?;
            writeln!(out)?;
        } else {
            print_text(&mut out, log)?;
        }
    }
    if let Some(next) = page.next_cursor {
        if args.json {
            writeln!(out, "{}", serde_json::json!({ "next_cursor": next }))?;
        } else {
            writeln!(out, "-- more: --cursor {next}")?;
        }
    }
    Ok(())
}

fn print_text(out: &mut impl Write, log: &StoredLog) -> std::io::Result<()> {
    let r = &log.record;
    let level = format!("{:<8}", r.level.as_str());
    let colored = match r.level {
        Level::Critical | Level::Error => level
            .if_supports_color(Stream::Stdout, |t| t.red())
            .to_string(),
        Level::Warn => level
            .if_supports_color(Stream::Stdout, |t| t.yellow())
            .to_string(),
        Level::Info => level
            .if_supports_color(Stream::Stdout, |t| t.green())
            .to_string(),
        Level::Debug | Level::Trace => level
            .if_supports_color(Stream::Stdout, |t| t.dimmed())
            .to_string(),
    };
    writeln!(
        out,
        "{} {} {} {}",
        r.timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        colored,
        r.service.if_supports_color(Stream::Stdout, |t| t.cyan()),
        r.message
    )
}
