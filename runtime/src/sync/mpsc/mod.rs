//! Multi-producer, single-consumer channels, bounded ([`channel`]) and unbounded
//! ([`unbounded_channel`]).
//!
//! Closure is seen on both sides: senders fail with their value handed back once the
//! receiver is closed or dropped (and can wait for that with `closed().await`); the receiver
//! gets `None` once every sender is gone and every message sent before has been received.
//! Bounded senders wait in FIFO order for a free slot.

mod bounded;
mod chan;
pub mod error;
mod unbounded;

pub use bounded::{channel, Permit, Receiver, Sender};
pub use unbounded::{unbounded_channel, UnboundedReceiver, UnboundedSender};
