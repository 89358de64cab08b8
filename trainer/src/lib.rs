//! `ddsp-trainer`: the library behind the `ddsp` command line.
