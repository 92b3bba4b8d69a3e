//! Paged search, newest first, across day indexes; and lookup by id.

use super::days::{day_end, day_overlaps, day_start, Catalog, DayIndex};
use super::filter::{and, at_or_before, filter_query};
use super::index_error;
use super::schema::{LogSchema, SEQ, TIMESTAMP};
use crate::{SearchPage, StoreError};
use logflow_core::query::MAX_LIMIT;
use logflow_core::{Cursor, LogQuery, StoredLog};
use std::cmp::Reverse;
use std::sync::Arc;
use tantivy::collector::sort_key::NaturalComparator;
use tantivy::collector::{
    Collector, DocSetCollector, SegmentSortKeyComputer, SortKeyComputer, TopDocs,
};
use tantivy::columnar::Column;
use tantivy::query::{EnableScoring, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DateTime, DocAddress, DocId, Score, Searcher, SegmentReader, TantivyDocument, Term};

/// A record's place in the total order: (timestamp µs, seq), larger first.
type Key = (i64, u64);

/// One page: the matching records strictly after the cursor, newest first.
///
/// Days are disjoint in time, so walking them newest first and taking what
/// is still missing from each gives exactly the global order; older days
/// are not opened once the page is full. One record more than the limit is
/// ranked (never fetched) so that `next_cursor` is set only when another
/// page really exists.
pub(crate) fn search(catalog: &Catalog, query: &LogQuery) -> Result<SearchPage, StoreError> {
    let schema = catalog.schema();
    let filter = &query.filter;
    let base = filter_query(schema, filter)?;
    let limit = query.limit.clamp(1, MAX_LIMIT);
    let want = limit + 1;
    let before = query.cursor.map(|c| (c.timestamp_micros, c.seq));

    let mut ranked: Vec<(Key, Arc<DayIndex>, Searcher, DocAddress)> = Vec::new();
    for day in catalog.newest_first()? {
        if ranked.len() >= want {
            break;
        }
        if !day_overlaps(day.day, filter.from, filter.to) {
            continue;
        }
        let start = day_start(day.day).timestamp_micros();
        let cursor_in_day = match before {
            Some((micros, _)) if start > micros => continue,
            Some((micros, _)) => day_end(day.day).is_none_or(|end| micros < end.timestamp_micros()),
            None => false,
        };
        let query: Box<dyn Query> = match before {
            Some((micros, _)) if cursor_in_day => {
                and(vec![base.box_clone(), at_or_before(schema, micros)])
            }
            _ => base.box_clone(),
        };
        let searcher = day.reader.searcher();
        for (key, address) in newest_of_day(&day, &searcher, &*query, want - ranked.len(), before)?
        {
            ranked.push((key, day.clone(), searcher.clone(), address));
        }
    }

    let next_cursor = (ranked.len() > limit).then(|| {
        let (timestamp_micros, seq) = ranked[limit - 1].0;
        Cursor {
            timestamp_micros,
            seq,
        }
        .encode()
    });
    ranked.truncate(limit);
    let hits = ranked
        .into_iter()
        .map(|(_, day, searcher, address)| fetch(schema, &day, &searcher, address))
        .collect::<Result<_, _>>()?;
    Ok(SearchPage { hits, next_cursor })
}

/// The `want` newest matches of one day, segment by segment from the one
/// with the newest records: once `want` are found, a segment whose newest
/// record is older than all of them is skipped without being read, so a
/// "latest logs" page costs the recent segments, not the whole day.
fn newest_of_day(
    day: &DayIndex,
    searcher: &Searcher,
    query: &dyn Query,
    want: usize,
    before: Option<Key>,
) -> Result<Vec<(Key, DocAddress)>, StoreError> {
    let err = |e| index_error(&day.name, e);
    let collector = TopDocs::with_limit(want).order_by(NewestFirst { before });
    let weight = query
        .weight(EnableScoring::disabled_from_searcher(searcher))
        .map_err(err)?;
    let mut segments = Vec::with_capacity(searcher.segment_readers().len());
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        // An upper bound of the segment's timestamps, from column metadata.
        let newest = segment
            .fast_fields()
            .date(TIMESTAMP)
            .map_err(err)?
            .max_value();
        segments.push((newest.into_timestamp_micros(), ord as u32, segment));
    }
    segments.sort_unstable_by_key(|(newest, ..)| Reverse(*newest));
    let mut top: Vec<(Key, DocAddress)> = Vec::with_capacity(want);
    for (newest, ord, segment) in segments {
        if top.len() >= want && top.last().is_some_and(|(oldest, _)| newest < oldest.0) {
            break;
        }
        let fruit = collector
            .collect_segment(weight.as_ref(), ord, segment)
            .map_err(err)?;
        let found = collector.merge_fruits(vec![fruit]).map_err(err)?;
        top.extend(
            found
                .into_iter()
                .filter_map(|(key, address)| Some((key?, address))),
        );
        top.sort_unstable_by_key(|(key, _)| Reverse(*key));
        top.truncate(want);
    }
    Ok(top)
}

/// The record with document id `id`, looked up newest day first.
pub(crate) fn get(catalog: &Catalog, id: &str) -> Result<Option<StoredLog>, StoreError> {
    let schema = catalog.schema();
    let query = TermQuery::new(
        Term::from_field_text(schema.id, id),
        IndexRecordOption::Basic,
    );
    for day in catalog.newest_first()? {
        let searcher = day.reader.searcher();
        let found = searcher
            .search(&query, &DocSetCollector)
            .map_err(|e| index_error(&day.name, e))?;
        if let Some(address) = found.into_iter().next() {
            return fetch(schema, &day, &searcher, address).map(Some);
        }
    }
    Ok(None)
}

fn fetch(
    schema: &LogSchema,
    day: &DayIndex,
    searcher: &Searcher,
    address: DocAddress,
) -> Result<StoredLog, StoreError> {
    let doc: TantivyDocument = searcher
        .doc(address)
        .map_err(|e| index_error(&day.name, e))?;
    schema.stored_log(&doc).map_err(|reason| StoreError::Index {
        index: day.name.clone(),
        reason,
    })
}

/// Ranks by (timestamp, seq) from fast fields, without scoring. Records
/// at or after the cursor rank as `None`, below every real key, and are
/// dropped from the page.
struct NewestFirst {
    before: Option<Key>,
}

impl SortKeyComputer for NewestFirst {
    type SortKey = Option<Key>;
    type Child = SegmentNewestFirst;
    type Comparator = NaturalComparator;

    fn segment_sort_key_computer(&self, segment: &SegmentReader) -> tantivy::Result<Self::Child> {
        Ok(SegmentNewestFirst {
            timestamp: segment.fast_fields().date(TIMESTAMP)?,
            seq: segment.fast_fields().u64(SEQ)?,
            before: self.before,
        })
    }
}

struct SegmentNewestFirst {
    timestamp: Column<DateTime>,
    seq: Column<u64>,
    before: Option<Key>,
}

impl SegmentSortKeyComputer for SegmentNewestFirst {
    type SortKey = Option<Key>;
    type SegmentSortKey = Option<Key>;
    type SegmentComparator = NaturalComparator;

    fn segment_sort_key(&mut self, doc: DocId, _score: Score) -> Option<Key> {
        let key = (
            self.timestamp.first(doc)?.into_timestamp_micros(),
            self.seq.first(doc)?,
        );
        match self.before {
            Some(cursor) if key >= cursor => None,
            _ => Some(key),
        }
    }

    fn convert_segment_sort_key(&self, key: Option<Key>) -> Option<Key> {
        key
    }
}
