//! Who is asking, by network address: the peer of the connection, or — only when that peer
//! is a trusted reverse proxy — the address the proxy reports in `X-Forwarded-For`.
//!
//! Throttling, the audit log and the access log key on this address, so a client must not
//! be able to choose it: `X-Forwarded-For` from an untrusted peer is ignored, and from a
//! trusted one the list is read from the right, skipping trusted hops, so a client cannot
//! prepend a forged address either.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// Networks whose `X-Forwarded-For` is believed (configuration `trusted_proxies`).
///
/// ```
/// use axum_drf::client::TrustedProxies;
/// let trusted: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
/// assert!(trusted.contains("10.1.2.3".parse().unwrap()));
/// assert!(!trusted.contains("192.0.2.1".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// No proxy is trusted: the peer address is the client.
pub static NO_PROXIES: TrustedProxies = TrustedProxies(Vec::new());

/// A `trusted_proxies` entry that is neither an address nor a network.
#[derive(Debug, thiserror::Error)]
#[error("invalid trusted proxy {0:?}: expected an IP address or a network such as 10.0.0.0/8")]
pub struct InvalidProxy(pub String);

impl TrustedProxies {
    /// Parses addresses (`127.0.0.1`, `::1`) and networks (`10.0.0.0/8`).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(entries: I) -> Result<Self, InvalidProxy> {
        entries
            .into_iter()
            .map(|e| {
                let e = e.as_ref().trim();
                IpNet::from_str(e)
                    .or_else(|_| IpAddr::from_str(e).map(IpNet::from))
                    .map_err(|_| InvalidProxy(e.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = InvalidProxy;

    /// A comma-separated list.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrustedProxies::new(s.split(',').filter(|e| !e.trim().is_empty()))
    }
}

/// The connection's peer address, when the server recorded it (axum's
/// `into_make_service_with_connect_info::<SocketAddr>()` does).
pub fn peer_addr(extensions: &Extensions) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

/// The client's address: the peer, or the right-most untrusted `X-Forwarded-For` entry
/// when the peer is a trusted proxy. `None` when the server did not record the peer.
///
/// ```
/// use axum::http::HeaderMap;
/// use axum_drf::client::{client_ip, TrustedProxies};
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2".parse().unwrap());
/// let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
/// let peer = Some("10.0.0.1".parse().unwrap());
/// assert_eq!(client_ip(&headers, peer, &trusted), Some("203.0.113.9".parse().unwrap()));
/// // From an untrusted peer the header is ignored.
/// let peer = Some("198.51.100.7".parse().unwrap());
/// assert_eq!(client_ip(&headers, peer, &trusted), peer);
/// ```
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if trusted.is_empty() || !trusted.contains(peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if trusted.contains(ip) => client = ip,
            Some(ip) => return Some(ip),
            // A garbled entry: nothing left of it can be believed.
            None => break,
        }
    }
    Some(client)
}

/// The address that stands for a client in per-client limits: IPv4 (and IPv4-mapped IPv6)
/// addresses as they are, other IPv6 addresses by their /64 (the rest zeroed). One host
/// usually holds a whole /64, so counting its addresses one by one would give it 2^64
/// budgets. The server's per-address connection cap and the throttles' client keys use it.
///
/// ```
/// use std::net::IpAddr;
/// use axum_drf::client::address_key;
/// let ip = |s: &str| s.parse::<IpAddr>().unwrap();
/// assert_eq!(address_key(ip("203.0.113.9")), ip("203.0.113.9"));
/// assert_eq!(address_key(ip("2001:db8:1:2:aaaa::7")), ip("2001:db8:1:2::"));
/// assert_eq!(address_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
/// ```
pub fn address_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

/// An `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`,
/// `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    IpAddr::from_str(hop)
        .ok()
        .or_else(|| SocketAddr::from_str(hop).ok().map(|s| s.ip()))
        .map(canonical)
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) count as their IPv4 address, so one client
/// has one key whether it arrives on an IPv4 or a dual-stack socket.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn all_trusted_hops_give_the_leftmost() {
        let t: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let ip = client_ip(
            &xff("10.9.9.9, 10.0.0.3"),
            Some("10.0.0.1".parse().unwrap()),
            &t,
        );
        assert_eq!(ip, Some("10.9.9.9".parse().unwrap()));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let t: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let ip = client_ip(
            &xff("1.1.1.1, junk, 10.0.0.3"),
            Some("10.0.0.1".parse().unwrap()),
            &t,
        );
        assert_eq!(ip, Some("10.0.0.3".parse().unwrap()));
    }

    #[test]
    fn ports_and_mapped_addresses() {
        let t: TrustedProxies = "127.0.0.1".parse().unwrap();
        let ip = client_ip(
            &xff("[2001:db8::1]:443"),
            Some("::ffff:127.0.0.1".parse().unwrap()),
            &t,
        );
        assert_eq!(ip, Some("2001:db8::1".parse().unwrap()));
        assert!("nonsense".parse::<TrustedProxies>().is_err());
    }
}
