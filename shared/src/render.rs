//! The real-time harmonic + noise renderer (SPEC §4). (Filled in by the foundation work.)
