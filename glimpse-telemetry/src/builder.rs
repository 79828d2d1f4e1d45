//! [`Builder`]: the environment's configuration, overridden in code where needed, and `init`,
//! which starts every part and installs the global subscriber.
//!
//! Precedence, highest first: a builder call (`.service_name(..)`), the environment
//! (`OTEL_SERVICE_NAME`), the package defaults of [`init!`](crate::init!) (`.package(..)`),
//! the built-in defaults.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt as _;

use crate::config::{Config, Environment, LogFormat, Protocol, Sampler};
use crate::guard::TelemetryGuard;
use crate::redact::Redactor;
use crate::resource::ServiceIdentity;
use crate::subscriber::{BoxedLayer, TelemetryFilter, directives};
use crate::traces::KeepTraces;
use crate::{Error, metrics, propagation};

static INITIALIZED: AtomicBool = AtomicBool::new(false);

type ExporterFactory = Box<dyn FnOnce() -> Box<dyn DynExporter> + Send>;

/// A span exporter behind a box (for [`Builder::span_exporter`]).
pub(crate) trait DynExporter: Send + Sync + std::fmt::Debug {
    fn export_boxed(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> futures_like::BoxFuture;
    fn shutdown_boxed(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult;
}

mod futures_like {
    pub(crate) type BoxFuture = std::pin::Pin<
        Box<dyn std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send>,
    >;
}

impl<E: opentelemetry_sdk::trace::SpanExporter + 'static> DynExporter for std::sync::Arc<E> {
    fn export_boxed(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> futures_like::BoxFuture {
        let this = self.clone();
        Box::pin(async move { this.export(batch).await })
    }
    fn shutdown_boxed(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.shutdown_with_timeout(timeout)
    }
}

#[derive(Debug)]
struct BoxedExporter(Box<dyn DynExporter>);

impl opentelemetry_sdk::trace::SpanExporter for BoxedExporter {
    fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        self.0.export_boxed(batch)
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_boxed(timeout)
    }
}

/// Configures and starts telemetry. Get one with [`builder()`](crate::builder).
///
/// ```no_run
/// use std::time::Duration;
/// use glimpse_telemetry::{Environment, Sampler};
///
/// let _telemetry = glimpse_telemetry::builder()
///     .package("billing", "2.4.1")
///     .environment(Environment::Staging)
///     .sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.1))))
///     .shutdown_timeout(Duration::from_secs(2))
///     .init()?;
/// # Ok::<(), glimpse_telemetry::Error>(())
/// ```
#[must_use = "nothing starts until .init() is called"]
#[derive(Default)]
pub struct Builder {
    config: Option<Config>,
    /// What the code changes in the configuration, applied in order onto the environment's (or
    /// [`Builder::config`]'s): the builder keeps no copy of `Config`'s fields.
    overrides: Vec<Override>,
    package: Option<(String, String)>,
    log_writer: Option<Box<dyn Write + Send>>,
    exporter: Option<ExporterFactory>,
    #[cfg(feature = "sentry")]
    sentry_transport: Option<std::sync::Arc<dyn sentry::TransportFactory>>,
    span_event_level: Option<tracing::level_filters::LevelFilter>,
    layers: Vec<BoxedLayer>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("overrides", &self.overrides.len())
            .field("package", &self.package)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

/// One change the code makes to the configuration.
type Override = Box<dyn Fn(&mut Config) + Send + Sync>;

impl Builder {
    fn with(mut self, change: impl Fn(&mut Config) + Send + Sync + 'static) -> Self {
        self.overrides.push(Box::new(change));
        self
    }

    /// Starts from this configuration instead of reading the environment.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The calling package's name and version, used when the environment names no service
    /// (`init!()` passes `CARGO_PKG_NAME` and `CARGO_PKG_VERSION`).
    pub fn package(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.package = Some((name.into(), version.into()));
        self
    }

    /// The service name, overriding `OTEL_SERVICE_NAME`.
    pub fn service_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.with(move |c| c.service_name = Some(name.clone()))
    }

    /// The service version, overriding `service.version` from the environment.
    pub fn service_version(self, version: impl Into<String>) -> Self {
        let version = version.into();
        self.with(move |c| c.service_version = Some(version.clone()))
    }

    /// The deployment environment, overriding `GLIMPSE_ENV`.
    pub fn environment(self, env: Environment) -> Self {
        self.with(move |c| c.environment = env)
    }

    /// The log line format, overriding `GLIMPSE_LOG_FORMAT`.
    pub fn log_format(self, format: LogFormat) -> Self {
        self.with(move |c| c.logs.log_format = format)
    }

    /// The log filter, overriding `RUST_LOG` (validated by `init`).
    pub fn log_filter(self, directives: impl Into<String>) -> Self {
        let directives = directives.into();
        self.with(move |c| c.logs.log_filter = directives.clone())
    }

    /// Where JSON log lines go instead of stdout (a file, or `std::io::sink()` in benchmarks).
    /// Lines are still written off the request path.
    pub fn log_writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.log_writer = Some(Box::new(writer));
        self
    }

    /// More key fragments whose values are redacted, added to `GLIMPSE_LOG_REDACT`'s.
    pub fn redact_keys<S: Into<String>>(self, keys: impl IntoIterator<Item = S>) -> Self {
        let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        self.with(move |c| c.logs.redact_keys.extend(keys.iter().cloned()))
    }

    /// The trace sampler, overriding `OTEL_TRACES_SAMPLER`.
    pub fn sampler(self, sampler: Sampler) -> Self {
        self.with(move |c| c.traces.sampler = sampler.clone())
    }

    /// What "keep errors and slow" keeps of the traces head sampling refuses, overriding
    /// `GLIMPSE_TRACES_KEEP` and `GLIMPSE_TRACES_SLOW_THRESHOLD`; [`KeepTraces::off`] turns it
    /// off. Without it, errors and requests of 1 s or more are kept when the sampler is a ratio
    /// one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use glimpse_telemetry::traces::KeepTraces;
    ///
    /// let builder = glimpse_telemetry::builder()
    ///     .keep_traces(KeepTraces::default().slow_threshold(Some(Duration::from_millis(300))));
    /// # let _ = builder;
    /// ```
    pub fn keep_traces(self, keep: KeepTraces) -> Self {
        self.with(move |c| {
            c.traces.keep_traces = keep.clone();
            c.traces.keep_traces_set = true;
        })
    }

    /// The OTLP endpoint for traces, overriding the `OTEL_EXPORTER_OTLP_*ENDPOINT` variables
    /// (used as given, like the signal-specific variable).
    pub fn otlp_endpoint(self, endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        self.with(move |c| {
            c.traces.endpoint = Some(endpoint.clone());
            c.traces.endpoint_is_signal_specific = true;
        })
    }

    /// The OTLP protocol, overriding `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn protocol(self, protocol: Protocol) -> Self {
        self.with(move |c| c.traces.protocol = protocol.clone())
    }

    /// No spans are recorded or exported (as `OTEL_SDK_DISABLED=true`).
    pub fn disable_traces(self) -> Self {
        self.with(|c| c.sdk_disabled = true)
    }

    /// Exports spans with this exporter instead of OTLP (tests, benchmarks, other backends).
    /// Batching, redaction and drop accounting still apply.
    pub fn span_exporter<E: opentelemetry_sdk::trace::SpanExporter + 'static>(
        mut self,
        exporter: E,
    ) -> Self {
        self.exporter = Some(Box::new(move || {
            Box::new(std::sync::Arc::new(exporter)) as Box<dyn DynExporter>
        }));
        self
    }

    /// The GlitchTip DSN, overriding `SENTRY_DSN`.
    pub fn sentry_dsn(self, dsn: impl Into<String>) -> Self {
        let dsn = dsn.into();
        self.with(move |c| c.reporting.sentry_dsn = Some(dsn.clone()))
    }

    /// Sends GlitchTip events through this transport (tests capture events this way).
    #[cfg(feature = "sentry")]
    pub fn sentry_transport(
        mut self,
        transport: std::sync::Arc<dyn sentry::TransportFactory>,
    ) -> Self {
        self.sentry_transport = Some(transport);
        self
    }

    /// Serves `GET /metrics` on this address, overriding `GLIMPSE_METRICS_ADDR`.
    pub fn metrics_addr(self, addr: SocketAddr) -> Self {
        self.with(move |c| c.metrics.metrics_addr = Some(addr))
    }

    /// The default series limit per metric family, overriding `GLIMPSE_METRICS_MAX_SERIES`.
    pub fn max_series(self, n: usize) -> Self {
        self.with(move |c| c.metrics.max_series = n.max(1))
    }

    /// How long shutdown may take, overriding `GLIMPSE_SHUTDOWN_TIMEOUT_MS` (default 5 s).
    pub fn shutdown_timeout(self, timeout: Duration) -> Self {
        self.with(move |c| c.shutdown_timeout = timeout)
    }

    /// The least severe log events that are also recorded on the current span as span events
    /// (shown in Jaeger next to the span). Default `WARN`: warnings and errors; more verbose
    /// levels put every log line into the trace, which costs an allocation per line. Events
    /// outside a sampled span never become span events.
    ///
    /// ```no_run
    /// let _telemetry = glimpse_telemetry::builder()
    ///     .span_event_level(glimpse_telemetry::tracing::Level::INFO)
    ///     .init()?;
    /// # Ok::<(), glimpse_telemetry::Error>(())
    /// ```
    pub fn span_event_level(mut self, level: tracing::Level) -> Self {
        self.span_event_level = Some(level.into());
        self
    }

    /// Adds a `tracing` layer to the SDK's subscriber (adapters use this). Give it its own
    /// filter with `.with_filter(..)` unless it should see every span and event.
    ///
    /// ```no_run
    /// use tracing_subscriber::{Layer as _, filter::LevelFilter};
    /// # use tracing_subscriber::Layer;
    /// # struct MyLayer;
    /// # impl<S: tracing::Subscriber> Layer<S> for MyLayer {}
    /// let _telemetry = glimpse_telemetry::builder()
    ///     .with_layer(MyLayer.with_filter(LevelFilter::WARN))
    ///     .init()?;
    /// # Ok::<(), glimpse_telemetry::Error>(())
    /// ```
    pub fn with_layer<L>(mut self, layer: L) -> Self
    where
        L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    {
        self.layers.push(layer.boxed());
        self
    }

    /// The configuration `init` would use: the environment (or [`Builder::config`]) with this
    /// builder's overrides applied.
    ///
    /// # Errors
    /// As [`Config::from_env`].
    pub fn resolved_config(&self) -> Result<Config, Error> {
        let mut c = match &self.config {
            Some(c) => c.clone(),
            None => Config::from_env()?,
        };
        for o in &self.overrides {
            o(&mut c);
        }
        Ok(c)
    }

    /// Starts everything and installs it process-wide: the global `tracing` subscriber, the
    /// OpenTelemetry tracer provider and propagator, and the panic hook.
    ///
    /// # Errors
    /// See [`init`](fn@crate::init).
    pub fn init(self) -> Result<TelemetryGuard, Error> {
        if INITIALIZED.swap(true, Ordering::SeqCst) {
            return Err(Error::AlreadyInitialized);
        }
        let result = self.assemble().and_then(|a| {
            // Past this point things are global.
            tracing::dispatcher::set_global_default(a.dispatch.clone())
                .map_err(|_| Error::SubscriberAlreadySet)?;
            propagation::set(&a.propagators);
            if let Some(p) = &a.guard.provider {
                opentelemetry::global::set_tracer_provider(p.clone());
                opentelemetry::global::set_text_map_propagator(propagation::global(&a.propagators));
            }
            crate::reporting::install_panic_hook();
            a.announce();
            Ok(a.guard)
        });
        if result.is_err() {
            // Nothing global was installed: a corrected second attempt may succeed.
            INITIALIZED.store(false, Ordering::SeqCst);
        }
        result
    }

    /// Starts everything but installs nothing process-wide: returns the `tracing` dispatcher to
    /// use where you choose (`tracing::dispatcher::with_default`, `WithSubscriber`), for tests,
    /// benchmarks or a component with telemetry of its own. Can be called any number of times.
    ///
    /// GlitchTip reporting is the exception: with a DSN, the sentry crate binds its client to
    /// the process-wide hub in both cases.
    ///
    /// ```
    /// let (dispatch, guard) = glimpse_telemetry::builder()
    ///     .disable_traces()
    ///     .log_writer(std::io::sink())
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("only this block"));
    /// drop(guard);
    /// # Ok::<(), glimpse_telemetry::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`init`](fn@crate::init), except that it is never [`Error::AlreadyInitialized`].
    pub fn build(self) -> Result<(tracing::Dispatch, TelemetryGuard), Error> {
        let a = self.assemble()?;
        tracing::dispatcher::with_default(&a.dispatch, || a.announce());
        Ok((a.dispatch, a.guard))
    }

    fn assemble(mut self) -> Result<Assembled, Error> {
        let config = self.resolved_config()?;
        let filter = directives(&config.logs.log_filter);
        TelemetryFilter::new(&filter)?; // validate before starting anything

        #[cfg(feature = "tls")]
        {
            // sentry's and the OTLP exporters' rustls need a process-wide provider; another
            // library may have installed one already, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }

        let (package_name, package_version) = match self.package.take() {
            Some((n, v)) => (Some(n), Some(v)),
            None => (None, None),
        };
        let identity = ServiceIdentity {
            name: config
                .service_name
                .clone()
                .or(package_name)
                .unwrap_or_else(crate::resource::unknown_service),
            version: config.service_version.clone().or(package_version),
            environment: config.environment.as_str(),
            host: crate::resource::host_name(),
            attributes: config.resource_attributes.clone(),
        };
        let redactor = Redactor::new(&config.logs.redact_keys);

        metrics::set_default_max_series(config.metrics.max_series);
        metrics::security::register();
        crate::business::register();
        metrics::runtime::register_current();
        metrics::register_collector(identity.target_info());

        let needs_runtime = config.metrics.metrics_addr.is_some()
            || (!config.sdk_disabled
                && self.exporter.is_none()
                && config.traces.protocol == Protocol::Grpc);
        let runtime = if needs_runtime {
            Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("glimpse-telemetry")
                    .enable_all()
                    .build()
                    .map_err(|e| Error::setup("telemetry runtime", e))?,
            )
        } else {
            None
        };

        // Traces.
        let provider = crate::traces::start(
            &config.traces,
            config.sdk_disabled,
            self.exporter.take().map(|make| BoxedExporter(make())),
            runtime.as_ref(),
            &identity,
            &redactor,
        )?;
        let (provider, held, head) = match provider {
            Some(t) => (Some(t.provider), t.held, t.head),
            None => (None, None, Default::default()),
        };

        // Errors.
        #[cfg(feature = "sentry")]
        let sentry_guard = crate::reporting::start(
            &config.reporting,
            config.environment,
            &identity,
            &redactor,
            self.sentry_transport.take(),
        )?;

        // Logs.
        let (sink, writer_thread) =
            match crate::logs::writer::start(&config.logs, self.log_writer.take())? {
                Some((sink, handle)) => (Some(sink), Some(handle)),
                None => (None, None),
            };

        // Bound before anything global is installed: a taken port leaves the process untouched.
        #[cfg(feature = "metrics-server")]
        let metrics_addr = match (config.metrics.metrics_addr, &runtime) {
            (Some(addr), Some(rt)) => Some(metrics::server::start(addr, rt)?),
            _ => None,
        };
        #[cfg(not(feature = "metrics-server"))]
        let metrics_addr = None;
        #[cfg(not(feature = "metrics-server"))]
        if let Some(addr) = config.metrics.metrics_addr {
            return Err(Error::invalid(
                "GLIMPSE_METRICS_ADDR",
                addr.to_string(),
                "unset: this build of glimpse-telemetry has no `metrics-server` feature",
            ));
        }

        // The subscriber.
        #[cfg(feature = "sentry")]
        let errors_on = sentry_guard.is_some();
        #[cfg(not(feature = "sentry"))]
        let errors_on = false;
        let layers = crate::subscriber::Layers {
            directives: &filter,
            redactor: &redactor,
            service: &identity.name,
            sink: sink.clone(),
            sampling: &config.logs.debug_sampling,
            held,
            head,
            tracer: provider.as_ref().map(|p| {
                use opentelemetry::trace::TracerProvider as _;
                p.tracer("glimpse-telemetry")
            }),
            pretty: config.logs.log_format == LogFormat::Pretty,
            errors: errors_on,
            span_event_level: self
                .span_event_level
                .unwrap_or(tracing::level_filters::LevelFilter::WARN),
        }
        .build(std::mem::take(&mut self.layers))?;
        // Typed: `context::of_span` finds this type at the first check of its downcast.
        let subscriber: crate::subscriber::Built = tracing_subscriber::registry().with(layers);
        let dispatch = tracing::Dispatch::new(subscriber);
        let announcement = Announcement {
            version: identity.version.clone().unwrap_or_default(),
            environment: identity.environment,
            traces_endpoint: provider.as_ref().map(|_| config.traces_endpoint()),
            errors: errors_on,
            metrics_addr,
        };

        Ok(Assembled {
            dispatch,
            propagators: config.traces.propagators.clone(),
            announcement,
            guard: TelemetryGuard {
                provider,
                #[cfg(feature = "sentry")]
                sentry: sentry_guard,
                logs: sink.zip(writer_thread),
                runtime,
                timeout: config.shutdown_timeout,
                metrics_addr,
            },
        })
    }
}

/// Everything `init` and `build` start, before anything is installed.
struct Assembled {
    dispatch: tracing::Dispatch,
    guard: TelemetryGuard,
    propagators: Vec<propagation::Propagator>,
    announcement: Announcement,
}

/// What the first log line says about the telemetry itself.
struct Announcement {
    version: String,
    environment: &'static str,
    traces_endpoint: Option<String>,
    errors: bool,
    metrics_addr: Option<SocketAddr>,
}

impl Assembled {
    fn announce(&self) {
        let a = &self.announcement;
        tracing::info!(
            target: "glimpse_telemetry",
            service_version = %a.version,
            environment = a.environment,
            traces = if a.traces_endpoint.is_some() { "on" } else { "off" },
            traces_endpoint = %a.traces_endpoint.as_deref().unwrap_or(""),
            errors = if a.errors { "glitchtip" } else { "off" },
            metrics_addr = %a.metrics_addr.map(|a| a.to_string()).unwrap_or_default(),
            "telemetry started"
        );
    }
}
