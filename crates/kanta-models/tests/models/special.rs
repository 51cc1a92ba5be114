//! ln_gamma, digamma and 2F1 against mpmath at 40 digits.

use crate::common::{f, fixture};
use kanta_models::special;

#[test]
fn ln_gamma_and_digamma_match_mpmath() {
    let fx = fixture("special.json");
    for case in fx["ln_gamma"].as_array().unwrap() {
        let x = f(&case["x"]);
        let want = f(&case["value"]);
        let got = special::ln_gamma(x);
        // absolute error near the zeros at 1 and 2, relative elsewhere
        let err = (got - want).abs() / want.abs().max(1.0);
        assert!(
            err < 1e-14,
            "ln_gamma({x}) = {got}, mpmath {want}, error {err:e}"
        );
    }
    for case in fx["digamma"].as_array().unwrap() {
        let x = f(&case["x"]);
        let want = f(&case["value"]);
        let got = special::digamma(x);
        let err = (got - want).abs() / want.abs().max(1.0);
        assert!(
            err < 1e-13,
            "digamma({x}) = {got}, mpmath {want}, error {err:e}"
        );
    }
}

#[test]
fn hyp2f1_matches_mpmath_including_z_near_one_and_large_parameters() {
    let fx = fixture("special.json");
    let mut worst = 0.0f64;
    for case in fx["hyp2f1"].as_array().unwrap() {
        let (a, b, c, z) = (f(&case["a"]), f(&case["b"]), f(&case["c"]), f(&case["z"]));
        let want = f(&case["ln_value"]);
        let (got, sign) = special::ln_hyp2f1(a, b, c, z).unwrap();
        assert_eq!(sign, f(&case["sign"]), "sign of 2F1({a}, {b}; {c}; {z})");
        let err = (got - want).abs(); // absolute error of ln F = relative error of F
        worst = worst.max(err);
        println!("2F1({a}, {b}; {c}; {z}): ln {got} vs {want}, rel error {err:.2e}");
        assert!(
            err < 1e-12,
            "2F1({a}, {b}; {c}; {z}): ln = {got}, mpmath {want}, error {err:e}"
        );
        if (c - a - 1.0).abs() < 1e-12 && b > 0.0 && z >= 0.0 {
            let got = special::ln_hyp2f1_ap1(a, b, z).unwrap();
            let err = (got - want).abs();
            println!("   ap1: error {err:.2e}");
            assert!(
                err < 1e-12,
                "2F1({a}, {b}; {a}+1; {z}) continued fraction: {got} vs {want}, error {err:e}"
            );
        }
    }
    println!("worst relative error {worst:.2e}");
}
