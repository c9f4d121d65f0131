//! postsuper (being written).
