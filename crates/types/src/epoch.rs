//! Epochs: [`Epoch`].

counter_newtype!(
    /// A consensus epoch number: committees, validator sets and parameters
    /// change at epoch boundaries. Encoded as a plain integer.
    Epoch
);
