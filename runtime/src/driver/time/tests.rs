//! Unit tests of the time driver.
