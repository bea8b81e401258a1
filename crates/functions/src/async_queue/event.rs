//! An asynchronous invocation as queued, and what happens to it next. Pure: no I/O, so the
//! retry, backoff and lease rules are tested on their own.
//!
//! The queue's key says when an event is next due (`<due ms>/<event id>/<generation>`, so a
//! listing in key order meets the due events first and can stop at the first one that is not);
//! taking, renewing and putting an event back each move it to a new key in one atomic commit
//! that deletes the key it was read at (`Expect::Version`). A node that took an event holds it
//! until its lease runs out: the event's key is then due again, and any node takes it.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// How long a taken event stays with the node that took it without a renewal: a node that
/// dies mid-invocation lets another node (or itself, restarted) take the event this long after
/// its last renewal.
pub const LEASE: Duration = Duration::seconds(10);

/// How often a node running an event renews its lease.
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// The first wait after a throttle (or an error of Rampart's, not the function's); it doubles
/// up to [`MAX_DEFERRAL`]. Like AWS, these waits do not count as retries: only the event's age
/// ends them.
const FIRST_DEFERRAL: Duration = Duration::seconds(1);
const MAX_DEFERRAL: Duration = Duration::minutes(5);

/// An event waiting in (or taken from) the queue; its payload is stored apart, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// The invocation's request id: the `Invoke` request's, seen by the function on every
    /// attempt and in the destination's record.
    pub id: String,
    /// The function's name.
    pub function: String,
    #[serde(with = "time::serde::rfc3339")]
    pub enqueued_at: OffsetDateTime,
    /// How often the function was started for it (a take counts before the function runs, so
    /// an attempt cut short by a node's death still counts).
    pub invokes: u32,
    /// How often it was put back without running (throttled).
    pub deferrals: u32,
    /// Bumped at every move, so no two keys of one event are ever the same.
    pub generation: u64,
    /// The node that runs it now, until when.
    #[serde(default)]
    pub lease: Option<Lease>,
}

/// A node's hold on an event it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The process that holds it (a random id per process).
    pub holder: String,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

impl QueuedEvent {
    /// A new event, due at once.
    pub fn new(id: &str, function: &str, now: OffsetDateTime) -> Self {
        QueuedEvent {
            id: id.to_owned(),
            function: function.to_owned(),
            enqueued_at: now,
            invokes: 0,
            deferrals: 0,
            generation: 0,
            lease: None,
        }
    }

    /// The event taken by `holder` to run now: one more invocation, leased.
    pub fn taken(&self, holder: &str, now: OffsetDateTime) -> (Self, OffsetDateTime) {
        let mut next = self.clone();
        next.invokes += 1;
        next.generation += 1;
        let until = now + LEASE;
        next.lease = Some(Lease {
            holder: holder.to_owned(),
            until,
        });
        (next, until)
    }

    /// The event with its lease extended from `now`.
    pub fn renewed(&self, now: OffsetDateTime) -> (Self, OffsetDateTime) {
        let mut next = self.clone();
        next.generation += 1;
        let until = now + LEASE;
        if let Some(lease) = &mut next.lease {
            lease.until = until;
        }
        (next, until)
    }

    /// The event back in the queue, unleased.
    fn released(&self) -> Self {
        let mut next = self.clone();
        next.generation += 1;
        next.lease = None;
        next
    }
}

/// The key of `event` due at `due`: milliseconds since the epoch, zero-padded so that byte
/// order is time order.
pub fn queue_key(due: OffsetDateTime, event: &QueuedEvent) -> String {
    let ms = (due.unix_timestamp_nanos() / 1_000_000).max(0);
    format!("{ms:020}/{}/{:020}", event.id, event.generation)
}

/// When the event at `key` is due (None for a key this version did not write).
pub fn due_of(key: &str) -> Option<OffsetDateTime> {
    let ms: i128 = key.split('/').next()?.parse().ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()
}

/// Why an event ended without a successful invocation, as the destination's record says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The function failed on every attempt it was allowed.
    RetriesExhausted,
    /// The event waited longer than `MaximumEventAgeInSeconds`.
    EventAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// What to do with an event that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Take it and run it.
    Run,
    /// It ends here, unrun.
    Fail(Condition),
}

/// Whether a due event runs: not once it is older than `max_age`, nor once every attempt it
/// is allowed has been started (the last one's node died before it could report: retrying it
/// for ever would let one event take nodes down one after the other).
pub fn start(event: &QueuedEvent, now: OffsetDateTime, max_age: Duration, retries: u32) -> Start {
    if now - event.enqueued_at > max_age {
        Start::Fail(Condition::EventAgeExceeded)
    } else if event.invokes > retries {
        Start::Fail(Condition::RetriesExhausted)
    } else {
        Start::Run
    }
}

/// How one attempt went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The function answered.
    Succeeded,
    /// The function failed (`Unhandled`: an exception, a timeout, a crash).
    FunctionError,
    /// It did not run: throttled, or Rampart could not start it for now.
    Deferred,
}

/// What happens to an event after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// It succeeded: it leaves the queue (and its record goes to the success destination).
    Done,
    /// It goes back to the queue, due at the given time.
    Again(QueuedEvent, OffsetDateTime),
    /// It failed for good.
    Fail(Condition),
}

/// The next step for `event` (as taken: its `invokes` counts this attempt) after `outcome`:
/// a function error is retried while `retries` allow, after `base` then twice `base` (AWS: one
/// minute, then two); a throttle goes back after a growing wait and does not count.
pub fn after(
    event: &QueuedEvent,
    outcome: Outcome,
    now: OffsetDateTime,
    retries: u32,
    base: Duration,
) -> Next {
    match outcome {
        Outcome::Succeeded => Next::Done,
        Outcome::FunctionError if event.invokes > retries => {
            Next::Fail(Condition::RetriesExhausted)
        }
        Outcome::FunctionError => {
            Next::Again(event.released(), now + retry_backoff(base, event.invokes))
        }
        Outcome::Deferred => {
            let mut next = event.released();
            next.invokes = next.invokes.saturating_sub(1);
            next.deferrals += 1;
            let wait = deferral_backoff(next.deferrals);
            Next::Again(next, now + wait)
        }
    }
}

/// The wait before the retry that follows the `invokes`-th attempt: `base`, `2 × base`, …
pub fn retry_backoff(base: Duration, invokes: u32) -> Duration {
    base * 2i32.pow(invokes.clamp(1, 8) - 1)
}

/// The wait after the `n`-th throttle in a row: 1 s, 2 s, 4 s, … at most five minutes.
pub fn deferral_backoff(n: u32) -> Duration {
    (FIRST_DEFERRAL * 2i32.pow(n.clamp(1, 10) - 1)).min(MAX_DEFERRAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000 + seconds).unwrap()
    }

    const BASE: Duration = Duration::minutes(1);
    const AGE: Duration = Duration::hours(6);

    #[test]
    fn keys_sort_by_due_time_and_say_it() {
        let e = QueuedEvent::new("id-1", "f", at(0));
        let early = queue_key(at(5), &e);
        let late = queue_key(at(60), &e);
        assert!(early < late);
        assert!(
            queue_key(at(100_000), &e) > late,
            "padding keeps byte order"
        );
        assert_eq!(due_of(&early), Some(at(5)));
        assert_eq!(due_of("garbage/x/y"), None);
        let (moved, _) = e.taken("node", at(0));
        assert_ne!(
            queue_key(at(5), &moved),
            early,
            "each move gets a key of its own"
        );
    }

    #[test]
    fn a_function_error_is_retried_twice_after_one_then_two_minutes() {
        let e = QueuedEvent::new("id", "f", at(0));
        let (first, until) = e.taken("a", at(0));
        assert_eq!((first.invokes, until), (1, at(0) + LEASE));
        let Next::Again(waiting, due) = after(&first, Outcome::FunctionError, at(1), 2, BASE)
        else {
            panic!("the first failure is retried")
        };
        assert_eq!(due, at(61));
        assert_eq!(waiting.lease, None);
        assert_eq!(start(&waiting, due, AGE, 2), Start::Run);
        let (second, _) = waiting.taken("b", due);
        let Next::Again(waiting, due) = after(&second, Outcome::FunctionError, at(62), 2, BASE)
        else {
            panic!("the second failure is retried")
        };
        assert_eq!(due, at(62 + 120));
        let (third, _) = waiting.taken("a", due);
        assert_eq!(third.invokes, 3);
        assert_eq!(
            after(&third, Outcome::FunctionError, at(200), 2, BASE),
            Next::Fail(Condition::RetriesExhausted)
        );
    }

    #[test]
    fn no_retries_means_one_attempt() {
        let (once, _) = QueuedEvent::new("id", "f", at(0)).taken("a", at(0));
        assert_eq!(
            after(&once, Outcome::FunctionError, at(1), 0, BASE),
            Next::Fail(Condition::RetriesExhausted)
        );
        assert_eq!(after(&once, Outcome::Succeeded, at(1), 0, BASE), Next::Done);
    }

    #[test]
    fn throttles_wait_longer_each_time_and_do_not_count() {
        let (taken, _) = QueuedEvent::new("id", "f", at(0)).taken("a", at(0));
        let Next::Again(back, due) = after(&taken, Outcome::Deferred, at(0), 0, BASE) else {
            panic!("a throttled event goes back")
        };
        assert_eq!((back.invokes, back.deferrals, due), (0, 1, at(1)));
        assert_eq!(
            start(&back, due, AGE, 0),
            Start::Run,
            "the attempt was not spent"
        );
        assert_eq!(deferral_backoff(2), Duration::seconds(2));
        assert_eq!(deferral_backoff(50), MAX_DEFERRAL);
    }

    #[test]
    fn an_attempt_cut_short_counts() {
        // Taken, then the node died: the lease ran out and the event is due again.
        let (taken, until) = QueuedEvent::new("id", "f", at(0)).taken("dead", at(0));
        assert_eq!(start(&taken, until, AGE, 2), Start::Run);
        let (again, _) = taken.taken("alive", until);
        assert_eq!(again.invokes, 2, "the lost attempt is counted");
        // With no retries allowed, the lost attempt was the only one.
        assert_eq!(
            start(&taken, until, AGE, 0),
            Start::Fail(Condition::RetriesExhausted)
        );
    }

    #[test]
    fn old_events_are_not_run() {
        let e = QueuedEvent::new("id", "f", at(0));
        let age = Duration::seconds(60);
        assert_eq!(start(&e, at(60), age, 2), Start::Run);
        assert_eq!(
            start(&e, at(61), age, 2),
            Start::Fail(Condition::EventAgeExceeded)
        );
    }

    #[test]
    fn renewals_move_the_lease_not_the_count() {
        let (taken, _) = QueuedEvent::new("id", "f", at(0)).taken("a", at(0));
        let (renewed, until) = taken.renewed(at(3));
        assert_eq!(until, at(3) + LEASE);
        assert_eq!(renewed.invokes, 1);
        assert_eq!(renewed.lease.as_ref().map(|l| l.until), Some(until));
        assert_eq!(renewed.generation, taken.generation + 1);
    }

    #[test]
    fn retry_waits_double() {
        assert_eq!(retry_backoff(BASE, 1), BASE);
        assert_eq!(retry_backoff(BASE, 2), BASE * 2);
        let short = Duration::milliseconds(200);
        assert_eq!(retry_backoff(short, 2), Duration::milliseconds(400));
    }
}
