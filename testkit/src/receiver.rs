//! An HTTP server of the test's own on a random port of 127.0.0.1 that
//! keeps every request it gets (headers and exact body bytes) and answers
//! as the test scripted: what a webhook or Slack endpoint would be.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver answers to each request, in turn; 200 `ok` after
/// the script runs out.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Waits this long, then answers 200 (for timeouts).
    Hang(Duration),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Inbox {
    requests: Vec<Request>,
    answers: VecDeque<Answer>,
}

/// The running receiver; it stops with the test's runtime.
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`, the one route (POST).
    pub url: String,
    inbox: Arc<Mutex<Inbox>>,
}

impl Receiver {
    pub async fn start(answers: &[Answer]) -> Receiver {
        let inbox = Arc::new(Mutex::new(Inbox {
            requests: Vec::new(),
            answers: answers.iter().copied().collect(),
        }));
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a receiver port");
        let url = format!("http://{}/hook", listener.local_addr().expect("bound"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, inbox }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.inbox.lock().expect("inbox").requests.clone()
    }
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, &'static str) {
    let answer = {
        let mut inbox = inbox.lock().expect("inbox");
        inbox.requests.push(Request {
            headers,
            body: body.to_vec(),
        });
        inbox.answers.pop_front()
    };
    match answer {
        Some(Answer::Status(code)) => (
            StatusCode::from_u16(code).expect("a valid status in the script"),
            "not now",
        ),
        Some(Answer::Hang(pause)) => {
            tokio::time::sleep(pause).await;
            (StatusCode::OK, "late")
        }
        None => (StatusCode::OK, "ok"),
    }
}
