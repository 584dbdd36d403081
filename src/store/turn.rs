//! The turn: who may write to the store now. An intake serves staff commands while its
//! passes run, both on one open store; every writer takes the turn for one short step
//! — a pass for each message it records, for the day's work, and for each notice it
//! picks to send and then marks; a staff command for its whole duration — so a staff
//! decision that queues and sends its own notice is never raced by a pass delivering
//! that same notice, and a staff command gets in between two steps of a long pass.
//!
//! A pass does not hold the turn while a notice is on the network (a mail server that
//! never answers would hold every staff command with it): it claims the notice
//! ([`Sending`]) under the turn, lets the turn go for the send, and takes it again to
//! mark the notice; every other delivery leaves a claimed notice alone.
//!
//! The turn is reentrant: a staff command holds it for its duration and the notice
//! delivery it calls takes it again on the same thread.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

/// The store's turn (see the module's documentation).
#[derive(Debug, Default)]
pub struct Turn {
    holder: Mutex<Holder>,
    freed: Condvar,
}

/// Which thread has the turn, and how many times it took it.
#[derive(Debug, Default)]
struct Holder {
    thread: Option<ThreadId>,
    depth: usize,
}

/// The turn, held until dropped.
#[must_use = "the turn is given back when this is dropped"]
#[derive(Debug)]
pub struct TurnGuard<'a> {
    turn: &'a Turn,
}

impl Turn {
    /// Waits for the turn (at once when this thread already has it) and takes it.
    pub fn take(&self) -> TurnGuard<'_> {
        let me = thread::current().id();
        let mut holder = self.lock();
        while holder.thread.is_some_and(|thread| thread != me) {
            holder = self
                .freed
                .wait(holder)
                .unwrap_or_else(PoisonError::into_inner);
        }
        holder.thread = Some(me);
        holder.depth += 1;
        TurnGuard { turn: self }
    }

    /// The holder's state; a panic elsewhere never leaves it unusable (the state is
    /// always consistent: it changes only under the lock, in one step).
    fn lock(&self) -> MutexGuard<'_, Holder> {
        self.holder.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        let mut holder = self.turn.lock();
        holder.depth = holder.depth.saturating_sub(1);
        if holder.depth == 0 {
            holder.thread = None;
            drop(holder);
            self.turn.freed.notify_one();
        }
    }
}

/// The notices being sent now, each by the one delivery that claimed it.
#[derive(Debug, Default)]
pub struct Sending {
    ids: Mutex<HashSet<u64>>,
}

/// A claim on sending one notice, given up when dropped (after the notice is marked).
#[must_use = "the claim is given up when this is dropped"]
#[derive(Debug)]
pub struct SendClaim<'a> {
    sending: &'a Sending,
    id: u64,
}

impl Sending {
    /// Claims notice `id` for this delivery; `None` while another delivery has it.
    pub fn claim(&self, id: u64) -> Option<SendClaim<'_>> {
        let fresh = self
            .ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
        // Made only when fresh: a claim dropped here would let go of another's.
        fresh.then(|| SendClaim { sending: self, id })
    }
}

impl Drop for SendClaim<'_> {
    fn drop(&mut self) {
        self.sending
            .ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_notice_is_claimed_by_one_delivery_until_it_lets_go() {
        let sending = Sending::default();
        let claim = sending.claim(7).expect("free");
        assert!(sending.claim(7).is_none(), "claimed already");
        assert!(sending.claim(8).is_some(), "another notice is free");
        drop(claim);
        assert!(sending.claim(7).is_some(), "free again");
    }

    #[test]
    fn the_same_thread_takes_the_turn_again_and_others_wait_for_the_last_release() {
        let turn = Turn::default();
        let outer = turn.take();
        let inner = turn.take();
        let other_had_it = AtomicBool::new(false);
        thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                let _turn = turn.take();
                other_had_it.store(true, Ordering::SeqCst);
            });
            drop(inner);
            // Still held once: the other thread cannot have it yet.
            thread::sleep(Duration::from_millis(50));
            assert!(
                !other_had_it.load(Ordering::SeqCst),
                "held by the outer take"
            );
            drop(outer);
            waiter.join().unwrap();
        });
        assert!(other_had_it.load(Ordering::SeqCst));
    }

    #[test]
    fn one_holder_at_a_time() {
        let turn = Turn::default();
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..200 {
                        let _turn = turn.take();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_panic_while_holding_it_gives_it_back() {
        let turn = Turn::default();
        thread::scope(|scope| {
            let panicked = scope
                .spawn(|| {
                    let _turn = turn.take();
                    panic!("a command failed");
                })
                .join();
            assert!(panicked.is_err());
        });
        drop(turn.take());
    }
}
