//! The envelope tools behind `ddsp csv`, `downsample`, `combine`, `enrich`, `modify` and `map`
//! (SPEC §7): each reshape is a function `Envelope -> Envelope` in its own file, unit-tested
//! there; [`io`] reads and writes `.npz` archives and unified CSVs by extension, and refuses
//! to overwrite an input.

pub mod combine;
pub mod downsample;
pub mod enrich;
pub mod io;
pub mod map;
pub mod modify;
pub mod natural_sort;
pub mod spectral_slope;
