//! The error-reporting section: the GlitchTip project and what its events say (`SENTRY_*`).

use super::env::Lookup;
use crate::Error;

/// What [`crate::reporting::start`] starts the sentry client with.
#[derive(Clone, Debug)]
pub(crate) struct ReportingConfig {
    pub(crate) sentry_dsn: Option<String>,
    pub(crate) sentry_environment: Option<String>,
    pub(crate) sentry_release: Option<String>,
    pub(crate) sentry_sample_rate: f32,
}

impl Default for ReportingConfig {
    fn default() -> Self {
        ReportingConfig {
            sentry_dsn: None,
            sentry_environment: None,
            sentry_release: None,
            sentry_sample_rate: 1.0,
        }
    }
}

/// Reads the error-reporting section's variables, in the order their errors are reported.
pub(super) fn from_env(var: &Lookup<'_>) -> Result<ReportingConfig, Error> {
    let mut c = ReportingConfig::default();
    if let Some(v) = var("SENTRY_DSN")? {
        check_dsn(&v)?;
        c.sentry_dsn = Some(v);
    }
    c.sentry_environment = var("SENTRY_ENVIRONMENT")?;
    c.sentry_release = var("SENTRY_RELEASE")?;
    if let Some(v) = var("SENTRY_SAMPLE_RATE")? {
        c.sentry_sample_rate = match v.parse::<f32>() {
            Ok(r) if (0.0..=1.0).contains(&r) => r,
            _ => {
                return Err(Error::invalid(
                    "SENTRY_SAMPLE_RATE",
                    v,
                    "a ratio between 0 and 1",
                ));
            }
        };
    }
    Ok(c)
}

fn check_dsn(v: &str) -> Result<(), Error> {
    let expected = "a DSN such as https://<key>@glitchtip.example.com/<project-id>";
    #[cfg(feature = "sentry")]
    {
        v.parse::<sentry::types::Dsn>()
            .map(|_| ())
            .map_err(|e| Error::invalid("SENTRY_DSN", v, format!("{expected} ({e})")))
    }
    #[cfg(not(feature = "sentry"))]
    {
        let _ = expected;
        Err(Error::invalid(
            "SENTRY_DSN",
            v,
            "unset: this build of glimpse-telemetry has no `sentry` feature, so errors cannot be reported",
        ))
    }
}
