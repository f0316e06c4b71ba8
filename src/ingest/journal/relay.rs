//! Telling requests that their hits are durable with one cross-thread wake-up per HTTP
//! worker thread and group, not one per request: a wake-up from another thread costs a
//! system call and a context switch, which at tens of thousands of requests a second cost
//! more than the sync itself. Each thread has a relay (a list of its waiting requests); the
//! journal thread wakes one waiter per relay, and that one, running on its own thread, wakes
//! the rest there.

use super::JournalError;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

/// A request's outcome, set once by the journal thread.
pub type Done = OnceLock<Result<(), JournalError>>;

/// The waiting requests of one thread.
#[derive(Default)]
pub struct Relay {
    inner: Mutex<RelayInner>,
}

#[derive(Default)]
struct RelayInner {
    waiters: Vec<(Arc<Done>, Waker)>,
    /// Listed with the journal to be woken after the next group.
    armed: bool,
}

/// The relays with waiting requests.
#[derive(Default)]
pub struct Relays {
    armed: Mutex<Vec<Arc<Relay>>>,
}

thread_local! {
    static LOCAL: Arc<Relay> = Arc::default();
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Relays {
    /// After a group's outcomes are set: wakes one waiter of every relay that has any.
    pub fn wake(&self) {
        let armed = std::mem::take(&mut *lock(&self.armed));
        for relay in armed {
            let waker = {
                let mut inner = lock(&relay.inner);
                inner.armed = false;
                inner.waiters.first().map(|(_, w)| w.clone())
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    fn arm(&self, relay: &Arc<Relay>) {
        lock(&self.armed).push(relay.clone());
    }
}

/// Waits until `done` is set; polled on an HTTP worker thread, it waits in that thread's
/// relay.
pub struct Wait<'a> {
    relays: &'a Relays,
    done: Arc<Done>,
    relay: Option<Arc<Relay>>,
}

impl<'a> Wait<'a> {
    pub fn new(relays: &'a Relays, done: Arc<Done>) -> Self {
        Self {
            relays,
            done,
            relay: None,
        }
    }
}

impl std::future::Future for Wait<'_> {
    type Output = Result<(), JournalError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let relay = match &self.relay {
            Some(r) => r.clone(),
            None => {
                let r = LOCAL.with(Arc::clone);
                self.relay = Some(r.clone());
                r
            }
        };
        let mut finished = Vec::new();
        let result = {
            let mut inner = lock(&relay.inner);
            // Everyone here whose group is done goes (woken from this thread: no system call).
            let mine = Arc::as_ptr(&self.done);
            inner.waiters.retain(|(done, waker)| {
                if done.get().is_some() {
                    if Arc::as_ptr(done) != mine {
                        finished.push(waker.clone());
                    }
                    false
                } else {
                    true
                }
            });
            let result = self.done.get().cloned();
            if result.is_none() {
                match inner
                    .waiters
                    .iter_mut()
                    .find(|(d, _)| Arc::as_ptr(d) == mine)
                {
                    Some((_, w)) => w.clone_from(cx.waker()),
                    None => inner.waiters.push((self.done.clone(), cx.waker().clone())),
                }
            }
            if !inner.waiters.is_empty() && !inner.armed {
                inner.armed = true;
                self.relays.arm(&relay);
            }
            result
        };
        for w in finished {
            w.wake();
        }
        match result {
            Some(r) => {
                self.relay = None;
                Poll::Ready(r)
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for Wait<'_> {
    /// A request given up (the client went away) leaves its relay.
    fn drop(&mut self) {
        if let Some(relay) = self.relay.take() {
            let mine = Arc::as_ptr(&self.done);
            lock(&relay.inner)
                .waiters
                .retain(|(d, _)| Arc::as_ptr(d) != mine);
        }
    }
}
