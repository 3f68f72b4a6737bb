//! Wheel tests.
