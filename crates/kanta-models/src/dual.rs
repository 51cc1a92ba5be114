//! Forward-mode dual numbers: a value with its first partial derivatives.
//!
//! The Pareto/NBD likelihood contains `2F1(a, b; a + 1; z)`, whose derivatives with
//! respect to `a` and `b` have no closed form. Running the same continued fraction
//! on dual numbers gives the exact derivative of the computed value (not a finite
//! difference), so the gradient handed to L-BFGS is consistent with the cost to
//! rounding error.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// The arithmetic shared by `f64` and [`Dual`], so one routine serves both plain
/// evaluation (predictions) and differentiated evaluation (fitting).
pub trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// A constant (all derivatives zero).
    fn cst(v: f64) -> Self;
    /// The value, without derivatives.
    fn val(&self) -> f64;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Exponential.
    fn exp(self) -> Self;
    /// `ln(1 + x)`, accurate for small `x`.
    fn ln_1p(self) -> Self;
    /// `ln(1 - exp(x))` for `x < 0`, accurate near both ends.
    fn ln_one_minus_exp(self) -> Self;
    /// Whether a continued-fraction factor `delta` has converged for the running
    /// product `f`: the value and every derivative of `ln f` have stopped moving.
    fn cf_converged(delta: Self, f: Self, tol: f64) -> bool;
}

impl Real for f64 {
    #[inline]
    fn cst(v: f64) -> Self {
        v
    }
    #[inline]
    fn val(&self) -> f64 {
        *self
    }
    #[inline]
    fn ln(self) -> Self {
        f64::ln(self)
    }
    #[inline]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline]
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
    #[inline]
    fn ln_one_minus_exp(self) -> Self {
        ln_one_minus_exp(self)
    }
    #[inline]
    fn cf_converged(delta: Self, _f: Self, tol: f64) -> bool {
        (delta - 1.0).abs() < tol
    }
}

/// `ln(1 - e^x)` for `x <= 0` (Mächler 2012: switch between `ln(-expm1(x))` and
/// `ln_1p(-exp(x))` at `x = -ln 2`).
#[inline]
pub fn ln_one_minus_exp(x: f64) -> f64 {
    if x > -std::f64::consts::LN_2 {
        (-x.exp_m1()).ln()
    } else {
        (-x.exp()).ln_1p()
    }
}

/// A value and its `N` partial derivatives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<const N: usize> {
    /// The value.
    pub v: f64,
    /// Partial derivatives with respect to the `N` independent variables.
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// Independent variable number `i` with value `v`.
    #[inline]
    pub fn var(v: f64, i: usize) -> Self {
        let mut d = [0.0; N];
        d[i] = 1.0;
        Dual { v, d }
    }

    /// A value with given derivatives.
    #[inline]
    pub fn new(v: f64, d: [f64; N]) -> Self {
        Dual { v, d }
    }

    /// Apply a scalar function with value `f` and derivative `df` at `self.v`.
    #[inline]
    fn chain(self, f: f64, df: f64) -> Self {
        let mut d = self.d;
        for x in &mut d {
            *x *= df;
        }
        Dual { v: f, d }
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        let mut d = self.d;
        for (x, y) in d.iter_mut().zip(o.d) {
            *x += y;
        }
        Dual { v: self.v + o.v, d }
    }
}

impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        let mut d = self.d;
        for (x, y) in d.iter_mut().zip(o.d) {
            *x -= y;
        }
        Dual { v: self.v - o.v, d }
    }
}

impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        let mut d = [0.0; N];
        for (i, x) in d.iter_mut().enumerate() {
            *x = self.d[i] * o.v + self.v * o.d[i];
        }
        Dual { v: self.v * o.v, d }
    }
}

impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: Self) -> Self {
        let inv = 1.0 / o.v;
        let v = self.v * inv;
        let mut d = [0.0; N];
        for (i, x) in d.iter_mut().enumerate() {
            *x = (self.d[i] - v * o.d[i]) * inv;
        }
        Dual { v, d }
    }
}

impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        let mut d = self.d;
        for x in &mut d {
            *x = -*x;
        }
        Dual { v: -self.v, d }
    }
}

impl<const N: usize> Add<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(self, o: f64) -> Self {
        Dual {
            v: self.v + o,
            d: self.d,
        }
    }
}

impl<const N: usize> Sub<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(self, o: f64) -> Self {
        Dual {
            v: self.v - o,
            d: self.d,
        }
    }
}

impl<const N: usize> Mul<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: f64) -> Self {
        let mut d = self.d;
        for x in &mut d {
            *x *= o;
        }
        Dual { v: self.v * o, d }
    }
}

impl<const N: usize> Div<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: f64) -> Self {
        self * (1.0 / o)
    }
}

impl<const N: usize> Real for Dual<N> {
    #[inline]
    fn cst(v: f64) -> Self {
        Dual { v, d: [0.0; N] }
    }
    #[inline]
    fn val(&self) -> f64 {
        self.v
    }
    #[inline]
    fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }
    #[inline]
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    #[inline]
    fn ln_1p(self) -> Self {
        self.chain(self.v.ln_1p(), 1.0 / (1.0 + self.v))
    }
    #[inline]
    fn ln_one_minus_exp(self) -> Self {
        // d/dx ln(1 - e^x) = -1 / (e^{-x} - 1)
        self.chain(ln_one_minus_exp(self.v), -1.0 / (-self.v).exp_m1())
    }
    #[inline]
    fn cf_converged(delta: Self, f: Self, tol: f64) -> bool {
        if (delta.v - 1.0).abs() >= tol {
            return false;
        }
        // d ln f accumulates delta.d / delta.v; require each increment to be small
        // relative to the accumulated derivative of ln f (or absolutely small).
        delta.d.iter().zip(f.d).all(|(dd, fd)| {
            let scale = (fd / f.v).abs().max(1.0);
            dd.abs() < tol * scale
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_arithmetic_matches_hand_derivatives() {
        // f(x, y) = ln(x * y + 1) / (x - y) at (2, 0.5)
        let x = Dual::<2>::var(2.0, 0);
        let y = Dual::<2>::var(0.5, 1);
        let f = (x * y + 1.0).ln() / (x - y);
        let (xv, yv) = (2.0_f64, 0.5_f64);
        let g = (xv * yv + 1.0).ln();
        let h = xv - yv;
        let dfdx = (yv / (xv * yv + 1.0)) / h - g / (h * h);
        let dfdy = (xv / (xv * yv + 1.0)) / h + g / (h * h);
        assert!((f.v - g / h).abs() < 1e-15);
        assert!((f.d[0] - dfdx).abs() < 1e-15);
        assert!((f.d[1] - dfdy).abs() < 1e-15);
    }

    #[test]
    fn ln_one_minus_exp_is_accurate_at_both_ends() {
        for &x in &[-1e-12, -1e-3, -0.5, -0.7, -5.0, -40.0] {
            let exact = (1.0 - f64::exp(x)).ln();
            let got = ln_one_minus_exp(x);
            // the naive formula is only trustworthy away from 0
            if x < -1e-3 {
                assert!((got - exact).abs() < 1e-13 * exact.abs().max(1.0), "{x}");
            }
            let xd = Dual::<1>::var(x, 0);
            let d = xd.ln_one_minus_exp();
            let h = 1e-6 * x.abs();
            let fd = (ln_one_minus_exp(x + h) - ln_one_minus_exp(x - h)) / (2.0 * h);
            assert!((d.d[0] - fd).abs() < 1e-5 * fd.abs().max(1.0), "{x}");
        }
        assert!((ln_one_minus_exp(-1e-12) - (1e-12f64).ln()).abs() < 1e-9);
    }
}
