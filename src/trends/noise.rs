//! The differential-privacy noise of the shared export, from OpenDP.
//!
//! The unit is a device: one device adds at most 1 to each cell of its kind on a day (a
//! device is counted under one kind a day, and at most once per category), so two days'
//! data that differ by one device differ by at most `categories` in the L1 norm of the
//! day's vector of counts. OpenDP's discrete Laplace mechanism over that vector with scale
//! `categories / ε` is ε-differentially private for the whole day (the budget is split
//! evenly across the categories: sequential composition of ε / categories per cell; the
//! kinds share it by parallel composition, as a device is in one kind). The ε stated in an
//! export is the one OpenDP's privacy map proves for that sensitivity, not the one asked
//! for, in case its conservative rounding made it a little larger.
//!
//! Without its `use-openssl` feature (which builds a vendored OpenSSL) OpenDP draws its
//! random bits from `rand` 0.7's `thread_rng`: ChaCha20 seeded from the operating system
//! and reseeded every 64 KiB, a cryptographically secure generator; OpenDP's samplers turn
//! those bits into exact discrete Laplace draws (no floating-point attack surface).

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::make_laplace;
use opendp::measures::MaxDivergence;
use opendp::metrics::L1Distance;

/// Why noise could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("differential-privacy noise: {0}")]
pub struct NoiseError(String);

impl From<opendp::error::Error> for NoiseError {
    fn from(e: opendp::error::Error) -> Self {
        NoiseError(e.variant.to_string() + ": " + e.message.as_deref().unwrap_or(""))
    }
}

/// A day's noisy counts and what they cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub noisy: Vec<i64>,
    /// The ε OpenDP proves for the day's release.
    pub epsilon: f64,
    /// The Laplace scale of each cell's noise.
    pub scale: f64,
}

/// Adds noise to `exact`, one day's counts of which one device changes at most
/// `sensitivity` cells by 1, for a budget of `epsilon` for the whole day.
pub fn release(exact: &[i64], sensitivity: u32, epsilon: f64) -> Result<Release, NoiseError> {
    let sensitivity = sensitivity.max(1);
    let scale = f64::from(sensitivity) / epsilon;
    let measurement = make_laplace::<_, _, MaxDivergence>(
        VectorDomain::new(AtomDomain::<i64>::default()),
        L1Distance::<i64>::default(),
        scale,
        None,
    )?;
    let epsilon = measurement.map(&i64::from(sensitivity))?;
    let noisy = measurement.invoke(&exact.to_vec())?;
    Ok(Release {
        noisy,
        epsilon,
        scale,
    })
}
