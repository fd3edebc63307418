//! The Content-Security-Policy of every explorer answer.
//!
//! Everything comes from the node itself (`default-src 'self'`): scripts
//! and styles only from embedded files (no inline script, no `eval`),
//! images from the node or `data:` URLs, no plugins, no frames, no base
//! URL change. The page may connect to its own origin, over HTTP and
//! WebSocket, and to the Ethereum JSON-RPC ports of this node's EVM
//! ParaTimes on the same host; nothing else.

/// The host (with its port) a browser used to reach the node, as the
/// `Host` header says, when it is a plain host name or address: letters,
/// digits, `.`, `-`, `:` and the brackets of an IPv6 literal. Anything
/// else (which could smuggle a directive into the policy) is ignored and
/// the policy falls back to `'self'` alone.
pub fn host_of(header: Option<&str>) -> Option<&str> {
    let h = header?;
    let ok = !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then_some(h)
}

/// The host name without its port (`[::1]:80` → `[::1]`, `a:1` → `a`).
fn hostname(host: &str) -> &str {
    if let Some(end) = host.find(']') {
        return &host[..=end];
    }
    host.split(':').next().unwrap_or(host)
}

/// The policy for a page reached at `host` (see [`host_of`]), allowed to
/// call the Ethereum JSON-RPC on each of `web3_ports` of the same host.
pub fn policy(host: Option<&str>, web3_ports: &[u16]) -> String {
    let mut connect = String::from("'self'");
    if let Some(host) = host {
        connect.push_str(&format!(" ws://{host} wss://{host}"));
        let name = hostname(host);
        for port in web3_ports {
            connect.push_str(&format!(" http://{name}:{port} ws://{name}:{port}"));
        }
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_host_is_kept() {
        assert_eq!(host_of(Some("127.0.0.1:8080")), Some("127.0.0.1:8080"));
        assert_eq!(host_of(Some("[::1]:80")), Some("[::1]:80"));
        assert_eq!(host_of(Some("node.example")), Some("node.example"));
    }

    #[test]
    fn a_hostile_host_is_dropped() {
        for h in [
            "",
            "a; script-src *",
            "a b",
            "a'",
            "evil.example/x",
            "a\r\nx: y",
            "*",
        ] {
            assert_eq!(host_of(Some(h)), None, "{h:?}");
        }
        assert_eq!(host_of(None), None);
        assert_eq!(host_of(Some(&"a".repeat(256))), None);
    }

    #[test]
    fn the_policy_allows_the_node_and_its_web3_ports_only() {
        let p = policy(Some("127.0.0.1:9000"), &[8545]);
        assert!(p.starts_with("default-src 'self'; script-src 'self';"));
        assert!(p.contains(
            "connect-src 'self' ws://127.0.0.1:9000 wss://127.0.0.1:9000 \
             http://127.0.0.1:8545 ws://127.0.0.1:8545;"
        ));
        assert!(!p.contains("unsafe"));
        assert!(p.contains("frame-ancestors 'none'"));
        let ipv6 = policy(Some("[::1]:9000"), &[1]);
        assert!(ipv6.contains("http://[::1]:1 "));
    }

    #[test]
    fn without_a_host_only_self() {
        let p = policy(None, &[8545]);
        assert!(p.contains("connect-src 'self';"));
        assert!(!p.contains("8545"));
    }
}
