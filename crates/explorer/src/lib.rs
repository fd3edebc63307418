//! The explorer: a web page every node can serve under `/explorer`, beside
//! the node API on the same port, so a person sees the network from the
//! data the node already holds.
//!
//! The page is plain HTML, CSS and hand-written JavaScript modules (no
//! framework, no build step), embedded in the binary ([`assets`]). It
//! reads the node through the node's own JSON-RPC API over HTTP and
//! WebSocket (same origin), and the Ethereum JSON-RPC of the node's EVM
//! ParaTimes, whose ports [`Explorer::new`] is given; it fetches nothing
//! else. [`Explorer::respond`] is the whole HTTP surface, a pure function
//! of the request's method, path and headers:
//!
//! | path | answer |
//! |---|---|
//! | `/explorer`, `/explorer/` | the page (`index.html`) |
//! | `/explorer/<asset>` | an embedded asset, with its content type |
//! | `/explorer/settings.json` | what the page needs to know of this node: the web3 ports |
//! | anything else under `/explorer/` | `404` |
//! | any other path | not the explorer's (`None`): the API answers it |
//!
//! Every answer carries a strict Content-Security-Policy (see [`csp`]),
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
//! `Cache-Control: no-cache` with a content `ETag`, so a browser
//! revalidates and an unchanged asset costs a `304`.

pub mod assets;
pub mod csp;
mod respond;

pub use respond::{Explorer, Web3Endpoint};
