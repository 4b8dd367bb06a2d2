//! Venue market-data adapters: Binance spot / Binance.US combined streams with snapshot + diff
//! sync, OKX v5 books with seqId and checksum verification. Not implemented yet (market-data
//! issue); each venue will be a submodule here.
