//! Traefik's deadlines, checked on `traefik/traefik.yml` and
//! `traefik/dynamic/estrade.yml` against what Estrade's API does (security
//! review, issue 22, item 5):
//!
//! - every entry point states its read, write and idle timeouts; the
//!   redirect-only `:80` bounds all three; `:443` closes idle kept-alive
//!   connections within a minute (its read timeout stays off: in Traefik
//!   v3.3 it would also cut the live-update streams and LiveKit's
//!   WebSocket, see docs/SECURITY.md);
//! - every HTTP route caps the requests one client address has in flight;
//! - Traefik's connections to the API idle out before the API's own idle
//!   deadline closes them, and Traefik waits for the API's answer longer
//!   than the API's request timeout, so the API's 408 is what a client sees.
//!
//! Traefik itself is not run by the tests (it is not built here); its
//! behaviour for these settings is read from its source (v3.3.5,
//! `pkg/server/server_entrypoint_tcp.go`).

use std::time::Duration;

use estrade_tests::{Options, test_config};
use serde_norway::Value;

const STATIC: &str = include_str!("../../traefik/traefik.yml");
const DYNAMIC: &str = include_str!("../../traefik/dynamic/estrade.yml");

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).expect("YAML")
}

/// A Traefik duration as the files write it (`0s`, `10s`, `3m`).
fn duration(value: &Value) -> Duration {
    let text = value.as_str().expect("a duration string");
    let (number, unit) = text.split_at(text.len() - 1);
    let n: u64 = number
        .parse()
        .unwrap_or_else(|_| panic!("a duration: {text}"));
    match unit {
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => panic!("a duration in s or m: {text}"),
    }
}

#[test]
fn every_entry_point_states_its_deadlines_and_idle_connections_close_within_a_minute() {
    let doc = yaml(STATIC);
    let entry_points = doc["entryPoints"].as_mapping().expect("entryPoints");
    assert!(!entry_points.is_empty());
    for (name, entry) in entry_points {
        let name = name.as_str().unwrap();
        let timeouts = &entry["transport"]["respondingTimeouts"];
        for key in ["readTimeout", "writeTimeout", "idleTimeout"] {
            assert!(
                timeouts.get(key).is_some(),
                "entry point {name} does not state {key}"
            );
        }
        assert!(
            duration(&timeouts["idleTimeout"]) <= Duration::from_secs(60),
            "entry point {name} keeps idle connections over a minute"
        );
    }
    let web = &doc["entryPoints"]["web"]["transport"]["respondingTimeouts"];
    for key in ["readTimeout", "writeTimeout", "idleTimeout"] {
        let value = duration(&web[key]);
        assert!(
            value > Duration::ZERO && value <= Duration::from_secs(30),
            ":80 only redirects: its {key} is short"
        );
    }
}

#[test]
fn every_http_route_caps_the_requests_one_address_has_in_flight() {
    let doc = yaml(DYNAMIC);
    let routers = doc["http"]["routers"].as_mapping().expect("routers");
    for (name, router) in routers {
        let middlewares: Vec<&str> = router["middlewares"]
            .as_sequence()
            .map(|m| m.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let position = middlewares.iter().position(|m| *m == "in-flight");
        assert!(
            position.is_some(),
            "router {} has no in-flight cap",
            name.as_str().unwrap()
        );
        // Before buffering: a body sent slowly counts while it arrives.
        if let Some(buffering) = middlewares.iter().position(|m| *m == "body-limit") {
            assert!(
                position < Some(buffering),
                "in-flight comes before buffering"
            );
        }
    }
    let cap = &doc["http"]["middlewares"]["in-flight"]["inFlightReq"];
    assert!(cap["amount"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(
        cap["sourceCriterion"]["ipStrategy"]["depth"].as_u64(),
        Some(0),
        "counted per client address (Traefik is the edge)"
    );
}

#[test]
fn traefik_idles_out_its_api_connections_first_and_waits_past_the_apis_request_timeout() {
    let doc = yaml(DYNAMIC);
    let api = &doc["http"]["services"]["estrade-api"]["loadBalancer"];
    let transport_name = api["serversTransport"]
        .as_str()
        .expect("the API's service names its servers transport");
    let timeouts = &doc["http"]["serversTransports"][transport_name]["forwardingTimeouts"];
    let defaults = test_config("http://127.0.0.1:1", &Options::default());
    let idle = duration(&timeouts["idleConnTimeout"]);
    assert!(
        idle > Duration::ZERO && idle < defaults.header_read_timeout,
        "Traefik's idle API connections ({idle:?}) must close before the API closes them ({:?})",
        defaults.header_read_timeout
    );
    let waits = duration(&timeouts["responseHeaderTimeout"]);
    assert!(
        waits > defaults.request_timeout,
        "Traefik must wait ({waits:?}) past the API's request timeout ({:?})",
        defaults.request_timeout
    );
}
