//! Per-venue order entry: signing, request encoding and response parsing (Binance spot and
//! Binance.US over REST and the WebSocket API, OKX v5 over its private WebSocket with a REST
//! fallback). Each venue gets a submodule here; none is implemented yet — the execution issue
//! adds them. Until then the engine trades only against [`crate::sim_exchange`].
