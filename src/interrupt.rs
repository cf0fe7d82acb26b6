//! Ctrl-C and SIGTERM for a run: the first stops generation and lets what is queued be flushed
//! (within a deadline), a second one gives up on the flush at once.
//!
//! The handlers only record what happened; the run loop and the export pipeline look at it at
//! points where stopping is safe, so every item generated is still accounted for (delivered, or
//! dropped as interrupted) and the summary is printed. Letting the default handler kill the
//! process was the alternative; it is what made the original tool lose data without a word.

use std::sync::Arc;
use tokio::sync::watch;

/// What has been asked of the run so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    /// The first signal's number (2 for SIGINT, 15 for SIGTERM).
    pub signal: Option<i32>,
    /// A second signal arrived: stop flushing too.
    pub now: bool,
}

/// Shared record of the signals a run received.
pub struct Interrupt {
    state: watch::Sender<Requests>,
}

impl Interrupt {
    /// An interrupt that only [`Interrupt::raise`] sets (no signal handlers).
    pub fn manual() -> Arc<Interrupt> {
        Arc::new(Interrupt {
            state: watch::channel(Requests::default()).0,
        })
    }

    /// Installs SIGINT and SIGTERM handlers on `runtime` that record into the returned handle.
    pub fn install(runtime: &tokio::runtime::Handle) -> std::io::Result<Arc<Interrupt>> {
        let interrupt = Interrupt::manual();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let _guard = runtime.enter();
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            let record = interrupt.clone();
            runtime.spawn(async move {
                loop {
                    let number = tokio::select! {
                        _ = int.recv() => 2,
                        _ = term.recv() => 15,
                    };
                    record.raise(number);
                }
            });
        }
        #[cfg(not(unix))]
        {
            let record = interrupt.clone();
            runtime.spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    record.raise(2);
                }
            });
        }
        Ok(interrupt)
    }

    /// Records a signal: the first one requests a stop, any later one an immediate stop.
    pub fn raise(&self, signal: i32) {
        self.state.send_modify(|r| {
            if r.signal.is_none() {
                r.signal = Some(signal);
            } else {
                r.now = true;
            }
        });
    }

    pub fn requests(&self) -> Requests {
        *self.state.borrow()
    }

    pub fn requested(&self) -> bool {
        self.requests().signal.is_some()
    }

    /// The conventional exit status of a process stopped by the signal: 128 + its number.
    pub fn exit_status(&self) -> Option<u8> {
        self.requests().signal.map(|n| 128 + n as u8)
    }

    /// Resolves once a stop has been requested.
    pub async fn stopped(&self) {
        let mut rx = self.state.subscribe();
        let _ = rx.wait_for(|r| r.signal.is_some()).await;
    }

    /// Resolves once an immediate stop has been requested.
    pub async fn stopped_now(&self) {
        let mut rx = self.state.subscribe();
        let _ = rx.wait_for(|r| r.now).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_stops_and_the_second_hurries() {
        let i = Interrupt::manual();
        assert_eq!(i.exit_status(), None);
        i.raise(15);
        assert_eq!(i.exit_status(), Some(143));
        assert!(!i.requests().now);
        i.raise(2);
        assert_eq!(
            i.requests(),
            Requests {
                signal: Some(15),
                now: true
            }
        );
    }
}
