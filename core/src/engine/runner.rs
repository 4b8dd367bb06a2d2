//! Engine runner: placeholder until rings land.
