//! A first-come, first-served turnstile for async calls: each API call takes
//! a [`Ticket`] the moment it is made and waits for its turn, so calls take
//! effect in call order even when one of them waits on the network.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// The turnstile. Cheap to clone: clones share the line.
#[derive(Debug, Default, Clone)]
pub struct Queue {
    /// Shared with every ticket, which must outlive any borrow of the queue.
    line: Rc<RefCell<Line>>,
}

#[derive(Debug, Default)]
struct Line {
    /// The number the next ticket gets.
    next: u64,
    /// The number whose turn it is.
    serving: u64,
    /// Wakers of tickets waiting for their turn (a handful at most: a
    /// `Vec` weighs far less in wasm than a map).
    waiting: Vec<(u64, Waker)>,
    /// Tickets dropped before their turn; their turn is skipped.
    abandoned: Vec<u64>,
}

/// A place in line. Its turn lasts until it is dropped.
#[derive(Debug)]
pub struct Ticket {
    /// The line it belongs to.
    line: Rc<RefCell<Line>>,
    /// Its number.
    number: u64,
}

impl Queue {
    /// Takes the next place in line.
    pub fn ticket(&self) -> Ticket {
        let mut line = self.line.borrow_mut();
        let number = line.next;
        line.next += 1;
        Ticket {
            line: self.line.clone(),
            number,
        }
    }
}

impl Ticket {
    /// Waits until every earlier ticket was dropped.
    pub async fn wait(&self) {
        poll_fn(|cx| {
            let mut line = self.line.borrow_mut();
            if line.serving == self.number {
                Poll::Ready(())
            } else {
                line.waiting.retain(|(number, _)| *number != self.number);
                line.waiting.push((self.number, cx.waker().clone()));
                Poll::Pending
            }
        })
        .await;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let waker = {
            let mut guard = self.line.borrow_mut();
            let line = &mut *guard;
            line.waiting.retain(|(number, _)| *number != self.number);
            if line.serving != self.number {
                line.abandoned.push(self.number);
                return;
            }
            line.serving += 1;
            while let Some(at) = line.abandoned.iter().position(|n| *n == line.serving) {
                line.abandoned.swap_remove(at);
                line.serving += 1;
            }
            let serving = line.serving;
            let at = line
                .waiting
                .iter()
                .position(|(number, _)| *number == serving);
            at.map(|at| line.waiting.swap_remove(at).1)
        };
        // Woken outside the borrow: a waker may poll at once.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::Context;

    fn ready(ticket: &Ticket) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        pin!(ticket.wait()).as_mut().poll(&mut cx).is_ready()
    }

    #[test]
    fn turns_follow_ticket_order() {
        let queue = Queue::default();
        let (first, second, third) = (queue.ticket(), queue.ticket(), queue.ticket());
        assert_eq!(
            [ready(&first), ready(&second), ready(&third)],
            [true, false, false]
        );
        drop(first);
        assert_eq!([ready(&second), ready(&third)], [true, false]);
        drop(second);
        assert!(ready(&third));
    }

    #[test]
    fn abandoned_tickets_are_skipped() {
        let queue = Queue::default();
        let (first, second, third) = (queue.ticket(), queue.ticket(), queue.ticket());
        drop(second);
        assert!(!ready(&third));
        drop(first);
        assert!(ready(&third));
    }
}
