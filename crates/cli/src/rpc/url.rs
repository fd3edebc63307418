//! A node's URL as the user gave it, checked and normalised before any
//! connection (a pure decision, apart from the DNS lookup in
//! [`super::Client::new`]).

use anyhow::bail;

/// A node URL, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NodeUrl {
    /// `http://HOST:PORT[/path]` or `https://...`, as the client uses it.
    pub(super) url: String,
    /// `HOST:PORT`, for the lookup.
    pub(super) host_port: String,
}

/// Parses `url`: `http://` or `https://`, a host and a port, an optional
/// path (no scheme: `http`).
pub(super) fn parse(url: &str) -> anyhow::Result<NodeUrl> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("http://") {
        ("http", r)
    } else if let Some(r) = url.strip_prefix("https://") {
        ("https", r)
    } else if url.contains("://") {
        bail!("{url}: not an http:// or https:// URL");
    } else {
        ("http", url)
    };
    let (host_port, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("/")),
        None => (rest, "/"),
    };
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, ""));
    if host.is_empty() {
        bail!("{url}: no host; expected {scheme}://HOST:PORT");
    }
    if port.parse::<u16>().is_err() {
        bail!("{url}: no port; expected {scheme}://HOST:PORT");
    }
    Ok(NodeUrl {
        url: format!(
            "{scheme}://{host_port}{}",
            if path == "/" { "" } else { path }
        ),
        host_port: host_port.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn urls() {
        let url = |u: &str| parse(u).map(|n| n.url);
        assert_eq!(
            url("http://127.0.0.1:8000").unwrap(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(url("127.0.0.1:8000").unwrap(), "http://127.0.0.1:8000");
        assert_eq!(
            url("https://node.example:443/api").unwrap(),
            "https://node.example:443/api"
        );
        assert_eq!(parse("https://a:1/").unwrap().host_port, "a:1");
        let refused = |u: &str| url(u).unwrap_err().to_string();
        assert!(refused("http://127.0.0.1").contains("no port"));
        assert!(refused("https://127.0.0.1").contains("expected https://HOST:PORT"));
        assert!(refused("ftp://x:1").contains("not an http:// or https:// URL"));
        assert!(refused("http://:1").contains("no host"));
        assert!(refused("http://").contains("no host"));
    }
}
