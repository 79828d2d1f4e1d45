//! What the SDK remembers about each span: its fields, rendered to JSON once when recorded (not
//! once per log line), and the raw `request_id` and `user_id`, which log lines, GlitchTip events
//! and [`context::current`](crate::context::current) read back.
//!
//! [`SpanFieldsLayer`] stores them in the span's extensions for every span that exists, whatever
//! the log level, so a WARN line still carries the `requestId` of an INFO request span.

use std::fmt;
use std::sync::Arc;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::catalogue::Writer;
use super::json;
use crate::redact::{REDACTED, Redactor};
use crate::two_way;

/// The span field holding the request id (`requestId` in log lines).
pub const REQUEST_ID_FIELD: &str = "request_id";
/// The span field holding the user id (`userId` in log lines, the user in GlitchTip).
pub const USER_ID_FIELD: &str = "user_id";

/// Longest request or user id kept; longer ones are cut (they come from headers and tokens).
const MAX_ID_LEN: usize = 256;

/// A fragment of a rendered field list: the field's name, its key's hash
/// ([`json::key_hash`]), and where its `"key":value` starts and ends in the list.
pub(crate) type Entry = (&'static str, u64, u32, u32);

/// The fields of one span.
#[derive(Debug, Default)]
pub(crate) struct SpanFields {
    /// `"key":value` fragments, back to back; `entries` index into it.
    json: String,
    entries: Vec<Entry>,
    pub(crate) request_id: Option<IdText>,
    pub(crate) user_id: Option<IdText>,
    /// What an HTTP adapter said about the request this span serves
    /// ([`reporting::describe_request`](crate::reporting::describe_request)).
    pub(crate) http: Option<HttpRequest>,
}

/// The longest id kept inline in an [`IdText`]: a UUID (36 bytes) and the usual shorter ids.
const INLINE_ID_LEN: usize = 40;

/// A request or user id as a span keeps it: inline up to [`INLINE_ID_LEN`] bytes, boxed beyond.
/// Every request span has an id, and a box of its own cost an allocation and a free (about 150
/// instructions) per request.
#[derive(Clone)]
pub(crate) struct IdText(IdRepr);

#[derive(Clone)]
enum IdRepr {
    /// The first `len` bytes are the id's text, copied whole from a `&str`.
    Inline {
        len: u8,
        bytes: [u8; INLINE_ID_LEN],
    },
    Boxed(Box<str>),
}

impl IdText {
    pub(crate) fn new(id: &str) -> IdText {
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= INLINE_ID_LEN => {
                let mut bytes = [0; INLINE_ID_LEN];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                IdText(IdRepr::Inline { len, bytes })
            }
            _ => IdText(IdRepr::Boxed(id.into())),
        }
    }
}

impl std::ops::Deref for IdText {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match &self.0 {
            IdRepr::Inline { len, bytes } => {
                let text = &bytes[..usize::from(*len)];
                // SAFETY: `new` copied these bytes whole from a `&str`, and nothing else writes
                // them, so they are valid UTF-8. (Checking again would cost on every log line.)
                unsafe { std::str::from_utf8_unchecked(text) }
            }
            IdRepr::Boxed(id) => id,
        }
    }
}

impl fmt::Debug for IdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The method and route of the request a span serves, for the GlitchTip events captured in it:
/// kept without an allocation (a static method name, the adapter's shared route label).
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "sentry"), allow(dead_code))]
pub(crate) struct HttpRequest {
    /// `http.request.method`: `GET` ... or `_OTHER`.
    pub(crate) method: &'static str,
    /// `http.route`: the route template, or the adapter's label for an unmatched request.
    pub(crate) route: Arc<str>,
    /// Whether a route matched (the transaction is then `GET /users/{id}`, else `GET`).
    pub(crate) matched: bool,
}

impl SpanFields {
    /// The `"key":value` fragments with their keys' hashes, latest value per key.
    pub(crate) fn fragments(&self) -> impl Iterator<Item = (u64, &str)> {
        self.entries
            .iter()
            .map(|&(_, hash, s, e)| (hash, &self.json[s as usize..e as usize]))
    }

    fn record(&mut self, redactor: &Redactor, record: impl FnOnce(&mut dyn Visit)) {
        let mut v = FieldVisitor {
            out: &mut self.json,
            redactor,
            entries: &mut self.entries,
            request_id: &mut self.request_id,
            user_id: &mut self.user_id,
            message: None,
        };
        record(&mut v);
    }
}

/// Keys the log schema owns: the catalogue's fields of every line, and the aliases the index
/// template defines (Elasticsearch rejects a line that writes to an alias). A context field
/// with one of these names is written as `fields_<name>`.
fn is_reserved(name: &str) -> bool {
    use super::catalogue;
    catalogue::field(name).is_some_and(|f| f.writer == Writer::Line)
        || catalogue::alias_target(name).is_some()
}

/// What the writer does with a field, decided once per field name (field names are
/// `&'static str`s of their callsite, so the answer is cached by address).
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldClass {
    /// Written as is.
    Plain,
    /// Written with a value of `"[REDACTED]"`.
    Secret,
    /// Named like a schema key: written as `fields_<name>`.
    Reserved,
    /// `otel.*` and `log.*`: instructions for other layers, not written.
    Skipped,
    /// `request_id` or `user_id`: kept aside for `requestId`/`userId`.
    Id,
}

/// `otel.*` and `log.*`: a field meant for another layer ([`FieldClass::Skipped`]).
#[inline]
fn is_instruction(name: &str) -> bool {
    name.starts_with("otel.") || name.starts_with("log.")
}

fn classify_uncached(redactor: &Redactor, name: &'static str) -> FieldClass {
    if is_instruction(name) {
        FieldClass::Skipped
    } else if name == REQUEST_ID_FIELD || name == USER_ID_FIELD {
        FieldClass::Id
    } else if is_reserved(name) {
        FieldClass::Reserved
    } else if redactor.is_secret_key(name) {
        FieldClass::Secret
    } else {
        FieldClass::Plain
    }
}

/// One slot of the per-thread field cache: a field name (by address), its class, its rendered
/// `"key":` and that key's hash.
struct Slot {
    redactor: u64,
    ptr: usize,
    len: usize,
    class: FieldClass,
    key: Box<str>,
    hash: u64,
}

const SLOTS: usize = 512;

/// Classifies `name`, appends its rendered `"key":` to `out` (for written classes) and gives
/// the key's hash, through a per-thread cache that cannot grow (two ways per set, `two_way`: a
/// miss costs a classification and an allocation).
fn classify_and_write_key(
    redactor: &Redactor,
    name: &'static str,
    out: &mut String,
) -> (FieldClass, u64) {
    thread_local! {
        static CACHE: std::cell::RefCell<Vec<Option<Slot>>> = std::cell::RefCell::new((0..SLOTS).map(|_| None).collect());
    }
    let ptr = name.as_ptr() as usize;
    let set = cache_set(name);
    CACHE.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            let start = out.len();
            let class = render(classify_uncached(redactor, name), name, out);
            return (class, json::key_hash(&out[start..]));
        };
        let hit = two_way::find(&cache[..], set, |slot| {
            slot.ptr == ptr && slot.len == name.len() && slot.redactor == redactor.id()
        });
        if let Some(slot) = hit {
            out.push_str(&slot.key);
            return (slot.class, slot.hash);
        }
        #[cfg(test)]
        tests::MISSES.with(|m| m.set(m.get() + 1));
        let class = classify_uncached(redactor, name);
        let mut key = String::new();
        render(class, name, &mut key);
        out.push_str(&key);
        let hash = json::key_hash(&key);
        let slot = Slot {
            redactor: redactor.id(),
            ptr,
            len: name.len(),
            class,
            key: key.into_boxed_str(),
            hash,
        };
        two_way::insert(&mut cache[..], set, slot);
        (class, hash)
    })
}

/// The first slot of the set of the field cache a name belongs to (by its address: names are
/// callsite statics).
fn cache_set(name: &str) -> usize {
    let ptr = name.as_ptr() as usize;
    two_way::set_of(ptr ^ (ptr >> 9) ^ name.len(), SLOTS)
}

fn render(class: FieldClass, name: &str, out: &mut String) -> FieldClass {
    match class {
        FieldClass::Skipped | FieldClass::Id => {}
        FieldClass::Reserved => {
            out.push_str("\"fields_");
            out.push_str(name);
            out.push_str("\":");
        }
        FieldClass::Plain | FieldClass::Secret => json::write_key(out, name),
    }
    class
}

/// Renders fields as JSON fragments. Used for span fields (into [`SpanFields`]) and for event
/// fields (straight into the line being written).
pub(crate) struct FieldVisitor<'a> {
    pub(crate) out: &'a mut String,
    pub(crate) redactor: &'a Redactor,
    pub(crate) entries: &'a mut Vec<Entry>,
    pub(crate) request_id: &'a mut Option<IdText>,
    pub(crate) user_id: &'a mut Option<IdText>,
    /// For events: where to put the `message` field instead of the fragments.
    pub(crate) message: Option<&'a mut String>,
}

impl FieldVisitor<'_> {
    /// Starts a fragment for `field` and says how to write its value; `None` when the field is
    /// not written as a fragment.
    fn begin(&mut self, field: &Field) -> Option<FieldClass> {
        let name = field.name();
        // Checked before the cache: comparing a prefix costs less than a cache look-up, and every
        // request span has one such field (`otel.skip`).
        if is_instruction(name) {
            return None;
        }
        let start = self.out.len() as u32;
        let (class, hash) = classify_and_write_key(self.redactor, name, self.out);
        if matches!(class, FieldClass::Skipped | FieldClass::Id) {
            return None;
        }
        // A field recorded again (a span's `record`) replaces its earlier value. The same name
        // renders the same key, so comparing hashes first leaves the names to compare only on
        // a match: this runs for every field of every line.
        if self.entries.iter().any(|e| e.1 == hash && e.0 == name) {
            self.entries.retain(|e| e.0 != name);
        }
        self.entries.push((name, hash, start, start));
        Some(class)
    }

    fn end(&mut self) {
        let len = self.out.len() as u32;
        if let Some(last) = self.entries.last_mut() {
            last.3 = len;
        }
    }

    fn id_slot(&mut self, name: &str) -> Option<&mut Option<IdText>> {
        match name {
            REQUEST_ID_FIELD => Some(&mut *self.request_id),
            USER_ID_FIELD => Some(&mut *self.user_id),
            _ => None,
        }
    }

    fn record_text(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            if let Some(m) = self.message.as_deref_mut() {
                m.push_str(&self.redactor.mask(value));
                return;
            }
        }
        if matches!(field.name(), REQUEST_ID_FIELD | USER_ID_FIELD) {
            let mut end = value.len().min(MAX_ID_LEN);
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            // Ids come from headers and tokens: mask a card number there too.
            let id = IdText::new(&self.redactor.mask(&value[..end]));
            if let Some(slot) = self.id_slot(field.name()) {
                *slot = Some(id);
            }
            return;
        }
        match self.begin(field) {
            None => return,
            Some(FieldClass::Secret) => json::write_str(self.out, REDACTED),
            Some(_) => json::write_str(self.out, &self.redactor.mask(value)),
        }
        self.end();
    }

    fn record_number(&mut self, field: &Field, write: impl FnOnce(&mut String)) {
        match self.begin(field) {
            None => return,
            Some(FieldClass::Secret) => json::write_str(self.out, REDACTED),
            Some(_) => write(self.out),
        }
        self.end();
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_text(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        thread_local! {
            static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        // Formatting needs a scratch string so card numbers can be masked before escaping.
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => {
                s.clear();
                let _ = fmt::write(&mut *s, format_args!("{value:?}"));
                self.record_text(field, &s);
            }
            // Re-entered from inside a Debug impl that logs: format without the scratch.
            Err(_) => self.record_text(field, &format!("{value:?}")),
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.id_slot(field.name()).is_some() || field.name() == "message" {
            return self.record_text(field, itoa::Buffer::new().format(value));
        }
        self.record_number(field, |out| json::write_i64(out, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.id_slot(field.name()).is_some() || field.name() == "message" {
            return self.record_text(field, itoa::Buffer::new().format(value));
        }
        self.record_number(field, |out| json::write_u64(out, value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record_number(field, |out| json::write_f64(out, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_number(field, |out| {
            out.push_str(if value { "true" } else { "false" })
        });
    }
}

/// Stores [`SpanFields`] on every span. Added first in the subscriber by [`init`](fn@crate::init).
pub(crate) struct SpanFieldsLayer {
    pub(crate) redactor: Redactor,
}

impl<S> tracing_subscriber::Layer<S> for SpanFieldsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields::default();
        fields.record(&self.redactor, |v| attrs.record(v));
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(fields) = ext.get_mut::<SpanFields>() {
            fields.record(&self.redactor, |v| values.record(v));
            // Keep the buffer from growing without bound on spans recorded over and over.
            if fields.json.len() > 64 * 1024 {
                let mut compact = SpanFields {
                    request_id: fields.request_id.take(),
                    user_id: fields.user_id.take(),
                    http: fields.http.take(),
                    ..SpanFields::default()
                };
                for &(name, hash, s, e) in &fields.entries {
                    let start = compact.json.len() as u32;
                    compact.json.push_str(&fields.json[s as usize..e as usize]);
                    compact
                        .entries
                        .push((name, hash, start, compact.json.len() as u32));
                }
                *fields = compact;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        pub(super) static MISSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[test]
    fn ids_read_back_as_written_inline_or_boxed() {
        let uuid = "0192f5c4-7c3a-7d2e-9f1b-3c4d5e6f7a8b";
        let at_limit = "x".repeat(INLINE_ID_LEN);
        let over = "y".repeat(INLINE_ID_LEN + 1);
        for id in ["", "req-1", uuid, "ünïcødé-ïd", &at_limit, &over] {
            assert_eq!(&*IdText::new(id), id);
            assert_eq!(format!("{:?}", IdText::new(id)), format!("{id:?}"));
        }
        assert!(matches!(IdText::new(uuid).0, IdRepr::Inline { .. }));
        assert!(matches!(IdText::new(&at_limit).0, IdRepr::Inline { .. }));
        assert!(matches!(IdText::new(&over).0, IdRepr::Boxed(_)));
    }

    #[test]
    fn two_fields_in_one_set_both_stay_cached() {
        // Field names at addresses that fall in the same set (slices of one static string).
        static BYTES: [u8; 1024] = [b'f'; 1024];
        let text: &'static str = std::str::from_utf8(&BYTES).expect("ASCII");
        let names: Vec<&'static str> = (0..text.len() - 4).map(|i| &text[i..i + 4]).collect();
        let (a, b) = names
            .iter()
            .enumerate()
            .find_map(|(i, a)| {
                names[i + 1..]
                    .iter()
                    .find(|b| cache_set(b) == cache_set(a) && b.as_ptr() != a.as_ptr())
                    .map(|b| (*a, *b))
            })
            .expect("two names in one set");
        let redactor = Redactor::default();
        let mut out = String::new();
        let before = MISSES.with(std::cell::Cell::get);
        for _ in 0..10 {
            classify_and_write_key(&redactor, a, &mut out);
            classify_and_write_key(&redactor, b, &mut out);
        }
        assert_eq!(
            MISSES.with(std::cell::Cell::get) - before,
            2,
            "one miss each"
        );
        assert_eq!(out, "\"ffff\":".repeat(20), "every key written");
    }
}
