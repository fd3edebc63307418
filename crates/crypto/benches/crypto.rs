//! Criterion benchmarks of the primitives whose rates are the machine limits atoll compares against.
fn main() {}
