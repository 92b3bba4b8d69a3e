//! Following files: finding them by glob, reading what is appended, and
//! surviving rotation.
//!
//! Polling, not inotify: it works on every filesystem (NFS, overlay,
//! bind mounts) and a poll every 200 ms costs nothing next to shipping.
//!
//! Files are followed by identity (device, inode), not by path. Each scan
//! of the patterns maps identities to paths:
//! - a new identity gets its own tailer (rotation by rename: the path now
//!   names a new file, read from 0 once the old one is finished);
//! - an identity no longer matched is *retired*: its tailer reads the open
//!   handle to the end, then stops (a rotated file that still matches, such
//!   as `app.log.1` for `app.log*`, simply keeps being followed);
//! - a file shorter than what was read was truncated: read again from 0.

use std::collections::HashMap;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::checkpoint::{Checkpoint, FileKey};
use crate::config::Settings;
use crate::error::Failures;
use crate::lines::LineSplitter;
use crate::records::{Assembler, IDLE_FLUSH};
use crate::send::{Halt, SendContext, SourceSender};
use crate::ShipperError;

/// The service name for a file: the name before `.log`, so a file and its
/// rotated copies share it (`payment-service.log.1` → `payment-service`);
/// otherwise the name without its extension (`worker.out` → `worker`).
pub fn service_for_path(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let service = match name.find(".log") {
        Some(end) => &name[..end],
        None => name.rsplit_once('.').map_or(&*name, |(stem, _)| stem),
    };
    if service.is_empty() {
        name.into_owned()
    } else {
        service.to_owned()
    }
}

/// A running (or finished) tailer.
struct Tailer {
    path: PathBuf,
    retire: CancellationToken,
    handle: JoinHandle<()>,
}

/// Watches `patterns` until `stop`, tailing every matching file.
/// `saved` are the checkpoints of the previous run.
pub(crate) async fn watch(
    ctx: Arc<SendContext>,
    patterns: Vec<String>,
    mut saved: HashMap<FileKey, Checkpoint>,
    settings: Settings,
    failures: Arc<Failures>,
    stop: CancellationToken,
) {
    let mut tailers: HashMap<FileKey, Tailer> = HashMap::new();
    let mut first_scan = true;
    loop {
        let scan_patterns = patterns.clone();
        let live = match tokio::task::spawn_blocking(move || scan(&scan_patterns, first_scan)).await
        {
            Ok(live) => live,
            Err(error) => {
                tracing::error!(%error, "file scan failed");
                HashMap::new()
            }
        };

        // Follow known files wherever they are now; retire the vanished.
        for (key, tailer) in &mut tailers {
            match live.get(key) {
                Some(path) => tailer.path.clone_from(path),
                None => tailer.retire.cancel(),
            }
        }
        tailers.retain(|key, tailer| live.contains_key(key) || !tailer.handle.is_finished());

        for (key, path) in live {
            if tailers.contains_key(&key) {
                continue;
            }
            // The path still names a file being finished (rotation by
            // rename): start its successor once that is done, so the old
            // file's last lines go first.
            if tailers.values().any(|t| t.path == path) {
                continue;
            }
            let offset = match saved.remove(&key) {
                Some(checkpoint) => checkpoint.offset,
                None if first_scan && !settings.from_beginning => end_of_last_line(&path)
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(path = %path.display(), %error, "cannot find the end of the file; shipping it whole");
                        0
                    }),
                None => 0,
            };
            let tailer = start_tailer(&ctx, key, path, offset, &settings, &failures, &stop);
            tailers.insert(key, tailer);
        }
        if first_scan {
            // Checkpoints of files gone while we were away are dropped with
            // the next write.
            saved.clear();
            first_scan = false;
        }

        tokio::select! {
            _ = tokio::time::sleep(settings.poll_interval) => {}
            _ = stop.cancelled() => break,
        }
    }
    for tailer in tailers.into_values() {
        if let Err(error) = tailer.handle.await {
            failures.record(error.into());
        }
    }
}

/// Registers the file with the acknowledgement task at once (so a
/// checkpoint write cannot forget it) and spawns its tailer.
fn start_tailer(
    ctx: &Arc<SendContext>,
    key: FileKey,
    path: PathBuf,
    offset: u64,
    settings: &Settings,
    failures: &Arc<Failures>,
    stop: &CancellationToken,
) -> Tailer {
    let name = path.display().to_string();
    let service = settings
        .service
        .clone()
        .unwrap_or_else(|| service_for_path(&path));
    let span = tracing::info_span!("tail", path = %name, %service);
    let stop = stop.child_token();
    let sender = SourceSender::open(
        Arc::clone(ctx),
        Some(key),
        name.clone(),
        service,
        offset,
        stop.clone(),
    );
    let retire = CancellationToken::new();
    let task = {
        let file = TailedFile {
            path: path.clone(),
            key,
            offset,
        };
        let settings = settings.clone();
        let retire = retire.clone();
        let failures = Arc::clone(failures);
        async move {
            match tail(file, sender, &settings, &retire, &stop).await {
                Ok(()) | Err(Halt::Stopped) => {}
                Err(Halt::Failed(error)) => {
                    tracing::error!(%error, "stopped following this file");
                    failures.record(error);
                }
            }
        }
    };
    Tailer {
        path,
        retire,
        handle: tokio::spawn(task.instrument(span)),
    }
}

/// Which file to tail and where to start.
struct TailedFile {
    path: PathBuf,
    key: FileKey,
    offset: u64,
}

/// Reads one file from `offset` until `stop`, or until `retire` and its
/// end.
async fn tail(
    file: TailedFile,
    mut sender: SourceSender,
    settings: &Settings,
    retire: &CancellationToken,
    stop: &CancellationToken,
) -> Result<(), Halt> {
    let TailedFile { path, key, offset } = file;
    let read_error = |source: io::Error| ShipperError::Read {
        source_name: path.display().to_string(),
        source,
    };
    let opened = match std::fs::File::open(&path) {
        Ok(opened) => opened,
        // Gone between the scan and now; the next scan sees what replaced it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            sender.retire();
            return Ok(());
        }
        Err(e) => return Err(read_error(e).into()),
    };
    let metadata = opened.metadata().map_err(read_error)?;
    if FileKey::of(&metadata) != key {
        sender.retire();
        return Ok(());
    }
    let mut offset = offset;
    if metadata.len() < offset {
        tracing::warn!(
            offset,
            length = metadata.len(),
            "file is shorter than its checkpoint: it was truncated; reading it from the start"
        );
        sender.truncated()?;
        offset = 0;
    }
    let mut handle = tokio::fs::File::from_std(opened);
    handle
        .seek(SeekFrom::Start(offset))
        .await
        .map_err(read_error)?;
    tracing::info!(offset, "following file");

    let mut lines = LineSplitter::new(settings.max_line_bytes, offset);
    let mut records = Assembler::new(settings.multiline, settings.max_line_bytes, offset);
    let mut last_data = Instant::now();
    loop {
        let read = tokio::select! {
            read = handle.read(lines.spare_mut()) => read.map_err(read_error)?,
            _ = stop.cancelled() => return Err(Halt::Stopped),
        };
        if read > 0 {
            lines.filled(read);
            sender.ship_lines(&mut lines, &mut records).await?;
            last_data = Instant::now();
            continue;
        }

        // At the end of what is written so far.
        if records.is_holding() && last_data.elapsed() >= IDLE_FLUSH {
            sender.ship_held(&mut records).await?;
        }
        sender.flush()?;
        if retire.is_cancelled() {
            sender.ship_held(&mut records).await?;
            sender.retire();
            tracing::info!(
                offset = lines.read_offset(),
                "file rotated away or removed and read to its end"
            );
            return Ok(());
        }
        let length = handle.metadata().await.map_err(read_error)?.len();
        if length < lines.read_offset() {
            tracing::warn!(
                read = lines.read_offset(),
                length,
                "file was truncated; reading it again from the start"
            );
            sender.ship_held(&mut records).await?;
            sender.truncated()?;
            handle.seek(SeekFrom::Start(0)).await.map_err(read_error)?;
            lines.reset(0);
            records.reset(0);
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.poll_interval) => {}
            _ = retire.cancelled() => {}
            _ = stop.cancelled() => return Err(Halt::Stopped),
        }
    }
}

/// Every file matching `patterns`, by identity (the first path wins when
/// two paths name one file). Blocking.
fn scan(patterns: &[String], report_errors: bool) -> HashMap<FileKey, PathBuf> {
    let mut live = HashMap::new();
    for pattern in patterns {
        // Patterns were validated at start-up.
        let Ok(paths) = glob::glob(pattern) else {
            continue;
        };
        for entry in paths {
            let path = match entry {
                Ok(path) => path,
                Err(error) => {
                    if report_errors {
                        tracing::warn!(%pattern, %error, "cannot look into a path matching the pattern");
                    }
                    continue;
                }
            };
            match std::fs::metadata(&path) {
                Ok(metadata) if metadata.is_file() => {
                    live.entry(FileKey::of(&metadata)).or_insert(path);
                }
                Ok(_) => {}
                Err(error) => {
                    if report_errors && error.kind() != io::ErrorKind::NotFound {
                        tracing::warn!(path = %path.display(), %error, "cannot stat a file matching the pattern");
                    }
                }
            }
        }
    }
    live
}

/// Where the last complete line of `path` ends: starting there ships what
/// is written from now on, including the rest of a line being written.
async fn end_of_last_line(path: &Path) -> io::Result<u64> {
    const STEP: u64 = 64 * 1024;
    let mut file = tokio::fs::File::open(path).await?;
    let mut end = file.metadata().await?.len();
    let mut block = vec![0; STEP as usize];
    while end > 0 {
        let start = end.saturating_sub(STEP);
        let len = (end - start) as usize;
        file.seek(SeekFrom::Start(start)).await?;
        file.read_exact(&mut block[..len]).await?;
        if let Some(i) = memchr::memrchr(b'\n', &block[..len]) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}
