//! Outbound webhooks (telling the LMS): the events an endpoint may ask
//! for, what makes an endpoint's URL acceptable, which addresses a
//! delivery may never reach (the SSRF guard's rule), the retry schedule,
//! and the secret's Standard Webhooks form. Pure: the sending is
//! `estrade_app::outbound`'s.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use url::Url;

/// What an endpoint is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Event {
    /// A session went live.
    #[serde(rename = "session.started")]
    SessionStarted,
    /// A session ended (by its teacher, an admin, LiveKit or reconciliation).
    #[serde(rename = "session.ended")]
    SessionEnded,
    /// A session's fairness report is final (sent with `session.ended`).
    #[serde(rename = "report.ready")]
    ReportReady,
    /// A participant was removed from a session.
    #[serde(rename = "participant.kicked")]
    ParticipantKicked,
}

impl Event {
    /// Every event, in the order the API lists them.
    pub const ALL: [Event; 4] = [
        Event::SessionStarted,
        Event::SessionEnded,
        Event::ReportReady,
        Event::ParticipantKicked,
    ];

    /// The event's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SessionStarted => "session.started",
            Event::SessionEnded => "session.ended",
            Event::ReportReady => "report.ready",
            Event::ParticipantKicked => "participant.kicked",
        }
    }

    /// The event named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl std::str::FromStr for Event {
    type Err = crate::domain::UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| crate::domain::UnknownValue(s.to_owned()))
    }
}

/// Most characters in an endpoint's URL.
pub const MAX_URL_CHARS: usize = 2048;
/// Most characters in an endpoint's description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// Why an endpoint is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not an http(s) URL of [`ENDPOINT_URL_PATTERN`]'s grammar, or longer
    /// than 2,048 characters.
    #[error(
        "The URL must be an http or https URL with a host name or an IPv4 address, an optional port, path and query, without user name, password or fragment, of at most 2048 characters."
    )]
    Url,
    /// The URL names an address deliveries may never reach.
    #[error(
        "The URL names a loopback, link-local, private or otherwise reserved address; an operator may allow a range with ESTRADE_OUTBOUND_ALLOWED_RANGES."
    )]
    Destination,
    /// No event, more than four, or an unknown one.
    #[error(
        "List 1 to 4 events among session.started, session.ended, report.ready and participant.kicked."
    )]
    Events,
    /// The description is too long or holds control characters.
    #[error("The description is at most 200 characters of plain text on one line.")]
    Description,
}

impl EndpointError {
    /// The API's error code.
    pub fn code(self) -> &'static str {
        match self {
            EndpointError::Url => "invalid_url",
            EndpointError::Destination => "refused_destination",
            EndpointError::Events => "invalid_events",
            EndpointError::Description => "invalid_description",
        }
    }
}

/// An endpoint to register, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    /// Where deliveries go.
    pub url: Url,
    /// What it is told of, in the order of [`Event::ALL`].
    pub events: Vec<Event>,
    /// The admin's note (trimmed; may be empty).
    pub description: String,
}

impl NewEndpoint {
    /// Checks an endpoint as an admin sent it. A URL naming an IP address
    /// is checked against the guard now; a host name is checked each time
    /// a delivery resolves it.
    pub fn parse(
        url: &str,
        events: &[String],
        description: &str,
        allowed: &[IpNet],
    ) -> Result<Self, EndpointError> {
        let url = endpoint_url(url)?;
        if let Some(ip) = literal_ip(&url)
            && refused(ip, allowed)
        {
            return Err(EndpointError::Destination);
        }
        if events.is_empty() || events.len() > Event::ALL.len() {
            return Err(EndpointError::Events);
        }
        let mut chosen = Vec::with_capacity(events.len());
        for name in events {
            let event = Event::parse(name).ok_or(EndpointError::Events)?;
            if !chosen.contains(&event) {
                chosen.push(event);
            }
        }
        chosen.sort_by_key(|e| Event::ALL.iter().position(|a| a == e));
        let description = description.trim();
        if description.chars().count() > MAX_DESCRIPTION_CHARS
            || description.chars().any(char::is_control)
        {
            return Err(EndpointError::Description);
        }
        Ok(Self {
            url,
            events: chosen,
            description: description.to_owned(),
        })
    }
}

/// The grammar of an endpoint's URL, as the OpenAPI document states it
/// (`ENDPOINT_URL_PATTERN`): `http` or `https`, a host that is a host
/// name (ASCII labels, the last one starting with a letter; punycode for
/// others) or an IPv4 address, an optional port, then an optional path
/// and query of URL characters. No user name or password, no fragment,
/// no IPv6 literal (name it instead).
pub const ENDPOINT_URL_PATTERN: &str = concat!(
    r"^[Hh][Tt][Tt][Pp][Ss]?://(((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}",
    r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])|([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*)",
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0))?",
    r"([/?][A-Za-z0-9._~:/?\[\]@!$&'()*+,;=%-]*)?$",
);

/// `raw` as an endpoint's URL: [`ENDPOINT_URL_PATTERN`], at most 2,048
/// characters.
fn endpoint_url(raw: &str) -> Result<Url, EndpointError> {
    if raw.len() > MAX_URL_CHARS || !follows_the_grammar(raw) {
        return Err(EndpointError::Url);
    }
    Url::parse(raw).map_err(|_| EndpointError::Url)
}

/// Whether `raw` follows [`ENDPOINT_URL_PATTERN`].
fn follows_the_grammar(raw: &str) -> bool {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let url_char = |c: char| c.is_ascii_alphanumeric() || "._~:/?[]@!$&'()*+,;=%-".contains(c);
    (ipv4(host) || host_name(host))
        && port.is_none_or(|p| number(p, 65_535))
        && tail.chars().all(url_char)
}

/// A decimal number up to `max` without leading zeros.
fn number(s: &str, max: u32) -> bool {
    !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'))
        && s.parse::<u32>().is_ok_and(|n| n <= max)
}

fn ipv4(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| number(p, 255))
}

fn host_name(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && labels
            .last()
            .is_some_and(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// The address a URL names, when its host is one.
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Whether a delivery may not connect to `ip`: loopback, link-local,
/// private (RFC 1918, unique local), shared (CGNAT), unspecified,
/// multicast, broadcast, documentation and other reserved ranges, an
/// IPv4 address inside IPv6 judged as itself; unless one of `allowed`
/// holds it.
pub fn refused(ip: IpAddr, allowed: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if allowed.iter().any(|net| net.contains(&ip)) {
        return false;
    }
    RESERVED
        .iter()
        .any(|net| net.parse::<IpNet>().expect("a valid range").contains(&ip))
}

/// Ranges no delivery reaches unless allowed (IANA's special-purpose
/// registries, the ones that are not the public Internet).
const RESERVED: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// When the attempt after `attempts` failed ones comes: `base` doubled
/// each time, at most `cap` (5 s, 10 s, 20 s … an hour with the
/// defaults).
pub fn retry_delay(attempts: u32, base: Duration, cap: Duration) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    base.saturating_mul(1 << doublings).min(cap)
}

/// The attempts a delivery gets within `window` if every one fails at
/// once (the schedule of [`retry_delay`]), for the docs and the tests.
pub fn attempts_within(window: Duration, base: Duration, cap: Duration) -> u32 {
    let mut elapsed = Duration::ZERO;
    let mut attempts = 1;
    loop {
        elapsed += retry_delay(attempts, base, cap);
        if elapsed > window {
            return attempts;
        }
        attempts += 1;
    }
}

/// An endpoint's secret as Standard Webhooks writes it: `whsec_` and the
/// key in base64.
pub fn secret_string(key: &[u8]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The `webhook-id` of delivery `id`: the same for every attempt.
pub fn message_id(id: uuid::Uuid) -> String {
    format!("msg_{}", id.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn loopback_private_link_local_and_mapped_addresses_are_refused() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(refused(ip(s), &[]), "{s} is refused");
        }
    }

    #[test]
    fn public_addresses_are_reached() {
        for s in [
            "1.1.1.1",
            "193.51.24.1",
            "172.32.0.1",
            "2a01:e0a::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!refused(ip(s), &[]), "{s} is reached");
        }
    }

    #[test]
    fn an_allowed_range_opens_only_itself() {
        let allowed = ["10.20.0.0/16".parse().expect("range")];
        assert!(!refused(ip("10.20.3.4"), &allowed));
        assert!(refused(ip("10.21.3.4"), &allowed));
        assert!(refused(ip("127.0.0.1"), &allowed));
    }

    #[test]
    fn an_endpoint_is_checked_field_by_field() {
        let events = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = NewEndpoint::parse(
            "https://lms.example.org/hooks/estrade",
            &events(&["session.ended", "session.started"]),
            "  Moodle  ",
            &[],
        )
        .expect("accepted");
        assert_eq!(ok.events, [Event::SessionStarted, Event::SessionEnded]);
        assert_eq!(ok.description, "Moodle");
        let parse = |url: &str, names: &[&str], description: &str| {
            NewEndpoint::parse(url, &events(names), description, &[]).map(|_| ())
        };
        let one = &["session.started"];
        assert_eq!(
            parse("ftp://lms.example.org/", one, ""),
            Err(EndpointError::Url)
        );
        assert_eq!(
            parse("lms.example.org/hooks", one, ""),
            Err(EndpointError::Url)
        );
        assert_eq!(
            parse("https://u:p@lms.example.org/", one, ""),
            Err(EndpointError::Url)
        );
        assert_eq!(
            parse("https://lms.example.org/#x", one, ""),
            Err(EndpointError::Url)
        );
        assert_eq!(
            parse(" https://lms.example.org/", one, ""),
            Err(EndpointError::Url)
        );
        let long = format!("https://lms.example.org/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(parse(&long, one, ""), Err(EndpointError::Url));
        assert_eq!(
            parse("http://127.0.0.1:8080/", one, ""),
            Err(EndpointError::Destination)
        );
        assert_eq!(
            parse("http://192.168.1.1/", one, ""),
            Err(EndpointError::Destination)
        );
        assert_eq!(
            parse("https://lms.example.org/", &[], ""),
            Err(EndpointError::Events)
        );
        assert_eq!(
            parse("https://lms.example.org/", &["session.paused"], ""),
            Err(EndpointError::Events)
        );
        let twice = NewEndpoint::parse(
            "https://lms.example.org/",
            &events(&["report.ready", "report.ready"]),
            "",
            &[],
        );
        assert_eq!(twice.map(|e| e.events), Ok(vec![Event::ReportReady]));
        assert_eq!(
            parse("https://lms.example.org/", &["report.ready"; 5], ""),
            Err(EndpointError::Events)
        );
        for refused in [
            "http://[2001:db8::1]/",
            "http://1.2.3/",
            "http://a.0/",
            "http://256.1.1.1/",
            "http://lms.example.org:65536/",
            "http://lms.example.org:080/",
            "http://lms..example.org/",
            "http://lms.example.org/a b",
            "http://lms.example.org/<x>",
        ] {
            assert_eq!(
                parse(refused, one, ""),
                Err(EndpointError::Url),
                "{refused}"
            );
        }
        for accepted in [
            "HTTPS://LMS.example.org",
            "https://lms.example.org:8443/hooks?key=a%20b&x=[1]",
            "http://193.51.24.1/",
            "https://a-b.c9/x",
        ] {
            assert_eq!(parse(accepted, one, ""), Ok(()), "{accepted}");
        }
        assert_eq!(
            parse("https://lms.example.org/", one, "a\nb"),
            Err(EndpointError::Description)
        );
        let allowed = ["127.0.0.0/8".parse().expect("range")];
        assert!(NewEndpoint::parse("http://127.0.0.1:9/", &events(one), "", &allowed).is_ok());
    }

    #[test]
    fn retries_double_up_to_the_cap_and_a_day_holds_thirty_three_attempts() {
        let (base, cap) = (Duration::from_secs(5), Duration::from_secs(3600));
        let delays: Vec<u64> = (1..=12)
            .map(|n| retry_delay(n, base, cap).as_secs())
            .collect();
        assert_eq!(
            delays,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(retry_delay(u32::MAX, base, cap), cap);
        // The first attempt, ten doubling delays (1 h 25 min in all), then
        // 22 hourly ones fit in a day.
        let attempts = attempts_within(Duration::from_secs(86_400), base, cap);
        assert_eq!(attempts, 33);
    }

    #[test]
    fn the_secret_reads_as_standard_webhooks_writes_it() {
        assert_eq!(secret_string(&[0u8; 3]), "whsec_AAAA");
        let id = uuid::Uuid::nil();
        assert_eq!(message_id(id), "msg_00000000000000000000000000000000");
    }
}
