//! The alert evaluation engine and notifiers: built in the alerting issue.
