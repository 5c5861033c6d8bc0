//! The platform-neutral model shared by plan, state and connectors.
//!
//! A [`Resource`] is the flat form of one object on an ad platform: an [`Address`], a [`Kind`], and a map of
//! exactly the fields the user manages. Desired resources come from `spec` (lowering the YAML); live resources
//! come from a connector's read. The contract for every kind's field names lives in `docs/resource-model.md`.

mod account;
mod address;
mod money;
mod project;
mod resource;
mod small_map;
mod value;

pub use account::{Account, Guardrails, Platform, RemovalPolicy};
pub use address::{Address, AddressParseError, Kind};
pub use money::{group_thousands, Currency, Money, MoneyError};
pub use project::{Moved, Project};
pub use resource::{fingerprint_key, live_fingerprint, value_fingerprint, Lifecycle, Resource, SourceLocation};
pub use small_map::{Key, SmallMap};
pub use value::Value;
