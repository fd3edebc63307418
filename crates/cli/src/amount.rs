//! Amounts as users write them.
//!
//! - A plain integer is an amount in **base units**: `1000`, `1_000_000`.
//! - A decimal number (`1.5`) is an amount in whole tokens and needs
//!   `--decimals N`, the number of decimals of the token (how many base
//!   units make one token): with `--decimals 9`, `1.5` is 1,500,000,000 base
//!   units. It must not have more fractional digits than that.
//!
//! Anything else (signs, exponents, spaces, letters, values above
//! 2^128 - 1) is refused before anything is sent.

use anyhow::bail;

/// Parses `text` as described in the module documentation.
pub fn parse(text: &str, decimals: Option<u32>) -> anyhow::Result<u128> {
    let hint = "amounts are integers in base units (e.g. 1000 or 1_000_000), or decimal \
                numbers of whole tokens with --decimals N (e.g. 1.5 --decimals 9)";
    if text.starts_with('-') {
        bail!("malformed amount {text:?}: amounts cannot be negative; {hint}");
    }
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() {
        bail!("malformed amount {text:?}: it is empty; {hint}");
    }
    if text.starts_with('_') || text.ends_with('_') || text.contains("__") {
        bail!("malformed amount {text:?}: misplaced '_'; {hint}");
    }
    let (whole, fraction) = match cleaned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (cleaned.as_str(), None),
    };
    let digits_only = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits_only(whole) || !fraction.is_none_or(digits_only) {
        bail!("malformed amount {text:?}: only digits, '_' and one '.' are allowed; {hint}");
    }
    if whole.is_empty() && fraction.is_none_or(str::is_empty) {
        bail!("malformed amount {text:?}: no digits; {hint}");
    }
    let too_large = || {
        anyhow::anyhow!("amount {text:?} is too large: at most 2^128 - 1 base units are possible")
    };
    match fraction {
        None => whole.parse::<u128>().map_err(|_| too_large()),
        Some(fraction) => {
            let Some(decimals) = decimals else {
                bail!(
                    "amount {text:?} has a decimal point, but the token's decimals are not \
                     known: pass --decimals N (9 for a token with 9 decimals), or give the \
                     amount as an integer of base units"
                );
            };
            let places = u32::try_from(fraction.len()).unwrap_or(u32::MAX);
            if places > decimals {
                bail!(
                    "amount {text:?} has {places} decimal places; with --decimals {decimals} \
                     the smallest unit is 10^-{decimals}"
                );
            }
            let scale = 10u128.checked_pow(decimals).ok_or_else(too_large)?;
            let whole: u128 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| too_large())?
            };
            let frac: u128 = if fraction.is_empty() {
                0
            } else {
                fraction.parse().map_err(|_| too_large())?
            };
            let frac_scale = 10u128
                .checked_pow(decimals - places)
                .ok_or_else(too_large)?;
            whole
                .checked_mul(scale)
                .and_then(|w| frac.checked_mul(frac_scale).and_then(|f| w.checked_add(f)))
                .ok_or_else(too_large)
        }
    }
}

/// Parses an amount that must not be zero (what would a transfer of nothing do?).
pub fn parse_positive(text: &str, decimals: Option<u32>, what: &str) -> anyhow::Result<u128> {
    let v = parse(text, decimals)?;
    if v == 0 {
        bail!("{what} must be more than zero: amount {text:?} is nothing to send");
    }
    Ok(v)
}

/// `base` units shown as tokens with `decimals` decimals (`1.5`), or as
/// they are when `decimals` is unknown.
pub fn format(base: u128, decimals: Option<u32>) -> String {
    let Some(d) = decimals.filter(|d| *d > 0) else {
        return base.to_string();
    };
    let Some(scale) = 10u128.checked_pow(d) else {
        return base.to_string();
    };
    let whole = base / scale;
    let frac = base % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let width = usize::try_from(d).unwrap_or(0);
    let frac = format!("{frac:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn integers_are_base_units() {
        assert_eq!(parse("0", None).unwrap(), 0);
        assert_eq!(parse("1000", None).unwrap(), 1000);
        assert_eq!(parse("1_000_000", None).unwrap(), 1_000_000);
        assert_eq!(parse("1000", Some(9)).unwrap(), 1000);
        assert_eq!(
            parse("340282366920938463463374607431768211455", None).unwrap(),
            u128::MAX
        );
    }

    #[test]
    fn decimals_need_the_flag() {
        assert_eq!(parse("1.5", Some(9)).unwrap(), 1_500_000_000);
        assert_eq!(parse(".5", Some(2)).unwrap(), 50);
        assert_eq!(parse("2.", Some(2)).unwrap(), 200);
        assert_eq!(parse("0.000000001", Some(9)).unwrap(), 1);
        let e = parse("1.5", None).unwrap_err().to_string();
        assert!(e.contains("--decimals"), "{e}");
        let e = parse("0.0000000001", Some(9)).unwrap_err().to_string();
        assert!(e.contains("10 decimal places"), "{e}");
    }

    #[test]
    fn malformed_amounts_are_refused() {
        for bad in [
            "",
            "-1",
            "+1",
            "1e9",
            "abc",
            "1 000",
            "0x10",
            "1.2.3",
            ".",
            "_1",
            "1_",
            "1__0",
            "340282366920938463463374607431768211456",
        ] {
            assert!(parse(bad, Some(9)).is_err(), "{bad:?} was accepted");
        }
        assert!(parse("99999999999999999999999999999.0", Some(18)).is_err());
        assert!(parse_positive("0", None, "the amount").is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(format(1_500_000_000, Some(9)), "1.5");
        assert_eq!(format(1_000_000_000, Some(9)), "1");
        assert_eq!(format(1, Some(9)), "0.000000001");
        assert_eq!(format(42, None), "42");
    }
}
