//! Rate limits on joining and token minting, on the `governor` crate.
//!
//! - Failed join attempts per client IP: a 6-digit code must not be
//!   guessable. Successful joins do not count, so a whole classroom behind
//!   one institutional NAT address can join. Once an IP has used its
//!   failures it is refused *before* the code is looked up, so a 429 reveals
//!   nothing about the code.
//! - Join attempts per code: one session cannot be flooded.
//! - Tokens minted per second, process-wide.
//!
//! Limits are per process: behind N replicas the effective limit is N
//! times higher, which still keeps guessing infeasible (see CONFIGURATION.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use estrade_core::config::Limits;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::Error;

/// Above this many tracked keys, forgotten ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// The limiters.
pub struct JoinLimits {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    per_code: DefaultKeyedRateLimiter<String>,
    mints: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl std::fmt::Debug for JoinLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinLimits").finish_non_exhaustive()
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl JoinLimits {
    /// Limiters with the configured quotas.
    pub fn new(limits: Limits) -> Self {
        Self {
            failures: RateLimiter::keyed(Quota::per_minute(nonzero(
                limits.join_failures_per_ip_per_min,
            ))),
            blocked: Mutex::default(),
            per_code: RateLimiter::keyed(Quota::per_minute(nonzero(limits.joins_per_code_per_min))),
            mints: RateLimiter::direct(Quota::per_second(nonzero(limits.token_mints_per_s))),
            clock: DefaultClock::default(),
        }
    }

    /// Refuses an IP that has used up its failed attempts.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Error> {
        let mut blocked = self.blocked.lock().expect("limits");
        if let Some(until) = blocked.get(&ip).copied() {
            let now = Instant::now();
            if until > now {
                return Err(Error::RateLimited(until - now));
            }
            blocked.remove(&ip);
        }
        Ok(())
    }

    /// Counts a failed attempt from `ip`; the one that exceeds the budget
    /// is itself refused with 429.
    pub fn record_failure(&self, ip: IpAddr) -> Result<(), Error> {
        if self.failures.len() > PRUNE_ABOVE {
            self.failures.retain_recent();
        }
        match self.failures.check_key(&ip) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let mut blocked = self.blocked.lock().expect("limits");
                if blocked.len() > PRUNE_ABOVE {
                    let now = Instant::now();
                    blocked.retain(|_, until| *until > now);
                }
                blocked.insert(ip, Instant::now() + wait);
                Err(Error::RateLimited(wait))
            }
        }
    }

    /// Counts an attempt on `code`.
    pub fn check_code(&self, code: &str) -> Result<(), Error> {
        if self.per_code.len() > PRUNE_ABOVE {
            self.per_code.retain_recent();
        }
        self.per_code
            .check_key(&code.to_owned())
            .map_err(|nu| Error::RateLimited(nu.wait_time_from(self.clock.now())))
    }

    /// Counts `n` tokens about to be minted.
    pub fn check_mint(&self, n: u32) -> Result<(), Error> {
        match self.mints.check_n(nonzero(n)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(nu)) => Err(Error::RateLimited(nu.wait_time_from(self.clock.now()))),
            Err(_) => Err(Error::RateLimited(Duration::from_secs(1))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(failures: u32) -> JoinLimits {
        JoinLimits::new(Limits {
            join_failures_per_ip_per_min: failures,
            joins_per_code_per_min: 2,
            token_mints_per_s: 3,
        })
    }

    #[test]
    fn an_ip_is_refused_before_lookup_once_its_failures_are_used() {
        let l = limits(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            l.check_ip(ip).unwrap();
            l.record_failure(ip).unwrap();
        }
        let refused = l.record_failure(ip).unwrap_err();
        assert!(matches!(refused, Error::RateLimited(wait) if wait > Duration::ZERO));
        assert!(matches!(l.check_ip(ip), Err(Error::RateLimited(_))));
        l.check_ip(other).expect("another address is unaffected");
    }

    #[test]
    fn a_code_and_minting_have_their_own_budgets() {
        let l = limits(3);
        l.check_code("123456").unwrap();
        l.check_code("123456").unwrap();
        assert!(l.check_code("123456").is_err());
        l.check_code("654321").unwrap();
        l.check_mint(2).unwrap();
        assert!(l.check_mint(2).is_err());
        assert!(
            l.check_mint(10).is_err(),
            "more than the burst is refused too"
        );
    }
}
