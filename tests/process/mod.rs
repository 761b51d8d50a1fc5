//! Tests that run the real `vigil-cli start` as a child process (killed with
//! SIGKILL, or run twice side by side) and talk to it over sockets.
mod browser;
mod cli;
mod crash;
mod storage;
mod two_instances;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use loco_rs::{app::Hooks, environment::Environment};
use sea_orm::{Database, DatabaseConnection};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use vigil::{
    app::App,
    models::users::{self, NewUser, Role},
};

pub const PASSWORD: &str = "correct-horse-battery";

/// The database URL the suite runs against (`DATABASE_URL` or the test
/// config's SQLite file); the process tests make a fresh one beside it.
pub async fn configured_db() -> String {
    App::load_config(&Environment::Test)
        .await
        .expect("config/test.yaml")
        .database
        .uri
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A running `vigil-cli start` (development settings), and a client of it.
pub struct Server {
    child: Child,
    client: Client,
}

impl std::ops::Deref for Server {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Talks to a server on `port` over HTTP and WebSocket.
#[derive(Clone, Copy)]
pub struct Client {
    pub port: u16,
}

impl Server {
    /// Starts the server on `db` (migrating it) and waits for `/_ping`.
    /// `redis`: the Redis URL and channel for multi-instance fan-out.
    pub async fn start(db: &str, port: u16, redis: Option<(&str, &str)>) -> Self {
        Self::start_with(db, port, redis, &[]).await
    }

    /// [`Self::start`] with extra environment variables.
    pub async fn start_with(
        db: &str,
        port: u16,
        redis: Option<(&str, &str)>,
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_logging(db, port, redis, env, None).await
    }

    /// [`Self::start_with`], its log (standard output and error) written
    /// to `log` when given.
    pub async fn start_logging(
        db: &str,
        port: u16,
        redis: Option<(&str, &str)>,
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil-cli"));
        cmd.arg("start")
            .env("LOCO_ENV", "development")
            .env("DATABASE_URL", db)
            .env("PORT", port.to_string())
            .env("BINDING", "127.0.0.1")
            .env("LOG_LEVEL", "error")
            .env_remove("REDIS_URL")
            .env_remove("REDIS_CHANNEL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some((url, channel)) = redis {
            cmd.env("REDIS_URL", url).env("REDIS_CHANNEL", channel);
        }
        for (name, value) in env {
            cmd.env(name, value);
        }
        if let Some(log) = log {
            let file = std::fs::File::create(log).expect("log file");
            cmd.stdout(file.try_clone().expect("log file")).stderr(file);
        }
        let child = cmd.spawn().expect("spawn vigil-cli start");
        let mut server = Self {
            child,
            client: Client { port },
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok((200, _)) = server.call("GET", "/_ping", None, None).await {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("vigil-cli start exited with {status}");
            }
            assert!(Instant::now() < deadline, "server did not start in 90 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no shutdown hooks, no flush, like a crash or an OOM kill.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Client {
    /// One HTTP/1.1 request; the status and the JSON body (Null if none).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        self.call_with(method, path, token, body, &[])
            .await
            .map(|(status, _, body)| (status, body))
    }

    /// [`Self::call`] with extra request headers; also answers the response
    /// headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, reqwest::header::HeaderMap, Value), String> {
        // A connection per call (no pool): the server may be killed and
        // restarted between two calls.
        let client = vigil::net::http_client()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| e.to_string())?;
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut req = client
            .request(method, format!("http://127.0.0.1:{}{path}", self.port))
            .header("content-type", "application/json")
            .body(body.map(|b| b.to_string()).unwrap_or_default());
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let response = req.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        Ok((
            status,
            headers,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        ))
    }

    /// Logs `username` in; the access token.
    pub async fn token(&self, username: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(&json!({"username": username, "password": PASSWORD})),
            )
            .await
            .expect("login");
        assert_eq!(status, 200, "{body}");
        body["access"].as_str().expect("access token").to_string()
    }

    /// A live-feed client; returns a channel of envelopes (as JSON).
    pub async fn follow(
        &self,
        token: &str,
        after: Option<&str>,
    ) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
        let mut url = format!("ws://127.0.0.1:{}/ws/alerts?token={token}", self.port);
        if let Some(after) = after {
            url.push_str(&format!("&after={after}"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WebSocket connect");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let (_, mut read) = ws.split();
            while let Some(Ok(msg)) = read.next().await {
                if let Message::Text(text) = msg {
                    if tx
                        .send(serde_json::from_str::<Value>(&text).expect("JSON envelope"))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        });
        rx
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates an admin directly in the database (as the CLI task does).
pub async fn create_admin(db: &DatabaseConnection, username: &str) {
    users::Model::create_with_password(
        db,
        &vigil::models::audit::By::new("test", None),
        &NewUser {
            username,
            email: &format!("{username}@example.com"),
            password: PASSWORD,
            role: Role::Admin,
        },
    )
    .await
    .expect("create admin");
}

pub async fn connect(url: &str) -> DatabaseConnection {
    Database::connect(url)
        .await
        .expect("connect to the database")
}

/// `n` HIGH events from distinct addresses: `n` new alerts.
#[must_use]
pub fn batch(offset: usize, n: usize) -> Value {
    let events: Vec<Value> = (offset..offset + n)
        .map(|i| {
            json!({"source": "crash-test", "event_type": "scan", "severity": "HIGH",
                   "source_ip": format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)})
        })
        .collect();
    json!({ "events": events })
}
