//! The macro behind the plain counters [`Epoch`](crate::Epoch),
//! [`Height`](crate::Height) and [`Round`](crate::Round).

/// Defines a `u64` newtype that serializes as a plain integer, with
/// `Display`, `FromStr`, conversions and checked arithmetic.
macro_rules! counter_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// Zero, the first value.
            pub const ZERO: Self = Self(0);
            /// The largest value.
            pub const MAX: Self = Self(u64::MAX);

            /// The number.
            pub const fn value(self) -> u64 {
                self.0
            }

            /// The next value, or `None` at the maximum.
            pub const fn next(self) -> Option<Self> {
                self.checked_add(1)
            }

            /// The previous value, or `None` at zero.
            pub const fn prev(self) -> Option<Self> {
                self.checked_sub(1)
            }

            /// `self + n`, or `None` on overflow.
            pub const fn checked_add(self, n: u64) -> Option<Self> {
                match self.0.checked_add(n) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            /// `self - n`, or `None` below zero.
            pub const fn checked_sub(self, n: u64) -> Option<Self> {
                match self.0.checked_sub(n) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            /// How far `self` is after `earlier`, or `None` if it is before.
            pub const fn checked_since(self, earlier: Self) -> Option<u64> {
                self.0.checked_sub(earlier.0)
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                Self(v)
            }
        }

        impl From<$name> for u64 {
            fn from(v: $name) -> u64 {
                v.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<u64>().map(Self)
            }
        }
    };
}
