//! Ctrl-C and SIGTERM for a run: the first stops generation and lets what is queued be flushed
//! (within a deadline), a second one gives up on the flush at once.
//!
//! The handlers only record what happened; the run loop and the export pipeline look at it at
//! points where stopping is safe, so every item generated is still accounted for (delivered, or
//! dropped as interrupted) and the summary is printed. Letting the default handler kill the
//! process was the alternative; it is what made the original tool lose data without a word.
//!
//! Threads that wait for a paced run's next due instant sleep on a condition variable that a
//! signal (or [`Interrupt::wake`], when something else ends the run) notifies, so a run that
//! has nothing due for hours still stops the moment it is asked to, and costs no CPU meanwhile.
//! Sleeping in short slices and polling was the alternative; it either wakes often or answers
//! late.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
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
    /// Sleepers of [`Interrupt::sleep_until`]; notified under the lock, so none misses a wake.
    sleepers: (Mutex<()>, Condvar),
}

impl Interrupt {
    /// An interrupt that only [`Interrupt::raise`] sets (no signal handlers).
    pub fn manual() -> Arc<Interrupt> {
        Arc::new(Interrupt {
            state: watch::channel(Requests::default()).0,
            sleepers: (Mutex::new(()), Condvar::new()),
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
        self.wake();
    }

    /// Wakes every thread in [`Interrupt::sleep_until`] to look at its conditions again. Call it
    /// after changing what their `keep_going` reads.
    pub fn wake(&self) {
        let _guard = self.sleepers.0.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.1.notify_all();
    }

    /// Sleeps until `at` (`None`: until woken for good). Returns `true` once `at` has come;
    /// `false`, at once, when a stop is requested or `keep_going` says no (it is checked again
    /// at every [`Interrupt::wake`]).
    pub fn sleep_until(&self, at: Option<Instant>, keep_going: &dyn Fn() -> bool) -> bool {
        /// A bound on one wait, so that no deadline arithmetic can overflow.
        const LONGEST: Duration = Duration::from_secs(3600);
        // Without the lock when nothing is to wait for: workers of a fast run come here for
        // every iteration.
        if self.requested() || !keep_going() {
            return false;
        }
        if at.is_some_and(|at| at <= Instant::now()) {
            return true;
        }
        let mut guard = self.sleepers.0.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.requested() || !keep_going() {
                return false;
            }
            let now = Instant::now();
            let wait = match at {
                Some(at) if at <= now => return true,
                Some(at) => (at - now).min(LONGEST),
                None => LONGEST,
            };
            guard = self
                .sleepers
                .1
                .wait_timeout(guard, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
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

    #[test]
    fn a_sleeper_wakes_at_its_time_or_at_once_when_stopped() {
        let i = Interrupt::manual();
        let started = Instant::now();
        assert!(i.sleep_until(Some(started + Duration::from_millis(30)), &|| true));
        assert!(started.elapsed() >= Duration::from_millis(30));

        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sleeper = std::thread::spawn({
            let (i, stop) = (i.clone(), stop.clone());
            move || i.sleep_until(None, &|| !stop.load(std::sync::atomic::Ordering::Relaxed))
        });
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        i.wake();
        assert!(!sleeper.join().unwrap());

        let sleeper = std::thread::spawn({
            let i = i.clone();
            move || i.sleep_until(Some(Instant::now() + Duration::from_secs(3000)), &|| true)
        });
        std::thread::sleep(Duration::from_millis(50));
        let raised = Instant::now();
        i.raise(2);
        assert!(!sleeper.join().unwrap());
        assert!(raised.elapsed() < Duration::from_secs(5));
    }
}
