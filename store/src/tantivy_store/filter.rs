//! Turning a [`LogFilter`] into one tantivy query, shared by search and
//! every aggregation.

use super::schema::{to_tantivy_date, LogSchema};
use crate::StoreError;
use logflow_core::{Level, LogFilter};
use std::ops::Bound;
use tantivy::query::{
    AllQuery, BooleanQuery, Query, QueryParser, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TokenizerManager;
use tantivy::Term;

/// The filter as a query: every restriction must hold (AND across), while
/// services and levels match any listed value (OR within).
pub(crate) fn filter_query(
    schema: &LogSchema,
    filter: &LogFilter,
) -> Result<Box<dyn Query>, StoreError> {
    filter_query_with_levels(schema, filter, &filter.levels)
}

/// Like [`filter_query`] with `levels` in place of the filter's own, so
/// "top errors" can narrow the levels to ERROR and CRITICAL.
pub(crate) fn filter_query_with_levels(
    schema: &LogSchema,
    filter: &LogFilter,
    levels: &[Level],
) -> Result<Box<dyn Query>, StoreError> {
    let mut must: Vec<Box<dyn Query>> = Vec::new();
    if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
        must.push(parse_text(schema, text)?);
    }
    if !filter.services.is_empty() {
        let terms = filter
            .services
            .iter()
            .map(|s| Term::from_field_text(schema.service, s));
        must.push(Box::new(TermSetQuery::new(terms)));
    }
    if !levels.is_empty() {
        let terms = levels
            .iter()
            .map(|l| Term::from_field_text(schema.level, l.as_str()));
        must.push(Box::new(TermSetQuery::new(terms)));
    }
    if let Some(host) = &filter.host {
        must.push(keyword(schema.host, host));
    }
    if let Some(correlation_id) = &filter.correlation_id {
        must.push(keyword(schema.correlation_id, correlation_id));
    }
    if filter.from.is_some() || filter.to.is_some() {
        let bound = |t: Option<_>, make: fn(Term) -> Bound<Term>| {
            t.map_or(Bound::Unbounded, |t| {
                make(Term::from_field_date(schema.timestamp, to_tantivy_date(t)))
            })
        };
        must.push(Box::new(RangeQuery::new(
            bound(filter.from, Bound::Included),
            bound(filter.to, Bound::Excluded),
        )));
    }
    Ok(and(must))
}

/// All of `clauses`; everything when there are none.
pub(crate) fn and(mut clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match clauses.len() {
        0 => Box::new(AllQuery),
        1 => clauses.remove(0),
        _ => Box::new(BooleanQuery::intersection(clauses)),
    }
}

/// Records at or before `micros` (the cursor's timestamp); the cursor's
/// `seq` tie-break is applied while ranking.
pub(crate) fn at_or_before(schema: &LogSchema, micros: i64) -> Box<dyn Query> {
    let t = tantivy::DateTime::from_timestamp_micros(micros);
    Box::new(RangeQuery::new(
        Bound::Unbounded,
        Bound::Included(Term::from_field_date(schema.timestamp, t)),
    ))
}

fn keyword(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// Parses the user's text with tantivy's query syntax over the message.
/// Words are ANDed, as in a log search box `connection refused` means
/// lines with both words, not either.
fn parse_text(schema: &LogSchema, text: &str) -> Result<Box<dyn Query>, StoreError> {
    let mut parser = QueryParser::new(
        schema.schema.clone(),
        vec![schema.message],
        TokenizerManager::default(),
    );
    parser.set_conjunction_by_default();
    parser
        .parse_query(text)
        .map_err(|e| StoreError::InvalidQuery {
            query: text.to_string(),
            reason: e.to_string(),
        })
}
