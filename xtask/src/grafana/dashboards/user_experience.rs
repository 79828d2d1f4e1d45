//! The Application Overview's "User experience" row: Core Web Vitals and page-load time from
//! real browsers (glimpse-telemetry-axum's RUM endpoint), at p75 per page as they are judged.

use glimpse_telemetry::metrics::catalogue::{
    BROWSER_PAGE_LOAD_DURATION, BROWSER_WEB_VITAL_CLS, BROWSER_WEB_VITAL_FCP,
    BROWSER_WEB_VITAL_INP, BROWSER_WEB_VITAL_LCP, BROWSER_WEB_VITAL_RATINGS,
    BROWSER_WEB_VITAL_TTFB, GLIMPSE_TELEMETRY_RUM_BEACONS, MetricDef,
};

use crate::grafana::layout::Layout;
use crate::grafana::model::{Panel, query, query_with_exemplars, rate, timeseries};
use crate::names::{bucket, sample};

/// p75 of `m` per page, with exemplars (the document request's trace).
fn p75(
    title: &'static str,
    m: &MetricDef,
    unit: &'static str,
    good: f64,
    poor: f64,
    what: &str,
) -> Panel {
    timeseries(
        title,
        &format!(
            "75th percentile of {what} per page route, measured by browsers (web-vitals). Good up \
             to {good}, poor above {poor} (dashed lines). Exemplars open the trace of the page's \
             document request."
        ),
        unit,
        vec![query_with_exemplars(
            format!(
                "histogram_quantile(0.75, sum by (le, page_route) ({}))",
                rate(&bucket(m), "")
            ),
            "{{page_route}}",
        )],
    )
    .thresholds(&[(good, "yellow"), (poor, "red")])
    .w(8)
}

/// Appends the row to the Application Overview.
pub(super) fn row(l: &mut Layout) {
    l.row("User experience (real browsers)");
    l.add(p75(
        "LCP p75 by page",
        &BROWSER_WEB_VITAL_LCP,
        "s",
        2.5,
        4.0,
        "Largest Contentful Paint",
    ));
    l.add(p75(
        "INP p75 by page",
        &BROWSER_WEB_VITAL_INP,
        "s",
        0.2,
        0.5,
        "Interaction to Next Paint",
    ));
    l.add(p75(
        "CLS p75 by page",
        &BROWSER_WEB_VITAL_CLS,
        "none",
        0.1,
        0.25,
        "Cumulative Layout Shift (unitless)",
    ));
    l.add(p75(
        "FCP p75 by page",
        &BROWSER_WEB_VITAL_FCP,
        "s",
        1.8,
        3.0,
        "First Contentful Paint",
    ));
    l.add(p75(
        "TTFB p75 by page",
        &BROWSER_WEB_VITAL_TTFB,
        "s",
        0.8,
        1.8,
        "Time to First Byte",
    ));
    l.add(
        timeseries(
            "Page load p75 by page",
            "75th percentile of page-load time (Navigation Timing loadEventEnd) per page route, \
             measured by browsers.",
            "s",
            vec![query_with_exemplars(
                format!(
                    "histogram_quantile(0.75, sum by (le, page_route) ({}))",
                    rate(&bucket(&BROWSER_PAGE_LOAD_DURATION), "")
                ),
                "{{page_route}}",
            )],
        )
        .w(8),
    );
    let ratings = rate(&sample(&BROWSER_WEB_VITAL_RATINGS), "");
    l.add(
        timeseries(
            "Good / needs improvement / poor",
            "Share of page views rated good, needs-improvement and poor, per web vital \
             (web-vitals' thresholds).",
            "percentunit",
            vec![query(
                format!(
                    "sum by (web_vital, rating) ({ratings})\n/ ignoring (rating) group_left\nsum by (web_vital) ({ratings})"
                ),
                "{{web_vital}} {{rating}}",
            )],
        )
        .ratio()
        .w(16),
    );
    l.add(
        timeseries(
            "RUM beacons by outcome",
            "Beacons received per second by outcome: accepted, or refused (invalid, too_large, \
             unsupported_media_type, rate_limited: dropped by the per-process rate bound).",
            "reqps",
            vec![query(
                format!(
                    "sum by (outcome) ({})",
                    rate(&sample(&GLIMPSE_TELEMETRY_RUM_BEACONS), "")
                ),
                "{{outcome}}",
            )],
        )
        .stacked()
        .w(8),
    );
}
