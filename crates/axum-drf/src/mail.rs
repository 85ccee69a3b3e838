//! Outgoing email, after Django's email backends: an SMTP client (lettre on tokio; plain,
//! STARTTLS or implicit TLS through rustls) or a file backend that writes every message as an `.eml` file (the default for
//! development and tests, like Django's `filebased.EmailBackend`).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use axum_drf::mail::{Email, Mailer};
//! let dir = std::env::temp_dir().join(format!("axum-drf-mail-doc-{}", std::process::id()));
//! let mailer = Mailer::file(&dir);
//! let email = Email {
//!     from: "webmaster@localhost".into(),
//!     to: vec!["alice@example.com".into()],
//!     subject: "Hello".into(),
//!     text: "Hi Alice".into(),
//!     html: None,
//! };
//! let path = mailer.send(&email).await.unwrap().expect("the file backend names the file");
//! let written = std::fs::read_to_string(&path).unwrap();
//! assert!(written.contains("Subject: Hello") && written.contains("Hi Alice"));
//! # std::fs::remove_dir_all(&dir).ok();
//! # });
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// One message: a plain-text body with an optional HTML alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// `From:` address (Django's `DEFAULT_FROM_EMAIL`), e.g. `Site <noreply@example.com>`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML alternative, sent as `multipart/alternative` with the text.
    pub html: Option<String>,
}

/// A delivery failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The SMTP URL cannot be used.
    #[error("invalid SMTP url: {0}")]
    InvalidUrl(String),
    /// An address does not parse.
    #[error("invalid address {0:?}")]
    Address(String),
    /// The message could not be assembled.
    #[error("cannot build message: {0}")]
    Build(String),
    /// The file backend could not write.
    #[error("cannot write message file: {0}")]
    Io(#[from] std::io::Error),
    /// The SMTP server refused or the connection failed.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The TLS settings cannot be used (e.g. an unreadable CA file).
    #[error("smtp tls: {0}")]
    Tls(String),
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (`smtp://`): only for a relay on a trusted network or loopback.
    None,
    /// STARTTLS, refusing to go on in clear if the server does not offer it
    /// (`smtp://…?tls=required`).
    Required,
    /// STARTTLS when the server offers it, else clear (`smtp://…?tls=opportunistic`).
    Opportunistic,
    /// TLS from the first byte (`smtps://`, port 465 by default).
    Wrapper,
}

/// Where to reach an SMTP server, parsed from
/// `smtp[s]://[user[:password]@]host[:port][?tls=required|opportunistic]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Server host name or address.
    pub host: String,
    /// Server port (default 25).
    pub port: u16,
    /// `AUTH` user name and password, if the URL has them.
    pub credentials: Option<(String, String)>,
    /// Connect and command timeout.
    pub timeout: Duration,
    /// Transport security.
    pub tls: SmtpTls,
    /// Extra trusted CA certificates (PEM) beside the built-in web roots, e.g. a private
    /// relay's CA.
    pub extra_roots_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for SmtpSettings {
    // The password stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// Parses `smtp[s]://[user[:password]@]host[:port][?tls=required|opportunistic]` (user
    /// and password percent-encoded). `smtps://` is TLS from the first byte (port 465);
    /// `smtp://…?tls=required` upgrades with STARTTLS or fails, `tls=opportunistic` upgrades
    /// when offered; plain `smtp://` sends in clear.
    ///
    /// ```
    /// use axum_drf::mail::{SmtpSettings, SmtpTls};
    /// let s = SmtpSettings::from_url("smtp://bob:p%40ss@127.0.0.1:2525").unwrap();
    /// assert_eq!((s.host.as_str(), s.port, s.tls), ("127.0.0.1", 2525, SmtpTls::None));
    /// assert_eq!(s.credentials, Some(("bob".into(), "p@ss".into())));
    /// let s = SmtpSettings::from_url("smtps://mail.example.com").unwrap();
    /// assert_eq!((s.port, s.tls), (465, SmtpTls::Wrapper));
    /// let s = SmtpSettings::from_url("smtp://mail.example.com:587?tls=required").unwrap();
    /// assert_eq!(s.tls, SmtpTls::Required);
    /// assert!(SmtpSettings::from_url("smtp://h?tls=maybe").is_err());
    /// ```
    pub fn from_url(text: &str) -> Result<Self, MailError> {
        let url = url::Url::parse(text).map_err(|e| MailError::InvalidUrl(e.to_string()))?;
        let mut tls = match url.scheme() {
            "smtp" => SmtpTls::None,
            "smtps" => SmtpTls::Wrapper,
            other => {
                return Err(MailError::InvalidUrl(format!(
                    "scheme {other:?} is not supported: use smtp:// or smtps://"
                )))
            }
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref(), tls) {
                ("tls", "required", SmtpTls::None) => tls = SmtpTls::Required,
                ("tls", "opportunistic", SmtpTls::None) => tls = SmtpTls::Opportunistic,
                ("tls", "none", SmtpTls::None) => {}
                ("tls", _, SmtpTls::Wrapper) => {
                    return Err(MailError::InvalidUrl(
                        "smtps:// is always TLS: drop the tls= parameter".into(),
                    ))
                }
                ("tls", other, _) => {
                    return Err(MailError::InvalidUrl(format!(
                        "tls={other:?}: use tls=required or tls=opportunistic"
                    )))
                }
                (other, _, _) => {
                    return Err(MailError::InvalidUrl(format!(
                        "unknown parameter {other:?}"
                    )))
                }
            }
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| MailError::InvalidUrl("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| MailError::InvalidUrl("bad percent-encoding".into()))
        };
        let credentials = if url.username().is_empty() {
            None
        } else {
            Some((
                decode(url.username())?,
                decode(url.password().unwrap_or(""))?,
            ))
        };
        let default_port = if tls == SmtpTls::Wrapper { 465 } else { 25 };
        Ok(SmtpSettings {
            host,
            port: url.port().unwrap_or(default_port),
            credentials,
            timeout: Duration::from_secs(30),
            tls,
            extra_roots_pem: None,
        })
    }

    /// Trusts the CA certificates in `pem` as well as the built-in web roots.
    pub fn with_extra_roots(mut self, pem: Vec<u8>) -> Result<Self, MailError> {
        Certificate::from_pem(&pem).map_err(|e| MailError::Tls(e.to_string()))?;
        self.extra_roots_pem = Some(pem);
        Ok(self)
    }

    fn tls(&self) -> Result<Tls, MailError> {
        if self.tls == SmtpTls::None {
            return Ok(Tls::None);
        }
        let mut builder = TlsParameters::builder(self.host.clone());
        if let Some(pem) = &self.extra_roots_pem {
            let certificate =
                Certificate::from_pem(pem).map_err(|e| MailError::Tls(e.to_string()))?;
            builder = builder.add_root_certificate(certificate);
        }
        let parameters = builder
            .build_rustls()
            .map_err(|e| MailError::Tls(e.to_string()))?;
        Ok(match self.tls {
            SmtpTls::Required => Tls::Required(parameters),
            SmtpTls::Opportunistic => Tls::Opportunistic(parameters),
            _ => Tls::Wrapper(parameters),
        })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[derive(Clone, Debug)]
enum Backend {
    File(PathBuf),
    Smtp(SmtpSettings),
}

/// Sends [`Email`]s through the configured backend; cheap to clone.
#[derive(Clone, Debug)]
pub struct Mailer {
    backend: Backend,
}

impl Mailer {
    /// Writes each message as `<dir>/<timestamp>-<random>.eml` (the directory is created).
    pub fn file(dir: impl AsRef<Path>) -> Self {
        Mailer {
            backend: Backend::File(dir.as_ref().to_owned()),
        }
    }

    /// Delivers over SMTP, one connection per message.
    pub fn smtp(settings: SmtpSettings) -> Self {
        Mailer {
            backend: Backend::Smtp(settings),
        }
    }

    /// Checks the backend can be used: SMTP connects (with TLS as configured) and greets;
    /// the file backend has nothing to reach.
    pub async fn check(&self) -> Result<(), MailError> {
        match &self.backend {
            Backend::File(_) => Ok(()),
            Backend::Smtp(settings) => {
                let connected = smtp_transport(settings)?
                    .test_connection()
                    .await
                    .map_err(|e| MailError::Smtp(error_chain(&e)))?;
                if connected {
                    Ok(())
                } else {
                    Err(MailError::Smtp("the server did not answer NOOP".into()))
                }
            }
        }
    }

    /// Sends `email`. The file backend returns the path it wrote.
    pub async fn send(&self, email: &Email) -> Result<Option<PathBuf>, MailError> {
        let message = build(email)?;
        match &self.backend {
            Backend::File(dir) => write_file(dir, &message.formatted()).await.map(Some),
            Backend::Smtp(settings) => {
                smtp_transport(settings)?
                    .send(message)
                    .await
                    .map_err(|e| MailError::Smtp(error_chain(&e)))?;
                Ok(None)
            }
        }
    }
}

fn smtp_transport(
    settings: &SmtpSettings,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    // `builder_dangerous` only means "TLS as we say": `tls()` picks it from the URL.
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
            .port(settings.port)
            .timeout(Some(settings.timeout))
            .tls(settings.tls()?);
    if let Some((user, password)) = &settings.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

// lettre's top-level text ("Connection error") hides the cause (a refused certificate).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn build(email: &Email) -> Result<Message, MailError> {
    let mailbox = |s: &str| {
        s.parse::<Mailbox>()
            .map_err(|_| MailError::Address(s.to_owned()))
    };
    let mut builder = Message::builder()
        .message_id(None)
        .from(mailbox(&email.from)?)
        .subject(email.subject.clone());
    for to in &email.to {
        builder = builder.to(mailbox(to)?);
    }
    let result = match &email.html {
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, &email.text))
                .singlepart(part(ContentType::TEXT_HTML, html)),
        ),
        None => builder.singlepart(part(ContentType::TEXT_PLAIN, &email.text)),
    };
    result.map_err(|e| MailError::Build(e.to_string()))
}

/// A text part. ASCII text with lines of at most 998 characters goes as plain `7bit`
/// (RFC 5322's limit), so long links stay on one line, unwrapped, for the reader of an
/// `.eml` file as for a mail client; anything else gets lettre's choice of encoding.
fn part(content_type: ContentType, text: &str) -> SinglePart {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let plain = crlf.is_ascii()
        && !crlf.contains('\0')
        && crlf
            .split("\r\n")
            .all(|line| line.len() <= 998 && !line.contains('\r'));
    let body = if plain {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text.to_owned())
    };
    SinglePart::builder().header(content_type).body(body)
}

async fn write_file(dir: &Path, bytes: &[u8]) -> Result<PathBuf, MailError> {
    use tokio::io::AsyncWriteExt;
    // Messages carry live reset links: the directory (when created here) is 0700 and each
    // file 0600 from the moment it exists, whatever the umask.
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await?;
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let name = format!("{stamp}-{}", hex::encode(rand::random::<[u8; 6]>()));
    // Written under a temporary name and renamed, so a reader never sees half a message.
    let partial = dir.join(format!(".{name}.part"));
    let path = dir.join(format!("{name}.eml"));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&partial).await?;
    file.write_all(bytes).await?;
    file.flush().await?;
    drop(file);
    tokio::fs::rename(&partial, &path).await?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let s = SmtpSettings::from_url("smtp://mail.example.com").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.credentials),
            ("mail.example.com", 25, None)
        );
        assert_eq!(
            SmtpSettings::from_url("smtp://h:25?tls=required")
                .unwrap()
                .tls,
            SmtpTls::Required
        );
        assert!(SmtpSettings::from_url("smtps://h?tls=required").is_err());
        assert!(SmtpSettings::from_url("smtp://h?foo=bar").is_err());
        assert!(SmtpSettings::from_url("http://h").is_err());
        assert!(SmtpSettings::from_url("not a url").is_err());
        let s = SmtpSettings::from_url("smtp://[::1]:2525").unwrap();
        assert_eq!(s.host, "::1");
        assert!(
            !format!("{:?}", SmtpSettings::from_url("smtp://u:secret@h").unwrap())
                .contains("secret")
        );
    }

    #[test]
    fn long_ascii_lines_stay_whole_and_unicode_is_encoded() {
        let link = format!("https://example.com/#/reset/{}", "x".repeat(200));
        let email = Email {
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            subject: "s".into(),
            text: format!("Go to:\n{link}\n"),
            html: Some(format!("<a href=\"{link}\">{link}</a>")),
        };
        let out = String::from_utf8(build(&email).unwrap().formatted()).unwrap();
        assert!(out.contains(&format!("Go to:\r\n{link}\r\n")), "{out}");
        assert!(out.contains("Content-Transfer-Encoding: 7bit"));
        assert!(out.contains("Message-ID: <"));
        let email = Email {
            text: "Grüße".into(),
            html: None,
            ..email
        };
        let out = String::from_utf8(build(&email).unwrap().formatted()).unwrap();
        assert!(!out.contains("Grüße"));
    }

    #[test]
    fn bad_addresses_are_refused() {
        let email = Email {
            from: "not an address".into(),
            to: vec!["a@example.com".into()],
            subject: "s".into(),
            text: "t".into(),
            html: None,
        };
        assert!(matches!(build(&email), Err(MailError::Address(_))));
    }
}
