//! Cross-crate integration tests for corio; the tests live in `tests/`.
