//! Rate limits on joining and token minting, on the `governor` crate.
//!
//! - Failed join attempts per client IP: a 6-digit code must not be
//!   guessable. Successful joins do not count, so a whole classroom behind
//!   one institutional NAT address can join. Once an IP has used its
//!   failures it is refused *before* the code is looked up, so a 429 reveals
//!   nothing about the code.
//! - Join attempts per code: one session cannot be flooded.
//! - Tokens minted per second, process-wide.
//! - Failed console sign-ins per client IP ([`FailureBudget`], its own
//!   budget): an API key cannot be guessed, but a flood of wrong keys
//!   must not cost a database lookup each.
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

/// Join attempts one client may have in flight at once. Failures are
/// counted after the lookup, so without this cap a burst of parallel
/// guesses would all be looked up before the first failure is recorded;
/// with it, a burst gains at most this many extra guesses per refill.
const MAX_IN_FLIGHT_PER_CLIENT: u32 = 16;

/// The key a client is limited by: its IPv4 address, or its IPv6 /64 (one
/// household or site gets a whole /64, so rotating inside it must not
/// reset the budget).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Holds one of a client's in-flight join slots until dropped.
pub struct InFlight<'a> {
    limits: &'a JoinLimits,
    key: IpAddr,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.limits.in_flight.lock().expect("limits");
        if let Some(n) = in_flight.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                in_flight.remove(&self.key);
            }
        }
    }
}

/// Failed attempts per client (an IPv4 address or an IPv6 /64): once a
/// client has used its budget it is refused *before* anything is looked
/// up, until the budget refills.
pub struct FailureBudget {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for FailureBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureBudget").finish_non_exhaustive()
    }
}

impl FailureBudget {
    /// `per_minute` failures per client per minute.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            failures: RateLimiter::keyed(Quota::per_minute(nonzero(per_minute))),
            blocked: Mutex::default(),
            clock: DefaultClock::default(),
        }
    }

    /// Refuses a client that has used up its failed attempts.
    pub fn check(&self, ip: IpAddr) -> Result<(), Error> {
        let key = client_key(ip);
        let mut blocked = self.blocked.lock().expect("limits");
        if let Some(until) = blocked.get(&key).copied() {
            let now = Instant::now();
            if until > now {
                return Err(Error::RateLimited(until - now));
            }
            blocked.remove(&key);
        }
        Ok(())
    }

    /// Counts a failed attempt from `ip`; the one that exceeds the budget
    /// is itself refused with 429.
    pub fn record(&self, ip: IpAddr) -> Result<(), Error> {
        let ip = client_key(ip);
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
}

/// The limiters.
pub struct JoinLimits {
    failures: FailureBudget,
    in_flight: Mutex<HashMap<IpAddr, u32>>,
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
            failures: FailureBudget::per_minute(limits.join_failures_per_ip_per_min),
            in_flight: Mutex::default(),
            per_code: RateLimiter::keyed(Quota::per_minute(nonzero(limits.joins_per_code_per_min))),
            mints: RateLimiter::direct(Quota::per_second(nonzero(limits.token_mints_per_s))),
            clock: DefaultClock::default(),
        }
    }

    /// Admits one more join attempt from `ip` unless it has used up its
    /// failed attempts or has too many in flight; the slot is released when
    /// the returned guard is dropped.
    pub fn enter(&self, ip: IpAddr) -> Result<InFlight<'_>, Error> {
        let key = client_key(ip);
        self.check_ip(key)?;
        let mut in_flight = self.in_flight.lock().expect("limits");
        let n = in_flight.entry(key).or_insert(0);
        if *n >= MAX_IN_FLIGHT_PER_CLIENT {
            return Err(Error::RateLimited(Duration::from_secs(1)));
        }
        *n += 1;
        Ok(InFlight { limits: self, key })
    }

    /// Refuses an IP that has used up its failed join attempts.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Error> {
        self.failures.check(ip)
    }

    /// Counts a failed join attempt from `ip`; the one that exceeds the
    /// budget is itself refused with 429.
    pub fn record_failure(&self, ip: IpAddr) -> Result<(), Error> {
        self.failures.record(ip)
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
            sign_in_failures_per_ip_per_min: 3,
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
    fn a_client_has_a_bounded_number_of_attempts_in_flight() {
        let l = limits(3);
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let held: Vec<_> = (0..MAX_IN_FLIGHT_PER_CLIENT)
            .map(|_| l.enter(ip).unwrap())
            .collect();
        assert!(matches!(l.enter(ip), Err(Error::RateLimited(_))));
        drop(held);
        l.enter(ip).expect("slots are released");
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64_prefix() {
        let l = limits(2);
        let a: IpAddr = "2001:db8:1:2::a".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::b".parse().unwrap();
        l.record_failure(a).unwrap();
        l.record_failure(b).unwrap();
        assert!(
            l.record_failure(a).is_err(),
            "the same /64 shares one budget"
        );
        assert!(matches!(l.enter(b), Err(Error::RateLimited(_))));
        l.enter("2001:db8:1:3::a".parse().unwrap())
            .expect("another /64 is unaffected");
        assert_eq!(
            client_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
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
