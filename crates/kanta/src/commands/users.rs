//! `kanta user` and `kanta token`: staff users and API tokens, through the core's
//! accounts (audited as the command line's operating-system user).

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use kanta_core::secrets::check_new_password;
use kanta_core::{Acting, Core, CoreError};
use kanta_store::accounts::Role;

use crate::cli::{Cli, TokenCommand, UserCommand};

fn role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s)
        .ok_or_else(|| anyhow!("--role: '{s}' is not one of admin, manager, staff, viewer"))
}

/// The password from the first line of stdin, or `None` to have one made up.
fn password(from_stdin: bool) -> anyhow::Result<Option<String>> {
    if !from_stdin {
        return Ok(None);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    check_new_password(&p).map_err(|e| anyhow!("--password-stdin: {e}"))?;
    Ok(Some(p))
}

pub async fn user(cli: &Cli, cmd: &UserCommand) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let acting = Acting::cli();
    match cmd {
        UserCommand::Add(a) => {
            if kanta_domain::value::Email::parse(&a.email).is_err() {
                bail!("'{}' is not an email address", a.email);
            }
            let role = role(&a.role)?;
            let pw = password(a.password_stdin)?;
            let (user, made_up) = match core
                .add_user(&acting, &a.email, a.name.as_deref(), role, pw)
                .await
            {
                Err(CoreError::Conflict { .. }) => {
                    let e = a.email.trim().to_lowercase();
                    bail!(
                        "a user {e} exists already (to give them a new password: kanta user passwd {e})"
                    )
                }
                r => r?,
            };
            eprintln!("Added {} as {role}.", user.email);
            if let Some(pw) = made_up {
                eprintln!(
                    "Their password (shown only now; they can change it on their account page):"
                );
                println!("{pw}");
            }
        }
        UserCommand::Passwd(a) => {
            let u = core
                .store()
                .user_by_email(&a.email)
                .await?
                .ok_or_else(|| anyhow!("there is no user {}", a.email))?;
            let pw = password(a.password_stdin)?;
            let made_up = core.set_password(&acting, u.id, pw).await?;
            eprintln!(
                "New password set for {}; their sessions were signed out.",
                u.email
            );
            if let Some(pw) = made_up {
                println!("{pw}");
            }
        }
        UserCommand::Unlock(a) => {
            let n = match core.unlock_sign_ins(&acting, &a.email).await {
                Err(CoreError::NotFound(_)) => bail!("there is no user {}", a.email.trim()),
                r => r?,
            };
            let email = a.email.trim().to_lowercase();
            if n == 0 {
                eprintln!("{email} had no failed sign-ins to forget; they can sign in.");
            } else {
                eprintln!(
                    "Forgot {n} failed sign-in{} of {email}; they can sign in again at once.",
                    if n == 1 { "" } else { "s" }
                );
            }
        }
        UserCommand::ResetTwoFactor(a) => {
            let done = match core.reset_two_factor(&acting, &a.email).await {
                Err(CoreError::NotFound(_)) => bail!("there is no user {}", a.email.trim()),
                r => r?,
            };
            let email = a.email.trim().to_lowercase();
            if done {
                eprintln!(
                    "Two-factor sign-in of {email} is off and their sessions ended; they sign in with their password (and set it up again where it is required)."
                );
            } else {
                eprintln!("{email} had no two-factor sign-in; nothing changed.");
            }
        }
        UserCommand::List(a) => {
            let users = core.store().users().await?;
            if a.json {
                crate::output::print_json(&users)?;
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.email.clone(),
                            u.name.clone(),
                            u.role.to_string(),
                            if u.active { "yes" } else { "no" }.to_string(),
                            u.last_login_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                            if u.two_factor_since.is_some() {
                                "on"
                            } else {
                                "off"
                            }
                            .to_string(),
                        ]
                    })
                    .collect();
                crate::output::table(
                    &[
                        "email",
                        "name",
                        "role",
                        "active",
                        "last sign-in",
                        "two-factor",
                    ],
                    &rows,
                    &[false; 6],
                );
            }
        }
    }
    core.store().close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn token(cli: &Cli, cmd: &TokenCommand) -> anyhow::Result<ExitCode> {
    let core: Core = cli.open_core().await?;
    let acting = Acting::cli();
    match cmd {
        TokenCommand::Create(a) => {
            let role = role(&a.role)?;
            if a.name.trim().is_empty() {
                bail!("the token needs a name, e.g. 'web shop'");
            }
            let (t, token) = core.create_token(&acting, &a.name, role).await?;
            eprintln!(
                "API token {} '{}' with the role {role} (shown only now; send it as 'Authorization: Bearer TOKEN'):",
                t.id, t.name
            );
            println!("{token}");
        }
        TokenCommand::List(a) => {
            let tokens = core.store().tokens().await?;
            if a.json {
                crate::output::print_json(&tokens)?;
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            t.role.to_string(),
                            format!("{}…", t.prefix),
                            t.last_used_at.map(|x| x.to_rfc3339()).unwrap_or_default(),
                            t.revoked_at.map(|x| x.to_rfc3339()).unwrap_or_default(),
                        ]
                    })
                    .collect();
                crate::output::table(
                    &["id", "name", "role", "starts with", "last used", "revoked"],
                    &rows,
                    &[true, false, false, false, false, false],
                );
            }
        }
        TokenCommand::Revoke(a) => {
            match core.revoke_token(&acting, a.id).await {
                Err(CoreError::NotFound(_)) => bail!("there is no live API token {}", a.id),
                r => r?,
            }
            eprintln!("API token {} revoked.", a.id);
        }
    }
    core.store().close().await;
    Ok(ExitCode::SUCCESS)
}
