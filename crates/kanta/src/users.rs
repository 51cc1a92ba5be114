//! `kanta user` and `kanta token`: staff users and API tokens from the command line (the
//! first admin is made here; later ones also on the admin's web pages).

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use kanta_store::Store;
use kanta_store::StoreError;
use kanta_store::auth::{NewUser, Role, UserUpdate};
use kanta_web::auth;

use crate::cli::{Cli, TokenCommand, UserCommand};

fn role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s)
        .ok_or_else(|| anyhow!("--role: '{s}' is not one of admin, manager, staff, viewer"))
}

/// The password from stdin (one line) or a new random one; whether it was made up.
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((auth::new_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    auth::check_new_password(&p).map_err(|e| anyhow!("--password-stdin: {e}"))?;
    Ok((p, false))
}

/// Creates a user, or with `reset` gives an existing one a new password.
pub async fn ensure_user(
    store: &Store,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
    reset: bool,
) -> anyhow::Result<()> {
    let hash = auth::hash_password(password.to_string())
        .await
        .map_err(|e| anyhow!(e))?;
    match store
        .create_user(&NewUser {
            email,
            name,
            role,
            password_hash: &hash,
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::Exists(_)) if reset => {
            let u = store
                .user_by_email(email)
                .await?
                .ok_or_else(|| anyhow!("the user {email} vanished"))?;
            store
                .update_user(
                    u.id,
                    &UserUpdate {
                        password_hash: Some(&hash),
                        role: Some(role),
                        active: Some(true),
                        ..Default::default()
                    },
                )
                .await?;
            Ok(())
        }
        Err(StoreError::Exists(e)) => {
            bail!("a user {e} exists already (to give them a new password: kanta user passwd {e})")
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn user(cli: &Cli, cmd: &UserCommand) -> anyhow::Result<ExitCode> {
    let store = cli.open_store().await?;
    match cmd {
        UserCommand::Add(a) => {
            if kanta_domain::value::Email::parse(&a.email).is_err() {
                bail!("'{}' is not an email address", a.email);
            }
            let role = role(&a.role)?;
            let (pw, made_up) = password(a.password_stdin)?;
            let name = a
                .name
                .clone()
                .unwrap_or_else(|| a.email.split('@').next().unwrap_or("").to_string());
            ensure_user(&store, &a.email, &name, role, &pw, false).await?;
            let email = a.email.trim().to_lowercase();
            eprintln!("Added {email} as {role}.");
            if made_up {
                eprintln!(
                    "Their password (shown only now; they can change it on their account page):"
                );
                println!("{pw}");
            }
        }
        UserCommand::Passwd(a) => {
            let u = store
                .user_by_email(&a.email)
                .await?
                .ok_or_else(|| anyhow!("there is no user {}", a.email))?;
            let (pw, made_up) = password(a.password_stdin)?;
            let hash = auth::hash_password(pw.clone())
                .await
                .map_err(|e| anyhow!(e))?;
            store
                .update_user(
                    u.id,
                    &UserUpdate {
                        password_hash: Some(&hash),
                        ..Default::default()
                    },
                )
                .await?;
            eprintln!(
                "New password set for {}; their sessions were signed out.",
                u.email
            );
            if made_up {
                println!("{pw}");
            }
        }
        UserCommand::List(a) => {
            let users = store.users().await?;
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
                        ]
                    })
                    .collect();
                crate::output::table(
                    &["email", "name", "role", "active", "last sign-in"],
                    &rows,
                    &[false; 5],
                );
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn token(cli: &Cli, cmd: &TokenCommand) -> anyhow::Result<ExitCode> {
    let store = cli.open_store().await?;
    match cmd {
        TokenCommand::Create(a) => {
            let role = role(&a.role)?;
            if a.name.trim().is_empty() {
                bail!("the token needs a name, e.g. 'web shop'");
            }
            let (token, prefix) = auth::new_api_token();
            let t = store
                .create_token(&a.name, role, &auth::digest(&token), &prefix, None)
                .await?;
            eprintln!(
                "API token {} '{}' with the role {role} (shown only now; send it as 'Authorization: Bearer TOKEN'):",
                t.id, t.name
            );
            println!("{token}");
        }
        TokenCommand::List(a) => {
            let tokens = store.tokens().await?;
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
            if !store.revoke_token(a.id).await? {
                bail!("there is no live API token {}", a.id);
            }
            eprintln!("API token {} revoked.", a.id);
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
