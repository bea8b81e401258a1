//! Lambda's own lines around each invocation's output, as CloudWatch Logs shows them:
//!
//! ```text
//! START RequestId: 8f507cfc-…-ac58fc914c95 Version: $LATEST
//! END RequestId: 8f507cfc-…-ac58fc914c95
//! REPORT RequestId: 8f507cfc-…-ac58fc914c95\tDuration: 15.74 ms\tBilled Duration: 147 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t
//! ```
//!
//! Fields are tab-separated and the line ends with a tab, as Lambda writes it. `Init Duration`
//! appears on a cold start only. Since August 2025 Lambda bills the initialization of
//! on-demand functions too, so `Billed Duration` is the duration plus the init duration,
//! rounded up to the millisecond (AWS's example above: 15.74 + 130.49 → 147). Pure: no I/O.

use std::time::Duration;

use crate::function_ref::LATEST;

/// `START RequestId: <id> Version: $LATEST`.
pub fn start(request_id: &str) -> String {
    format!("START RequestId: {request_id} Version: {LATEST}")
}

/// `END RequestId: <id>`.
pub fn end(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// What the `REPORT` line of one invocation says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report<'a> {
    pub request_id: &'a str,
    /// From when the runtime took the invocation to its answer.
    pub duration: Duration,
    /// How long the environment took to initialize, on the invocation that started it.
    pub init: Option<Duration>,
    /// The function's `MemorySize`.
    pub memory_size_mb: u32,
    /// The most memory the environment has used so far, in MB.
    pub max_memory_used_mb: u64,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Report<'_> {
    /// Whole milliseconds billed: duration plus init, rounded up.
    pub fn billed_ms(&self) -> u64 {
        let total = self.duration + self.init.unwrap_or_default();
        // Nanoseconds rounded up to a whole millisecond, without floating point.
        let nanos = total.as_nanos();
        u64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }

    /// The line, without its newline.
    pub fn line(&self) -> String {
        let mut line = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            self.request_id,
            millis(self.duration),
            self.billed_ms(),
            self.memory_size_mb,
            self.max_memory_used_mb,
        );
        if let Some(init) = self.init {
            line.push_str(&format!("Init Duration: {:.2} ms\t", millis(init)));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "8f507cfc-0000-4697-b07a-ac58fc914c95";

    #[test]
    fn start_and_end_lines() {
        assert_eq!(start(ID), format!("START RequestId: {ID} Version: $LATEST"));
        assert_eq!(end(ID), format!("END RequestId: {ID}"));
    }

    #[test]
    fn cold_report_names_init_and_bills_it() {
        let report = Report {
            request_id: ID,
            duration: Duration::from_micros(15_740),
            init: Some(Duration::from_micros(130_490)),
            memory_size_mb: 128,
            max_memory_used_mb: 56,
        };
        assert_eq!(
            report.line(),
            format!("REPORT RequestId: {ID}\tDuration: 15.74 ms\tBilled Duration: 147 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t")
        );
    }

    #[test]
    fn warm_report_has_no_init_and_rounds_up() {
        let report = Report {
            request_id: ID,
            duration: Duration::from_micros(2_001),
            init: None,
            memory_size_mb: 256,
            max_memory_used_mb: 39,
        };
        assert_eq!(
            report.line(),
            format!("REPORT RequestId: {ID}\tDuration: 2.00 ms\tBilled Duration: 3 ms\tMemory Size: 256 MB\tMax Memory Used: 39 MB\t")
        );
        // Exactly on a millisecond: nothing to round.
        let exact = Report {
            duration: Duration::from_millis(5),
            ..report
        };
        assert_eq!(exact.billed_ms(), 5);
    }
}
