//! Benchmarks of corio beside Tokio, async-executor and OS threads; see `benches/`.
