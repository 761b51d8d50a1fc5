//! Where Vigil's own outbound requests (webhook deliveries) may go. A URL
//! is an admin's input, so it must not aim the server inside its network:
//! loopback, private, link-local (cloud metadata), CGNAT, multicast,
//! unspecified and reserved addresses are refused, when the URL is
//! registered (IP literals in any spelling the URL standard accepts, such
//! as `0x7f000001`, and `localhost` names) and again at delivery, after DNS
//! resolution: the connection goes to an address that was checked, so a
//! name that resolves elsewhere the second time (DNS rebinding) gains
//! nothing. An operator lists the internal receivers they mean to use
//! (`settings.webhooks.allowed_targets`, CIDRs).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// Whether `ip` is inside a network rather than on the public Internet.
#[must_use]
pub fn is_internal(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Addresses that carry an IPv4 address: judged by it.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return internal_v4(embedded(s[6], s[7])); // NAT64 64:ff9b::/96
    }
    if s[0] == 0x2002 {
        return internal_v4(embedded(s[1], s[2])); // 6to4 2002::/16
    }
    if s[0..6] == [0, 0, 0, 0, 0xffff, 0] {
        return internal_v4(embedded(s[6], s[7])); // IPv4-translated ::ffff:0:a.b.c.d
    }
    // Local-use NAT64 (64:ff9b:1::/48) maps to any IPv4 address the
    // network chooses, and Teredo (2001::/32) tunnels to one: neither is
    // judged safe.
    if (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) || (s[0] == 0x2001 && s[1] == 0) {
        return true;
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard 100::/64
        || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
}

/// The operator's rule for outbound targets.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Internal networks the operator allows (their own receivers).
    pub allowed: Vec<IpNet>,
}

impl OutboundPolicy {
    /// Whether a connection to `ip` is allowed.
    #[must_use]
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        !is_internal(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Checks a URL as an admin registers it: absolute `http`/`https`, no
    /// user info, at most 2,000 characters, and not aimed at an internal
    /// address spelled as a literal or a `localhost` name (names are
    /// checked again, resolved, at each delivery).
    ///
    /// # Errors
    /// Why the URL is refused.
    pub fn check_url(&self, raw: &str) -> Result<url::Url, String> {
        const SHAPE: &str =
            "Must be an absolute http:// or https:// URL of at most 2,000 characters.";
        if raw.len() > 2_000 {
            return Err(SHAPE.into());
        }
        let url = url::Url::parse(raw).map_err(|_| SHAPE.to_string())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SHAPE.into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("Must not carry a user name or password (user@host).".into());
        }
        let host = url.host().ok_or_else(|| SHAPE.to_string())?;
        let refused = match host {
            url::Host::Ipv4(v4) => !self.permits(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => !self.permits(IpAddr::V6(v6)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                (name == "localhost" || name.ends_with(".localhost"))
                    && !self.permits(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
        };
        if refused {
            return Err(
                "Must not point inside the network (loopback, private, link-local, CGNAT, \
                 multicast or reserved addresses); an operator can allow internal receivers \
                 in settings.webhooks.allowed_targets."
                    .into(),
            );
        }
        Ok(url)
    }

    /// The addresses a connection may go to, of those a name resolved to:
    /// all of them, when every one is allowed.
    ///
    /// # Errors
    /// `"target not allowed: it resolves inside the network"` when any is
    /// internal (and not allowed), `"connection failed"` when there are
    /// none.
    pub fn vet(&self, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, &'static str> {
        if addrs.is_empty() {
            return Err("connection failed");
        }
        if addrs.iter().all(|a| self.permits(a.ip())) {
            Ok(addrs)
        } else {
            Err("target not allowed: it resolves inside the network")
        }
    }
}

/// A `reqwest` client builder with Vigil's TLS (rustls with the ring
/// provider, the Mozilla root store) and no proxy: the webhook deliveries'
/// client starts from it, and so do the multi-process tests.
pub fn http_client() -> reqwest::ClientBuilder {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the default versions"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_ranges_are_internal() {
        for s in [
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "::ffff:0:7f00:1",
            "64:ff9b:1::a00:1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(is_internal(ip(s)), "{s}");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip(s)), "{s}");
        }
    }

    #[test]
    fn registration_refuses_internal_literals_in_any_spelling_and_user_info() {
        let policy = OutboundPolicy::default();
        for url in [
            "http://127.0.0.1:1/",
            "http://[::1]:1/",
            "http://0x7f000001:1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://localhost:1/",
            "http://api.localhost/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://100.64.0.1/",
            "http://user:pass@hooks.example.com/",
            "ftp://hooks.example.com/",
            "not a url",
        ] {
            assert!(policy.check_url(url).is_err(), "{url}");
        }
        let ok = policy
            .check_url("https://hooks.example.com:8443/vigil")
            .unwrap();
        assert_eq!(ok.port(), Some(8443));
    }

    #[test]
    fn an_operator_allows_named_internal_receivers_only() {
        let policy = OutboundPolicy {
            allowed: vec!["127.0.0.1/32".parse().unwrap()],
        };
        assert!(policy.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(policy.check_url("http://localhost:9000/hook").is_ok());
        assert!(policy.check_url("http://127.0.0.2:9000/hook").is_err());
        assert!(policy.check_url("http://10.0.0.1/").is_err());
    }

    #[test]
    fn resolved_addresses_are_vetted_all_or_nothing() {
        let policy = OutboundPolicy::default();
        let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let metadata: SocketAddr = "169.254.169.254:80".parse().unwrap();
        let cgnat: SocketAddr = "100.100.100.200:80".parse().unwrap();
        assert!(policy.vet(vec![public]).is_ok());
        assert!(policy.vet(vec![metadata]).is_err());
        assert!(
            policy.vet(vec![public, cgnat]).is_err(),
            "mixed answers refused"
        );
        assert!(policy.vet(vec![]).is_err());
    }
}
