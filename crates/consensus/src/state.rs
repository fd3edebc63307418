//! How the state machine reads and writes state: the store abstraction lives
//! in [`atoll_state::store`] (shared with the ParaTimes) and is re-exported
//! here at its old path; what stays is the per-service typed state view.

pub use atoll_state::store::*;

/// Declares a service's typed state view: a struct borrowing a store, its
/// constructor, and the getter and setter of the service's parameters (kept
/// under the one-byte key `$params_key`). Each service adds its own accessors.
macro_rules! service_state {
    ($(#[$doc:meta])* $name:ident, $params_key:expr, $params:ty, $service:literal) => {
        $(#[$doc])*
        pub struct $name<'a> {
            store: &'a mut dyn $crate::state::Store,
        }

        impl<'a> $name<'a> {
            #[doc = concat!("The ", $service, " state in `store`.")]
            pub fn new(store: &'a mut dyn $crate::state::Store) -> Self {
                Self { store }
            }

            #[doc = concat!(
                "The ", $service, " parameters; their absence means the state was never ",
                "initialised from a genesis document, which is fatal."
            )]
            pub fn parameters(&self) -> Result<$params, $crate::error::FatalError> {
                use $crate::state::StoreExt as _;
                self.store.get_typed(&[$params_key])?.ok_or_else(|| {
                    $crate::error::FatalError::Invariant(concat!($service, " parameters missing").into())
                })
            }

            #[doc = concat!("Sets the ", $service, " parameters.")]
            pub fn set_parameters(&mut self, p: &$params) -> Result<(), $crate::error::Failure> {
                use $crate::state::StoreExt as _;
                Ok(self.store.put_typed(&[$params_key], p)?)
            }
        }
    };
}
pub(crate) use service_state;
