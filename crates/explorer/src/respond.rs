//! The explorer's HTTP answers: a pure function of the request's method,
//! path and headers (the node's HTTP layer performs it).

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};

use crate::assets::{self, Asset};
use crate::csp;

/// Where the page is served.
pub const PREFIX: &str = "/explorer";

/// An EVM ParaTime's Ethereum JSON-RPC on this node, which the page may
/// call (same host, this port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Web3Endpoint {
    /// The runtime id (64 hex digits).
    pub runtime: String,
    /// The port its Ethereum JSON-RPC listens on.
    pub port: u16,
}

/// The explorer of one node: the embedded assets with their `ETag`s, and
/// what the page is told of the node.
#[derive(Debug, Clone)]
pub struct Explorer {
    etags: Vec<String>,
    settings: Vec<u8>,
    settings_etag: String,
    web3_ports: Vec<u16>,
}

/// FNV-1a (64 bits) of `bytes`: a content tag, not a security measure.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{:016x}\"", fnv(bytes))
}

/// `s` as a JSON string (the runtime ids are hex, but quote them properly).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Explorer {
    /// The explorer of a node whose EVM ParaTimes serve their Ethereum
    /// JSON-RPC at `web3`.
    pub fn new(web3: Vec<Web3Endpoint>) -> Self {
        let list: Vec<String> = web3
            .iter()
            .map(|w| {
                format!(
                    "{{\"runtime\":{},\"port\":{}}}",
                    json_string(&w.runtime),
                    w.port
                )
            })
            .collect();
        let settings = format!("{{\"web3\":[{}]}}", list.join(",")).into_bytes();
        Self {
            etags: assets::ASSETS.iter().map(|a| etag(a.body)).collect(),
            settings_etag: etag(&settings),
            settings,
            web3_ports: web3.iter().map(|w| w.port).collect(),
        }
    }

    /// The answer to a request for `path`, or `None` when the path is not
    /// the explorer's.
    pub fn respond(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Response<Vec<u8>>> {
        let rest = path.strip_prefix(PREFIX)?;
        let rest = match rest {
            "" => "",
            r => r.strip_prefix('/')?,
        };
        let host = csp::host_of(headers.get(header::HOST).and_then(|h| h.to_str().ok()));
        let policy = csp::policy(host, &self.web3_ports);
        let answer = if method != Method::GET && method != Method::HEAD {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        } else if rest == "settings.json" {
            self.file(
                headers,
                "application/json",
                self.settings.clone(),
                &self.settings_etag,
            )
        } else {
            match assets::find(rest) {
                Some(a) => self.asset(headers, a),
                None => plain(StatusCode::NOT_FOUND, "no such explorer file\n"),
            }
        };
        let mut answer = answer;
        if method == Method::HEAD {
            answer.body_mut().clear();
        }
        let h = answer.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&policy) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        Some(answer)
    }

    fn asset(&self, headers: &HeaderMap, a: &'static Asset) -> Response<Vec<u8>> {
        let tag = assets::ASSETS
            .iter()
            .position(|b| std::ptr::eq(a, b))
            .and_then(|i| self.etags.get(i))
            .cloned()
            .unwrap_or_else(|| etag(a.body));
        self.file(headers, a.content_type, a.body.to_vec(), &tag)
    }

    fn file(
        &self,
        headers: &HeaderMap,
        content_type: &'static str,
        body: Vec<u8>,
        tag: &str,
    ) -> Response<Vec<u8>> {
        let fresh = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim() == tag || t.trim() == "*");
        let mut r = if fresh {
            let mut r = Response::new(Vec::new());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let mut r = Response::new(body);
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            r
        };
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Ok(v) = HeaderValue::from_str(tag) {
            h.insert(header::ETAG, v);
        }
        r
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Vec<u8>> {
    let mut r = Response::new(text.as_bytes().to_vec());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(e: &Explorer, path: &str) -> Option<Response<Vec<u8>>> {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9000"));
        e.respond(&Method::GET, path, &h)
    }

    fn explorer() -> Explorer {
        Explorer::new(vec![Web3Endpoint {
            runtime: "80".repeat(32),
            port: 8545,
        }])
    }

    #[test]
    fn other_paths_are_not_the_explorers() {
        let e = explorer();
        for p in [
            "/",
            "/metrics",
            "/health",
            "/explorerx",
            "/explore",
            "/x/explorer",
        ] {
            assert!(get(&e, p).is_none(), "{p}");
        }
    }

    #[test]
    fn the_page_is_served_with_its_headers() {
        let e = explorer();
        for p in ["/explorer", "/explorer/", "/explorer/index.html"] {
            let r = get(&e, p).unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{p}");
            assert_eq!(
                r.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
            assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap();
            assert!(csp.starts_with("default-src 'self';"));
            assert!(csp.contains("http://127.0.0.1:8545"));
            assert!(
                String::from_utf8(r.body().clone())
                    .unwrap()
                    .contains("<html")
            );
        }
    }

    #[test]
    fn each_asset_has_its_content_type() {
        let e = explorer();
        let js = get(&e, "/explorer/app.js").unwrap();
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let css = get(&e, "/explorer/style.css").unwrap();
        assert_eq!(
            css.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
        let svg = get(&e, "/explorer/icon.svg").unwrap();
        assert_eq!(svg.headers()[header::CONTENT_TYPE], "image/svg+xml");
    }

    #[test]
    fn settings_name_the_web3_ports() {
        let r = get(&explorer(), "/explorer/settings.json").unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            String::from_utf8(r.body().clone()).unwrap(),
            format!(
                "{{\"web3\":[{{\"runtime\":\"{}\",\"port\":8545}}]}}",
                "80".repeat(32)
            )
        );
        let none = Explorer::new(Vec::new());
        assert_eq!(
            get(&none, "/explorer/settings.json").unwrap().body(),
            b"{\"web3\":[]}"
        );
    }

    #[test]
    fn unknown_files_and_traversal_are_not_found() {
        let e = explorer();
        for p in [
            "/explorer/nope.js",
            "/explorer/../Cargo.toml",
            "/explorer/views/../../src/lib.rs",
            "/explorer//app.js",
            "/explorer/%2e%2e/x",
        ] {
            let r = get(&e, p).unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{p}");
            assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        }
    }

    #[test]
    fn only_get_and_head() {
        let e = explorer();
        let h = HeaderMap::new();
        let r = e.respond(&Method::POST, "/explorer/", &h).unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
        let head = e.respond(&Method::HEAD, "/explorer/app.js", &h).unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert!(head.body().is_empty());
    }

    #[test]
    fn an_unchanged_asset_is_not_sent_again() {
        let e = explorer();
        let first = get(&e, "/explorer/app.js").unwrap();
        let tag = first.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, tag);
        let again = e.respond(&Method::GET, "/explorer/app.js", &h).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(again.body().is_empty());
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        let changed = e.respond(&Method::GET, "/explorer/app.js", &h).unwrap();
        assert_eq!(changed.status(), StatusCode::OK);
    }

    #[test]
    fn a_hostile_host_header_does_not_reach_the_policy() {
        let e = explorer();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("x; script-src *"));
        let r = e.respond(&Method::GET, "/explorer/", &h).unwrap();
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(!csp.contains("script-src *"));
        assert!(csp.contains("connect-src 'self';"));
    }
}
