//! WebSeed serving: pure request planning (`range`, `conditional`, `plan`) and the hyper
//! service that carries a plan out from a mapped file (`serve`, `body`).

pub mod body;
pub mod conditional;
pub mod plan;
pub mod range;
pub mod serve;

pub use plan::{plan, Conditions, Plan, Resource};
pub use range::{parse_range, ByteRange, RangeOutcome, MAX_RANGES};
