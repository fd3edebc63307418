//! The consensus services. Each keeps its own state under its own key
//! prefix and talks to the others only through the app (never through
//! another service's keys).

pub mod beacon;
pub mod registry;
pub mod roothash;
pub mod scheduler;
pub mod staking;

/// Declares a service's typed state view: a struct borrowing a store, its
/// constructor, and the getter and setter of the service's parameters (kept
/// under the one-byte key `$params_key`). Each service adds its own accessors.
macro_rules! service_state {
    ($(#[$doc:meta])* $name:ident, $params_key:expr, $params:ty, $service:literal) => {
        $(#[$doc])*
        pub struct $name<'a> {
            store: &'a mut dyn ::atoll_state::Store,
        }

        impl<'a> $name<'a> {
            #[doc = concat!("The ", $service, " state in `store`.")]
            pub fn new(store: &'a mut dyn ::atoll_state::Store) -> Self {
                Self { store }
            }

            #[doc = concat!(
                "The ", $service, " parameters; their absence means the state was never ",
                "initialised from a genesis document, which is fatal."
            )]
            pub fn parameters(&self) -> Result<$params, ::atoll_state::FatalError> {
                use ::atoll_state::StoreExt as _;
                self.store.get_typed(&[$params_key])?.ok_or_else(|| {
                    ::atoll_state::FatalError::Invariant(concat!($service, " parameters missing").into())
                })
            }

            #[doc = concat!("Sets the ", $service, " parameters.")]
            pub fn set_parameters(&mut self, p: &$params) -> Result<(), ::atoll_state::Failure> {
                use ::atoll_state::StoreExt as _;
                Ok(self.store.put_typed(&[$params_key], p)?)
            }
        }
    };
}
pub(crate) use service_state;
