//! Secret rotation: the configuration `RotateSecret` records on a secret, AWS's four-step
//! protocol run against the secret's rotation function, and the schedule that starts it.
//!
//! - [`schedule`]: `RotationRules` — `AutomaticallyAfterDays`, `rate()`/`cron()` expressions
//!   and the rotation window (`Duration`) — parsed and checked as AWS checks them, and the next
//!   window computed from them. Pure.
//! - [`invoker`]: [`RotationInvoker`], how a rotation function is invoked. The functions
//!   service (Lambda) implements it once it exists; until then the server wires
//!   [`invoker::NoFunctions`], which answers that no function exists.
//! - `runner`: one rotation — `createSecret`, `setSecret`, `testSecret`, `finishSecret` — in a
//!   background task, its progress and failures recorded on the secret.
//! - `scheduler`: starts the rotations whose window has opened and resumes failed or stalled
//!   ones, on a tick, with an injectable [`Clock`].
//!
//! State lives on the secret record ([`RotationState`], one optimistic commit with the
//! versions): a rotation in progress is the version carrying `AWSPENDING` (and not
//! `AWSCURRENT`), exactly the test AWS applies, plus the [`RotationRun`] that drives it.

pub mod invoker;
pub(crate) mod runner;
pub mod schedule;
pub(crate) mod scheduler;

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use invoker::{InvokeError, InvokeOutcome, NoFunctions, RotationInvoker};
pub use schedule::{RotationRules, Schedule};
pub use scheduler::spawn_scheduler;

/// What a secret records about its rotation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationState {
    /// Automatic rotation is on (`RotateSecret` turned it on, `CancelRotateSecret` off).
    pub enabled: bool,
    #[serde(default)]
    pub lambda_arn: Option<String>,
    #[serde(default)]
    pub rules: Option<RotationRules>,
    /// When the last rotation finished.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_rotated_at: Option<OffsetDateTime>,
    /// When the next rotation window opens: the scheduler starts the rotation then.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub window_opens_at: Option<OffsetDateTime>,
    /// When it closes: `NextRotationDate`, the date the rotation happens on or before.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_rotation_at: Option<OffsetDateTime>,
    /// The rotation in progress (or failed and waiting to be reattempted).
    #[serde(default)]
    pub run: Option<RotationRun>,
    /// The token of the last rotation that finished, so a retried `RotateSecret` is answered
    /// rather than rotating again.
    #[serde(default)]
    pub last_token: Option<String>,
}

/// Why a run invokes the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunPurpose {
    /// A rotation: all four steps, and the pending version becomes current.
    Rotate,
    /// `RotateImmediately: false`: AWS checks the configuration by running `testSecret`
    /// against a pending version that is removed afterwards.
    TestConfiguration,
}

/// One rotation step, named as the event's `Step` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    CreateSecret,
    SetSecret,
    TestSecret,
    FinishSecret,
}

impl Step {
    /// The event's `Step` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }
}

/// A rotation in progress: the version it creates (the `ClientRequestToken`), the function it
/// invokes, how far it got and why it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRun {
    pub token: String,
    pub function_arn: String,
    pub purpose: RunPurpose,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The step being run, and since when (a run whose step outlives any function timeout
    /// was lost with its node, and is reattempted).
    #[serde(default)]
    pub step: Option<Step>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub step_started_at: Option<OffsetDateTime>,
    /// How many times it has been started (the first time included).
    pub attempts: u32,
    #[serde(default)]
    pub failure: Option<RunFailure>,
}

/// Why a run stopped short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFailure {
    pub step: Step,
    /// The function's error type, or the invocation's failure; never a secret value.
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Where rotation reads the time: the system clock, or a test's.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The system's UTC clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to, for tests of schedules.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(at: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub fn advance(&self, by: time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
