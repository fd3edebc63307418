//! The embedded assets: every file of `assets/`, its path under
//! `/explorer/` and its content type. Nothing is read from disk at run time.

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its path under `/explorer/` (`""` is the page itself).
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $ty:expr) => {
        Asset {
            path: $path,
            content_type: $ty,
            body: include_bytes!(concat!("../assets/", $path)),
        }
    };
}

/// Every asset. `index.html` is also served at `/explorer` and
/// `/explorer/`.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("icon.svg", SVG),
    asset!("app.js", JS),
    asset!("rpc.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("chart.js", JS),
    asset!("search.js", JS),
    asset!("views/overview.js", JS),
    asset!("views/consensus.js", JS),
    asset!("views/registry.js", JS),
    asset!("views/paratime.js", JS),
    asset!("views/evm.js", JS),
];

/// The asset at `path` (under `/explorer/`), if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = if path.is_empty() { "index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_non_empty_and_unique() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(!a.body.is_empty(), "{} is empty", a.path);
            assert!(
                ASSETS[..i].iter().all(|b| b.path != a.path),
                "{} twice",
                a.path
            );
        }
    }

    /// Every module the page imports is embedded, so the page never asks
    /// for a file the node cannot serve.
    #[test]
    fn every_import_is_embedded() {
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).unwrap();
            for line in text.lines() {
                let Some(from) = line.split(" from ").nth(1) else {
                    continue;
                };
                let target = from.trim().trim_end_matches(';').trim_matches('\'');
                if !target.starts_with('.') {
                    continue;
                }
                let dir = a.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
                for p in target.split('/') {
                    match p {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        p => parts.push(p),
                    }
                }
                let resolved = parts.join("/");
                assert!(
                    find(&resolved).is_some(),
                    "{} imports {target} ({resolved}), not embedded",
                    a.path
                );
            }
        }
    }

    /// The page names only assets of its own, by absolute path.
    #[test]
    fn the_page_loads_only_embedded_assets() {
        let page = std::str::from_utf8(find("").unwrap().body).unwrap();
        for attr in ["src=\"", "href=\""] {
            for piece in page.split(attr).skip(1) {
                let url = piece.split('"').next().unwrap();
                if url.starts_with('#') {
                    continue;
                }
                let rest = url
                    .strip_prefix("/explorer/")
                    .unwrap_or_else(|| panic!("{url} is not under /explorer/"));
                assert!(find(rest).is_some(), "{url} is not embedded");
            }
        }
    }
}
