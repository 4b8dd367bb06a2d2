//! OKX v5 (in progress).
