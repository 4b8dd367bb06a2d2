//! Open-order bookkeeping and fill de-duplication, with capacity reserved up front.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, DefaultHasher};

use super::OrderEvent;
use crate::event::{OrderState, Side};
use crate::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use crate::num::{Px, Qty};

/// Fixed-key SipHash: no per-process random seed, so nothing about the table depends on
/// anything but its inputs. (Iteration never goes through the hash map anyway; see `slots`.)
type Fixed = BuildHasherDefault<DefaultHasher>;

/// Hash-table room for `live` entries that never grows: removals leave tombstones, and when
/// they use up the spare room the table is cleaned. With at most half its full capacity live,
/// the std (hashbrown) table cleans *in place*; above half it would reallocate at twice the
/// size — an allocation on the hot path. So reserve twice the live bound.
fn churn_room(live: usize) -> usize {
    live.saturating_mul(2).saturating_add(1)
}

/// One open order as the engine tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderEntry {
    /// Client order id.
    pub id: ClientOrderId,
    /// Owning strategy.
    pub strategy: StrategyId,
    /// Venue.
    pub venue: VenueId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Direction.
    pub side: Side,
    /// Limit price.
    pub px: Px,
    /// Ordered quantity.
    pub qty: Qty,
    /// Cumulative filled quantity.
    pub filled: Qty,
    /// Lifecycle state.
    pub state: OrderState,
    /// The state before a cancel was requested (restored if the cancel is refused).
    pub before_cancel: OrderState,
    /// Venue order id once acknowledged.
    pub venue_order_id: u64,
    /// Cumulative filled quantity according to the latest venue status query; more than
    /// `filled` means fills are owed (fill debt).
    pub venue_filled: Qty,
    /// A final state the venue reported while fills were still owed: the order closes in it
    /// once the fills arrive.
    pub venue_done: Option<OrderState>,
    /// Restored from the journal and not yet confirmed by the venue.
    pub verifying: bool,
}

impl OrderEntry {
    /// A new order of `strategy` (the id's), just sent: pending, nothing filled.
    pub fn new(
        id: ClientOrderId,
        venue: VenueId,
        instrument: InstrumentId,
        side: Side,
        px: Px,
        qty: Qty,
    ) -> Self {
        Self {
            id,
            strategy: id.strategy(),
            venue,
            instrument,
            side,
            px,
            qty,
            filled: Qty::ZERO,
            state: OrderState::PendingNew,
            before_cancel: OrderState::PendingNew,
            venue_order_id: 0,
            venue_filled: Qty::ZERO,
            venue_done: None,
            verifying: false,
        }
    }

    /// Moves the order to `PendingCancel`, remembering the state to go back to if the venue
    /// refuses the cancel; false (and unchanged) when it cannot be cancelled (already
    /// cancelling, or terminal).
    pub fn request_cancel(&mut self) -> bool {
        let Some(next) = self.state.apply(OrderEvent::CancelRequested) else {
            return false;
        };
        self.before_cancel = self.state;
        self.state = next;
        true
    }

    /// Quantity still open.
    pub fn leaves(&self) -> Qty {
        self.qty.saturating_sub(self.filled).max(Qty::ZERO)
    }

    /// Quantity the venue reports filled beyond the fills received.
    pub fn fill_debt(&self) -> Qty {
        self.venue_filled.saturating_sub(self.filled).max(Qty::ZERO)
    }
}

/// Open orders in a slab (deterministic iteration order) with an id index.
#[derive(Debug)]
pub struct OrderTable {
    slots: Vec<Option<OrderEntry>>,
    free: Vec<u32>,
    index: HashMap<ClientOrderId, u32, Fixed>,
}

impl OrderTable {
    /// A table holding at most `capacity` open orders, allocated now.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            slots: vec![None; capacity],
            free: (0..capacity as u32).rev().collect(),
            index: HashMap::with_capacity_and_hasher(churn_room(capacity), Fixed::default()),
        }
    }

    /// Inserts an order; `false` if the table is full.
    pub fn insert(&mut self, entry: OrderEntry) -> bool {
        let Some(slot) = self.free.pop() else {
            return false;
        };
        self.slots[slot as usize] = Some(entry);
        self.index.insert(entry.id, slot);
        true
    }

    /// The order with `id`.
    pub fn get(&self, id: ClientOrderId) -> Option<&OrderEntry> {
        let slot = *self.index.get(&id)?;
        self.slots[slot as usize].as_ref()
    }

    /// The order with `id`, mutably.
    pub fn get_mut(&mut self, id: ClientOrderId) -> Option<&mut OrderEntry> {
        let slot = *self.index.get(&id)?;
        self.slots[slot as usize].as_mut()
    }

    /// Removes and returns the order with `id`.
    pub fn remove(&mut self, id: ClientOrderId) -> Option<OrderEntry> {
        let slot = self.index.remove(&id)?;
        self.free.push(slot);
        self.slots[slot as usize].take()
    }

    /// Open orders in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &OrderEntry> {
        self.slots.iter().flatten()
    }

    /// Open orders with their slot numbers, in slot order.
    pub fn iter_slots(&self) -> impl Iterator<Item = (usize, &OrderEntry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|o| (i, o)))
    }

    /// Open orders in slot order, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut OrderEntry> {
        self.slots.iter_mut().flatten()
    }

    /// Number of open orders.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True if no order is open.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// Remembers the last `capacity` (venue, trade id) pairs so a fill delivered twice (stream and
/// poller, or a venue resend) is counted once.
#[derive(Debug)]
pub struct FillDedup {
    seen: HashSet<(VenueId, u64), Fixed>,
    order: VecDeque<(VenueId, u64)>,
    capacity: usize,
}

impl FillDedup {
    /// A de-duplicator remembering `capacity` fills, allocated now.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            seen: HashSet::with_capacity_and_hasher(churn_room(capacity), Fixed::default()),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// True the first time a (venue, trade id) is offered, false for repeats.
    pub fn first_time(&mut self, venue: VenueId, trade_id: u64) -> bool {
        let key = (venue, trade_id);
        if self.seen.contains(&key) {
            return false;
        }
        // Evict first: the set never holds more than `capacity` entries, not even for the
        // moment between insert and evict.
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(key);
        self.order.push_back(key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> OrderEntry {
        let id = ClientOrderId::new(StrategyId(1), seq).expect("small seq");
        OrderEntry::new(
            id,
            VenueId::SYNTHETIC,
            InstrumentId(0),
            Side::Buy,
            Px::ONE,
            Qty::ONE,
        )
    }

    #[test]
    fn table_fills_reuses_slots_and_refuses_when_full() {
        let mut t = OrderTable::with_capacity(2);
        assert!(t.insert(entry(1)));
        assert!(t.insert(entry(2)));
        assert!(!t.insert(entry(3)));
        assert_eq!(t.remove(entry(1).id).map(|e| e.id), Some(entry(1).id));
        assert!(t.insert(entry(3)));
        let ids: Vec<u64> = t.iter().map(|e| e.id.seq()).collect();
        assert_eq!(ids, vec![3, 2]);
        assert!(t.get(entry(1).id).is_none());
    }

    #[test]
    fn dedup_forgets_only_beyond_capacity() {
        let mut d = FillDedup::with_capacity(2);
        assert!(d.first_time(VenueId::OKX, 1));
        assert!(!d.first_time(VenueId::OKX, 1));
        assert!(d.first_time(VenueId::BINANCE, 1));
        assert!(d.first_time(VenueId::OKX, 2));
        // (OKX, 1) was evicted by the third distinct fill.
        assert!(d.first_time(VenueId::OKX, 1));
    }
}
