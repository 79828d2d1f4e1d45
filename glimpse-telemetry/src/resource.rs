//! Who is reporting: the service's name, version, deployment environment and host, as the
//! OpenTelemetry resource on every span and as the `target_info` metric, so a dashboard can join
//! metrics to the same service the traces and logs name.

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::info::Info;

/// The identity of the running service.
#[derive(Clone, Debug)]
pub(crate) struct ServiceIdentity {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) environment: &'static str,
    pub(crate) host: Option<String>,
    pub(crate) attributes: Vec<(String, String)>,
}

impl ServiceIdentity {
    /// `(key, value)` pairs with OpenTelemetry keys (`service.name`...).
    pub(crate) fn pairs(&self) -> Vec<(String, String)> {
        let mut out = vec![("service.name".to_owned(), self.name.clone())];
        if let Some(v) = &self.version {
            out.push(("service.version".to_owned(), v.clone()));
        }
        out.push((
            "deployment.environment.name".to_owned(),
            self.environment.to_owned(),
        ));
        if let Some(h) = &self.host {
            out.push(("host.name".to_owned(), h.clone()));
        }
        for (k, v) in &self.attributes {
            if !out.iter().any(|(existing, _)| existing == k) {
                out.push((k.clone(), v.clone()));
            }
        }
        out
    }

    pub(crate) fn otel_resource(&self) -> Resource {
        let mut attrs: Vec<KeyValue> = self
            .pairs()
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        attrs.push(KeyValue::new("telemetry.sdk.name", "opentelemetry"));
        attrs.push(KeyValue::new("telemetry.sdk.language", "rust"));
        attrs.push(KeyValue::new("telemetry.distro.name", "glimpse-telemetry"));
        attrs.push(KeyValue::new(
            "telemetry.distro.version",
            env!("CARGO_PKG_VERSION"),
        ));
        Resource::builder_empty().with_attributes(attrs).build()
    }

    /// `target_info{service_name=..., ...} 1`, the OpenTelemetry-to-Prometheus convention.
    pub(crate) fn target_info(&self) -> Box<dyn Collector> {
        let labels: Vec<(String, String)> = self
            .pairs()
            .into_iter()
            .map(|(k, v)| (prometheus_label(&k), v))
            .collect();
        Box::new(TargetInfo(Info::new(labels)))
    }
}

#[derive(Debug)]
struct TargetInfo(Info<Vec<(String, String)>>);

impl Collector for TargetInfo {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder.encode_descriptor(
            "target",
            "Target metadata: the service's resource attributes.",
            None,
            self.0.metric_type(),
        )?)
    }
}

/// `service.name` → `service_name`; anything outside `[a-zA-Z0-9_]` becomes `_`.
fn prometheus_label(key: &str) -> String {
    let mut s: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// This machine's host name.
pub(crate) fn host_name() -> Option<String> {
    hostname::get()
        .ok()?
        .into_string()
        .ok()
        .filter(|h| !h.is_empty())
}

/// `unknown_service:<executable>`, the OpenTelemetry default when no name is given.
pub(crate) fn unknown_service() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    if exe.is_empty() {
        "unknown_service".to_owned()
    } else {
        format!("unknown_service:{exe}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_prometheus_safe() {
        assert_eq!(
            prometheus_label("deployment.environment.name"),
            "deployment_environment_name"
        );
        assert_eq!(prometheus_label("k8s.pod-name"), "k8s_pod_name");
        assert_eq!(prometheus_label("1x"), "_1x");
    }

    #[test]
    fn host_name_is_known() {
        assert!(host_name().is_some());
    }
}
