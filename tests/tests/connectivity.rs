//! `GET /v1/connectivity`: the relay a browser on a 443-only network should
//! try, with credentials coturn will accept (same derivation as the
//! 443-only proof in `turn_443.rs`).

use estrade_tests::{Options, TestApp, token};
use serde_json::json;
use sqlx::PgPool;

const SECRET: &str = "connectivity-test-shared-secret-0123456789";

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_participant_gets_the_relay_with_short_lived_credentials_coturn_accepts(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        Options {
            env: vec![
                ("ESTRADE_TURN_SECRET", SECRET.into()),
                (
                    "ESTRADE_TURN_URLS",
                    "turns:turn.example.org:443?transport=tcp".into(),
                ),
                ("ESTRADE_TURN_TTL_S", "300".into()),
            ],
            ..Options::default()
        },
    )
    .await;
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 1)
        .await;
    let learner = &c.learners[0];
    let (status, body) = app.get_as("/v1/connectivity", token(learner)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ice_transport_policy"], "relay");
    assert_eq!(body["relay_configured"], true);
    let server = &body["ice_servers"][0];
    assert_eq!(
        server["urls"],
        json!(["turns:turn.example.org:443?transport=tcp"])
    );
    let username = server["username"].as_str().unwrap();
    let (expiry, identity) = username.split_once(':').unwrap();
    assert_eq!(identity, learner["identity"]);
    let now = chrono::Utc::now().timestamp();
    let expiry: i64 = expiry.parse().unwrap();
    assert!(
        (now + 290..=now + 301).contains(&expiry),
        "{expiry} vs {now}"
    );
    assert_eq!(
        server["credential"],
        estrade_core::turn::password(SECRET.as_bytes(), username)
    );
    assert!(
        !body.to_string().contains(SECRET),
        "the secret never leaves"
    );

    // Staff can run the preflight too; nobody else.
    let (status, staff) = app.get_as("/v1/connectivity", &c.teacher).await;
    assert_eq!(status, 200);
    assert!(
        staff["ice_servers"][0]["username"]
            .as_str()
            .unwrap()
            .contains(":staff-")
    );
    let anonymous = app.get("/v1/connectivity").await;
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn without_a_relay_configured_the_answer_says_so_with_no_servers(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (status, body) = app.get_as("/v1/connectivity", &admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["relay_configured"], json!(false));
    assert_eq!(body["ice_servers"], json!([]));
    assert_eq!(
        body["ice_transport_policy"],
        json!("all"),
        "no relay-only check with no relay"
    );
    assert_eq!(body["expires_at"], json!(null));
}
