//! Runnable corio programs; see `examples/`.
