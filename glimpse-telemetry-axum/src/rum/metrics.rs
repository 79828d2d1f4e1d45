//! The endpoint's metric handles: the web-vital and page-load families (from the catalogue) and
//! the counters of accepted and refused beacons, registered once per endpoint.

use glimpse_telemetry::metrics::{Counter, Family, Histogram, catalogue};

use super::beacon::Measure;

/// The families (`None` if the registry refused them: another crate took these names with other
/// labels; then nothing is recorded, and the endpoint still answers) and the endpoint's counters.
#[derive(Debug)]
pub(super) struct Metrics {
    pub(super) families: Option<Families>,
    pub(super) accepted: Counter,
    pub(super) invalid: Counter,
    pub(super) too_large: Counter,
    pub(super) unsupported: Counter,
    pub(super) rate_limited: Counter,
    pub(super) duplicates: Counter,
}

#[derive(Debug)]
pub(super) struct Families {
    lcp: Family<Histogram>,
    inp: Family<Histogram>,
    cls: Family<Histogram>,
    fcp: Family<Histogram>,
    ttfb: Family<Histogram>,
    page_load: Family<Histogram>,
    pub(super) ratings: Family<Counter>,
}

impl Metrics {
    pub(super) fn register() -> Metrics {
        let families = (|| {
            Some(Families {
                lcp: catalogue::BROWSER_WEB_VITAL_LCP.register().ok()?,
                inp: catalogue::BROWSER_WEB_VITAL_INP.register().ok()?,
                cls: catalogue::BROWSER_WEB_VITAL_CLS.register().ok()?,
                fcp: catalogue::BROWSER_WEB_VITAL_FCP.register().ok()?,
                ttfb: catalogue::BROWSER_WEB_VITAL_TTFB.register().ok()?,
                page_load: catalogue::BROWSER_PAGE_LOAD_DURATION.register().ok()?,
                ratings: catalogue::BROWSER_WEB_VITAL_RATINGS.register().ok()?,
            })
        })();
        let beacons = catalogue::GLIMPSE_TELEMETRY_RUM_BEACONS
            .register::<Counter>()
            .ok();
        let outcome = |o: &str| {
            beacons
                .as_ref()
                .map(|f| f.get_or_create(&[o]))
                .unwrap_or_default()
        };
        Metrics {
            families,
            accepted: outcome("accepted"),
            invalid: outcome("invalid"),
            too_large: outcome("too_large"),
            unsupported: outcome("unsupported_media_type"),
            rate_limited: outcome("rate_limited"),
            duplicates: catalogue::GLIMPSE_TELEMETRY_RUM_DUPLICATE_REPORTS
                .register::<Counter>()
                .map(|f| f.get_or_create(&[]))
                .unwrap_or_default(),
        }
    }
}

impl Families {
    pub(super) fn histogram(&self, m: Measure) -> &Family<Histogram> {
        match m {
            Measure::Lcp => &self.lcp,
            Measure::Inp => &self.inp,
            Measure::Cls => &self.cls,
            Measure::Fcp => &self.fcp,
            Measure::Ttfb => &self.ttfb,
            Measure::PageLoad => &self.page_load,
        }
    }
}
