//! Counts, terms and histograms from fast fields only (no document is
//! fetched), computed per day index and merged. Every count is exact: each
//! segment counts all of its terms, so nothing is lost to per-shard top-k
//! cut-offs.

use super::days::{day_overlaps, Catalog};
use super::filter::filter_query_with_levels;
use super::index_error;
use super::schema::{to_tantivy_date, LEVEL, MESSAGE_RAW, TIMESTAMP};
use crate::{HistogramBucket, StoreError, TermCount};
use chrono::{DateTime as ChronoDateTime, Utc};
use logflow_core::{Level, LogFilter};
use std::collections::HashMap;
use std::time::Duration;
use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{EnableScoring, Query};
use tantivy::{DateTime, DocId, Score, SegmentOrdinal, SegmentReader};

pub(crate) fn count(catalog: &Catalog, filter: &LogFilter) -> Result<u64, StoreError> {
    let mut total = 0u64;
    per_segment(
        catalog,
        filter,
        &filter.levels,
        &Count,
        WholeSegments::FromStatistics,
        |segment, counted| {
            total += match counted {
                Counted::Visited(n) => n as u64,
                Counted::Whole => u64::from(segment.num_docs()),
            };
            Ok(())
        },
    )?;
    Ok(total)
}

/// Record counts per value of a keyword field (`level` or `service`).
pub(crate) fn count_by(
    catalog: &Catalog,
    filter: &LogFilter,
    field: &'static str,
) -> Result<Vec<TermCount>, StoreError> {
    terms(catalog, filter, &filter.levels, field, usize::MAX)
}

/// The `n` most frequent messages (their first 256 bytes) among ERROR and
/// CRITICAL records that also match the filter's own levels, if any.
pub(crate) fn top_errors(
    catalog: &Catalog,
    filter: &LogFilter,
    n: usize,
) -> Result<Vec<TermCount>, StoreError> {
    let levels = crate::top_errors::levels(filter);
    if levels.is_empty() || n == 0 {
        return Ok(Vec::new());
    }
    terms(catalog, filter, &levels, MESSAGE_RAW, n)
}

/// Most frequent first, ties by key so results are stable.
fn terms(
    catalog: &Catalog,
    filter: &LogFilter,
    levels: &[Level],
    field: &'static str,
    n: usize,
) -> Result<Vec<TermCount>, StoreError> {
    let mut totals: HashMap<String, u64> = HashMap::new();
    let collector = TermCounts { field };
    per_segment(
        catalog,
        filter,
        levels,
        &collector,
        WholeSegments::FromStatistics,
        |segment, counted| {
            match counted {
                Counted::Visited(fruit) => {
                    for (key, count) in collector.merge_fruits(vec![fruit])? {
                        *totals.entry(key).or_default() += count;
                    }
                }
                Counted::Whole => add_doc_freqs(segment, field, &mut totals)?,
            }
            Ok(())
        },
    )?;
    let mut out: Vec<TermCount> = totals
        .into_iter()
        .map(|(key, count)| TermCount { key, count })
        .collect();
    out.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out.truncate(n);
    Ok(out)
}

/// What [`per_segment`] did with a segment.
enum Counted<F> {
    /// Matching documents were visited; the collector's segment result.
    Visited(F),
    /// Every document of the segment matches: count it from the segment's
    /// own statistics (document count, term document frequencies), without
    /// visiting a document.
    Whole,
}

/// Whether [`per_segment`] may answer a whole segment from its statistics
/// ([`Counted::Whole`]) or must always visit its documents.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WholeSegments {
    /// For counts: a whole segment is counted from its statistics.
    FromStatistics,
    /// For collectors that need each document (histograms).
    Visit,
}

/// Runs `collector` over each segment of every day index the filter's time
/// range touches, with `levels` in place of the filter's own, handing each
/// segment's outcome to `fold`.
///
/// The time range is where the cost is: tantivy checks it document by
/// document. A segment whose documents all lie inside the range (its
/// timestamp column's bounds say so) is matched without it, and when the
/// filter restricts nothing else the whole segment matches ([`Counted::Whole`]),
/// so an overview of the last day over a million records reads a few
/// dictionaries instead of a million timestamps.
fn per_segment<C: Collector>(
    catalog: &Catalog,
    filter: &LogFilter,
    levels: &[Level],
    collector: &C,
    whole_segments: WholeSegments,
    mut fold: impl FnMut(
        &SegmentReader,
        Counted<<C::Child as SegmentCollector>::Fruit>,
    ) -> tantivy::Result<()>,
) -> Result<(), StoreError> {
    let schema = catalog.schema();
    let bounded = filter_query_with_levels(schema, filter, levels)?;
    let untimed_filter = LogFilter {
        from: None,
        to: None,
        ..filter.clone()
    };
    let untimed = filter_query_with_levels(schema, &untimed_filter, levels)?;
    let count_whole = whole_segments == WholeSegments::FromStatistics
        && levels.is_empty()
        && filter.text.is_none()
        && filter.services.is_empty()
        && filter.host.is_none()
        && filter.correlation_id.is_none();
    for day in catalog.newest_first()? {
        if !day_overlaps(day.day, filter.from, filter.to) {
            continue;
        }
        let fail = |e| index_error(&day.name, e);
        let searcher = day.reader.searcher();
        let scoring = EnableScoring::disabled_from_searcher(&searcher);
        let bounded = bounded.weight(scoring).map_err(fail)?;
        let untimed = untimed.weight(scoring).map_err(fail)?;
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let inside = within(filter, segment).map_err(fail)?;
            let counted = if inside && count_whole && segment.num_deleted_docs() == 0 {
                Counted::Whole
            } else {
                let weight = if inside { &untimed } else { &bounded };
                Counted::Visited(
                    collector
                        .collect_segment(weight.as_ref(), ord as SegmentOrdinal, segment)
                        .map_err(fail)?,
                )
            };
            fold(segment, counted).map_err(fail)?;
        }
    }
    Ok(())
}

/// True when every document of the segment lies inside the filter's time
/// range. The column's min and max bound its values, so the test is safe
/// even where they are not exact.
fn within(filter: &LogFilter, segment: &SegmentReader) -> tantivy::Result<bool> {
    if filter.from.is_none() && filter.to.is_none() {
        return Ok(true);
    }
    let timestamps = segment.fast_fields().date(TIMESTAMP)?;
    let after_from = filter
        .from
        .is_none_or(|from| timestamps.min_value() >= to_tantivy_date(from));
    let before_to = filter
        .to
        .is_none_or(|to| timestamps.max_value() < to_tantivy_date(to));
    Ok(after_from && before_to)
}

/// Adds the segment's document frequency of every term of `field`.
fn add_doc_freqs(
    segment: &SegmentReader,
    field: &str,
    totals: &mut HashMap<String, u64>,
) -> tantivy::Result<()> {
    let field = segment.schema().get_field(field)?;
    let inverted = segment.inverted_index(field)?;
    let mut stream = inverted.terms().stream()?;
    while stream.advance() {
        let key = String::from_utf8_lossy(stream.key());
        let count = u64::from(stream.value().doc_freq);
        match totals.get_mut(key.as_ref()) {
            Some(total) => *total += count,
            None => {
                totals.insert(key.into_owned(), count);
            }
        }
    }
    Ok(())
}

/// Counts per time bucket and level. Buckets are aligned to multiples of
/// `interval` since the Unix epoch, returned oldest first; empty buckets
/// are omitted (callers that chart them fill the gaps with zeros).
pub(crate) fn histogram(
    catalog: &Catalog,
    filter: &LogFilter,
    interval: Duration,
) -> Result<Vec<HistogramBucket>, StoreError> {
    let width = i64::try_from(interval.as_micros())
        .ok()
        .filter(|w| *w > 0)
        .ok_or_else(|| StoreError::InvalidQuery {
            query: format!("histogram interval {interval:?}"),
            reason: "the interval must be between 1µs and ~292,000 years".into(),
        })?;
    let collector = Histogram { width };
    let mut totals: HashMap<i64, LevelCounts> = HashMap::new();
    per_segment(
        catalog,
        filter,
        &filter.levels,
        &collector,
        WholeSegments::Visit,
        |_, counted| {
            let Counted::Visited(fruit) = counted else {
                unreachable!("histograms visit every segment: they need each timestamp");
            };
            for (bucket, counts) in collector.merge_fruits(vec![fruit])? {
                let total = totals.entry(bucket).or_default();
                for (t, c) in total.iter_mut().zip(counts) {
                    *t += c;
                }
            }
            Ok(())
        },
    )?;
    let mut buckets: Vec<HistogramBucket> = totals
        .into_iter()
        .filter_map(|(bucket, counts)| {
            let start = ChronoDateTime::<Utc>::from_timestamp_micros(bucket.checked_mul(width)?)?;
            let by_level: Vec<(Level, u64)> = Level::ALL
                .into_iter()
                .zip(counts)
                .filter(|(_, c)| *c > 0)
                .collect();
            Some(HistogramBucket {
                start,
                count: by_level.iter().map(|(_, c)| c).sum(),
                by_level,
            })
        })
        .collect();
    buckets.sort_unstable_by_key(|b| b.start);
    Ok(buckets)
}

/// Counts indexed like [`Level::ALL`].
type LevelCounts = [u64; Level::ALL.len()];

/// Above this many distinct terms in a segment, counts go into a map
/// sized by the matching documents instead of a vector sized by the
/// dictionary (unique messages can number millions).
const DENSE_MAX_TERMS: usize = 1 << 16;

/// Counts of one keyword fast field's values, by term.
struct TermCounts {
    field: &'static str,
}

enum OrdCounts {
    Dense(Vec<u64>),
    Sparse(HashMap<u64, u64>),
}

struct SegmentTermCounts {
    column: Option<StrColumn>,
    counts: OrdCounts,
}

impl Collector for TermCounts {
    type Fruit = HashMap<String, u64>;
    type Child = SegmentTermCounts;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTermCounts> {
        let column = reader.fast_fields().str(self.field)?;
        let terms = column.as_ref().map_or(0, |c| c.dictionary().num_terms());
        let counts = if terms <= DENSE_MAX_TERMS {
            OrdCounts::Dense(vec![0; terms])
        } else {
            OrdCounts::Sparse(HashMap::new())
        };
        Ok(SegmentTermCounts { column, counts })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        segments: Vec<(Option<StrColumn>, OrdCounts)>,
    ) -> tantivy::Result<Self::Fruit> {
        let mut totals: HashMap<String, u64> = HashMap::new();
        let mut term = String::new();
        for (column, counts) in segments {
            let Some(column) = column else { continue };
            let mut add = |ord: u64, count: u64| -> tantivy::Result<()> {
                if count > 0 && column.ord_to_str(ord, &mut term)? {
                    match totals.get_mut(term.as_str()) {
                        Some(total) => *total += count,
                        None => {
                            totals.insert(term.clone(), count);
                        }
                    }
                }
                Ok(())
            };
            match counts {
                OrdCounts::Dense(counts) => {
                    for (ord, count) in counts.into_iter().enumerate() {
                        add(ord as u64, count)?;
                    }
                }
                OrdCounts::Sparse(counts) => {
                    for (ord, count) in counts {
                        add(ord, count)?;
                    }
                }
            }
        }
        Ok(totals)
    }
}

impl SegmentCollector for SegmentTermCounts {
    type Fruit = (Option<StrColumn>, OrdCounts);

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(column) = &self.column else { return };
        for ord in column.term_ords(doc) {
            match &mut self.counts {
                OrdCounts::Dense(counts) => {
                    if let Some(c) = counts.get_mut(ord as usize) {
                        *c += 1;
                    }
                }
                OrdCounts::Sparse(counts) => *counts.entry(ord).or_default() += 1,
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        (self.column, self.counts)
    }
}

/// Counts per (bucket number, level), where bucket = timestamp ÷ width.
struct Histogram {
    width: i64,
}

struct SegmentHistogram {
    width: i64,
    timestamp: Column<DateTime>,
    level_ords: Column<u64>,
    /// Level of each dictionary ordinal of the segment's level column.
    level_of_ord: Vec<Option<usize>>,
    buckets: HashMap<i64, LevelCounts>,
    /// The bucket being filled: documents of a segment are mostly in time
    /// order, so this saves a map lookup per document.
    current: Option<(i64, LevelCounts)>,
}

impl Collector for Histogram {
    type Fruit = HashMap<i64, LevelCounts>;
    type Child = SegmentHistogram;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentHistogram> {
        let timestamp = reader.fast_fields().date(TIMESTAMP)?;
        let (level_of_ord, level_ords) = match reader.fast_fields().str(LEVEL)? {
            Some(column) => {
                let mut names = Vec::new();
                let mut name = String::new();
                for ord in 0..column.dictionary().num_terms() as u64 {
                    column.ord_to_str(ord, &mut name)?;
                    let level = name.parse::<Level>().ok();
                    names.push(level.and_then(|l| Level::ALL.iter().position(|x| *x == l)));
                }
                (names, column.ords().clone())
            }
            None => (Vec::new(), Column::build_empty_column(reader.max_doc())),
        };
        Ok(SegmentHistogram {
            width: self.width,
            timestamp,
            level_ords,
            level_of_ord,
            buckets: HashMap::new(),
            current: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut totals: HashMap<i64, LevelCounts> = HashMap::new();
        for segment in segments {
            for (bucket, counts) in segment {
                let total = totals.entry(bucket).or_default();
                for (t, c) in total.iter_mut().zip(counts) {
                    *t += c;
                }
            }
        }
        Ok(totals)
    }
}

impl SegmentHistogram {
    fn flush(&mut self) {
        if let Some((bucket, counts)) = self.current.take() {
            let total = self.buckets.entry(bucket).or_default();
            for (t, c) in total.iter_mut().zip(counts) {
                *t += c;
            }
        }
    }
}

impl SegmentCollector for SegmentHistogram {
    type Fruit = HashMap<i64, LevelCounts>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(ts) = self.timestamp.first(doc) else {
            return;
        };
        let Some(level) = self
            .level_ords
            .first(doc)
            .and_then(|ord| self.level_of_ord.get(ord as usize).copied().flatten())
        else {
            return;
        };
        let bucket = ts.into_timestamp_micros().div_euclid(self.width);
        if self.current.as_ref().is_none_or(|(b, _)| *b != bucket) {
            self.flush();
            self.current = Some((bucket, LevelCounts::default()));
        }
        if let Some((_, counts)) = &mut self.current {
            counts[level] += 1;
        }
    }

    fn harvest(mut self) -> Self::Fruit {
        self.flush();
        self.buckets
    }
}
