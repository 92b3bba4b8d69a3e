//! Which prefix of a source Kafka has acknowledged.
//!
//! Deliveries complete out of order, but a checkpoint may only move past a
//! record once that record *and every record before it* are acknowledged;
//! otherwise a crash would skip the unacknowledged ones. The tracker keeps
//! the records in flight in send order and moves the checkpoint to the end
//! of the longest acknowledged prefix.

use std::collections::VecDeque;

/// Identifies one record of one source, in send order.
pub type Seq = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    InFlight {
        end_offset: u64,
    },
    Acked {
        end_offset: u64,
    },
    /// Kafka refused the record for good: the checkpoint never passes it.
    Failed,
}

/// The acknowledged prefix of one source.
#[derive(Debug)]
pub struct AckTracker {
    /// Sequence number of `slots[0]`.
    head: Seq,
    slots: VecDeque<Slot>,
    committed: u64,
}

impl AckTracker {
    /// A tracker whose checkpoint starts at `offset` (where reading starts).
    pub fn new(offset: u64) -> Self {
        AckTracker {
            head: 0,
            slots: VecDeque::new(),
            committed: offset,
        }
    }

    /// A record ending at `end_offset` was handed to Kafka; returns its
    /// sequence number. Records must be registered in send order.
    pub fn sent(&mut self, end_offset: u64) -> Seq {
        self.slots.push_back(Slot::InFlight { end_offset });
        self.head + self.slots.len() as u64 - 1
    }

    /// Kafka acknowledged record `seq`. Returns whether the checkpoint moved.
    pub fn acked(&mut self, seq: Seq) -> bool {
        if let Some(slot) = self.slot_mut(seq) {
            if let Slot::InFlight { end_offset } = *slot {
                *slot = Slot::Acked { end_offset };
            }
        }
        let mut moved = false;
        while let Some(&Slot::Acked { end_offset }) = self.slots.front() {
            self.slots.pop_front();
            self.head += 1;
            self.committed = end_offset;
            moved = true;
        }
        moved
    }

    /// Kafka refused record `seq` for good: the checkpoint stays before it
    /// from now on. Returns where the refused record ends, for the error.
    pub fn failed(&mut self, seq: Seq) -> Option<u64> {
        let slot = self.slot_mut(seq)?;
        let end = match *slot {
            Slot::InFlight { end_offset } | Slot::Acked { end_offset } => Some(end_offset),
            Slot::Failed => None,
        };
        *slot = Slot::Failed;
        end
    }

    /// The source was truncated and is read again from 0: the checkpoint
    /// describes the new content at once (a crash now restarts at 0, never
    /// at an offset of the old content), and acknowledgements of records of
    /// the old content no longer move it forward.
    pub fn truncated(&mut self) {
        self.committed = 0;
        for slot in &mut self.slots {
            if let Slot::InFlight { end_offset } | Slot::Acked { end_offset } = slot {
                *end_offset = 0;
            }
        }
    }

    /// The offset up to which everything is acknowledged.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Records sent whose fate is not settled into the checkpoint yet.
    pub fn in_flight(&self) -> usize {
        self.slots.len()
    }

    fn slot_mut(&mut self, seq: Seq) -> Option<&mut Slot> {
        let index = usize::try_from(seq.checked_sub(self.head)?).ok()?;
        self.slots.get_mut(index)
    }
}
