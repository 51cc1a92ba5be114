//! Two-factor sign-in on both backends: a code and a recovery code are accepted once,
//! even by two cores over one store (two `kanta serve` instances), and the password
//! alone gives no session once it is on or required.

use kanta_core::accounts::SignIn;
use kanta_core::two_factor::{DIGITS, SecondStep, code_at};
use kanta_core::{Acting, Channel, Core};
use kanta_store::Store;
use kanta_store::accounts::Role;

use crate::support::{audit_of, each_core};

fn now_code(key: &str) -> String {
    code_at(key, chrono::Utc::now().timestamp() as u64, DIGITS).unwrap()
}

async fn second_step(core: &Core, email: &str, password: &str) -> String {
    match core
        .sign_in(email, password.to_string(), "192.0.2.7")
        .await
        .unwrap()
    {
        SignIn::SecondStep { secret, enrol } => {
            assert!(!enrol);
            secret
        }
        other => panic!("expected a second step, got {other:?}"),
    }
}

#[tokio::test]
async fn codes_and_recovery_codes_work_once_across_two_servers() {
    each_core(|backend, core| async move {
        let password = "a-long-password-1".to_string();
        let (user, _) = core
            .add_user(
                &Acting::cli(),
                "anna@kahvila.fi",
                None,
                Role::Manager,
                Some(password.clone()),
            )
            .await
            .unwrap();
        let acting = Acting::user(user.id, &user.email, user.role, Channel::Ui);
        let key = core.begin_two_factor(&acting).await.unwrap();
        // Asking again shows the same key (it may be scanned already).
        assert_eq!(
            core.begin_two_factor(&acting).await.unwrap().secret,
            key.secret
        );
        assert!(core.confirm_two_factor(&acting, "000000").await.is_err());
        // One code for turning it on and for trying it again: of the same step.
        let code = now_code(&key.secret);
        let codes = core.confirm_two_factor(&acting, &code).await.unwrap();
        assert_eq!(codes.len(), 10, "{backend}");
        assert_eq!(audit_of(core.store(), "two_factor_on").await.len(), 1);

        // The password alone: a waiting sign-in, no user.
        let secret = second_step(&core, &user.email, &password).await;
        // The code of the step used to turn it on is spent already.
        let step = core
            .second_factor(&secret, &code, "192.0.2.7")
            .await
            .unwrap();
        assert!(
            matches!(step, SecondStep::Wrong { tries_left: 4 }),
            "{backend}: {step:?}"
        );

        // A recovery code sent to two servers at once: one signs in.
        let other = Core::new(Store::open(core.store().url()).await.unwrap());
        let secret2 = second_step(&other, &user.email, &password).await;
        let (a, b) = tokio::join!(
            core.second_factor(&secret, &codes[0], "192.0.2.7"),
            other.second_factor(&secret2, &codes[0], "192.0.2.7"),
        );
        let ok = [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|s| matches!(s, SecondStep::Ok { recovery: true, .. }))
            .count();
        assert_eq!(ok, 1, "{backend}: a recovery code works once");
        assert_eq!(core.store().recovery_codes_left(user.id).await.unwrap(), 9);
        let signed = audit_of(core.store(), "sign_in").await;
        assert_eq!(
            signed.last().unwrap().entry.details["second_factor"],
            "recovery_code"
        );
        other.store().close().await;

        // Turned off with the password, the password alone signs in again.
        assert!(
            core.turn_off_two_factor(&acting, "wrong".into())
                .await
                .is_err()
        );
        core.turn_off_two_factor(&acting, password.clone())
            .await
            .unwrap();
        assert!(matches!(
            core.sign_in(&user.email, password.clone(), "192.0.2.7")
                .await
                .unwrap(),
            SignIn::Ok(_)
        ));
        assert_eq!(core.store().recovery_codes_left(user.id).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn an_admin_must_set_it_up_when_required() {
    each_core(|backend, core| async move {
        let password = "a-long-password-2".to_string();
        let (user, _) = core
            .add_user(
                &Acting::cli(),
                "root@kahvila.fi",
                None,
                Role::Admin,
                Some(password.clone()),
            )
            .await
            .unwrap();
        core.set_store_setting(&Acting::cli(), "two_factor_admins", "required")
            .await
            .unwrap();
        let SignIn::SecondStep { secret, enrol } = core
            .sign_in(&user.email, password.clone(), "192.0.2.8")
            .await
            .unwrap()
        else {
            panic!("{backend}: the password alone signed an admin in");
        };
        assert!(enrol);
        // A code cannot be given before setting up; the set-up key finishes it.
        assert!(matches!(
            core.second_factor(&secret, "123456", "192.0.2.8")
                .await
                .unwrap(),
            SecondStep::Expired
        ));
        let (_, key) = core.enrol_key(&secret).await.unwrap().unwrap();
        let step = core
            .enrol_and_sign_in(&secret, &now_code(&key.secret), "192.0.2.8")
            .await
            .unwrap();
        let SecondStep::Ok { user: u, codes, .. } = step else {
            panic!("{backend}: {step:?}");
        };
        assert_eq!((u.id, codes.len()), (user.id, 10));
        // While required, the admin cannot turn it off.
        let acting = Acting::user(user.id, &user.email, Role::Admin, Channel::Ui);
        assert!(
            core.turn_off_two_factor(&acting, password.clone())
                .await
                .is_err()
        );
        // A manager cannot lift the requirement.
        let manager = Acting::user(99, "m@kahvila.fi", Role::Manager, Channel::Ui);
        assert!(
            core.set_store_setting(&manager, "two_factor_admins", "optional")
                .await
                .is_err()
        );
    })
    .await;
}
