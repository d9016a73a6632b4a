//! Sequential specifications for the histories zab-check reads.

mod kv;
mod multi_register;
mod mutex;
mod register;

pub use kv::{Kv, KvOp};
pub use multi_register::{Micro, MultiRegister, MultiRegisterOp};
pub use mutex::{Mutex, MutexOp};
pub use register::{Register, RegisterOp, Value};
