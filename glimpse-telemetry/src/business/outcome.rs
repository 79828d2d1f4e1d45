//! How a payment ended: the `outcome` label of the payment metrics and the `status` of the
//! payment audit line.

/// How a payment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaymentOutcome {
    /// The payment went through.
    Succeeded,
    /// The payment was declined or failed.
    Failed,
}

impl PaymentOutcome {
    /// The `outcome` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentOutcome::Succeeded => "succeeded",
            PaymentOutcome::Failed => "failed",
        }
    }
}
