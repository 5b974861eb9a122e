//! Comparing a secret a client sent with the configured one, in the lowest layer so that
//! every endpoint with a token (admin, parents' page, trends) shares it.

/// Whether `given` is the secret `expected`, comparing every byte whatever the first
/// mismatch, so timing tells nothing. An empty secret (a token removed by a reload) matches
/// nothing.
pub(crate) fn same_secret(given: &str, expected: &str) -> bool {
    !expected.is_empty()
        && given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
