//! Redis failover under Sentinel (issue 21, docs/SCALING.md): a master, a
//! replica and one Sentinel (Debian's `redis-server --sentinel`). Neither
//! apalis-redis nor the redis crate's connection manager asks Sentinel
//! where the master is, so Estrade reaches Redis through one address that
//! follows the master (here a loopback forwarder, standing for the proxy
//! or virtual IP that Sentinel's client scripts move). The master is
//! killed during a webhook storm; Sentinel promotes the replica; the
//! address follows. Every webhook is acknowledged and applied (PostgreSQL
//! holds them all), the queue delivers again through the new master, and
//! every API process subscribes to the live-update channel there again.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use estrade_tests::{Forwarder, Options, SseStream, TestApp, until};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// A `redis-server` child, killed when dropped.
struct Server {
    port: u16,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    estrade::services::free_port().unwrap()
}

fn redis(args: &[&str]) -> Server {
    let port = free_port();
    let mut cmd = Command::new("redis-server");
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ])
    .args(["--appendonly", "no"])
    .args(args)
    .stdout(Stdio::null());
    Server {
        port,
        child: cmd
            .spawn()
            .expect("redis-server (scripts/test installs it)"),
    }
}

/// One command to the server on `port`; its reply as text lines.
async fn ask(port: u16, command: &[&str]) -> redis::RedisResult<redis::Value> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut cmd = redis::cmd(command[0]);
    for arg in &command[1..] {
        cmd.arg(*arg);
    }
    cmd.query_async(&mut conn).await
}

fn text(value: &redis::Value) -> String {
    format!("{value:?}")
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_redis_master_killed_under_sentinel_loses_no_webhook_and_the_queue_and_fan_out_resume_on_the_promoted_replica(
    db: sqlx::PgPool,
) {
    let master = redis(&[]);
    let master_port = master.port.to_string();
    let replica = redis(&["--replicaof", "127.0.0.1", &master_port]);
    let dir = tempfile::tempdir().unwrap();
    let sentinel_port = free_port();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {sentinel_port}\nbind 127.0.0.1\n\
             sentinel monitor estrade 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds estrade 500\n\
             sentinel failover-timeout estrade 5000\n",
            master.port
        ),
    )
    .unwrap();
    let _sentinel = Server {
        port: sentinel_port,
        child: Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel"),
    };
    until(WAIT, || async {
        ask(replica.port, &["INFO", "replication"])
            .await
            .is_ok_and(|v| text(&v).contains("master_link_status:up"))
    })
    .await;
    until(WAIT, || async {
        ask(sentinel_port, &["SENTINEL", "replicas", "estrade"])
            .await
            .is_ok_and(|v| text(&v).contains(&replica.port.to_string()))
    })
    .await;

    let address = Forwarder::start(master.port).await;
    let app = TestApp::spawn_with(
        db,
        Options {
            redis_url: format!("redis://127.0.0.1:{}", address.port),
            worker: true,
            env: vec![("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "1".into())],
            ..Options::default()
        },
    )
    .await;
    let replica_api = app.spawn_replica().await;
    // A hub subscribes once a stream is open: one on each API process.
    let class = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 1)
        .await;
    let mut streams = Vec::new();
    for base in [app.url(""), replica_api] {
        let stream = SseStream::open(&base, class.id(), &class.teacher, None)
            .await
            .expect("a live stream");
        streams.push(stream);
    }
    let channel = estrade_app::events::channel(&app.config.redis_namespace);
    // Subscribers of the live-update channel on the server at `port`.
    let subscribers = |port: u16| {
        let channel = channel.clone();
        async move {
            match ask(port, &["PUBSUB", "NUMSUB", &channel]).await {
                Ok(redis::Value::Array(reply)) => match reply.get(1) {
                    Some(redis::Value::Int(n)) => *n,
                    _ => 0,
                },
                _ => 0,
            }
        }
    };
    until(WAIT, || async { subscribers(master.port).await == 2 }).await;

    let event = |n: usize| {
        json!({"event": "room_started", "id": format!("EV_redis_{n}"), "createdAt": "1790000000",
               "room": {"name": "nowhere", "sid": "RM_x"}})
    };
    let mut sent = 0;
    for _ in 0..20 {
        assert_eq!(app.deliver(&event(sent)).await, 200);
        sent += 1;
    }
    // The master dies; Sentinel promotes the replica; the address follows.
    let mut master = master;
    master.child.kill().unwrap();
    master.child.wait().unwrap();
    for _ in 0..20 {
        assert_eq!(app.deliver(&event(sent)).await, 200, "PostgreSQL stores it");
        sent += 1;
    }
    let promoted = replica.port.to_string();
    until(WAIT, || async {
        ask(
            sentinel_port,
            &["SENTINEL", "get-master-addr-by-name", "estrade"],
        )
        .await
        .is_ok_and(|v| text(&v).contains(&promoted))
    })
    .await;
    address.point_to(replica.port);

    // Every API process subscribes on the new master again.
    until(WAIT, || async { subscribers(replica.port).await == 2 }).await;
    // And the class's streams on both processes see a change made now.
    let hand = class.path("/hand");
    let (status, floor) = app
        .post_as(&hand, estrade_tests::token(&class.learners[0]), json!({}))
        .await;
    assert_eq!(status, 200, "{floor}");
    let version = floor["version"].as_i64().unwrap();
    for stream in &mut streams {
        loop {
            let event = stream.next(WAIT).await.expect("the stream goes on");
            if event.event == "floor" && event.data["version"].as_i64() == Some(version) {
                break;
            }
        }
    }
    // The queue delivers again: one of the next events, each awaited until
    // applied, is applied through it (the first may be swept from the
    // inbox while the consumer reconnects).
    let via = |id: String| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "select applied_via from webhook_inbox where event_id = $1",
            )
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    let mut through_queue = false;
    for _ in 0..20 {
        assert_eq!(app.deliver(&event(sent)).await, 200);
        let id = format!("EV_redis_{sent}");
        sent += 1;
        until(WAIT, || async { via(id.clone()).await.is_some() }).await;
        if via(id).await.as_deref() == Some("queue") {
            through_queue = true;
            break;
        }
    }
    assert!(through_queue, "the queue carries events again");
    // Nothing acknowledged is lost: every event applied once.
    until(WAIT, || async {
        let processed: i64 = sqlx::query_scalar(
            "select count(*) from webhook_inbox where event_id like 'EV_redis_%' and status = 'processed'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        processed == sent as i64
    })
    .await;
}
