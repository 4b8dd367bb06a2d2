//! The independent reconciliation poller: on its own timer it queries open orders, order status
//! and recent fills from each venue's REST API, chases fill debt and reports drift as execution
//! reports. It runs beside the streaming fill path and neither can switch the other off. Not
//! implemented yet (execution issue); nothing depends on it.
