//! Shipping standard input: read to its end, then stop. Nothing is
//! checkpointed, since a pipe cannot be read again.

use std::io;

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::lines::LineSplitter;
use crate::records::{Assembler, IDLE_FLUSH};
use crate::send::{Halt, SourceSender};
use crate::ShipperError;

/// Ships stdin until its end (or `stop`). The last line needs no `\n`:
/// at the end of a pipe it is complete.
pub(crate) async fn ship(
    mut sender: SourceSender,
    settings: Settings,
    stop: CancellationToken,
) -> Result<(), Halt> {
    let read_error = |source: io::Error| ShipperError::Read {
        source_name: "stdin".to_owned(),
        source,
    };
    let mut input = tokio::io::stdin();
    let mut lines = LineSplitter::new(settings.max_line_bytes, 0);
    let mut records = Assembler::new(settings.multiline, settings.max_line_bytes, 0);
    loop {
        // A quiet pipe (`tail -f | logflow shipper --stdin`) still gets its
        // held multi-line record sent after a second.
        let read = tokio::select! {
            read = tokio::time::timeout(IDLE_FLUSH, input.read(lines.spare_mut())) => read,
            _ = stop.cancelled() => return Err(Halt::Stopped),
        };
        match read {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                lines.filled(n);
                sender.ship_lines(&mut lines, &mut records).await?;
                // The next read may wait: hand over what was sent so far.
                sender.flush()?;
            }
            Ok(Err(error)) => return Err(read_error(error).into()),
            Err(_quiet) => {
                sender.ship_held(&mut records).await?;
                sender.flush()?;
            }
        }
    }
    if let Some(line) = lines.take_rest() {
        for record in records.push(line).into_iter().flatten() {
            sender.send(record).await?;
        }
    }
    sender.ship_held(&mut records).await?;
    sender.retire();
    Ok(())
}
