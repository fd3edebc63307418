//! Runtime rounds: [`Round`].

counter_newtype!(
    /// A runtime (ParaTime) round number, counted per runtime. Encoded as a
    /// plain integer.
    Round
);
