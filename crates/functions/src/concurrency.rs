//! Concurrency, counted on this node: a function with reserved concurrency runs at most that
//! many invocations at once (`ReservedFunctionConcurrentInvocationLimitExceeded` past it; a
//! reservation of 0 throttles every invocation), and the functions without one share what
//! the account limit leaves unreserved (`ConcurrentInvocationLimitExceeded`). With the account
//! limit at most the node's environments (the default), a reservation is always there to be
//! had: unreserved functions never hold more than the limit minus every reservation.
//!
//! The reservations are each function's record; this map is a copy refreshed from the record
//! every invocation reads, from PutFunctionConcurrency/DeleteFunctionConcurrency on this node,
//! and at start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::ThrottleReason;

/// The fewest unreserved executions AWS keeps for an account of `limit` (100 of AWS's 1000):
/// a tenth of a smaller limit, at least one.
pub fn minimum_unreserved(limit: u32) -> u32 {
    (limit / 10).clamp(1, 100).min(limit)
}

#[derive(Default)]
struct Counts {
    /// Reserved concurrency by function.
    reserved: HashMap<String, u32>,
    /// Invocations running by function.
    running: HashMap<String, u32>,
    /// Invocations running of functions without a reservation.
    unreserved_running: u32,
}

/// The node's concurrency accounting.
pub struct Concurrency {
    account_limit: u32,
    counts: Mutex<Counts>,
}

/// One running invocation, counted until dropped.
pub struct Permit {
    owner: Arc<Concurrency>,
    function: String,
    unreserved: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.owner.lock();
        if let Some(n) = counts.running.get_mut(&self.function) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.running.remove(&self.function);
            }
        }
        if self.unreserved {
            counts.unreserved_running = counts.unreserved_running.saturating_sub(1);
        }
    }
}

impl Concurrency {
    pub fn new(account_limit: u32) -> Arc<Self> {
        Arc::new(Concurrency {
            account_limit: account_limit.max(1),
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account's limit.
    pub fn account_limit(&self) -> u32 {
        self.account_limit
    }

    /// Records `function`'s reservation as its record now says.
    pub fn set_reserved(&self, function: &str, reserved: Option<u32>) {
        let mut counts = self.lock();
        match reserved {
            Some(r) => counts.reserved.insert(function.to_owned(), r),
            None => counts.reserved.remove(function),
        };
    }

    /// A permit to run one invocation of `function` (whose record reserves `reserved`), or
    /// why not.
    pub fn acquire(
        self: &Arc<Self>,
        function: &str,
        reserved: Option<u32>,
    ) -> Result<Permit, ThrottleReason> {
        let mut counts = self.lock();
        match reserved {
            Some(r) => counts.reserved.insert(function.to_owned(), r),
            None => counts.reserved.remove(function),
        };
        let running = counts.running.get(function).copied().unwrap_or(0);
        let unreserved = match reserved {
            Some(r) if running >= r => {
                return Err(ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded)
            }
            Some(_) => false,
            None => {
                let reserved_total: u32 = counts.reserved.values().sum();
                let pool = self.account_limit.saturating_sub(reserved_total);
                if counts.unreserved_running >= pool {
                    return Err(ThrottleReason::ConcurrentInvocationLimitExceeded);
                }
                counts.unreserved_running += 1;
                true
            }
        };
        *counts.running.entry(function.to_owned()).or_default() += 1;
        Ok(Permit {
            owner: self.clone(),
            function: function.to_owned(),
            unreserved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_bounds_its_function() {
        let c = Concurrency::new(10);
        let first = c.acquire("f", Some(1)).unwrap();
        assert_eq!(
            c.acquire("f", Some(1)).err(),
            Some(ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded)
        );
        drop(first);
        assert!(c.acquire("f", Some(1)).is_ok());
        assert_eq!(
            c.acquire("zero", Some(0)).err(),
            Some(ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded)
        );
    }

    #[test]
    fn unreserved_functions_share_what_is_left() {
        let c = Concurrency::new(4);
        c.set_reserved("r", Some(2));
        let a = c.acquire("a", None).unwrap();
        let b = c.acquire("b", None).unwrap();
        assert_eq!(
            c.acquire("a", None).err(),
            Some(ThrottleReason::ConcurrentInvocationLimitExceeded)
        );
        // The reserved function still has its two.
        let r1 = c.acquire("r", Some(2)).unwrap();
        let r2 = c.acquire("r", Some(2)).unwrap();
        drop((a, r1, r2));
        assert!(c.acquire("a", None).is_ok());
        // A reservation removed gives its share back.
        c.set_reserved("r", None);
        let _c = c.acquire("c", None).unwrap();
        let _d = c.acquire("d", None).unwrap();
        drop(b);
    }

    #[test]
    fn minimum_unreserved_follows_aws_at_its_limit() {
        assert_eq!(minimum_unreserved(1000), 100);
        assert_eq!(minimum_unreserved(5000), 100);
        assert_eq!(minimum_unreserved(64), 6);
        assert_eq!(minimum_unreserved(5), 1);
        assert_eq!(minimum_unreserved(1), 1);
    }
}
