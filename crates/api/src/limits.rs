//! Rate limits on joining and token minting, on the `governor` crate.
//!
//! A join code is six digits: it must not be guessable, and guessing must
//! not cost a class its join. So:
//!
//! - Failed join attempts are counted per client at three widths: an IPv4
//!   address or an IPv6 /64, and, for IPv6, the /56 and /48 around it (a
//!   client rotating through its own prefix does not reset its budget).
//!   Successful joins do not count, so a whole classroom behind one
//!   institutional NAT address joins freely. A client that has used its
//!   failures is refused *before* the code is looked up, so a 429 says
//!   nothing about the code.
//! - Failed joins across all clients have a ceiling per minute
//!   ([`GlobalFailures`]), counted in Redis so every replica agrees: past
//!   it, typed codes are refused everywhere until the minute is over.
//! - A join that comes with the key of the session's join link (`#k=` of
//!   `join_url`, [`crate::auth::JoinLinks`]) cannot be a guess: it passes
//!   the address and global limits. A learner typing wrong codes behind a
//!   school's one address does not lock out the class that follows the
//!   link.
//! - Per code: refused joins (full, locked, not started, ended) have their
//!   own budget, and successful ones are capped per minute at the
//!   session's seat limit and [`ADMISSIONS_SLACK`] more (learners who leave
//!   and others who take their seats), so a class arriving at once is
//!   never refused for its number, and a code cannot mint participants
//!   without end.
//! - Tokens minted per second, process-wide.
//! - Failed console sign-ins per client address ([`FailureBudget`], its
//!   own budget).
//!
//! Every refusal is counted in `join_refused_total{limit}`; a client or the
//! whole service crossing into a block is logged once (see
//! docs/OBSERVABILITY.md). Apart from the global ceiling, limits are per
//! process (see docs/SECURITY.md for the odds this leaves).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Admissions per code per minute beyond the session's seats.
pub const ADMISSIONS_SLACK: u32 = 10;

/// How many times a /64's failure budget its /56 has, and its /48.
const PREFIX_56_FACTOR: u32 = 4;
const PREFIX_48_FACTOR: u32 = 16;

/// The key a client is limited by: its IPv4 address, or its IPv6 /64 (one
/// household or site gets a whole /64, so rotating inside it must not
/// reset the budget).
pub fn client_key(ip: IpAddr) -> IpAddr {
    prefix(ip, 64)
}

/// `ip` with all but its first `bits` zeroed for IPv6 (IPv4 and
/// IPv4-mapped addresses are kept whole).
fn prefix(ip: IpAddr, bits: u32) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
    }
}

/// Failed attempts per key: once a key has used its budget it is refused
/// *before* anything is looked up, until the budget refills.
pub struct FailureBudget<K: Hash + Eq + Clone = IpAddr> {
    failures: DefaultKeyedRateLimiter<K>,
    blocked: Mutex<HashMap<K, Instant>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for FailureBudget<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureBudget").finish_non_exhaustive()
    }
}

/// Whether a failure crossed into a block, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    /// Within the budget.
    Within,
    /// This failure used it up: blocked for this long.
    Blocked(Duration),
}

impl<K: Hash + Eq + Clone> FailureBudget<K> {
    /// `per_minute` failures per key per minute.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            failures: RateLimiter::keyed(Quota::per_minute(nonzero(per_minute))),
            blocked: Mutex::default(),
            clock: DefaultClock::default(),
        }
    }

    /// Refuses a key that has used up its failed attempts.
    pub fn check(&self, key: &K) -> Result<(), Error> {
        let mut blocked = self.blocked.lock().expect("limits");
        if let Some(until) = blocked.get(key).copied() {
            let now = Instant::now();
            if until > now {
                return Err(Error::RateLimited(until - now));
            }
            blocked.remove(key);
        }
        Ok(())
    }

    /// Counts a failed attempt of `key`; the one that exceeds the budget
    /// is itself refused with 429.
    pub fn record(&self, key: K) -> Result<(), Error> {
        match self.count(key) {
            Counted::Within => Ok(()),
            Counted::Blocked(wait) => Err(Error::RateLimited(wait)),
        }
    }

    fn count(&self, key: K) -> Counted {
        if self.failures.len() > PRUNE_ABOVE {
            self.failures.retain_recent();
        }
        match self.failures.check_key(&key) {
            Ok(()) => Counted::Within,
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let mut blocked = self.blocked.lock().expect("limits");
                if blocked.len() > PRUNE_ABOVE {
                    let now = Instant::now();
                    blocked.retain(|_, until| *until > now);
                }
                blocked.insert(key, Instant::now() + wait);
                Counted::Blocked(wait)
            }
        }
    }
}

/// Failed joins of all clients together, per minute, counted in Redis so
/// that every replica sees the same total. Each replica remembers locally
/// that the ceiling was passed (learned from its own next failure), so a
/// join costs no Redis round trip; only failures do.
pub struct GlobalFailures {
    ceiling: u32,
    key_prefix: String,
    blocked_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for GlobalFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalFailures")
            .field("ceiling", &self.ceiling)
            .finish_non_exhaustive()
    }
}

impl GlobalFailures {
    fn new(ceiling: u32, namespace: &str) -> Self {
        Self {
            ceiling,
            key_prefix: format!("{namespace}:join-failures:"),
            blocked_until: Mutex::default(),
        }
    }

    fn check(&self) -> Result<(), Error> {
        let blocked = *self.blocked_until.lock().expect("limits");
        match blocked {
            Some(until) if until > Instant::now() => {
                Err(Error::RateLimited(until - Instant::now()))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure; `Blocked` once the minute's total is past the
    /// ceiling. Redis unreachable: the other limits still hold, and the
    /// failure is not counted here (logged).
    async fn record(&self, redis: &mut redis::aio::ConnectionManager) -> Counted {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let minute = since_epoch.as_secs() / 60;
        let key = format!("{}{minute}", self.key_prefix);
        let counted: Result<(u64,), redis::RedisError> = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, 120)
            .ignore()
            .query_async(redis)
            .await;
        let total = match counted {
            Ok((total,)) => total,
            Err(error) => {
                tracing::warn!(%error, "could not count a failed join in Redis");
                return Counted::Within;
            }
        };
        if total <= u64::from(self.ceiling) {
            return Counted::Within;
        }
        let rest = Duration::from_secs(60 - since_epoch.as_secs() % 60);
        *self.blocked_until.lock().expect("limits") = Some(Instant::now() + rest);
        if total == u64::from(self.ceiling) + 1 {
            // Once per minute across all replicas: the one that crossed it.
            tracing::warn!(
                event = "join_guessing",
                limit = "global",
                ceiling = self.ceiling,
                "failed joins across all clients passed the ceiling: typed codes are refused until the minute is over"
            );
        }
        Counted::Blocked(rest)
    }
}

/// Successful joins per code, in fixed one-minute windows, capped by the
/// session's own seat limit (and [`ADMISSIONS_SLACK`]).
#[derive(Debug, Default)]
struct Admissions {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Admissions {
    /// `Err` says when the code's minute ends.
    fn admit(&self, code: &str, cap: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("limits");
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (start, _)| now.duration_since(*start) < MINUTE);
        }
        let window = windows.entry(code.to_owned()).or_insert((now, 0));
        if now.duration_since(window.0) >= MINUTE {
            *window = (now, 0);
        }
        if window.1 >= cap {
            return Err(MINUTE - now.duration_since(window.0));
        }
        window.1 += 1;
        Ok(())
    }
}

const MINUTE: Duration = Duration::from_secs(60);

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

/// The limiters.
pub struct JoinLimits {
    /// Per IPv4 address or IPv6 /64, /56 and /48, from the narrowest.
    tiers: [(u32, &'static str, FailureBudget); 3],
    global: GlobalFailures,
    in_flight: Mutex<HashMap<IpAddr, u32>>,
    code_failures: FailureBudget<String>,
    admissions: Admissions,
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

fn refused(limit: &'static str, error: Error) -> Error {
    metrics::counter!("join_refused_total", "limit" => limit).increment(1);
    error
}

impl JoinLimits {
    /// Limiters with the configured quotas; the global count lives under
    /// `namespace` in Redis.
    pub fn new(limits: Limits, namespace: &str) -> Self {
        let per_address = limits.join_failures_per_ip_per_min;
        Self {
            tiers: [
                (64, "address", FailureBudget::per_minute(per_address)),
                (
                    56,
                    "prefix_56",
                    FailureBudget::per_minute(per_address.saturating_mul(PREFIX_56_FACTOR)),
                ),
                (
                    48,
                    "prefix_48",
                    FailureBudget::per_minute(per_address.saturating_mul(PREFIX_48_FACTOR)),
                ),
            ],
            global: GlobalFailures::new(limits.join_failures_global_per_min, namespace),
            in_flight: Mutex::default(),
            code_failures: FailureBudget::per_minute(limits.joins_per_code_per_min),
            admissions: Admissions::default(),
            mints: RateLimiter::direct(Quota::per_second(nonzero(limits.token_mints_per_s))),
            clock: DefaultClock::default(),
        }
    }

    /// The keys `ip` is limited by, one per tier (IPv4: the same address
    /// three times, so only the narrowest budget ever binds).
    fn keys(&self, ip: IpAddr) -> impl Iterator<Item = (&'static str, &FailureBudget, IpAddr)> {
        let ipv4 = matches!(client_key(ip), IpAddr::V4(_));
        self.tiers
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i == 0 || !ipv4)
            .map(move |(_, (bits, label, budget))| (*label, budget, prefix(ip, *bits)))
    }

    /// Admits one more typed-code join attempt from `ip` unless it (or its
    /// prefix) has used up its failed attempts, the service has passed its
    /// global ceiling, or it has too many in flight; the slot is released
    /// when the returned guard is dropped.
    pub fn enter(&self, ip: IpAddr) -> Result<InFlight<'_>, Error> {
        for (label, budget, key) in self.keys(ip) {
            budget.check(&key).map_err(|e| refused(label, e))?;
        }
        self.global.check().map_err(|e| refused("global", e))?;
        let key = client_key(ip);
        let mut in_flight = self.in_flight.lock().expect("limits");
        let n = in_flight.entry(key).or_insert(0);
        if *n >= MAX_IN_FLIGHT_PER_CLIENT {
            return Err(refused(
                "in_flight",
                Error::RateLimited(Duration::from_secs(1)),
            ));
        }
        *n += 1;
        Ok(InFlight { limits: self, key })
    }

    /// Counts a failed typed-code join from `ip`, at every width and in the
    /// global count; the attempt that exceeds a budget is itself refused
    /// with 429.
    pub async fn record_failure(
        &self,
        ip: IpAddr,
        redis: &mut redis::aio::ConnectionManager,
    ) -> Result<(), Error> {
        metrics::counter!("join_failures_total").increment(1);
        let mut result = Ok(());
        for (label, budget, key) in self.keys(ip) {
            if let Counted::Blocked(wait) = budget.count(key) {
                // Once per block: until it ends, the client is refused
                // before its attempts are looked up, so none is counted.
                tracing::warn!(
                    event = "join_guessing",
                    limit = label,
                    client = %key,
                    "a client used up its failed joins"
                );
                result = Err(refused(label, Error::RateLimited(wait)));
                break;
            }
        }
        if let Counted::Blocked(wait) = self.global.record(redis).await
            && result.is_ok()
        {
            result = Err(refused("global", Error::RateLimited(wait)));
        }
        result
    }

    /// Refuses a code whose refused joins (full, locked, not started,
    /// ended) have used its budget.
    pub fn check_code(&self, code: &str) -> Result<(), Error> {
        self.code_failures
            .check(&code.to_owned())
            .map_err(|e| refused("code", e))
    }

    /// Counts a refused join on a valid code.
    pub fn record_code_failure(&self, code: &str) {
        // The refusal the caller answers with says more than a 429 would.
        let _ = self.code_failures.record(code.to_owned());
    }

    /// Counts a join about to be admitted on `code`, at most `seats` and
    /// [`ADMISSIONS_SLACK`] per minute.
    pub fn admit(&self, code: &str, seats: i32) -> Result<(), estrade_app::Error> {
        let cap = u32::try_from(seats)
            .unwrap_or(0)
            .saturating_add(ADMISSIONS_SLACK);
        self.admissions.admit(code, cap).map_err(|retry_after| {
            metrics::counter!("join_refused_total", "limit" => "admissions").increment(1);
            estrade_app::Error::TooManyJoins { retry_after }
        })
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

/// Typed questions a participant may ask per minute (a burst of as many,
/// then one every 60 / this seconds): enough for any learner, too few to
/// flood a teacher's line.
pub const QUESTIONS_PER_MINUTE: u32 = 5;

/// Questions asked per participant ([`QUESTIONS_PER_MINUTE`]), per process.
pub struct QuestionLimits {
    asked: DefaultKeyedRateLimiter<uuid::Uuid>,
    clock: DefaultClock,
}

impl std::fmt::Debug for QuestionLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuestionLimits").finish_non_exhaustive()
    }
}

impl Default for QuestionLimits {
    fn default() -> Self {
        Self {
            asked: RateLimiter::keyed(Quota::per_minute(nonzero(QUESTIONS_PER_MINUTE))),
            clock: DefaultClock::default(),
        }
    }
}

impl QuestionLimits {
    /// Counts a question of `participant`; 429 `too_many_questions` past
    /// the limit, with when to try again.
    pub fn check(&self, participant: uuid::Uuid) -> Result<(), Error> {
        if self.asked.len() > PRUNE_ABOVE {
            self.asked.retain_recent();
        }
        self.asked.check_key(&participant).map_err(|not_until| {
            metrics::counter!("questions_refused_total").increment(1);
            Error::TooMany {
                code: "too_many_questions",
                message: format!(
                    "At most {QUESTIONS_PER_MINUTE} questions a minute; wait a moment before asking another."
                ),
                retry_after: not_until.wait_time_from(self.clock.now()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_asks_five_questions_a_minute_and_others_are_not_held_back() {
        let limits = QuestionLimits::default();
        let (ana, bea) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        for _ in 0..QUESTIONS_PER_MINUTE {
            limits.check(ana).unwrap();
        }
        match limits.check(ana) {
            Err(Error::TooMany {
                code, retry_after, ..
            }) => {
                assert_eq!(code, "too_many_questions");
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(12));
            }
            other => panic!("expected too_many_questions, got {other:?}"),
        }
        limits.check(bea).unwrap();
    }

    fn limits(failures: u32) -> JoinLimits {
        JoinLimits::new(
            Limits {
                join_failures_per_ip_per_min: failures,
                join_failures_global_per_min: 1_000,
                joins_per_code_per_min: 2,
                token_mints_per_s: 3,
                sign_in_failures_per_ip_per_min: 3,
            },
            "test",
        )
    }

    /// Counts a failure in the local budgets only (the global count needs
    /// Redis: see tests/tests/join.rs).
    fn fail(l: &JoinLimits, ip: IpAddr) -> Result<(), Error> {
        for (_, budget, key) in l.keys(ip) {
            budget.record(key)?;
        }
        Ok(())
    }

    #[test]
    fn an_ip_is_refused_before_lookup_once_its_failures_are_used() {
        let l = limits(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            drop(l.enter(ip).unwrap());
            fail(&l, ip).unwrap();
        }
        let refused = fail(&l, ip).unwrap_err();
        assert!(matches!(refused, Error::RateLimited(wait) if wait > Duration::ZERO));
        assert!(matches!(l.enter(ip), Err(Error::RateLimited(_))));
        l.enter(other).expect("another address is unaffected");
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
        fail(&l, a).unwrap();
        fail(&l, b).unwrap();
        assert!(fail(&l, a).is_err(), "the same /64 shares one budget");
        assert!(matches!(l.enter(b), Err(Error::RateLimited(_))));
        l.enter("2001:db8:1:3::a".parse().unwrap())
            .expect("another /64 is unaffected");
        assert_eq!(
            client_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn rotating_through_the_64s_of_one_56_or_48_runs_into_their_wider_budgets() {
        let l = limits(2);
        // Two failures from each of 4 /64s use up the /56 (4 × 2).
        for subnet in 0..4 {
            let ip: IpAddr = format!("2001:db8:1:{subnet:x}::1").parse().unwrap();
            fail(&l, ip).unwrap();
            fail(&l, ip).unwrap();
        }
        let fresh_64_same_56: IpAddr = "2001:db8:1:ff::1".parse().unwrap();
        assert!(fail(&l, fresh_64_same_56).is_err(), "the /56 is used up");
        assert!(matches!(
            l.enter(fresh_64_same_56),
            Err(Error::RateLimited(_))
        ));
        // Other /56s of the same /48 share its budget of 16 × 2.
        let mut refused = 0;
        for n in 1..=16u32 {
            let ip: IpAddr = format!("2001:db8:1:{:x}::1", n << 8).parse().unwrap();
            for _ in 0..2 {
                if fail(&l, ip).is_err() {
                    refused += 1;
                }
            }
        }
        assert!(refused > 0, "the /48's budget binds");
        let fresh_56_same_48: IpAddr = "2001:db8:1:ff00::1".parse().unwrap();
        assert!(matches!(
            l.enter(fresh_56_same_48),
            Err(Error::RateLimited(_))
        ));
        l.enter("2001:db8:2::1".parse().unwrap())
            .expect("another /48 is unaffected");
    }

    #[test]
    fn a_code_has_budgets_for_refusals_and_for_admissions_and_minting_its_own() {
        let l = limits(3);
        l.record_code_failure("123456");
        l.record_code_failure("123456");
        l.check_code("123456").expect("within its refusals");
        l.record_code_failure("123456");
        assert!(l.check_code("123456").is_err());
        l.check_code("654321").unwrap();
        // Admissions: as many per minute as the session has seats, and
        // some more.
        for _ in 0..30 + ADMISSIONS_SLACK {
            l.admit("111111", 30)
                .expect("a class of 30 arrives at once");
        }
        assert!(
            l.admit("111111", 30).is_err(),
            "not one more within the minute"
        );
        l.admit("222222", 30).unwrap();
        l.check_mint(2).unwrap();
        assert!(l.check_mint(2).is_err());
        assert!(
            l.check_mint(10).is_err(),
            "more than the burst is refused too"
        );
    }
}
