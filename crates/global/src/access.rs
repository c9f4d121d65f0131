//! access(5) key search order.
