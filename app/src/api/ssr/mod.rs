//! The server side of the server functions, one purpose a file: the shared state, the
//! caller's session, access checks, row-to-wire views, what follows a change, and how an
//! error becomes the response's status. The server function modules (`auth`, `sites`,
//! `domains`, `snapshots`, `fleet`) use these and never each other.

pub mod access;
pub mod changes;
pub mod respond;
pub mod session;
pub mod state;
pub mod throttle;
pub mod views;

// What the server crate wires in (its session layer, the state it provides, downloads).
pub use session::{session_cookie_name, session_cookie_value, ClientIp, CurrentUser};
pub use state::{AppState, FleetFuture, FleetSource, Limits, LoginLinks};
pub use throttle::{AddressLimits, PasswordHashing};
