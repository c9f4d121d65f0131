//! Postfix lookup tables behind one trait (Postfix's `src/util/dict_*`).
