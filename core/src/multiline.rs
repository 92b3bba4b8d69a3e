//! Joins the lines of one logical record — a message followed by its Java
//! stack trace or Python traceback — before parsing, so a stack trace is
//! indexed as one record with its error instead of dozens of INFO lines.
//!
//! A line continues the pending record when it starts with whitespace, with
//! `Caused by:` or `... `, is a Java exception line (`java.lang.FooException:
//! …`, which loggers print at column 0 under the message), a Python
//! `Traceback …` header or chain line, or the exception line that ends a
//! Python traceback. Anything else starts a new record.

/// Python ends a traceback with an unindented `ExceptionType: message` line.
const TRACEBACK_START: &str = "Traceback (most recent call last):";

/// Lines that continue the pending record wherever they appear.
const CONTINUATION_PREFIXES: &[&str] = &[
    "Caused by:",
    "... ",
    TRACEBACK_START,
    "During handling of the above exception",
    "The above exception was the direct cause",
];

/// Groups lines into records, holding at most one record in memory.
///
/// Records are bounded by `max_lines` and `max_bytes`: a continuation that
/// would exceed either starts a new record instead, so a runaway trace costs
/// bounded memory and nothing is dropped. A single line longer than
/// `max_bytes` is passed through whole, never split.
#[derive(Debug)]
pub struct MultilineJoiner {
    max_lines: usize,
    max_bytes: usize,
    pending: String,
    lines: usize,
    /// Inside a Python traceback body, waiting for its closing exception line.
    in_traceback: bool,
}

impl MultilineJoiner {
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        MultilineJoiner {
            max_lines,
            max_bytes,
            pending: String::new(),
            lines: 0,
            in_traceback: false,
        }
    }

    /// Adds one line (without its newline). Returns the previous record when
    /// this line starts a new one.
    pub fn push(&mut self, line: &str) -> Option<String> {
        let fits =
            self.lines < self.max_lines && self.pending.len() + 1 + line.len() <= self.max_bytes;
        if self.lines > 0 && fits && self.continues(line) {
            self.pending.push('\n');
            self.pending.push_str(line);
            self.lines += 1;
            self.track_traceback(line);
            return None;
        }
        let previous = self.flush();
        self.pending.push_str(line);
        self.lines = 1;
        self.track_traceback(line);
        previous
    }

    /// Returns the pending record, if any: call at end of input or when the
    /// source has been idle long enough that no continuation is coming.
    pub fn flush(&mut self) -> Option<String> {
        if self.lines == 0 {
            return None;
        }
        self.lines = 0;
        self.in_traceback = false;
        Some(std::mem::take(&mut self.pending))
    }

    /// True when no record is pending.
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    fn continues(&self, line: &str) -> bool {
        line.is_empty()
            || line.starts_with(char::is_whitespace)
            || CONTINUATION_PREFIXES.iter().any(|p| line.starts_with(p))
            || is_java_exception_line(line)
            || (self.in_traceback && is_exception_line(line))
    }

    fn track_traceback(&mut self, line: &str) {
        if line.starts_with(TRACEBACK_START) {
            self.in_traceback = true;
        } else if !line.is_empty() && !line.starts_with(char::is_whitespace) {
            // The exception line (or anything unindented) ends the body.
            self.in_traceback = false;
        }
    }
}

/// `ValueError: bad input`, `requests.exceptions.ConnectionError: …` or a
/// bare `KeyboardInterrupt`: a dotted identifier, then `: ` or nothing.
fn is_exception_line(line: &str) -> bool {
    let (name, rest) = line.split_once(':').unwrap_or((line, ""));
    let identifier = name.split('.').all(|part| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_alphanumeric() || c == '_')
    });
    identifier && (rest.is_empty() || rest.starts_with(' '))
}

/// `java.lang.IllegalStateException: …`, `org.postgresql.util.PSQLException`:
/// a qualified class name ending in `Exception` or `Error`. Requiring the
/// package keeps ordinary `Word: text` log lines from matching.
fn is_java_exception_line(line: &str) -> bool {
    let name = line.split_once(':').map_or(line, |(name, _)| name);
    name.contains('.')
        && (name.ends_with("Exception") || name.ends_with("Error"))
        && is_exception_line(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn join(lines: &[&str], max_lines: usize, max_bytes: usize) -> Vec<String> {
        let mut joiner = MultilineJoiner::new(max_lines, max_bytes);
        let mut out: Vec<String> = lines.iter().filter_map(|l| joiner.push(l)).collect();
        out.extend(joiner.flush());
        assert!(joiner.is_empty());
        out
    }

    #[test]
    fn java_stack_trace_is_one_record() {
        let lines = [
            "2026-11-22 10:00:00,123 ERROR [main] c.l.Payment - charge failed",
            "java.lang.IllegalStateException: card declined",
            "\tat com.logflow.Payment.charge(Payment.java:42)",
            "\tat com.logflow.Api.handle(Api.java:7)",
            "Caused by: java.net.SocketTimeoutException: Read timed out",
            "\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)",
            "\t... 12 more",
            "2026-11-22 10:00:01,000 INFO [main] c.l.Payment - next",
        ];
        let out = join(&lines, 100, 1 << 20);
        assert_eq!(out, vec![lines[..7].join("\n"), lines[7].to_string()]);
    }

    #[test]
    fn python_traceback_includes_its_exception_line() {
        let lines = [
            "ERROR:root:payment failed",
            "Traceback (most recent call last):",
            "  File \"/app/pay.py\", line 10, in charge",
            "    raise ValueError(\"card declined\")",
            "ValueError: card declined",
            "INFO:root:next request",
        ];
        let out = join(&lines, 100, 1 << 20);
        assert_eq!(out, vec![lines[..5].join("\n"), lines[5].to_string()]);
    }

    #[test]
    fn unindented_lines_after_a_finished_traceback_start_new_records() {
        let lines = [
            "Traceback (most recent call last):",
            "  File \"x.py\"",
            "KeyError: 'a'",
            "Retrying: soon",
        ];
        let out = join(&lines, 100, 1 << 20);
        assert_eq!(out, vec![lines[..3].join("\n"), lines[3].to_string()]);
    }

    #[test]
    fn continuation_with_nothing_pending_is_its_own_record() {
        assert_eq!(
            join(&["\tat x", "\tat y", "next"], 100, 1000),
            vec!["\tat x\n\tat y", "next"]
        );
    }

    #[test]
    fn limits_split_long_records() {
        let out = join(&["a", " 1", " 2", " 3", " 4"], 2, 1000);
        assert_eq!(out, vec!["a\n 1", " 2\n 3", " 4"]);
        let out = join(&["abc", " de", " fg"], 100, 7);
        assert_eq!(out, vec!["abc\n de", " fg"]);
        let out = join(&["a very long first line", " x"], 100, 4);
        assert_eq!(out, vec!["a very long first line", " x"]);
    }

    #[test]
    fn exception_line_shapes() {
        assert!(is_exception_line("ValueError: bad"));
        assert!(is_exception_line(
            "requests.exceptions.ConnectionError: refused"
        ));
        assert!(is_exception_line("KeyboardInterrupt"));
        assert!(!is_exception_line("2026-11-22 10:00:00 INFO x"));
        assert!(!is_exception_line("INFO:root:x"));
        assert!(!is_exception_line("next request"));
        assert!(is_java_exception_line(
            "java.lang.OutOfMemoryError: Java heap space"
        ));
        assert!(!is_java_exception_line("ValueError: bad"));
        assert!(!is_java_exception_line("Retrying: soon"));
    }

    proptest! {
        #[test]
        fn never_loses_or_reorders_a_line(
            lines in prop::collection::vec("(\t| |Caused by: |\\.\\.\\. |Traceback \\(most recent call last\\):|E: )?[a-z :]{0,12}", 0..40),
            max_lines in 0usize..6,
            max_bytes in 0usize..80,
        ) {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let out = join(&refs, max_lines, max_bytes);
            let rejoined: Vec<&str> = out.iter().flat_map(|r| r.split('\n')).collect();
            prop_assert_eq!(rejoined, refs);
            for record in &out {
                prop_assert!(record.split('\n').count() <= max_lines.max(1));
                prop_assert!(record.len() <= max_bytes || !record.contains('\n'));
            }
        }
    }
}
