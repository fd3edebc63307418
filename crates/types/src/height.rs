//! Consensus block heights: [`Height`].

counter_newtype!(
    /// A consensus block height (the first block is height 1). Encoded as a
    /// plain integer.
    Height
);
