//! One index per UTC day: naming, time bounds, and the catalog of open
//! day indexes shared by writes, searches and retention.

use super::schema::LogSchema;
use super::{index_error, io_error};
use crate::StoreError;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, ReloadPolicy};

const PREFIX: &str = "logs-";
const DATE_FORMAT: &str = "%Y-%m-%d";

/// The directory name of a day's index: `logs-2026-11-22`.
pub(crate) fn index_name(day: NaiveDate) -> String {
    format!("{PREFIX}{}", day.format(DATE_FORMAT))
}

/// The day a directory name stands for, if it is one of ours.
fn parse_index_name(name: &str) -> Option<NaiveDate> {
    let date = name.strip_prefix(PREFIX)?;
    NaiveDate::parse_from_str(date, DATE_FORMAT).ok()
}

/// The first instant of `day`.
pub(crate) fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// The first instant after `day`; `None` only at the end of chrono's range.
pub(crate) fn day_end(day: NaiveDate) -> Option<DateTime<Utc>> {
    day.succ_opt().map(day_start)
}

/// Whether any instant of `day` lies in `[from, to)`, so a search can skip
/// whole indexes outside the requested range.
pub(crate) fn day_overlaps(
    day: NaiveDate,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> bool {
    let starts_before_to = to.is_none_or(|to| day_start(day) < to);
    let ends_after_from = match (from, day_end(day)) {
        (Some(from), Some(end)) => end > from,
        _ => true,
    };
    starts_before_to && ends_after_from
}

/// An open day index and its reader.
pub(crate) struct DayIndex {
    pub day: NaiveDate,
    pub name: String,
    pub index: Index,
    pub reader: IndexReader,
}

/// The open day indexes, by day. In read-write mode this process creates
/// every new index itself, so the map is authoritative; a read-only
/// process re-lists the directory on each query (one `read_dir`) to notice
/// days the writer created or retention dropped since.
pub(crate) struct Catalog {
    root: PathBuf,
    schema: LogSchema,
    writable: bool,
    days: RwLock<BTreeMap<NaiveDate, Arc<DayIndex>>>,
}

impl Catalog {
    /// Opens every day index under `root`. Read-write creates `root`;
    /// read-only treats a missing `root` as an empty store that the
    /// processor has not created yet.
    pub fn open(root: &Path, schema: LogSchema, writable: bool) -> Result<Self, StoreError> {
        if writable {
            std::fs::create_dir_all(root).map_err(|e| io_error(root, e))?;
        }
        let catalog = Catalog {
            root: root.to_path_buf(),
            schema,
            writable,
            days: RwLock::new(BTreeMap::new()),
        };
        let mut days = BTreeMap::new();
        for (day, path) in catalog.list_on_disk()? {
            if let Some(index) = catalog.open_day(day, &path)? {
                days.insert(day, Arc::new(index));
            }
        }
        *catalog.write_days() = days;
        Ok(catalog)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn schema(&self) -> &LogSchema {
        &self.schema
    }

    /// The day indexes that exist on disk now, with their paths.
    pub fn list_on_disk(&self) -> Result<Vec<(NaiveDate, PathBuf)>, StoreError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.writable => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(io_error(&self.root, e)),
        };
        let mut days = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&self.root, e))?;
            let Some(day) = entry.file_name().to_str().and_then(parse_index_name) else {
                continue;
            };
            if entry.path().is_dir() {
                days.push((day, entry.path()));
            }
        }
        days.sort_unstable_by_key(|(day, _)| *day);
        Ok(days)
    }

    /// Opens (read-write: creates if needed) one day index. Read-only
    /// returns `None` for a directory whose index the writer has not
    /// finished creating yet.
    fn open_day(&self, day: NaiveDate, path: &Path) -> Result<Option<DayIndex>, StoreError> {
        let name = index_name(day);
        let err = |e: tantivy::TantivyError| index_error(&name, e);
        let index = if self.writable {
            std::fs::create_dir_all(path).map_err(|e| io_error(path, e))?;
            let dir = MmapDirectory::open(path).map_err(|e| index_error(&name, e))?;
            Index::builder()
                .schema(self.schema.schema.clone())
                .open_or_create(dir)
                .map_err(err)?
        } else {
            if !path.join("meta.json").exists() {
                return Ok(None);
            }
            let index = Index::open_in_dir(path).map_err(err)?;
            if index.schema() != self.schema.schema {
                return Err(StoreError::Index {
                    index: name,
                    reason: "it was written with a different schema".into(),
                });
            }
            index
        };
        // The writer reloads its own reader after each commit; a read-only
        // process watches meta.json so new commits show up within a second.
        let policy = if self.writable {
            ReloadPolicy::Manual
        } else {
            ReloadPolicy::OnCommitWithDelay
        };
        let reader = index
            .reader_builder()
            .reload_policy(policy)
            .try_into()
            .map_err(err)?;
        Ok(Some(DayIndex {
            day,
            name,
            index,
            reader,
        }))
    }

    /// Open day indexes, newest first, after noticing (read-only) days
    /// created or dropped by another process.
    pub fn newest_first(&self) -> Result<Vec<Arc<DayIndex>>, StoreError> {
        if !self.writable {
            self.refresh()?;
        }
        Ok(self.read_days().values().rev().cloned().collect())
    }

    fn refresh(&self) -> Result<(), StoreError> {
        let on_disk = self.list_on_disk()?;
        let cached: Vec<NaiveDate> = self.read_days().keys().copied().collect();
        let unchanged =
            on_disk.len() == cached.len() && on_disk.iter().zip(&cached).all(|((a, _), b)| a == b);
        if unchanged {
            return Ok(());
        }
        let mut fresh = BTreeMap::new();
        for (day, path) in on_disk {
            if let Some(open) = self.read_days().get(&day) {
                fresh.insert(day, open.clone());
                continue;
            }
            match self.open_day(day, &path) {
                Ok(Some(index)) => {
                    fresh.insert(day, Arc::new(index));
                }
                Ok(None) => {}
                // A half-created or half-dropped index must not make every
                // search fail; it is retried on the next query.
                Err(e) => tracing::warn!(%e, "skipping unreadable day index"),
            }
        }
        *self.write_days() = fresh;
        Ok(())
    }

    /// The index for `day`, creating it on first use (read-write only).
    pub fn get_or_create(&self, day: NaiveDate) -> Result<Arc<DayIndex>, StoreError> {
        if let Some(index) = self.read_days().get(&day) {
            return Ok(index.clone());
        }
        let path = self.root.join(index_name(day));
        let index = self
            .open_day(day, &path)?
            .ok_or_else(|| StoreError::Index {
                index: index_name(day),
                reason: "index could not be created".into(),
            })?;
        let index = Arc::new(index);
        self.write_days().insert(day, index.clone());
        Ok(index)
    }

    /// Stops serving `day` (before its directory is deleted). Searches
    /// already holding it finish on their open files.
    pub fn forget(&self, day: NaiveDate) {
        self.write_days().remove(&day);
    }

    fn read_days(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<NaiveDate, Arc<DayIndex>>> {
        // A panic elsewhere cannot leave the map half-updated (every update
        // is a single insert/remove/assign), so a poisoned lock is usable.
        self.days.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_days(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<NaiveDate, Arc<DayIndex>>> {
        self.days.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, DATE_FORMAT).expect("test date")
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("test time")
    }

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        let d = day("2026-11-22");
        assert_eq!(index_name(d), "logs-2026-11-22");
        assert_eq!(parse_index_name("logs-2026-11-22"), Some(d));
        assert_eq!(parse_index_name("logs-2026-13-01"), None);
        assert_eq!(parse_index_name("other"), None);
    }

    #[test]
    fn overlap_uses_inclusive_from_and_exclusive_to() {
        let d = day("2026-11-22");
        assert!(day_overlaps(d, None, None));
        assert!(!day_overlaps(d, None, Some(at("2026-11-22T00:00:00Z"))));
        assert!(day_overlaps(
            d,
            None,
            Some(at("2026-11-22T00:00:00.000001Z"))
        ));
        assert!(!day_overlaps(d, Some(at("2026-11-23T00:00:00Z")), None));
        assert!(day_overlaps(d, Some(at("2026-11-22T23:59:59Z")), None));
    }
}
