//! Per-client-IP limits on the requests that check a password or that anyone may send
//! without an account: login, password change, the public registration form and the
//! privacy-page actions.
//!
//! Kept in memory, per instance: N instances behind one load balancer let a client N
//! times the configured rate. The per-address login throttle (`throttle`) is the limit
//! that holds across instances; these limits only blunt floods and address spraying.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header::HeaderMap};
use actix_web::middleware::Next;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

pub use crate::config::{IpLimitSettings, parse_proxy};
use crate::error::AppError;

/// Which budget a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitClass {
    /// `POST /api/v1/auth/login` and `POST /api/v1/auth/password`, one budget; also the
    /// password reset request and every use of a one-time link (API and pages), which hash
    /// a password or queue a mail, the sign-in page's POST, and a phone's enrolment code.
    SignIn,
    /// `POST /e/{slug}/register` and `POST /e/{slug}/resend` (the public forms that send mail).
    Registration,
    /// The POSTs of the privacy page (`/me/{token}/…`) and of one-click unsubscribe.
    PrivacyPage,
}

impl LimitClass {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitClass::SignIn => "sign_in",
            LimitClass::Registration => "registration",
            LimitClass::PrivacyPage => "privacy_page",
        }
    }

    /// From the matched route pattern, so percent-encoding or a trailing slash cannot
    /// slip a request past its budget.
    fn of(method: &Method, pattern: &str) -> Option<LimitClass> {
        if method != Method::POST && method != Method::PATCH {
            return None;
        }
        match pattern {
            "/api/v1/auth/login"
            | "/api/v1/auth/password"
            | "/api/v1/auth/password-reset"
            | "/api/v1/auth/password-reset/confirm"
            | "/api/v1/auth/invitations/accept"
            // A scanner phone's enrolment code signs it in, like a password.
            | "/api/v1/auth/enrol"
            | "/invite/{token}"
            | "/reset/{token}"
            | "/login"
            | "/login/forgot" => Some(LimitClass::SignIn),
            "/e/{slug}/register" | "/e/{slug}/resend" => Some(LimitClass::Registration),
            // A capability in the path, like the privacy page's: guessing is throttled.
            "/e/{slug}/confirm/{token}" => Some(LimitClass::PrivacyPage),
            // The privacy actions, whether from the page or through the API.
            p if p.starts_with("/me/{token}/") || p == "/u/{token}" || p == "/api/v1/me" => {
                Some(LimitClass::PrivacyPage)
            }
            p if p.starts_with("/api/v1/me/") => Some(LimitClass::PrivacyPage),
            _ => None,
        }
    }
}

/// Whether requests to this route pattern draw on a per-IP budget (and so may answer 429):
/// the OpenAPI document declares it.
pub fn has_budget(method: &Method, pattern: &str) -> bool {
    LimitClass::of(method, pattern).is_some()
}

pub struct IpLimits {
    trusted_proxies: Vec<IpNet>,
    sign_in: Option<DefaultKeyedRateLimiter<IpAddr>>,
    registration: Option<DefaultKeyedRateLimiter<IpAddr>>,
    privacy_page: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
    started: Instant,
    /// Seconds after `started` of the last sweep of idle keys.
    last_sweep: AtomicU64,
}

const SWEEP_EVERY_SECS: u64 = 60;

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl IpLimits {
    pub fn new(limits: IpLimitSettings, trusted_proxies: Vec<IpNet>) -> IpLimits {
        let clock = DefaultClock::default();
        IpLimits {
            trusted_proxies,
            sign_in: limiter(limits.sign_in_per_minute),
            registration: limiter(limits.registration_per_minute),
            privacy_page: limiter(limits.privacy_page_per_minute),
            last_sweep: AtomicU64::new(0),
            started: Instant::now(),
            clock,
        }
    }

    /// Takes one request from the client's budget; `Err` carries the seconds to wait.
    pub fn check(&self, class: LimitClass, client: IpAddr) -> Result<(), u64> {
        let limiter = match class {
            LimitClass::SignIn => &self.sign_in,
            LimitClass::Registration => &self.registration,
            LimitClass::PrivacyPage => &self.privacy_page,
        };
        let Some(limiter) = limiter else { return Ok(()) };
        self.sweep();
        limiter.check_key(&bucket(client)).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Drops the state of clients that are back to a full budget, so a scan over many
    /// addresses does not grow memory without end.
    fn sweep(&self) {
        let now = self.started.elapsed().as_secs();
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now.saturating_sub(last) < SWEEP_EVERY_SECS
            || self.last_sweep.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        for limiter in [&self.sign_in, &self.registration, &self.privacy_page].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// The socket peer, or, when the peer is a trusted proxy, the right-most
    /// `X-Forwarded-For` entry that is not itself a trusted proxy. Entries left of it were
    /// written by the client and prove nothing.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        let peer = peer.map(|ip| ip.to_canonical()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut client = peer;
        let entries = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for entry in entries.iter().rev() {
            // A hop we cannot read ends the chain we can vouch for: keep the last proxy.
            let Some(ip) = parse_forwarded(entry) else { break };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        client
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// One budget per IPv4 address, and per /64 for IPv6: one subscriber usually holds a whole
/// /64, and per-address budgets there would be no limit at all.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
    }
}

/// An `X-Forwarded-For` entry: a bare address, or one with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// Middleware: refuses a request over its client's budget with 429 and `Retry-After`,
/// before its body is read.
pub async fn limit_by_client_ip(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let class = req.match_pattern().and_then(|pattern| LimitClass::of(req.method(), &pattern));
    if let (Some(class), Some(limits)) = (class, req.app_data::<actix_web::web::Data<IpLimits>>()) {
        let client = limits.client_ip(req.peer_addr().map(|a| a.ip()), req.headers());
        if let Err(retry_after_secs) = limits.check(class, client) {
            // No address in the log: it is personal data, and the class says enough.
            tracing::warn!(limit = class.as_str(), "request refused: client over its per-IP limit");
            let error = AppError::TooManyRequests { retry_after_secs: retry_after_secs.max(1) };
            return Ok(req.error_response(error).map_into_right_body());
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn limits(trusted: &[&str]) -> IpLimits {
        let settings =
            IpLimitSettings { sign_in_per_minute: 2, registration_per_minute: 0, privacy_page_per_minute: 1 };
        IpLimits::new(settings, trusted.iter().map(|t| parse_proxy(t).unwrap()).collect())
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(HeaderName::from_static("x-forwarded-for"), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let l = limits(&[]);
        assert_eq!(l.client_ip(Some(ip("192.0.2.1")), &xff(&["203.0.113.9"])), ip("192.0.2.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_is_the_client() {
        let l = limits(&["10.0.0.0/8", "192.0.2.1"]);
        let peer = Some(ip("10.1.2.3"));
        assert_eq!(l.client_ip(peer, &xff(&["198.51.100.1, 203.0.113.9, 192.0.2.1"])), ip("203.0.113.9"));
        assert_eq!(l.client_ip(peer, &xff(&["198.51.100.1", "203.0.113.9:443"])), ip("203.0.113.9"));
        assert_eq!(l.client_ip(peer, &xff(&[])), ip("10.1.2.3"));
        assert_eq!(l.client_ip(peer, &xff(&["junk"])), ip("10.1.2.3"));
        assert_eq!(l.client_ip(peer, &xff(&["10.9.9.9"])), ip("10.9.9.9"));
        assert_eq!(l.client_ip(Some(ip("::ffff:10.1.2.3")), &xff(&["203.0.113.9"])), ip("203.0.113.9"));
    }

    #[test]
    fn budgets_are_per_class_and_per_ipv6_64() {
        let l = limits(&[]);
        let a = ip("2001:db8:1:2::1");
        assert!(l.check(LimitClass::SignIn, a).is_ok());
        assert!(l.check(LimitClass::SignIn, ip("2001:db8:1:2::ffff")).is_ok());
        let wait = l.check(LimitClass::SignIn, a).unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(l.check(LimitClass::SignIn, ip("2001:db8:1:3::1")).is_ok());
        assert!(l.check(LimitClass::PrivacyPage, a).is_ok());
        for _ in 0..100 {
            assert!(l.check(LimitClass::Registration, a).is_ok(), "0 switches the limit off");
        }
    }

    #[test]
    fn only_the_limited_posts_are_classified() {
        assert_eq!(LimitClass::of(&Method::POST, "/api/v1/auth/login"), Some(LimitClass::SignIn));
        assert_eq!(LimitClass::of(&Method::POST, "/api/v1/auth/password-reset"), Some(LimitClass::SignIn));
        assert_eq!(LimitClass::of(&Method::POST, "/login/forgot"), Some(LimitClass::SignIn));
        assert_eq!(LimitClass::of(&Method::POST, "/invite/{token}"), Some(LimitClass::SignIn));
        assert_eq!(LimitClass::of(&Method::POST, "/api/v1/auth/enrol"), Some(LimitClass::SignIn));
        assert_eq!(LimitClass::of(&Method::POST, "/api/v1/auth/refresh"), None);
        assert_eq!(LimitClass::of(&Method::GET, "/reset/{token}"), None);
        assert_eq!(LimitClass::of(&Method::POST, "/me/{token}/erase"), Some(LimitClass::PrivacyPage));
        assert_eq!(LimitClass::of(&Method::GET, "/me/{token}"), None);
        assert_eq!(LimitClass::of(&Method::POST, "/e/{slug}/resend"), Some(LimitClass::Registration));
        assert_eq!(LimitClass::of(&Method::POST, "/e/{slug}/confirm/{token}"), Some(LimitClass::PrivacyPage));
        assert_eq!(LimitClass::of(&Method::GET, "/e/{slug}/confirm/{token}"), None);
        assert_eq!(LimitClass::of(&Method::POST, "/api/v1/scans"), None);
    }
}
