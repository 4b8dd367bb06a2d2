//! The order state machine, as one table: [`OrderState::apply`] gives the state an open order
//! moves to on an [`OrderEvent`], or `None` when the event changes nothing (and nothing is
//! published). The engine decides which event a report is, and keeps the facts the events
//! carry (cumulative fills, the venue's own count, the state before a cancel); every rule
//! about what follows from what is here.
//!
//! Venues do not deliver reports in the order a textbook would. The odd edges, each kept on
//! purpose:
//! - **fill before ack**: a fill may overtake its order's ack; the ack then finds the order
//!   partially filled and leaves it so (or moves `PendingNew`/`Unknown` to `PartiallyFilled`);
//! - **fill after a cancel request**: the order stays `PendingCancel` (the cancel is still in
//!   flight) unless the fill completes it;
//! - **fill after a cancel ack**: the order has left the table; the engine still moves the
//!   position (a fill is never refused) and alerts;
//! - **fill debt**: a venue status that counts more filled than the fills received keeps the
//!   order open (at most `PartiallyFilled`) until the owed fills arrive, and a final state the
//!   venue reported meanwhile is applied when they do;
//! - **overfill / sub-lot remainder**: a remainder smaller than one lot can never trade, so
//!   such a fill completes the order (0.024098 of 0.0241); an overfill completes it too (and
//!   the engine alerts);
//! - **unknown**: a command whose outcome is unknown (timeout, disconnect) moves the order to
//!   `Unknown` until a query or a late report resolves it; a restored order starts there too;
//! - **vanished**: a venue that does not know the order ends it as `Canceled` if it was ever
//!   live there (acknowledged or filled), else `Rejected`.
//!
//! Terminal states (`Filled`, `Canceled`, `Rejected`) accept nothing: an order leaves the
//! table the moment it reaches one, so a late report finds no order.

use crate::event::{OrderState, OrderStatus};

/// Something that happened to an open order: a request of ours, a venue report, a query
/// answer, or a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEvent {
    /// We asked to cancel it (a strategy, the flattener, shutdown, or a journaled cancel).
    CancelRequested,
    /// The venue acknowledged it; `filled`: fills arrived before the ack.
    Acked {
        /// Some quantity already filled.
        filled: bool,
    },
    /// The venue refused the order.
    Rejected,
    /// The venue confirmed our cancel.
    CancelAcked,
    /// The venue refused our cancel; `before` is the state the cancel was requested in.
    CancelRejected {
        /// The state to go back to.
        before: OrderState,
    },
    /// A command's outcome is unknown (timeout, disconnect): it must be resolved by a query.
    OutcomeUnknown,
    /// A fill was applied to the order.
    Filled {
        /// What is left can still trade (at least one lot).
        rest_tradable: bool,
        /// The final state the venue reported while fills were owed, if the owed fills have
        /// now all arrived.
        venue_final: Option<OrderState>,
    },
    /// A venue status query answered.
    Reported {
        /// The status the venue reported (`NotFound` is [`OrderEvent::Vanished`] instead).
        status: OrderStatus,
        /// Some quantity already filled (by the fills we received).
        filled: bool,
        /// The venue counts more filled than the fills received.
        debt: bool,
    },
    /// The venue does not know the order.
    Vanished {
        /// It was acknowledged or filled once: it was live there and ended as cancelled.
        was_live: bool,
    },
    /// A resumed run restored it from the journal: in doubt until the venue confirms it.
    Restored,
}

impl OrderState {
    /// The state an open order in `self` moves to on `event`, or `None` when the event
    /// changes nothing and no update is published. See the [module docs](self) for the edges.
    pub fn apply(self, event: OrderEvent) -> Option<OrderState> {
        use OrderState::*;
        if self.is_terminal() {
            return None;
        }
        match event {
            OrderEvent::CancelRequested => (self != PendingCancel).then_some(PendingCancel),
            // Only an order waiting for its outcome moves on an ack; a working, partially
            // filled or cancel-pending order already knows more than the ack says.
            OrderEvent::Acked { filled } => matches!(self, PendingNew | Unknown)
                .then_some(if filled { PartiallyFilled } else { Working }),
            OrderEvent::Rejected => Some(Rejected),
            OrderEvent::CancelAcked => Some(Canceled),
            OrderEvent::CancelRejected { before } => (self == PendingCancel).then_some(before),
            OrderEvent::OutcomeUnknown | OrderEvent::Restored => Some(Unknown),
            OrderEvent::Filled {
                rest_tradable,
                venue_final,
            } => {
                let target = venue_final.unwrap_or(if rest_tradable {
                    PartiallyFilled
                } else {
                    Filled
                });
                // Always published: the filled quantity changed even when the state did not.
                Some(keep_pending_cancel(self, target))
            }
            OrderEvent::Reported {
                status,
                filled,
                debt,
            } => {
                let venue = match status {
                    // A status older than fills already received does not undo them.
                    OrderStatus::New if filled => PartiallyFilled,
                    OrderStatus::New => Working,
                    OrderStatus::PartiallyFilled => PartiallyFilled,
                    OrderStatus::Filled => Filled,
                    OrderStatus::Canceled | OrderStatus::Expired => Canceled,
                    OrderStatus::Rejected | OrderStatus::NotFound => Rejected,
                };
                // Fills are owed: the order stays open until they arrive (positions move only
                // on fills), working if nothing at all has filled yet.
                let reported = if debt {
                    if filled || venue != Working {
                        PartiallyFilled
                    } else {
                        Working
                    }
                } else {
                    venue
                };
                let next = keep_pending_cancel(self, reported);
                (next != self || next.is_terminal()).then_some(next)
            }
            OrderEvent::Vanished { was_live } => Some(if was_live { Canceled } else { Rejected }),
        }
    }
}

/// A pending cancel stays pending while the venue still has the order open.
fn keep_pending_cancel(current: OrderState, next: OrderState) -> OrderState {
    if current == OrderState::PendingCancel && !next.is_terminal() {
        OrderState::PendingCancel
    } else {
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderState::*;

    fn events() -> Vec<OrderEvent> {
        let mut v = vec![
            OrderEvent::CancelRequested,
            OrderEvent::Acked { filled: false },
            OrderEvent::Acked { filled: true },
            OrderEvent::Rejected,
            OrderEvent::CancelAcked,
            OrderEvent::OutcomeUnknown,
            OrderEvent::Vanished { was_live: false },
            OrderEvent::Vanished { was_live: true },
            OrderEvent::Restored,
        ];
        for &before in OrderState::ALL {
            v.push(OrderEvent::CancelRejected { before });
        }
        for rest_tradable in [false, true] {
            for venue_final in [None, Some(Filled), Some(Canceled)] {
                v.push(OrderEvent::Filled {
                    rest_tradable,
                    venue_final,
                });
            }
        }
        for &status in OrderStatus::ALL {
            for filled in [false, true] {
                for debt in [false, true] {
                    v.push(OrderEvent::Reported {
                        status,
                        filled,
                        debt,
                    });
                }
            }
        }
        v
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for s in [Filled, Canceled, Rejected] {
            for e in events() {
                assert_eq!(s.apply(e), None, "{s:?} on {e:?}");
            }
        }
    }

    #[test]
    fn a_cancel_is_requested_once() {
        for &s in OrderState::ALL.iter().filter(|s| !s.is_terminal()) {
            let want = (s != PendingCancel).then_some(PendingCancel);
            assert_eq!(s.apply(OrderEvent::CancelRequested), want, "{s:?}");
        }
    }

    #[test]
    fn ack_moves_only_orders_waiting_for_their_outcome() {
        let ack = |filled| OrderEvent::Acked { filled };
        assert_eq!(PendingNew.apply(ack(false)), Some(Working));
        assert_eq!(Unknown.apply(ack(false)), Some(Working));
        // Fill before ack.
        assert_eq!(PendingNew.apply(ack(true)), Some(PartiallyFilled));
        for s in [Working, PartiallyFilled, PendingCancel] {
            assert_eq!(s.apply(ack(false)), None, "{s:?}");
            assert_eq!(s.apply(ack(true)), None, "{s:?}");
        }
    }

    #[test]
    fn a_refused_cancel_goes_back_to_where_it_was() {
        for before in [PendingNew, Working, PartiallyFilled, Unknown] {
            let e = OrderEvent::CancelRejected { before };
            assert_eq!(PendingCancel.apply(e), Some(before));
            assert_eq!(Working.apply(e), None, "no cancel pending");
        }
    }

    #[test]
    fn fills_complete_or_keep_a_pending_cancel() {
        let fill = |rest_tradable, venue_final| OrderEvent::Filled {
            rest_tradable,
            venue_final,
        };
        for s in [PendingNew, Working, PartiallyFilled, Unknown] {
            assert_eq!(s.apply(fill(true, None)), Some(PartiallyFilled), "{s:?}");
            // Sub-lot remainder or overfill: complete.
            assert_eq!(s.apply(fill(false, None)), Some(Filled), "{s:?}");
            // Owed fills arrived: the venue's final word.
            assert_eq!(s.apply(fill(true, Some(Canceled))), Some(Canceled), "{s:?}");
        }
        // Fill after a cancel request: still pending, unless it completes the order.
        assert_eq!(PendingCancel.apply(fill(true, None)), Some(PendingCancel));
        assert_eq!(PendingCancel.apply(fill(false, None)), Some(Filled));
    }

    #[test]
    fn reports_resolve_unknown_orders_and_respect_fill_debt() {
        let rep = |status, filled, debt| OrderEvent::Reported {
            status,
            filled,
            debt,
        };
        assert_eq!(
            Unknown.apply(rep(OrderStatus::New, false, false)),
            Some(Working)
        );
        assert_eq!(
            Unknown.apply(rep(OrderStatus::Filled, true, false)),
            Some(Filled)
        );
        // Nothing new: nothing published.
        assert_eq!(Working.apply(rep(OrderStatus::New, false, false)), None);
        // An old status does not undo fills received.
        assert_eq!(
            Working.apply(rep(OrderStatus::New, true, false)),
            Some(PartiallyFilled)
        );
        // Fill debt: a filled or cancelled order stays open until its fills arrive.
        assert_eq!(
            Working.apply(rep(OrderStatus::Filled, false, true)),
            Some(PartiallyFilled)
        );
        assert_eq!(
            PartiallyFilled.apply(rep(OrderStatus::Canceled, true, true)),
            None
        );
        // A pending cancel stays pending while the venue has the order open.
        assert_eq!(
            PendingCancel.apply(rep(OrderStatus::PartiallyFilled, true, false)),
            None
        );
        assert_eq!(
            PendingCancel.apply(rep(OrderStatus::Canceled, true, false)),
            Some(Canceled)
        );
        assert_eq!(
            PendingCancel.apply(rep(OrderStatus::Expired, false, false)),
            Some(Canceled)
        );
    }

    #[test]
    fn only_a_refused_cancel_returns_an_order_to_pending_new() {
        for &s in OrderState::ALL.iter().filter(|s| !s.is_terminal()) {
            for e in events() {
                let back = matches!(e, OrderEvent::CancelRejected { before: PendingNew });
                if s.apply(e) == Some(PendingNew) {
                    assert!(back && s == PendingCancel, "{s:?} on {e:?}");
                }
            }
        }
    }
}
