//! Postfix-shaped logging through `tracing`.
