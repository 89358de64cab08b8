//! The unified CSV (SPEC §2): reader and writer. (Filled in by the foundation work.)
