//! The queue: queue IDs, directories and the queue file record format.
