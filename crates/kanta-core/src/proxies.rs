//! Who the client is behind a reverse proxy: the setting `serve.trusted_proxies` (IP
//! addresses and CIDR ranges) and the rule that reads `X-Forwarded-For` under it.
//!
//! The peer of a connection is the client unless it is a trusted proxy. Only then is
//! `X-Forwarded-For` read, from the right: each address a trusted proxy appended is
//! skipped, and the right-most address that is not a trusted proxy is the client (the
//! addresses left of it were written by whoever sent the request, and prove nothing).
//! With no trusted proxies (the default) the header is never read: anyone can send one.
//! The client's address keys the sign-in throttle and goes into the audit log.

use std::fmt;
use std::net::IpAddr;

use crate::Core;

/// An IP address or a range of them (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(text: &str) -> Result<IpRange, String> {
        let t = text.trim();
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("'{t}' is not an IP address or a range like 10.0.0.0/8"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("'{t}': the prefix after / must be 0 to {max}")),
            },
        };
        Ok(IpRange { addr, prefix })
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (a, b, bits): (u128, u128, u32) = match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a).into(), u32::from(b).into(), 32),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        let drop = bits - u32::from(self.prefix);
        if drop >= 128 {
            return true;
        }
        (a >> drop) == (b >> drop)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed; empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    /// From a list of addresses and ranges.
    pub fn new(ranges: Vec<IpRange>) -> TrustedProxies {
        TrustedProxies(ranges)
    }

    /// Parses addresses and ranges separated by commas or spaces (an environment
    /// variable's form: `127.0.0.1, 10.0.0.0/8`); empty text is none.
    pub fn parse_list(text: &str) -> Result<TrustedProxies, String> {
        text.split([',', ' ', '\t', '\n'])
            .filter(|s| !s.trim().is_empty())
            .map(IpRange::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn ranges(&self) -> &[IpRange] {
        &self.0
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }

    /// The client of a request from `peer` that carried these `X-Forwarded-For`
    /// header values (in the order received): `peer` unless it is a trusted proxy,
    /// else the right-most forwarded address that is not one. An entry that is not an
    /// address stops the walk at the trusted hop right of it; when every forwarded
    /// address is trusted, the left-most is the client.
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = forwarded_address(hop) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

impl fmt::Display for TrustedProxies {
    /// The ranges separated by `, `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<String> = self.0.iter().map(IpRange::to_string).collect();
        f.write_str(&texts.join(", "))
    }
}

/// An address as a proxy writes it in `X-Forwarded-For`: `192.0.2.1`, `2001:db8::1`,
/// with or without a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn forwarded_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

impl Core {
    /// This core, believing `X-Forwarded-For` from these proxies (`kanta serve` sets
    /// the setting `serve.trusted_proxies`).
    pub fn trusting_proxies(mut self, proxies: TrustedProxies) -> Core {
        self.trusted_proxies = std::sync::Arc::new(proxies);
        self
    }

    /// The proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted_proxies
    }

    /// The client's address of a request from `peer` with these `X-Forwarded-For`
    /// values (see the module documentation); `None` without a peer.
    pub fn client_address<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        peer.map(|p| self.trusted_proxies.client(p, forwarded_for))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_contain() {
        let r = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(r.contains(ip("10.200.1.2")) && !r.contains(ip("11.0.0.1")));
        assert!(r.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6 counts");
        let one = IpRange::parse(" 192.0.2.7 ").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        assert_eq!(one.to_string(), "192.0.2.7");
        let v6 = IpRange::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpRange::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        assert!(
            IpRange::parse("10.0.0.0/33")
                .unwrap_err()
                .contains("0 to 32")
        );
        assert!(IpRange::parse("proxy.local").is_err());
        let list = TrustedProxies::parse_list("127.0.0.1, 10.0.0.0/8 ::1").unwrap();
        assert_eq!(list.to_string(), "127.0.0.1, 10.0.0.0/8, ::1");
        assert!(TrustedProxies::parse_list("").unwrap().is_empty());
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let none = TrustedProxies::default();
        let peer = ip("203.0.113.9");
        assert_eq!(none.client(peer, ["1.2.3.4"].into_iter()), peer);

        let proxies = TrustedProxies::parse_list("127.0.0.1, 10.0.0.0/8").unwrap();
        let local = ip("127.0.0.1");
        // A client behind the proxy; whatever it wrote itself to the left is ignored.
        assert_eq!(
            proxies.client(local, ["6.6.6.6, 198.51.100.4"].into_iter()),
            ip("198.51.100.4")
        );
        // Two proxies in a row; several header lines read as one list.
        assert_eq!(
            proxies.client(local, ["198.51.100.4", "10.1.1.1"].into_iter()),
            ip("198.51.100.4")
        );
        assert_eq!(
            proxies.client(local, ["[2001:db8::5]:4711"].into_iter()),
            ip("2001:db8::5")
        );
        // No header, or only proxies: the nearest we can tell.
        assert_eq!(proxies.client(local, std::iter::empty()), local);
        assert_eq!(
            proxies.client(local, ["10.0.0.2, 10.0.0.3"].into_iter()),
            ip("10.0.0.2")
        );
        // Garbage stops the walk at the trusted hop right of it.
        assert_eq!(
            proxies.client(local, ["1.2.3.4, garbage, 10.0.0.3"].into_iter()),
            ip("10.0.0.3")
        );
        // An untrusted peer's header is never read.
        assert_eq!(proxies.client(peer, ["1.2.3.4"].into_iter()), peer);
    }
}
