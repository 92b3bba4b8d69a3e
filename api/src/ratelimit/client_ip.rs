//! Who a request comes from: the peer address, or — only when the peer is
//! a configured trusted proxy — the address the proxy says it forwarded
//! for. Trusting `X-Forwarded-For` from anyone would let every client pick
//! a fresh address per request and never be limited.

use axum::http::HeaderMap;
use ipnet::{IpNet, Ipv6Net};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// Addresses and networks whose forwarding headers are believed, written
/// comma-separated (`10.0.0.0/8, 192.168.1.4`); empty: none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<TrustedProxies, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("invalid trusted proxy {p:?}: expected IP addresses or networks such as 10.0.0.0/8, comma-separated"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl TrustedProxies {
    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// The client's address. Behind trusted proxies, `X-Forwarded-For` is read
/// from the right — each proxy appends the address it received from, so
/// only the entries right of the first untrusted one are vouched for — and
/// that first untrusted address is the client. An unreadable entry on the
/// way stops the walk at the last trusted hop: what lies left of it is the
/// client's own writing. `X-Real-IP` is read only when there is no
/// `X-Forwarded-For` at all (a proxy that appends to the latter leaves a
/// client's forged `X-Real-IP` alone).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !proxies.contains(peer) {
        return peer;
    }
    let mut lines = headers.get_all("x-forwarded-for").iter().peekable();
    if lines.peek().is_none() {
        return headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_addr)
            .unwrap_or(peer);
    }
    // A line that is not ASCII is one unreadable entry.
    let entries: Vec<Option<IpAddr>> = lines
        .flat_map(|line| match line.to_str() {
            Ok(text) => text.split(',').map(parse_addr).collect(),
            Err(_) => vec![None],
        })
        .collect();
    let mut nearest_trusted = peer;
    for entry in entries.into_iter().rev() {
        match entry {
            Some(ip) if proxies.contains(ip) => nearest_trusted = ip,
            Some(ip) => return ip,
            None => break,
        }
    }
    nearest_trusted
}

/// How an address is counted: `ip:1.2.3.4`, and an IPv6 client by its
/// /64 network (`ip:2001:db8:1:2::/64`), the block one subscriber gets, so
/// that a client cannot take a fresh address per request from its own
/// network.
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let net =
                Ipv6Net::new(v6, 64).map_or_else(|_| v6.to_string(), |n| n.trunc().to_string());
            format!("ip:{net}")
        }
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `::1`,
/// `[::1]:5678`.
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .or_else(|_| s.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn proxies(list: &str) -> TrustedProxies {
        list.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-real-ip", "2.2.2.2")]);
        assert_eq!(
            client_ip(ip("9.9.9.9"), &h, &proxies("10.0.0.0/8")),
            ip("9.9.9.9")
        );
        assert_eq!(client_ip(ip("9.9.9.9"), &h, &proxies("")), ip("9.9.9.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = proxies("10.0.0.0/8, 127.0.0.1");
        // The client prepended a forged entry; the proxies appended theirs.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 3.3.3.3"),
            ("x-forwarded-for", "10.0.0.7"),
        ]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), ip("3.3.3.3"));
        let ported = headers(&[("x-forwarded-for", "[2001:db8::1]:4711, 4.4.4.4:80")]);
        assert_eq!(client_ip(ip("10.1.2.3"), &ported, &trusted), ip("4.4.4.4"));
        let real = headers(&[("x-real-ip", "5.5.5.5")]);
        assert_eq!(client_ip(ip("10.1.2.3"), &real, &trusted), ip("5.5.5.5"));
        assert_eq!(
            client_ip(ip("10.1.2.3"), &HeaderMap::new(), &trusted),
            ip("10.1.2.3")
        );
        // Garbage left of the client's real address is the client's own.
        let garbage = headers(&[("x-forwarded-for", "not-an-ip, 3.3.3.3")]);
        assert_eq!(client_ip(ip("10.1.2.3"), &garbage, &trusted), ip("3.3.3.3"));
        // A client cannot make the proxy's entry unreadable and then pick
        // its address with X-Real-IP (which appending proxies pass along).
        let spoof = headers(&[("x-forwarded-for", "x, 10.0.0.9"), ("x-real-ip", "7.7.7.7")]);
        assert_eq!(client_ip(ip("10.1.2.3"), &spoof, &trusted), ip("10.0.0.9"));
        let mapped = headers(&[("x-forwarded-for", "::ffff:8.8.8.8")]);
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &mapped, &trusted),
            ip("8.8.8.8")
        );
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(client_key(ip("203.0.113.7")), "ip:203.0.113.7");
        assert_eq!(client_key(ip("::ffff:203.0.113.7")), "ip:203.0.113.7");
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1")),
            "ip:2001:db8:1:2::/64"
        );
        assert_eq!(
            client_key(ip("2001:db8:1:2:bbbb::9")),
            client_key(ip("2001:db8:1:2:aaaa::1"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:3::1")),
            client_key(ip("2001:db8:1:2::1"))
        );
    }

    #[test]
    fn proxies_parse_as_addresses_or_networks() {
        assert_eq!(proxies("10.0.0.0/8,::1, 192.168.1.4").0.len(), 3);
        assert_eq!(proxies(""), TrustedProxies::default());
        assert_eq!(proxies(" , "), TrustedProxies::default());
        let err = "10.0.0.1,proxy.local"
            .parse::<TrustedProxies>()
            .unwrap_err();
        assert!(err.contains("\"proxy.local\""), "{err}");
    }
}
