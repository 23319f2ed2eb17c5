//! Who the client is: the socket's peer, or, behind a reverse proxy the
//! config trusts (`server.trusted_proxies`), the address that proxy put in
//! `X-Forwarded-For`. Every per-address limit keys on [`AddrKey`] of that
//! address.
//!
//! `X-Forwarded-For` is read only when the peer is a trusted proxy, and
//! then from the right: each trusted proxy appends the address it saw, so
//! the right-most entry that is not itself a trusted proxy is the first
//! address no trusted party vouches for beyond — the client. Anything
//! further left was written by the client and is never believed.
//!
//! Pure: no sockets, no headers types; [`crate::http::client`] feeds it.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use serde::Deserialize;

/// The reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For`
/// the server believes; empty by default, which believes nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct TrustedProxies(Vec<IpNet>);

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(entries: Vec<String>) -> Result<Self, String> {
        TrustedProxies::parse(entries.iter().map(String::as_str))
    }
}

impl TrustedProxies {
    /// Parses entries such as `10.0.0.1`, `10.0.0.0/8` or `fd00::/8`; the
    /// error names the entry at fault.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        entries
            .into_iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!(
                            "trusted_proxies entry {entry:?} must be an IP address or a CIDR range such as 10.0.0.0/8"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client's address for a request from `peer` carrying these
    /// `X-Forwarded-For` header values (in the order received).
    ///
    /// From an untrusted peer: the peer, whatever the header says. From a
    /// trusted one: the right-most forwarded address that is not a trusted
    /// proxy; when every entry is one, the left-most of them; when an entry
    /// is not an address, the last trusted hop before it (a proxy we trust
    /// never writes one, so that part came from the client).
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for entry in entries.into_iter().rev() {
            let Some(ip) = parse_forwarded(entry) else {
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `2001:db8::1`, or either with
/// a port (`1.2.3.4:5678`, `[2001:db8::1]:80`), as some proxies write.
pub fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .or_else(|_| {
            entry
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .ok_or(())
                .and_then(|inner| inner.parse::<IpAddr>().map_err(|_| ()))
        })
        .ok()
        .map(|ip| ip.to_canonical())
}

/// What per-address limits count a client by: an IPv4 address, or the /64
/// network of an IPv6 address. One IPv6 host usually holds a whole /64 and
/// may pick any address in it, so counting single IPv6 addresses would let
/// it escape every limit (and fill the limiters' maps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrKey(IpAddr);

impl AddrKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> AddrKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => AddrKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                AddrKey(IpAddr::V6(Ipv6Addr::from(bits)))
            }
        }
    }
}

impl std::fmt::Display for AddrKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_forwarded_address() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8", "192.0.2.7", "fd00::/8"]).unwrap();
        let check = |peer: &str, xff: &[&str], expected: &str| {
            assert_eq!(
                proxies.client(ip(peer), xff.iter().copied()),
                ip(expected),
                "peer {peer}, X-Forwarded-For {xff:?}"
            );
        };
        // An untrusted peer: the header is never read.
        check("203.0.113.9", &["1.1.1.1"], "203.0.113.9");
        check("203.0.113.9", &[], "203.0.113.9");
        // A trusted peer without the header is the client.
        check("10.1.2.3", &[], "10.1.2.3");
        // One proxy: the address it appended.
        check("10.1.2.3", &["198.51.100.4"], "198.51.100.4");
        // The client's own entries (left) are skipped: right-most wins.
        check("10.1.2.3", &["6.6.6.6, 198.51.100.4"], "198.51.100.4");
        // A chain of trusted proxies, over several header lines.
        check(
            "192.0.2.7",
            &["6.6.6.6, 198.51.100.4", "10.9.9.9"],
            "198.51.100.4",
        );
        // Every entry trusted: the left-most of them.
        check("10.1.2.3", &["10.0.0.5, 10.0.0.6"], "10.0.0.5");
        // Garbage where a trusted proxy wrote: stop at the last trusted hop.
        check("10.1.2.3", &["6.6.6.6, unknown"], "10.1.2.3");
        check("10.1.2.3", &["unknown, 10.0.0.5"], "10.0.0.5");
        // Ports, brackets, IPv6, IPv4-mapped peers.
        check("10.1.2.3", &["198.51.100.4:5555"], "198.51.100.4");
        check("10.1.2.3", &["[2001:db8::1]:80"], "2001:db8::1");
        check("fd00::1", &["2001:db8::2"], "2001:db8::2");
        check("::ffff:10.1.2.3", &["198.51.100.4"], "198.51.100.4");
    }

    #[test]
    fn entries_parse_or_are_named() {
        assert!(TrustedProxies::parse(["127.0.0.1", "::1", "10.0.0.0/8"]).is_ok());
        let error = TrustedProxies::parse(["10.0.0.0/33"]).unwrap_err();
        assert!(error.contains("10.0.0.0/33"), "{error}");
        assert!(TrustedProxies::parse(["proxy.local"]).is_err());
        assert!(TrustedProxies::default().is_empty());
    }

    #[test]
    fn ipv6_counts_by_64() {
        assert_eq!(
            AddrKey::of(ip("2001:db8:1:2:aaaa::1")),
            AddrKey::of(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            AddrKey::of(ip("2001:db8:1:2::1")),
            AddrKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            AddrKey::of(ip("::ffff:1.2.3.4")),
            AddrKey::of(ip("1.2.3.4"))
        );
        assert_eq!(AddrKey::of(ip("2001:db8::1")).to_string(), "2001:db8::/64");
    }
}
