//! The email channel: one SMTP server for the engine (`SMTP_*`), the
//! recipients per rule. STARTTLS is used whenever the server offers it
//! (`SMTP_TLS=starttls`, the default), or demanded, or TLS from the first
//! byte (port 465), or off for a local relay.

use super::retry::Failure;
use clap::{Args, ValueEnum};
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmtpTls {
    /// Upgrade with STARTTLS when the server offers it, else plain.
    Starttls,
    /// STARTTLS or fail.
    Required,
    /// TLS from the start (SMTPS, usually port 465).
    Tls,
    /// Never encrypt (a relay on this host).
    None,
}

/// The SMTP server alert emails go through.
#[derive(Debug, Clone, Args)]
pub struct SmtpArgs {
    /// SMTP server; unset: email rules record a failed delivery saying so.
    #[arg(long, env = "SMTP_HOST")]
    pub smtp_host: Option<String>,

    #[arg(long, env = "SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,

    #[arg(long, env = "SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    #[arg(long, env = "SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// The sender, `Name <address>` or an address.
    #[arg(long, env = "SMTP_FROM", default_value = "LogFlow <logflow@localhost>", value_parser = parse_mailbox)]
    pub smtp_from: Mailbox,

    #[arg(long, env = "SMTP_TLS", value_enum, default_value_t = SmtpTls::Starttls)]
    pub smtp_tls: SmtpTls,

    /// A PEM certificate to trust beside the system's (a private CA or a
    /// self-signed relay).
    #[arg(long, env = "SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// How long one attempt (connect, greeting, TLS, sending) may take.
    #[arg(long, env = "SMTP_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub smtp_timeout: Duration,
}

fn parse_mailbox(s: &str) -> Result<Mailbox, String> {
    s.parse()
        .map_err(|e| format!("invalid sender {s:?}: {e} (expected `Name <address>` or an address)"))
}

/// Why the SMTP settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    #[error("cannot read SMTP_CA_FILE {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid SMTP settings: {0}")]
    Tls(#[from] lettre::transport::smtp::Error),
    #[error("SMTP_USERNAME and SMTP_PASSWORD go together: set both or neither")]
    HalfCredentials,
}

/// A configured mailer.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Bounds a whole attempt: lettre's own timeout covers only the
    /// connect, and a server that stalls after it must not hang the send.
    timeout: Duration,
}

impl Mailer {
    /// The mailer for `args`, or `None` when no SMTP server is set.
    pub fn new(args: &SmtpArgs) -> Result<Option<Mailer>, SmtpConfigError> {
        let Some(host) = args.smtp_host.clone() else {
            return Ok(None);
        };
        let parameters = || -> Result<TlsParameters, SmtpConfigError> {
            let mut parameters = TlsParameters::builder(host.clone());
            if let Some(path) = &args.smtp_ca_file {
                let pem = std::fs::read(path).map_err(|source| SmtpConfigError::CaFile {
                    path: path.display().to_string(),
                    source,
                })?;
                parameters = parameters.add_root_certificate(Certificate::from_pem(&pem)?);
            }
            Ok(parameters.build()?)
        };
        let tls = match args.smtp_tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Opportunistic(parameters()?),
            SmtpTls::Required => Tls::Required(parameters()?),
            SmtpTls::Tls => Tls::Wrapper(parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(args.smtp_port)
            .tls(tls)
            .timeout(Some(args.smtp_timeout));
        match (&args.smtp_username, &args.smtp_password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => return Err(SmtpConfigError::HalfCredentials),
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from: args.smtp_from.clone(),
            timeout: args.smtp_timeout,
        }))
    }

    /// Sends one message to every address in `to`.
    pub async fn send(
        &self,
        to: &[String],
        subject: &str,
        text: String,
    ) -> Result<String, Failure> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(None);
        for address in to {
            let mailbox: Mailbox = address
                .parse()
                .map_err(|e| Failure::permanent(format!("invalid recipient {address:?}: {e}")))?;
            message = message.to(mailbox);
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|e| Failure::permanent(format!("cannot build the message: {e}")))?;
        let sent = tokio::time::timeout(self.timeout, self.transport.send(message)).await;
        match sent {
            Err(_) => Err(Failure::transient(format!(
                "the SMTP server did not finish within {} s",
                self.timeout.as_secs_f64()
            ))),
            Ok(Ok(response)) => Ok(format!(
                "accepted by the SMTP server: {} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            // A 5xx answer, a certificate or STARTTLS failure, a missing
            // auth mechanism: the same next time.
            Ok(Err(e)) if e.is_permanent() || e.is_tls() || e.is_client() => {
                Err(Failure::permanent(format!("refused: {e}")))
            }
            // A 4xx answer, a refused or dropped connection.
            Ok(Err(e)) => Err(Failure::transient(format!("SMTP: {e}"))),
        }
    }
}
