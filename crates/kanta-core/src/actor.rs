//! Who acts, and through what: every write through the core names an [`Acting`], so
//! the audit log and the role rules hold on every path (pages, API, command line,
//! imports, jobs).

use kanta_store::accounts::Role;
use kanta_store::audit::AuditEntry;
use serde::Serialize;

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "actor", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in staff user.
    User { id: i64, email: String, role: Role },
    /// An API token (another system).
    Token { id: i64, name: String, role: Role },
    /// The command line, run by this operating-system user.
    Cli { os_user: String },
    /// An import of this file, run from the command line by this operating-system user.
    Import { file: String, os_user: String },
    /// A background job of this kind.
    Job { kind: String },
    /// Someone not signed in (a failed sign-in, by the email tried).
    Anonymous { name: String },
    /// A customer on a public page (a survey link, the QR code's page), by what let
    /// them in: writes only what the core's public use cases write for them (their
    /// answer, their unsubscribe).
    Public { via: String },
}

/// Through what the actor came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The web pages.
    Ui,
    /// The JSON API.
    Api,
    /// The command line.
    Cli,
    /// A file import.
    Import,
    /// A background job.
    Job,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Ui => "ui",
            Channel::Api => "api",
            Channel::Cli => "cli",
            Channel::Import => "import",
            Channel::Job => "job",
        }
    }
}

/// An actor on a channel, from an address: what a write records of who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    pub actor: Actor,
    pub channel: Channel,
    /// The peer's address, for web requests.
    pub ip: Option<String>,
}

/// The operating-system user running this process (`USER`, else `LOGNAME`, else
/// `unknown`).
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

impl Acting {
    /// A signed-in user on the pages.
    pub fn user(id: i64, email: &str, role: Role, channel: Channel) -> Acting {
        Acting {
            actor: Actor::User {
                id,
                email: email.to_string(),
                role,
            },
            channel,
            ip: None,
        }
    }

    /// An API token.
    pub fn token(id: i64, name: &str, role: Role) -> Acting {
        Acting {
            actor: Actor::Token {
                id,
                name: name.to_string(),
                role,
            },
            channel: Channel::Api,
            ip: None,
        }
    }

    /// The command line, as the operating-system user running it.
    pub fn cli() -> Acting {
        Acting {
            actor: Actor::Cli { os_user: os_user() },
            channel: Channel::Cli,
            ip: None,
        }
    }

    /// An import of `file` from the command line.
    pub fn import(file: &str) -> Acting {
        Acting {
            actor: Actor::Import {
                file: file.to_string(),
                os_user: os_user(),
            },
            channel: Channel::Import,
            ip: None,
        }
    }

    /// A background job of this kind.
    pub fn job(kind: &str) -> Acting {
        Acting {
            actor: Actor::Job {
                kind: kind.to_string(),
            },
            channel: Channel::Job,
            ip: None,
        }
    }

    /// Someone not signed in, by the name they gave.
    pub fn anonymous(name: &str, channel: Channel) -> Acting {
        Acting {
            actor: Actor::Anonymous {
                name: name.trim().to_lowercase(),
            },
            channel,
            ip: None,
        }
    }

    /// A customer on a public page, let in by `via` ("survey link", "survey qr").
    pub fn public(via: &str, channel: Channel) -> Acting {
        Acting {
            actor: Actor::Public {
                via: via.to_string(),
            },
            channel,
            ip: None,
        }
    }

    /// From this peer address.
    pub fn from_ip(mut self, ip: Option<String>) -> Acting {
        self.ip = ip;
        self
    }

    /// The role the actor acts with: a user's or token's own; the command line, imports
    /// and jobs run with the operator's rights (whoever can run them can open the
    /// database).
    pub fn role(&self) -> Role {
        match &self.actor {
            Actor::User { role, .. } | Actor::Token { role, .. } => *role,
            Actor::Cli { .. } | Actor::Import { .. } | Actor::Job { .. } => Role::Admin,
            Actor::Anonymous { .. } => Role::Viewer,
            // The public use cases write a customer's own answer through the write
            // path, with its rules (trust, queue) running as for staff's writes; the
            // actor is made only by those use cases, never from a request's claim.
            Actor::Public { .. } => Role::Staff,
        }
    }

    /// The user's id, when a user acts.
    pub fn user_id(&self) -> Option<i64> {
        match &self.actor {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The actor's kind, id and name as the audit log keeps them.
    pub fn audit_names(&self) -> (&'static str, Option<String>, String) {
        match &self.actor {
            Actor::User { id, email, .. } => ("user", Some(id.to_string()), email.clone()),
            Actor::Token { id, name, .. } => ("token", Some(id.to_string()), name.clone()),
            Actor::Cli { os_user } => ("cli", Some(os_user.clone()), os_user.clone()),
            Actor::Import { file, os_user } => ("import", Some(os_user.clone()), file.clone()),
            Actor::Job { kind } => ("job", Some(kind.clone()), kind.clone()),
            Actor::Anonymous { name } => ("system", None, name.clone()),
            // The audit log's kinds are fixed: a customer on a public page is the
            // system's, named by what let them in.
            Actor::Public { via } => ("system", Some("public".into()), via.clone()),
        }
    }

    /// An audit entry of this actor: `action` on `entity` (`record_id` when one
    /// record), with empty changes and details.
    pub fn audit(&self, entity: &str, record_id: Option<&str>, action: &str) -> AuditEntry {
        let (kind, id, name) = self.audit_names();
        AuditEntry {
            actor_kind: kind.to_string(),
            actor_id: id,
            actor_name: name,
            channel: self.channel.as_str().to_string(),
            entity: entity.to_string(),
            record_id: record_id.map(str::to_string),
            action: action.to_string(),
            changes: serde_json::Value::Object(Default::default()),
            details: serde_json::Value::Object(Default::default()),
            ip: self.ip.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_entries_name_the_actor() {
        let a = Acting::token(7, "web shop", Role::Staff).from_ip(Some("127.0.0.1".into()));
        let e = a.audit("customers", Some("C1"), "update");
        assert_eq!(e.actor_kind, "token");
        assert_eq!(e.actor_id.as_deref(), Some("7"));
        assert_eq!(e.actor_name, "web shop");
        assert_eq!(e.channel, "api");
        assert_eq!(e.ip.as_deref(), Some("127.0.0.1"));
        let i = Acting::import("/tmp/c.csv");
        assert_eq!(
            i.audit("customers", None, "import").actor_name,
            "/tmp/c.csv"
        );
        assert_eq!(i.role(), Role::Admin);
        assert_eq!(a.role(), Role::Staff);
    }
}
