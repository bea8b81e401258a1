//! The user pools' email over SMTP (`--smtp-url`), with lettre: the [`MailSender`] the outbox
//! relay (`rampart_user_pools::mail_relay`) sends through.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rampart_user_pools::mail_relay::MailSender;

/// An SMTP server, and who the messages are from.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    /// From `--smtp-url` and `--smtp-from`. The URL's errors never quote it (it may carry a
    /// password).
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("--smtp-url is not a usable SMTP URL: {e}"))?
            .build();
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("--smtp-from is not a mailbox: {e}"))?;
        Ok(SmtpSender { transport, from })
    }
}

#[async_trait::async_trait]
impl MailSender for SmtpSender {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("not an address: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body.to_owned())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
