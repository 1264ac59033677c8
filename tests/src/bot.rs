//! A participant of a real LiveKit room, joined through LiveKit's own
//! Python real-time SDK (`tests/sdk/bot.py`), never through our code. The
//! test sends it commands and waits for the events it reports (what the
//! SDK saw: tracks subscribed, frames received, attributes, permissions,
//! disconnection). `scripts/test` installs the SDK into
//! `tests/sdk/.deps/python`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// One bot process, killed when dropped.
pub struct Bot {
    name: String,
    child: Child,
    stdin: ChildStdin,
    events: UnboundedReceiver<Value>,
    /// Every event seen so far, in order.
    pub seen: Vec<Value>,
}

impl Bot {
    /// Starts a bot; `name` labels its events in failure messages.
    pub async fn start(name: &str) -> Self {
        let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk");
        let mut child = Command::new("python3")
            .arg(format!("{sdk}/bot.py"))
            .env("PYTHONPATH", format!("{sdk}/.deps/python"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the Python bot (scripts/test installs its SDK)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && tx.send(event).is_err()
                {
                    break;
                }
            }
        });
        let mut bot = Self {
            name: name.to_owned(),
            child,
            stdin,
            events,
            seen: Vec::new(),
        };
        bot.expect("ready", Duration::from_secs(30), |_| true).await;
        bot
    }

    /// Sends a command.
    pub async fn send(&mut self, command: Value) {
        let line = format!("{command}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to the bot");
        self.stdin.flush().await.expect("flush");
    }

    /// Connects to `url` with `token`; returns the `connected` event.
    pub async fn connect(&mut self, url: &str, token: &str) -> Value {
        let from = self.seen.len();
        self.send(json!({"do": "connect", "url": url, "token": token}))
            .await;
        let event = self
            .wait_from(from, Duration::from_secs(30), |e| {
                e["event"] == "connected" || e["event"] == "failed"
            })
            .await;
        assert_eq!(event["event"], "connected", "{}: {event}", self.name);
        event
    }

    /// Publishes a synthetic `kind` track (`camera` or `microphone`):
    /// `Ok(track sid)` or `Err(what LiveKit's SDK reported)`.
    pub async fn publish(&mut self, kind: &str) -> Result<String, String> {
        let from = self.seen.len();
        // Named as the stand-in names its tracks (the source's name), so
        // the fidelity test compares like with like.
        self.send(json!({"do": "publish", "kind": kind, "name": kind.to_uppercase()}))
            .await;
        let event = self
            .wait_from(from, Duration::from_secs(30), |e| {
                (e["event"] == "published" || e["event"] == "failed") && e["kind"] == kind
            })
            .await;
        if event["event"] == "published" {
            Ok(event["sid"].as_str().unwrap_or_default().to_owned())
        } else {
            Err(event["error"].as_str().unwrap_or_default().to_owned())
        }
    }

    /// Waits for an event named `name` for which `matches` holds; returns it.
    pub async fn expect(
        &mut self,
        name: &str,
        timeout: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait(timeout, |e| e["event"] == name && matches(e))
            .await
    }

    /// Whether an event for which `matches` holds was already seen.
    pub fn has_seen(&self, matches: impl Fn(&Value) -> bool) -> bool {
        self.seen.iter().any(matches)
    }

    /// The first event (already seen or still to come) for which `matches`
    /// holds, within `timeout`.
    pub async fn wait(&mut self, timeout: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        self.wait_from(0, timeout, matches).await
    }

    /// Like [`Bot::wait`], among the events from the `from`-th on.
    pub async fn wait_from(
        &mut self,
        from: usize,
        timeout: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(e) = self.seen[from.min(self.seen.len())..]
            .iter()
            .find(|e| matches(e))
        {
            return e.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.recv()).await {
                Ok(Some(event)) => {
                    self.seen.push(event.clone());
                    if matches(&event) {
                        return event;
                    }
                }
                Err(_) => {
                    panic!(
                        "{}: not seen within {timeout:?}; saw {:#?}",
                        self.name, self.seen
                    )
                }
                Ok(None) => panic!("{}: the bot exited; saw {:#?}", self.name, self.seen),
            }
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        // `kill_on_drop` ends the process; this reaps it now.
        let _ = self.child.start_kill();
        let _ = self.child.try_wait();
    }
}
