//! `kanta user`, `kanta token`, and the demo's printed sign-in, with the real binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use crate::helpers::{BACKENDS, Env, stderr};

#[test]
fn the_first_admin_is_added_from_the_command_line() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let out = env.ok(&["user", "add", "Omistaja@Kahvila.fi", "--role", "admin"]);
        let password = out.trim();
        assert_eq!(password.len(), 20, "{backend}: a made-up password: {out}");
        let users = env.json(&["user", "list"]);
        assert_eq!(users[0]["email"], "omistaja@kahvila.fi");
        assert_eq!(users[0]["role"], "admin");
        assert_eq!(users[0]["active"], true);
        assert!(
            users[0].get("password_hash").is_none(),
            "no hash in the list"
        );

        let again = env.run(&["user", "add", "omistaja@kahvila.fi", "--role", "staff"]);
        assert!(!again.status.success());
        assert!(
            stderr(&again).contains("exists already"),
            "{}",
            stderr(&again)
        );
        let bad = env.run(&["user", "add", "x@y.fi", "--role", "owner"]);
        assert!(
            stderr(&bad).contains("--role: 'owner' is not one of admin, manager, staff, viewer")
        );
        let bad = env.run(&["user", "add", "not-an-email", "--role", "staff"]);
        assert!(stderr(&bad).contains("'not-an-email' is not an email address"));

        // A chosen password comes on stdin, never as an argument.
        let mut child = env
            .cmd()
            .args([
                "user",
                "add",
                "kassa@kahvila.fi",
                "--role",
                "staff",
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"short\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success());
        assert!(stderr(&out).contains("at least 10 characters"));
        assert_eq!(env.json(&["user", "list"]).as_array().unwrap().len(), 1);

        let new = env.ok(&["user", "passwd", "omistaja@kahvila.fi"]);
        assert_ne!(new.trim(), password);
    }
}

#[test]
fn tokens_are_printed_once_listed_by_prefix_and_revoked() {
    let env = Env::new("sqlite");
    let token = env.ok(&["token", "create", "verkkokauppa", "--role", "staff"]);
    let token = token.trim();
    assert!(token.starts_with("kanta_") && token.len() == 70, "{token}");
    let list = env.json(&["token", "list"]);
    assert_eq!(list[0]["name"], "verkkokauppa");
    assert_eq!(list[0]["role"], "staff");
    assert_eq!(list[0]["prefix"], &token[..14]);
    assert!(
        !list.to_string().contains(token),
        "the list never shows the token"
    );
    let id = list[0]["id"].as_i64().unwrap().to_string();
    env.ok(&["token", "revoke", &id]);
    assert!(!env.json(&["token", "list"])[0]["revoked_at"].is_null());
    let again = env.run(&["token", "revoke", &id]);
    assert!(stderr(&again).contains("there is no live API token"));
}

/// Kills the server when the test ends, however it ends.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn set_cookie(answer: &str, name: &str) -> String {
    answer
        .lines()
        .find_map(|l| {
            let v = l.to_ascii_lowercase();
            v.starts_with(&format!("set-cookie: {name}="))
                .then(|| l[13 + name.len()..].split(';').next().unwrap().to_string())
        })
        .unwrap_or_else(|| panic!("no cookie {name} in {answer}"))
}

#[test]
fn the_demo_prints_a_login_that_works() {
    let env = Env::new("sqlite");
    let mut child = env
        .cmd()
        .args(["demo", "--as-of", "2026-11-01", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let server = Server(child);
    let (mut password, mut addr) = (None, None);
    for line in lines {
        let line = line.unwrap();
        if let Some(rest) = line.split_once(" as demo@kanta.local with the password ") {
            password = Some(rest.1.trim().to_string());
        }
        if let Some(rest) = line.split_once(" on http://") {
            addr = Some(rest.1.split('/').next().unwrap().to_string());
            break;
        }
    }
    let (password, addr) = (
        password.expect("a printed password"),
        addr.expect("an address"),
    );

    // The front page asks to sign in.
    let a = http(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        a.starts_with("HTTP/1.1 303") && a.contains("location: /login"),
        "{a}"
    );
    let page = http(
        &addr,
        "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let csrf = set_cookie(&page, "kanta_login_csrf");
    let body = format!("csrf={csrf}&email=demo%40kanta.local&password={password}&next=%2F");
    let a = http(
        &addr,
        &format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: kanta_login_csrf={csrf}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(a.starts_with("HTTP/1.1 303"), "{a}");
    let session = set_cookie(&a, "kanta_session");
    let page = http(
        &addr,
        &format!(
            "GET /customers/b2b-001 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: kanta_session={session}\r\n\r\n"
        ),
    );
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Demo Admin"));
    drop(server);
}

/// Signs in at `addr` through the login form, with `extra` header lines (each ending
/// in CRLF): the raw answer.
fn sign_in(addr: &str, email: &str, password: &str, extra: &str) -> String {
    let page = http(
        addr,
        "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let csrf = set_cookie(&page, "kanta_login_csrf");
    let body = format!(
        "csrf={csrf}&email={}&password={}&next=%2F",
        email.replace('@', "%40"),
        password
    );
    http(
        addr,
        &format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: kanta_login_csrf={csrf}\r\n{extra}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn status(answer: &str) -> &str {
    &answer[9..12]
}

#[test]
fn kanta_user_unlock_lets_a_slowed_down_user_in_at_once() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let a = "kassa@kahvila.fi";
        let a_password = env.ok(&["user", "add", a, "--role", "staff"]);
        let a_password = a_password.trim();
        let b_password = env.ok(&["user", "add", "omistaja@kahvila.fi", "--role", "admin"]);
        let mut c = env.cmd();
        crate::helpers::without_settings(&mut c).args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--score-every-hours",
            "0",
        ]);
        let serve = crate::helpers::Serve::start(&mut c);
        let addr = serve.addr().to_string();

        // Six wrong passwords: the sixth try is told to wait; a colleague at the same
        // address is not.
        for _ in 0..5 {
            assert_eq!(status(&sign_in(&addr, a, "wrong-password", "")), "401");
        }
        let answer = sign_in(&addr, a, a_password, "");
        assert_eq!(status(&answer), "429", "{backend}: {answer}");
        assert!(answer.contains("Wait 1 minute"), "{answer}");
        let answer = sign_in(&addr, "omistaja@kahvila.fi", b_password.trim(), "");
        assert_eq!(status(&answer), "303", "{backend}: {answer}");

        // The admin's command lets A in at once, and the audit log says who did it.
        let out = env.run(&["user", "unlock", "Kassa@Kahvila.fi"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("Forgot 5 failed sign-ins of kassa@kahvila.fi"),
            "{}",
            stderr(&out)
        );
        let answer = sign_in(&addr, a, a_password, "");
        assert_eq!(status(&answer), "303", "{backend}: {answer}");
        let audit = env.json(&["audit", "--entity", "users"])["items"].clone();
        let unlock = audit
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "unlock")
            .unwrap_or_else(|| panic!("no unlock in {audit}"));
        assert_eq!(unlock["actor_kind"], "cli", "{unlock}");
        assert_eq!(unlock["channel"], "cli", "{unlock}");
        assert_eq!(unlock["details"]["failures_cleared"], 5, "{unlock}");

        let out = env.run(&["user", "unlock", "nobody@kahvila.fi"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("there is no user nobody@kahvila.fi"));
        drop(serve);
    }
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_is_throttled_not_the_proxy() {
    let env = Env::new("sqlite");
    let a = "kassa@kahvila.fi";
    let a_password = env.ok(&["user", "add", a, "--role", "staff"]);
    let a_password = a_password.trim();
    let mut c = env.cmd();
    crate::helpers::without_settings(&mut c)
        .env("KANTA_SERVE__TRUSTED_PROXIES", "127.0.0.1, ::1")
        .args(["serve", "--bind", "127.0.0.1:0", "--score-every-hours", "0"]);
    let serve = crate::helpers::Serve::start(&mut c);
    let addr = serve.addr().to_string();
    let from = |ip: &str| format!("X-Forwarded-For: {ip}\r\n");
    for _ in 0..5 {
        let answer = sign_in(&addr, a, "wrong-password", &from("203.0.113.5"));
        assert_eq!(status(&answer), "401", "{answer}");
    }
    let answer = sign_in(&addr, a, a_password, &from("203.0.113.5"));
    assert_eq!(status(&answer), "429", "{answer}");
    // Everyone else behind the proxy still gets in.
    let answer = sign_in(&addr, a, a_password, &from("198.51.100.7"));
    assert_eq!(status(&answer), "303", "{answer}");
    let audit = env.json(&["audit", "--entity", "users"])["items"].clone();
    let failed = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "sign_in_failed")
        .unwrap();
    assert_eq!(failed["ip"], "203.0.113.5", "{failed}");
    drop(serve);
}
