//! The kill switch's flatten state, per strategy: which phase it is in and how much of its
//! budget it has used. Risk decides *when* a flatten starts (escalation to `flattening`, an
//! operator `flatten`/`kill`: a fresh state and budget) and when it is done; the engine's
//! flattener (`engine::flatten`) decides *how* and moves this state along.

/// Where a flatten is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlattenPhase {
    /// Not flattening.
    #[default]
    Idle,
    /// Cancels sent; waiting for them to be confirmed.
    Cancelling,
    /// Closing positions.
    Closing,
    /// Flat: the strategy is stopped.
    Done,
}

/// Progress of one strategy's flatten.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlattenState {
    /// Phase.
    pub phase: FlattenPhase,
    /// Closing orders sent so far (the budget).
    pub orders_sent: u32,
    /// Query rounds for unconfirmed orders.
    pub queries: u32,
    /// True once the budget was spent and the operator alerted.
    pub stuck: bool,
    pub(crate) cancel_sent: bool,
    pub(crate) since: u64,
    /// When the working closing order was sent (or last queried), and how often it was.
    pub(crate) waiting_since: u64,
    pub(crate) chases: u32,
    pub(crate) next_at: u64,
    pub(crate) backoff: u64,
}

impl FlattenState {
    /// A flatten about to start.
    pub fn start() -> Self {
        Self {
            phase: FlattenPhase::Cancelling,
            ..Self::default()
        }
    }
}
