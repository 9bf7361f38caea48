//! An [`RtspSource`] made ready to connect: credentials out of the URL, the label to show.

use super::{RtspError, RtspSource, RtspTransport};
use retina::client::{Credentials, Transport};
use url::Url;

/// A source, ready to connect: credentials separated from the URL.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) room: String,
    pub(super) url: Url,
    pub(super) creds: Option<Credentials>,
    pub(super) transport: RtspTransport,
    /// The URL without credentials, for logs and the hub.
    pub(super) label: String,
}

impl Target {
    pub(super) fn new(source: &RtspSource) -> Result<Self, RtspError> {
        let mut url = Url::parse(&source.url).map_err(|e| RtspError::BadUrl(e.to_string()))?;
        if url.scheme() != "rtsp" {
            return Err(RtspError::BadUrl(format!(
                "scheme {:?} (expected rtsp)",
                url.scheme()
            )));
        }
        let url_user = percent_decode(url.username());
        let url_pass = url.password().map(percent_decode);
        // Both only fail for URLs that cannot have credentials, which then have none.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let creds = match &source.username {
            Some(u) => Some(Credentials {
                username: u.clone(),
                password: source.password.clone().unwrap_or_default(),
            }),
            None if !url_user.is_empty() => Some(Credentials {
                username: url_user,
                password: source.password.clone().or(url_pass).unwrap_or_default(),
            }),
            None => None,
        };
        Ok(Target {
            room: source.room.clone(),
            label: url.to_string(),
            url,
            creds,
            transport: source.transport,
        })
    }

    pub(super) fn transport(&self) -> Transport {
        match self.transport {
            RtspTransport::Tcp => Transport::Tcp(Default::default()),
            RtspTransport::Udp => Transport::Udp(Default::default()),
        }
    }
}

/// Decodes `%XX` escapes (URL userinfo); anything malformed is kept as is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(url: &str, username: Option<&str>, password: Option<&str>) -> RtspSource {
        RtspSource {
            room: "r".into(),
            url: url.into(),
            username: username.map(Into::into),
            password: password.map(Into::into),
            transport: RtspTransport::default(),
        }
    }

    #[test]
    fn credentials_leave_the_url() {
        let t = Target::new(&source("rtsp://ad%40min:p%3Ass@cam:8554/s?x=1", None, None))
            .expect("valid");
        assert_eq!(t.label, "rtsp://cam:8554/s?x=1");
        assert_eq!(t.url.as_str(), t.label);
        let c = t.creds.expect("creds");
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("ad@min", "p:ss")
        );

        let t = Target::new(&source("rtsp://u:x@cam/s", Some("v"), Some("pw"))).expect("valid");
        let c = t.creds.expect("creds");
        assert_eq!((c.username.as_str(), c.password.as_str()), ("v", "pw"));
        assert_eq!(t.label, "rtsp://cam/s");

        assert!(Target::new(&source("rtsp://cam/s", None, None)).is_ok_and(|t| t.creds.is_none()));
        assert!(matches!(
            Target::new(&source("http://cam/s", None, None)),
            Err(RtspError::BadUrl(_))
        ));
        assert!(matches!(
            Target::new(&source("not a url", None, None)),
            Err(RtspError::BadUrl(_))
        ));
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%2fb%zz%4"), "a/b%zz%4");
        assert_eq!(percent_decode("%E2%82%AC"), "€");
    }
}
