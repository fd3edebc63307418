//! The common types: arithmetic, parsing and display.

use atoll_types::quantity::QuantityError;
use atoll_types::{Epoch, Height, Namespace, Quantity, Round};

#[test]
fn quantity_arithmetic_is_checked() {
    let a = Quantity::from(7u64);
    let b = Quantity::from(3u64);
    assert_eq!(a.checked_add(b), Some(Quantity(10)));
    assert_eq!(a.checked_sub(b), Some(Quantity(4)));
    assert_eq!(b.checked_sub(a), None);
    assert_eq!(a.checked_mul(3), Some(Quantity(21)));
    assert_eq!(a.checked_div(3), Some(Quantity(2)));
    assert_eq!(a.checked_div(0), None);
    assert_eq!(Quantity::MAX.checked_add(Quantity(1)), None);
    assert_eq!(Quantity::MAX.checked_mul(2), None);
    assert!(Quantity::ZERO.is_zero());
    assert!(a > b);
}

#[test]
fn quantity_text_and_bytes() {
    assert_eq!(Quantity::MAX.to_string(), u128::MAX.to_string());
    assert_eq!("0".parse::<Quantity>(), Ok(Quantity::ZERO));
    assert_eq!(
        "340282366920938463463374607431768211455".parse::<Quantity>(),
        Ok(Quantity::MAX)
    );
    for bad in [
        "",
        "+1",
        "-1",
        " 1",
        "1.0",
        "0x10",
        "340282366920938463463374607431768211456",
    ] {
        assert_eq!(
            bad.parse::<Quantity>(),
            Err(QuantityError::InvalidDecimal(bad.to_owned())),
            "{bad:?}"
        );
    }
    assert_eq!(Quantity::ZERO.to_be_bytes_minimal(), Vec::<u8>::new());
    assert_eq!(Quantity(0x0102).to_be_bytes_minimal(), vec![1, 2]);
    assert_eq!(Quantity::from_be_bytes_minimal(&[]), Ok(Quantity::ZERO));
    assert_eq!(
        Quantity::from_be_bytes_minimal(&[0]),
        Err(QuantityError::LeadingZero)
    );
    assert_eq!(
        Quantity::from_be_bytes_minimal(&[1; 17]),
        Err(QuantityError::TooLong(17))
    );
    assert_eq!(
        Quantity::from_be_bytes_minimal(&[0xff; 16]),
        Ok(Quantity::MAX)
    );
}

#[test]
fn counters() {
    assert_eq!(Epoch(1).next(), Some(Epoch(2)));
    assert_eq!(Epoch::MAX.next(), None);
    assert_eq!(Height(0).prev(), None);
    assert_eq!(Round(10).checked_sub(3), Some(Round(7)));
    assert_eq!(Round(10).checked_add(u64::MAX), None);
    assert_eq!(Height(10).checked_since(Height(4)), Some(6));
    assert_eq!(Height(4).checked_since(Height(10)), None);
    assert_eq!(Epoch(12).to_string(), "12");
    assert_eq!("12".parse::<Epoch>(), Ok(Epoch(12)));
    assert!("-1".parse::<Round>().is_err());
    assert_eq!(u64::from(Height::from(5)), 5);
}

#[test]
fn namespace_parsing() {
    let ns: Namespace = format!("80{}", "00".repeat(31)).parse().unwrap();
    assert_eq!(ns.as_bytes()[0], 0x80);
    assert!(Namespace::from_slice(&[0; 31]).is_err());
}
