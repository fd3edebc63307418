//! Serde support shared by the fixed-size byte types.

/// Implements `Serialize`/`Deserialize` for a byte-array newtype: a byte
/// string in binary formats (CBOR), a text form in human-readable ones (JSON).
///
/// `$from_slice` parses raw bytes, `$to_human` and `$from_human` convert the
/// text form; both parsers return `Result<_, CryptoError>`, so a wrong length
/// or a malformed string is a typed error, never a panic.
macro_rules! serde_bytes_impl {
    ($ty:ty, $what:literal, $from_slice:path, $to_human:path, $from_human:path) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&$to_human(self))
                } else {
                    s.serialize_bytes(AsRef::<[u8]>::as_ref(self))
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", $what))
                    }

                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        $from_human(v).map_err(E::custom)
                    }

                    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<$ty, E> {
                        $from_slice(v).map_err(E::custom)
                    }
                }
                if d.is_human_readable() {
                    d.deserialize_str(Visitor)
                } else {
                    d.deserialize_bytes(Visitor)
                }
            }
        }
    };
}
